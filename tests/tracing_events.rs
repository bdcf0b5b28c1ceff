//! Busy rejections and timeouts as `tracing` events under target
//! `monitor_runtime`, with the monitor's name, the limit and the calls in
//! flight.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use monitor_runtime::Monitor;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

type Seen = (String, Level, BTreeMap<String, String>);

#[derive(Clone, Default)]
struct Recorder(Arc<Mutex<Vec<Seen>>>);

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.0.lock().unwrap().push((
            event.metadata().target().into(),
            *event.metadata().level(),
            fields,
        ));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

#[test]
fn busy_and_timeout_are_events() {
    let recorder = Recorder::default();
    let seen = recorder.0.clone();
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
    let seen = seen.lock().unwrap();
    let find = |message: &str| {
        seen.iter()
            .find(|(_, _, f)| f.get("message").is_some_and(|m| m == message))
            .unwrap_or_else(|| panic!("no `{message}` in {seen:?}"))
            .clone()
    };
    let (target, level, fields) = find("call refused: monitor busy");
    assert_eq!((target.as_str(), level), ("monitor_runtime", Level::DEBUG));
    assert_eq!(fields["monitor"], "traced.busy");
    assert_eq!(fields["max_active"], "1");
    assert_eq!(fields["in_flight"], "1");
    let (target, level, fields) = find("call timed out");
    assert_eq!((target.as_str(), level), ("monitor_runtime", Level::INFO));
    assert_eq!(fields["monitor"], "traced.slow");
    assert_eq!(fields["limit"], "20ms");
}
