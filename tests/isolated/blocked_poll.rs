//! An async call whose single poll blocks its worker thread: no timeout
//! can interrupt it, but the watchdog sees it. It is counted in the
//! monitor's stats, warned about through `tracing`, and reported once in a
//! dump whose native stack names the blocking line, without
//! `#[stack_on_timeout]`. A call whose `.await`s are ready, or that waits
//! without blocking, is not reported. A `#[stack_on_timeout]` async
//! function that blocks is reported as overdue too, its line named.
//!
//! A binary of its own: it sets the global `tracing` subscriber (the
//! warning is written on the watchdog's thread). Its tests run in
//! parallel and share the dump sink: each looks only at its own functions.

use std::sync::atomic::{AtomicBool, AtomicU32, Ordering::SeqCst};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps, Recorded, Recorder};
use monitor_runtime::dump::{BlockedPoll, CallDump, Dump, DumpReason, NativeStack, Origin};
use monitor_runtime::{monitored, stack_on_timeout, Error};

/// The line of each function's blocking call, noted on that same line.
static LINES: [AtomicU32; 4] = [const { AtomicU32::new(0) }; 4];

/// Set by each test once it has seen what it waits for: the functions
/// block until then (at most 20 s), so that the report finds them blocked
/// however long the dump worker takes (the first capture of a process
/// loads debug info: a second or more on a loaded machine).
static SEEN: [AtomicBool; 4] = [const { AtomicBool::new(false) }; 4];

fn blocking(slot: usize, since: Instant) -> bool {
    !SEEN[slot].load(SeqCst) && since.elapsed() < Duration::from_secs(20)
}

/// Notes `line` in slot `slot` and gives `ms` milliseconds, for a sleep
/// on the same line.
fn noted(slot: usize, line: u32, ms: u64) -> Duration {
    LINES[slot].store(line, SeqCst);
    Duration::from_millis(ms)
}

fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let (recorder, recorded) = Recorder::new();
        tracing::subscriber::set_global_default(recorder).unwrap();
        recorded
    })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// The handler: a timeout and a cap, and a sleep that no timeout
/// can interrupt.
#[monitored(timeout = "100ms", max_active = 2)]
async fn handler() -> Result<u32, Error> {
    tokio::task::yield_now().await;
    let since = Instant::now();
    while blocking(0, since) {
        std::thread::sleep(noted(0, line!(), 20));
    }
    Ok(1)
}

/// The dumps of blocked polls of `function`, with the poll.
fn blocked_reports(function: &str) -> Vec<(Dump, BlockedPoll)> {
    let dumps = kept_dumps().lock().unwrap();
    dumps
        .iter()
        .filter_map(|dump| match &dump.reason {
            DumpReason::BlockedPoll { polls } => polls
                .iter()
                .find(|poll| poll.function == function)
                .map(|poll| (dump.clone(), poll.clone())),
            _ => None,
        })
        .collect()
}

/// Whether `call`'s native stack has a user frame in this file at `line`.
fn names_line(call: &CallDump, line: u32) -> bool {
    let Some(NativeStack::Captured { frames, .. }) = &call.native else {
        return false;
    };
    frames.iter().any(|frame| {
        frame.origin == Origin::User
            && frame
                .file
                .as_deref()
                .is_some_and(|file| file.ends_with("tests/isolated/blocked_poll.rs"))
            && frame.line == Some(line)
    })
}

#[test]
fn a_blocking_handler_is_counted_warned_and_reported_with_its_line() {
    monitor_demo::own_process!();
    let recorded = recorded();
    kept_dumps();
    let runtime = runtime();
    let call = runtime.spawn(handler());
    eventually("the blocked poll's report", || {
        !blocked_reports("isolated::blocked_poll::handler").is_empty()
    });
    SEEN[0].store(true, SeqCst);
    // The timeout cannot interrupt the sleep: the call returns its value.
    assert_eq!(runtime.block_on(call).unwrap(), Ok(1));
    let monitor = monitor_runtime::monitor("isolated::blocked_poll::handler").unwrap();
    assert_eq!(monitor.stats().timeouts, 0);
    let reports = blocked_reports("isolated::blocked_poll::handler");
    assert_eq!(reports.len(), 1, "reported once");
    assert_eq!(monitor.stats().blocked_polls, 1, "counted once");
    let (dump, poll) = &reports[0];
    let text = dump.to_string();
    // The default threshold, shorter than the timeout.
    assert_eq!(poll.threshold, Duration::from_millis(10), "{text}");
    assert!(poll.blocked_for > poll.threshold, "{text}");
    assert!(
        text.contains("has blocked thread") && text.contains("spawn_blocking"),
        "{text}"
    );
    let call = dump
        .calls
        .iter()
        .find(|call| call.id == poll.id)
        .unwrap_or_else(|| panic!("the blocked call has a block:\n{text}"));
    assert!(call.triggered, "{text}");
    assert_eq!(call.state.thread(), Some(poll.thread), "{text}");
    assert!(names_line(call, LINES[0].load(SeqCst)), "{text}");

    let warnings: Vec<_> = recorded
        .events()
        .into_iter()
        .filter(|event| {
            event.target == "monitor_runtime"
                && event.field("function") == Some("isolated::blocked_poll::handler")
        })
        .collect();
    assert_eq!(warnings.len(), 1, "{warnings:?}");
    assert!(warnings[0]
        .message()
        .is_some_and(|m| m.contains("blocked its thread")));
}

/// Waits without blocking, then returns.
#[monitored(timeout = "5s")]
async fn waits() -> Result<u32, Error> {
    tokio::time::sleep(Duration::from_millis(50)).await;
    Ok(std::future::ready(2).await)
}

#[test]
fn a_call_that_waits_without_blocking_is_not_reported() {
    monitor_demo::own_process!();
    kept_dumps();
    let runtime = runtime();
    for _ in 0..4 {
        assert_eq!(runtime.block_on(waits()), Ok(2));
    }
    let monitor = monitor_runtime::monitor("isolated::blocked_poll::waits").unwrap();
    assert_eq!(monitor.stats().blocked_polls, 0);
    assert!(blocked_reports("isolated::blocked_poll::waits").is_empty());
}

/// Blocks under `#[stack_on_timeout]`: overdue, and a blocked poll.
#[stack_on_timeout(50ms)]
async fn overruns() -> u32 {
    tokio::task::yield_now().await;
    let since = Instant::now();
    while blocking(1, since) {
        std::thread::sleep(noted(1, line!(), 20));
    }
    3
}

#[test]
fn a_stack_on_timeout_async_fn_that_blocks_names_its_line() {
    monitor_demo::own_process!();
    kept_dumps();
    let runtime = runtime();
    let task = runtime.spawn(overruns());
    let function = "isolated::blocked_poll::overruns";
    let overdue = || -> Option<Dump> {
        let dumps = kept_dumps().lock().unwrap();
        dumps
            .iter()
            .find(|dump| match &dump.reason {
                DumpReason::Overdue { calls } => calls.iter().any(|c| c.function == function),
                _ => false,
            })
            .cloned()
    };
    eventually("the overdue report", || overdue().is_some());
    let dump = overdue().unwrap();
    let call = dump
        .calls
        .iter()
        .find(|call| call.function == function)
        .unwrap();
    assert!(names_line(call, LINES[1].load(SeqCst)), "{dump}");
    // And the poll that blocked, reported on its own.
    eventually("the blocked poll's report", || {
        !blocked_reports(function).is_empty()
    });
    SEEN[1].store(true, SeqCst);
    assert_eq!(runtime.block_on(task).unwrap(), 3);
    let (dump, poll) = &blocked_reports(function)[0];
    let call = dump
        .calls
        .iter()
        .find(|c| c.id == poll.id)
        .unwrap_or_else(|| panic!("{dump}"));
    assert!(names_line(call, LINES[1].load(SeqCst)), "{dump}");
}

#[monitored]
async fn outer_caller() -> Result<u32, Error> {
    let value = inner_blocker().await;
    // Still the poll the watchdog counted, through the call it was blocked
    // in: not counted again once it is the innermost (the watchdog ticks
    // every 4 ms; the threshold is 10 ms, long past).
    std::thread::sleep(Duration::from_millis(40));
    value
}

#[monitored]
async fn inner_blocker() -> Result<u32, Error> {
    let since = Instant::now();
    while blocking(2, since) {
        std::thread::sleep(noted(2, line!(), 20));
    }
    Ok(4)
}

#[test]
fn of_nested_calls_blocked_in_one_poll_the_innermost_is_reported() {
    monitor_demo::own_process!();
    kept_dumps();
    let runtime = runtime();
    let task = runtime.spawn(outer_caller());
    eventually("the blocked poll's report", || {
        !blocked_reports("isolated::blocked_poll::inner_blocker").is_empty()
    });
    // Give the watchdog ticks in which it could report the caller too.
    std::thread::sleep(Duration::from_millis(50));
    SEEN[2].store(true, SeqCst);
    assert_eq!(runtime.block_on(task).unwrap(), Ok(4));
    let (dump, poll) = &blocked_reports("isolated::blocked_poll::inner_blocker")[0];
    let call = dump.calls.iter().find(|c| c.id == poll.id).unwrap();
    let chain: Vec<&str> = call.stack.iter().map(|f| f.function).collect();
    assert_eq!(
        chain,
        [
            "isolated::blocked_poll::inner_blocker",
            "isolated::blocked_poll::outer_caller"
        ],
        "{dump}"
    );
    assert!(names_line(call, LINES[2].load(SeqCst)), "{dump}");
    assert!(blocked_reports("isolated::blocked_poll::outer_caller").is_empty());
    let stats = |name: &str| monitor_runtime::monitor(name).unwrap().stats();
    assert_eq!(
        stats("isolated::blocked_poll::inner_blocker").blocked_polls,
        1
    );
    assert_eq!(
        stats("isolated::blocked_poll::outer_caller").blocked_polls,
        0
    );
}
