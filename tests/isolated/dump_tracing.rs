//! Overdue reports through `tracing`: one WARN event per overdue call with
//! structured fields, and, with `DumpSink::Tracing`, one event per stack.
//! A binary of its own: it sets the global subscriber.

use std::sync::{Condvar, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::{RecordedEvent, Recorder};
use monitor_runtime::{
    dump::{set_dump_sink, DumpSink},
    stack_on_timeout,
};
use tracing::Level;

/// Released by the test once it has seen what it waits for, so that the
/// calls are still in flight however long the first dump takes (it loads
/// debug info: a second or more on a loaded machine).
static RELEASE: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

fn release() {
    *RELEASE.0.lock().unwrap() = true;
    RELEASE.1.notify_all();
}

#[stack_on_timeout(50ms)]
fn slow_handler() {
    let released = RELEASE.0.lock().unwrap();
    let _ = RELEASE
        .1
        .wait_timeout_while(released, Duration::from_secs(20), |released| !*released)
        .unwrap();
}

#[test]
fn overdue_calls_are_tracing_events_and_the_sink_writes_one_per_stack() {
    monitor_demo::own_process!();
    let (recorder, recorded) = Recorder::new();
    tracing::subscriber::set_global_default(recorder).unwrap();
    set_dump_sink(DumpSink::Tracing).unwrap();

    let (a, b) = (thread::spawn(slow_handler), thread::spawn(slow_handler));
    let ours = |seen: &RecordedEvent| {
        seen.target == "monitor_runtime"
            && seen.field("function") == Some("isolated::dump_tracing::slow_handler")
    };
    let deadline = Instant::now() + Duration::from_secs(15);
    let (warnings, blocks) = loop {
        let events = recorded.events();
        let warnings: Vec<RecordedEvent> = events
            .iter()
            .filter(|e| ours(e) && e.field("limit_ms").is_some())
            .cloned()
            .collect();
        let blocks: Vec<RecordedEvent> = events
            .iter()
            .filter(|e| ours(e) && e.field("reason").is_some())
            .cloned()
            .collect();
        if warnings.len() == 2 && blocks.len() >= 2 {
            break (warnings, blocks);
        }
        if Instant::now() >= deadline {
            release();
            panic!("{events:#?}");
        }
        thread::sleep(Duration::from_millis(10));
    };
    release();
    a.join().unwrap();
    b.join().unwrap();

    for warning in &warnings {
        assert_eq!(warning.level, Level::WARN);
        let fields = &warning.fields;
        assert_eq!(
            fields["file"], "tests/isolated/dump_tracing.rs",
            "{fields:?}"
        );
        assert!(fields["line"].parse::<u32>().unwrap() > 0);
        assert_eq!(fields["limit_ms"], "50");
        assert!(fields["elapsed_ms"].parse::<u64>().unwrap() >= 50);
        assert!(fields["call_id"].contains('.'), "{fields:?}");
        assert!(
            fields["message"].contains("has not returned after 50ms"),
            "{fields:?}"
        );
    }
    let ids: Vec<&String> = warnings.iter().map(|w| &w.fields["call_id"]).collect();
    assert_ne!(ids[0], ids[1]);
    // The sink: one event per stack, the block's text as the message.
    for block in &blocks {
        assert_eq!(block.level, Level::WARN);
        let message = &block.fields["message"];
        assert!(message.starts_with("call "), "{message}");
        assert!(
            message.contains("  isolated::dump_tracing::slow_handler "),
            "{message}"
        );
        assert!(
            block.fields["reason"].contains("has not returned after 50ms"),
            "{block:?}"
        );
        assert!(block.fields["state"].starts_with("running on thread"));
    }
    println!("{}", blocks[0].fields["message"]);
}
