//! Supervisor events through `tracing`: starts, a missed heartbeat,
//! restarts with their cause, and giving up. A binary of its own: it sets
//! the global subscriber.

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use monitor_runtime::{Restart, Supervisor, SupervisorError};
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

#[derive(Clone, Debug)]
struct Seen {
    target: String,
    level: Level,
    fields: BTreeMap<String, String>,
}

/// Records every event; spans are not used.
#[derive(Default)]
struct Recorder {
    events: Arc<Mutex<Vec<Seen>>>,
    next: AtomicU64,
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(self.next.fetch_add(1, Ordering::Relaxed) + 1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        self.events.lock().unwrap().push(Seen {
            target: event.metadata().target().into(),
            level: *event.metadata().level(),
            fields,
        });
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn events_of(events: &Mutex<Vec<Seen>>, supervisor: &str) -> Vec<Seen> {
    events
        .lock()
        .unwrap()
        .iter()
        .filter(|e| e.target == "monitor_runtime")
        .filter(|e| e.fields.get("supervisor").is_some_and(|s| s == supervisor))
        .cloned()
        .collect()
}

#[test]
fn starts_stalls_restarts_and_giving_up_are_tracing_events() {
    let recorder = Recorder::default();
    let events = recorder.events.clone();
    tracing::subscriber::set_global_default(recorder).unwrap();
    // The expected panic prints nothing: printing a backtrace on a loaded
    // machine can take longer than the heartbeat timeout.
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if info.payload().downcast_ref::<&str>() != Some(&"second instance panics") {
            default(info);
        }
    }));

    // A stall, a panic, an error, then a normal return (transient: ends).
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handle = Supervisor::builder("events::worker")
        // Long enough for a panic's backtrace to print before the
        // instance counts as stalled (a debug build symbolizes slowly).
        .heartbeat(Duration::from_millis(500))
        .restart(Restart::Transient)
        .dump(None)
        .spawn_thread(move |_beat, stop| match c.fetch_add(1, Ordering::SeqCst) {
            0 => {
                stop.wait(Duration::from_secs(10));
                Ok(())
            }
            1 => panic!("second instance panics"),
            2 => Err("third instance fails".to_owned()),
            _ => Ok(()),
        })
        .unwrap();
    handle.join_blocking().unwrap();
    let seen = events_of(&events, "events::worker");
    let messages: Vec<(Level, &str)> = seen
        .iter()
        .map(|e| (e.level, e.fields.get("message").map_or("", String::as_str)))
        .collect();
    let count_of = |level: Level, part: &str| {
        messages
            .iter()
            .filter(|(l, m)| *l == level && (m.contains(part) && !m.contains("restarted")))
            .count()
    };
    assert_eq!(count_of(Level::INFO, " started"), 4, "{messages:#?}");
    assert_eq!(
        count_of(Level::WARN, "missed its heartbeat"),
        1,
        "{messages:#?}"
    );
    let restarts: Vec<&str> = seen
        .iter()
        .filter(|e| e.level == Level::WARN)
        .filter_map(|e| e.fields.get("cause").map(String::as_str))
        .collect();
    assert_eq!(restarts.len(), 3, "{messages:#?}");
    assert!(
        restarts[0].starts_with("stalled: no heartbeat for"),
        "{restarts:?}"
    );
    assert_eq!(restarts[1], "panicked: second instance panics");
    assert_eq!(restarts[2], "returned an error: third instance fails");

    // Giving up is an ERROR event with the typed error's text.
    let handle = Supervisor::builder("events::flaky")
        .max_restarts(1, Duration::from_secs(5))
        .spawn_thread(|_beat, _stop| Err::<(), _>("down"))
        .unwrap();
    let error = handle.join_blocking().unwrap_err();
    assert!(matches!(error, SupervisorError::GaveUp { .. }));
    let seen = events_of(&events, "events::flaky");
    assert!(
        seen.iter().any(|e| e.level == Level::ERROR
            && e.fields
                .get("message")
                .is_some_and(|m| *m == error.to_string())),
        "{seen:#?}"
    );
}
