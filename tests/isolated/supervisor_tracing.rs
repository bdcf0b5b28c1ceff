//! Supervisor events through `tracing`: starts, a missed heartbeat,
//! restarts with their cause, and giving up. A binary of its own: it sets
//! the global subscriber.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use monitor_demo::{Recorded, RecordedEvent, Recorder};
use monitor_runtime::supervisor::{Restart, Supervisor, SupervisorError};
use tracing::Level;

fn events_of(recorded: &Recorded, supervisor: &str) -> Vec<RecordedEvent> {
    recorded
        .events()
        .into_iter()
        .filter(|e| e.target == "monitor_runtime")
        .filter(|e| e.field("supervisor") == Some(supervisor))
        .collect()
}

#[test]
fn starts_stalls_restarts_and_giving_up_are_tracing_events() {
    monitor_demo::own_process!();
    let (recorder, recorded) = Recorder::new();
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
    let seen = events_of(&recorded, "events::worker");
    let messages: Vec<(Level, &str)> = seen
        .iter()
        .map(|e| (e.level, e.message().unwrap_or("")))
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
        .filter_map(|e| e.field("cause"))
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
    let seen = events_of(&recorded, "events::flaky");
    assert!(
        seen.iter()
            .any(|e| e.level == Level::ERROR && e.message() == Some(&*error.to_string())),
        "{seen:#?}"
    );
}
