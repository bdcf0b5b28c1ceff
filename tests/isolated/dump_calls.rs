//! Dumps of the calls in flight: logical stacks across `.await`s, what is
//! reported and what is not, 10,000 calls at once, threads that do not
//! answer the capture signal, and the data as JSON.
//!
//! Tests in this binary run in parallel and share the registry and the
//! sink: each looks only at its own functions.

use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::{
    dump::{CallDump, CallState, CaptureError, Dump, DumpOptions, DumpReason, NativeStack, Origin},
    stack_on_timeout,
};
use tokio::sync::Notify;

fn logical() -> Dump {
    DumpOptions::new().native_stacks(false).take()
}

fn block<'a>(dump: &'a Dump, function: &str) -> Option<&'a CallDump> {
    dump.calls.iter().find(|c| c.function == function)
}

#[stack_on_timeout(60s)]
async fn handler(release: Arc<Notify>) -> u32 {
    middle(release).await + 1
}

#[stack_on_timeout(60s)]
async fn middle(release: Arc<Notify>) -> u32 {
    tokio::task::yield_now().await;
    inner(release).await + 1
}

#[stack_on_timeout(60s)]
async fn inner(release: Arc<Notify>) -> u32 {
    release.notified().await;
    1
}

#[test]
fn nested_async_calls_are_one_chain() {
    monitor_demo::own_process!();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let release = Arc::new(Notify::new());
    let task = runtime.spawn(handler(release.clone()));
    let mut dump = logical();
    for _ in 0..100 {
        // Let the task run to its `notified().await`.
        runtime.block_on(tokio::task::yield_now());
        dump = logical();
        if block(&dump, "isolated::dump_calls::inner").is_some() {
            break;
        }
    }
    let text = dump.to_string();
    let call = block(&dump, "isolated::dump_calls::inner").unwrap_or_else(|| panic!("{text}"));
    let chain: Vec<&str> = call.stack.iter().map(|f| f.function).collect();
    assert_eq!(
        chain,
        [
            "isolated::dump_calls::inner",
            "isolated::dump_calls::middle",
            "isolated::dump_calls::handler"
        ],
        "{text}"
    );
    assert_eq!(call.state, CallState::Waiting, "{text}");
    assert!(call.native.is_none());
    // The callers are not blocks of their own.
    assert!(
        block(&dump, "isolated::dump_calls::middle").is_none(),
        "{text}"
    );
    assert!(
        block(&dump, "isolated::dump_calls::handler").is_none(),
        "{text}"
    );
    assert!(call.stack.windows(2).all(|w| w[0].id != w[1].id));
    // The text lists the chain innermost first, with file and line.
    let at = |f: &str| text.find(f).unwrap_or_else(|| panic!("{f} in\n{text}"));
    assert!(
        at("  isolated::dump_calls::inner ") < at("  isolated::dump_calls::middle ")
            && at("  isolated::dump_calls::middle ") < at("  isolated::dump_calls::handler ")
    );
    assert!(text.contains("[waiting, "), "{text}");
    assert!(text.contains("tests/isolated/dump_calls.rs:"), "{text}");

    release.notify_one();
    assert_eq!(runtime.block_on(task).unwrap(), 3);
    assert!(block(&logical(), "isolated::dump_calls::inner").is_none());
}

#[stack_on_timeout(60s)]
fn outer_sync(work: impl FnOnce()) {
    twice(work)
}

/// Registered twice, as a function with both `#[monitored]` and
/// `#[stack_on_timeout]` is: one frame in the dump.
fn twice(work: impl FnOnce()) {
    use monitor_runtime::__private::{stack_sync, CallSite};
    static MONITORED: CallSite = CallSite::new(
        "isolated::dump_calls::twice",
        "tests/isolated/dump_calls.rs",
        1,
    );
    static STACK: CallSite = CallSite::new(
        "isolated::dump_calls::twice",
        "tests/isolated/dump_calls.rs",
        1,
    )
    .report_after(Duration::from_secs(60));
    stack_sync(&MONITORED, || stack_sync(&STACK, work))
}

#[test]
fn same_function_twice_is_one_frame_and_sync_calls_run_on_their_thread() {
    monitor_demo::own_process!();
    outer_sync(|| {
        let dump = monitor_runtime::dump();
        let text = dump.to_string();
        let call = block(&dump, "isolated::dump_calls::twice").unwrap_or_else(|| panic!("{text}"));
        let chain: Vec<&str> = call.stack.iter().map(|f| f.function).collect();
        assert_eq!(
            chain,
            [
                "isolated::dump_calls::twice",
                "isolated::dump_calls::outer_sync"
            ],
            "{text}"
        );
        assert_eq!(call.stack[0].report_after, Some(Duration::from_secs(60)));
        // This thread, captured by itself.
        let CallState::Running { thread, name } = &call.state else {
            panic!("{text}")
        };
        assert!(thread.0 > 0);
        // The full name: the kernel's keeps 15 bytes.
        assert_eq!(name.as_deref(), thread::current().name(), "{text}");
        match &call.native {
            Some(NativeStack::Captured { frames, .. }) => {
                assert!(
                    frames.iter().any(|f| f.origin == Origin::User
                        && f.function
                            .as_deref()
                            .is_some_and(|n| n.contains("outer_sync"))),
                    "{text}"
                );
            }
            // Capture is Linux x86_64/aarch64 only.
            Some(NativeStack::Unavailable { error }) => {
                assert_eq!(*error, CaptureError::Unsupported, "{text}")
            }
            _ => panic!("no native stack:\n{text}"),
        }
    });
}

#[stack_on_timeout(300ms)]
fn quick() {
    thread::sleep(Duration::from_millis(20));
}

#[stack_on_timeout(40ms)]
fn slow() {
    thread::sleep(Duration::from_millis(400));
}

#[test]
fn only_calls_that_overrun_are_reported_once() {
    monitor_demo::own_process!();
    let dumps = kept_dumps();
    let quick_calls = thread::spawn(|| {
        for _ in 0..20 {
            quick();
        }
    });
    slow();
    quick_calls.join().unwrap();
    // The report may come after the call returned: the first capture of a
    // process loads debug info.
    let slow_reported = || {
        dumps.lock().unwrap().iter().any(|d| match &d.reason {
            DumpReason::Overdue { calls } => calls
                .iter()
                .any(|c| c.function == "isolated::dump_calls::slow"),
            _ => false,
        })
    };
    eventually("the slow call's report", slow_reported);
    thread::sleep(Duration::from_millis(100));
    let dumps = dumps.lock().unwrap();
    let reported = |function: &str| {
        dumps
            .iter()
            .filter(|d| match &d.reason {
                DumpReason::Overdue { calls } => calls.iter().any(|c| c.function == function),
                _ => false,
            })
            .count()
    };
    let all: String = dumps.iter().map(|d| format!("{d}\n")).collect();
    // The slow call was reported, once; the quick ones never were, though
    // some were in flight when the slow one's dump was taken.
    assert_eq!(reported("isolated::dump_calls::slow"), 1, "{all}");
    assert_eq!(reported("isolated::dump_calls::quick"), 0, "{all}");
    let slow_dump = dumps
        .iter()
        .find(|d| {
            d.calls
                .iter()
                .any(|c| c.function == "isolated::dump_calls::slow" && c.triggered)
        })
        .unwrap_or_else(|| panic!("{all}"));
    assert!(
        slow_dump.calls[0].triggered,
        "triggering calls come first:\n{slow_dump}"
    );
    assert!(
        slow_dump
            .calls
            .iter()
            .filter(|c| c.function == "isolated::dump_calls::quick")
            .all(|c| !c.triggered && !c.stack[0].overdue),
        "{slow_dump}"
    );
}

#[stack_on_timeout(60s)]
async fn parked(parked: Arc<AtomicUsize>) {
    parked.fetch_add(1, SeqCst);
    std::future::pending::<()>().await
}

#[test]
fn ten_thousand_calls_in_flight_are_all_listed() {
    monitor_demo::own_process!();
    const CALLS: usize = 10_000;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let count = Arc::new(AtomicUsize::new(0));
    let calls = runtime.spawn(futures::future::join_all(
        (0..CALLS).map(|_| parked(count.clone())),
    ));
    runtime.block_on(async {
        while count.load(SeqCst) < CALLS {
            tokio::task::yield_now().await;
        }
    });

    let began = Instant::now();
    let dump = logical();
    let took = began.elapsed();
    let listed = dump
        .calls
        .iter()
        .filter(|c| c.function == "isolated::dump_calls::parked")
        .count();
    let began = Instant::now();
    let text = dump.to_string();
    let formatted = began.elapsed();
    println!(
        "{CALLS} calls in flight: dump taken in {took:?} (reported: {:?}), formatted ({} bytes) in {formatted:?}",
        dump.took,
        text.len()
    );
    assert_eq!(listed, CALLS);
    assert!(dump.in_flight >= CALLS);
    assert_eq!(
        text.matches("  isolated::dump_calls::parked ").count(),
        CALLS
    );
    // Generous: the machine is shared, and this is a debug build.
    assert!(took < Duration::from_secs(5), "{took:?}");

    // With native stacks asked for: none of these runs on a thread, so no
    // thread is signalled.
    let began = Instant::now();
    let dump = monitor_runtime::dump();
    println!(
        "the same with native stacks asked for: {:?}",
        began.elapsed()
    );
    assert!(dump
        .calls
        .iter()
        .filter(|c| c.function == "isolated::dump_calls::parked")
        .all(|c| c.native.is_none()));

    calls.abort();
    let _ = runtime.block_on(calls);
    assert!(block(&logical(), "isolated::dump_calls::parked").is_none());
}

#[stack_on_timeout(60s)]
fn wait_masked(release: Receiver<()>) {
    // Running, not blocked in a system call: a blocked thread is read
    // without a signal, so only a running one can fail to answer.
    while let Err(std::sync::mpsc::TryRecvError::Empty) = release.try_recv() {
        std::hint::spin_loop();
    }
}

#[stack_on_timeout(60s)]
fn wait_unmasked(release: Receiver<()>) {
    let _ = release.recv();
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn a_thread_that_blocks_the_capture_signal_is_reported_not_waited_for() {
    monitor_demo::own_process!();
    let (masked_tx, masked_rx) = channel();
    let (unmasked_tx, unmasked_rx) = channel();
    let masked = thread::spawn(move || {
        // SAFETY: plain libc calls on a local, zeroed signal set.
        unsafe {
            let mut all: libc::sigset_t = std::mem::zeroed();
            libc::sigfillset(&mut all);
            assert_eq!(
                libc::pthread_sigmask(libc::SIG_BLOCK, &all, std::ptr::null_mut()),
                0
            );
        }
        wait_masked(masked_rx);
    });
    let unmasked = thread::spawn(move || wait_unmasked(unmasked_rx));
    eventually("both calls", || {
        let dump = logical();
        block(&dump, "isolated::dump_calls::wait_masked").is_some()
            && block(&dump, "isolated::dump_calls::wait_unmasked").is_some()
    });

    let began = Instant::now();
    let dump = DumpOptions::new()
        .answer_within(Duration::from_millis(100))
        .take();
    let took = began.elapsed();
    let text = dump.to_string();
    println!("dump with a thread that does not answer: {took:?}");
    assert!(took < Duration::from_secs(5), "{took:?}");
    let masked_call = block(&dump, "isolated::dump_calls::wait_masked").unwrap();
    assert!(
        matches!(
            &masked_call.native,
            Some(NativeStack::Unavailable {
                error: CaptureError::NoAnswer { .. }
            })
        ),
        "{text}"
    );
    assert!(
        text.contains("native stack unavailable: the thread did not answer signal"),
        "{text}"
    );
    // The other thread's stack is there all the same.
    let unmasked_call = block(&dump, "isolated::dump_calls::wait_unmasked").unwrap();
    let Some(NativeStack::Captured { frames, .. }) = &unmasked_call.native else {
        panic!("{text}")
    };
    assert!(
        frames.iter().any(|f| f.origin == Origin::User
            && f.file
                .as_deref()
                .is_some_and(|f| f.ends_with("tests/isolated/dump_calls.rs"))),
        "{text}"
    );

    masked_tx.send(()).unwrap();
    unmasked_tx.send(()).unwrap();
    masked.join().unwrap();
    unmasked.join().unwrap();
}

#[stack_on_timeout(60s)]
fn in_json(release: Receiver<()>) {
    let _ = release.recv();
}

#[test]
fn a_dump_serializes_to_json() {
    monitor_demo::own_process!();
    let (tx, rx) = channel();
    let waiting = thread::spawn(move || in_json(rx));
    eventually("the call", || {
        block(&logical(), "isolated::dump_calls::in_json").is_some()
    });
    let dump = monitor_runtime::dump();
    let json = serde_json::to_value(&dump).unwrap();
    tx.send(()).unwrap();
    waiting.join().unwrap();

    let pretty = serde_json::to_string_pretty(&json).unwrap();
    assert_eq!(json["reason"]["kind"], "requested", "{pretty}");
    assert!(json["taken_at"].as_f64().unwrap() > 1.6e9, "{pretty}");
    let call = json["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["function"] == "isolated::dump_calls::in_json")
        .unwrap_or_else(|| panic!("{pretty}"));
    let id = call["id"].as_str().unwrap();
    assert!(id.split('.').all(|n| n.parse::<u64>().is_ok()), "{id}");
    assert_eq!(call["file"], "tests/isolated/dump_calls.rs");
    assert!(call["line"].as_u64().unwrap() > 0);
    assert!(call["elapsed"].as_f64().unwrap() >= 0.0);
    assert_eq!(call["state"]["kind"], "running", "{call}");
    assert!(call["state"]["thread"].as_i64().unwrap() > 0, "{call}");
    assert_eq!(call["stack"][0]["id"], id);
    assert_eq!(call["stack"][0]["report_after"], 60.0);
    assert_eq!(call["stack"][0]["overdue"], false);
    if cfg!(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )) {
        let frames = call["native"]["captured"]["frames"].as_array().unwrap();
        assert!(
            frames.iter().any(|f| f["origin"] == "user"
                && f["file"]
                    .as_str()
                    .is_some_and(|f| f.ends_with("tests/isolated/dump_calls.rs"))
                && f["line"].as_u64().is_some()),
            "{call}"
        );
    }
}
