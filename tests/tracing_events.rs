//! Busy rejections and timeouts as `tracing` events under target
//! `monitor_runtime`, with the monitor's name, the limit and the calls in
//! flight.

use std::time::Duration;

use monitor_demo::Recorder;
use monitor_runtime::Monitor;
use tracing::Level;

#[test]
fn busy_and_timeout_are_events() {
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
    let find = |message: &str| {
        seen.iter()
            .find(|e| e.message() == Some(message))
            .unwrap_or_else(|| panic!("no `{message}` in {seen:?}"))
    };
    let busy = find("call refused: monitor busy");
    assert_eq!(
        (busy.target.as_str(), busy.level),
        ("monitor_runtime", Level::DEBUG)
    );
    assert_eq!(busy.fields["monitor"], "traced.busy");
    assert_eq!(busy.fields["max_active"], "1");
    assert_eq!(busy.fields["in_flight"], "1");
    let slow = find("call timed out");
    assert_eq!(
        (slow.target.as_str(), slow.level),
        ("monitor_runtime", Level::INFO)
    );
    assert_eq!(slow.fields["monitor"], "traced.slow");
    assert_eq!(slow.fields["limit"], "20ms");
}
