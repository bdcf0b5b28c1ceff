//! Busy rejections and timeouts as `tracing` events under target
//! `monitor_runtime`, with the monitor's name, the limit and the calls in
//! flight.

use std::time::Duration;

use monitor_demo::Recorder;
use monitor_runtime::Monitor;
use tracing::Level;

#[test]
fn busy_and_timeout_are_events() {
    monitor_demo::own_process!();
    let (recorder, recorded) = Recorder::new();
    tracing::subscriber::with_default(recorder, || {
        let monitor = Monitor::builder("traced.busy").max_active(1).build();
        let inner = monitor.clone();
        assert!(monitor.call(|| inner.call(|| ())).unwrap().is_err());

        let slow = Monitor::builder("traced.slow")
            .timeout(Duration::from_millis(20))
            .build();
        let err = slow
            .call_blocking(|| std::thread::sleep(Duration::from_millis(300)))
            .unwrap_err();
        assert!(matches!(err, monitor_runtime::Error::Timeout { .. }));
    });
    let seen = recorded.events();
    // The event with `message`, checked to be the runtime's at `level`.
    let find = |message: &str, level: Level| {
        let event = seen
            .iter()
            .find(|e| e.message() == Some(message))
            .unwrap_or_else(|| panic!("no `{message}` in {seen:?}"));
        let at = (event.target.as_str(), event.level);
        assert_eq!(at, ("monitor_runtime", level), "{event:?}");
        &event.fields
    };
    let busy = find("call refused: monitor busy", Level::DEBUG);
    assert_eq!(busy["monitor"], "traced.busy");
    assert_eq!(busy["max_active"], "1");
    assert_eq!(busy["in_flight"], "1");
    let slow = find("call timed out", Level::INFO);
    assert_eq!(slow["monitor"], "traced.slow");
    assert_eq!(slow["limit"], "20ms");
}
