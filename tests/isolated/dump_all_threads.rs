//! A dump of every thread (`DumpOptions::all_threads`): a plain thread
//! that the runtime knows nothing about shows with its name, state and
//! native stack down to the line; a thread that runs an annotated call
//! shows once, linked to its call; a thread that cannot be captured is
//! listed with the reason.
#![cfg(target_os = "linux")]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::Arc;
use std::time::Duration;

use monitor_demo::eventually;
use monitor_runtime::dump::{DumpOptions, NativeStack, ThreadState};
use monitor_runtime::stack_on_timeout;

/// The line of `recv()` in `parked`.
const PARKED_LINE: u32 = line!() + 4;

#[inline(never)]
fn parked(wake: &Receiver<()>) {
    let _ = wake.recv();
}

#[stack_on_timeout(3600s)]
fn annotated_wait(wake: Receiver<()>) {
    let _ = wake.recv();
}

/// The kernel's id of a thread, from inside it.
fn tid() -> i32 {
    // SAFETY: gettid takes no argument and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

#[test]
fn every_thread_once_with_its_name_state_and_line() {
    monitor_demo::own_process!();
    let (wake_plain, plain_wait) = channel();
    let (tid_tx, tid_rx) = channel();
    let plain = std::thread::Builder::new()
        .name("plain-parked".into())
        .spawn(move || {
            tid_tx.send(tid()).unwrap();
            parked(&plain_wait);
        })
        .unwrap();
    let plain_tid = tid_rx.recv().unwrap();
    let (wake_annotated, annotated_rx) = channel();
    let (tid_tx, tid_rx) = channel();
    let annotated = std::thread::Builder::new()
        .name("annotated-call".into())
        .spawn(move || {
            tid_tx.send(tid()).unwrap();
            annotated_wait(annotated_rx);
        })
        .unwrap();
    let annotated_tid = tid_rx.recv().unwrap();

    // Until both are seen blocked where they wait.
    let mut dump = None;
    eventually("both threads seen in their waits", || {
        let taken = DumpOptions::new().all_threads(true).take();
        let at_line = |tid: i32, function: &str, line: u32| {
            taken.threads.iter().any(|t| {
                t.thread.0 == tid
                    && matches!(&t.native, Some(NativeStack::Captured { frames, .. })
                    if frames.iter().any(|f| {
                        f.function.as_deref().is_some_and(|n| n.ends_with(function))
                            && f.line == Some(line)
                    }))
            })
        };
        let ok = at_line(plain_tid, "parked", PARKED_LINE)
            && taken
                .calls
                .iter()
                .any(|c| c.function.ends_with("annotated_wait"));
        if ok {
            dump = Some(taken);
        }
        ok
    });
    let dump = dump.unwrap();

    let plain_dump = dump
        .threads
        .iter()
        .find(|t| t.thread.0 == plain_tid)
        .unwrap();
    assert_eq!(plain_dump.name.as_deref(), Some("plain-parked"));
    assert_eq!(plain_dump.state, ThreadState::Sleeping);
    assert!(plain_dump.calls.is_empty());

    // The annotated call's thread: listed once, linked to its call, which
    // carries the same stack.
    let listed: Vec<_> = dump
        .threads
        .iter()
        .filter(|t| t.thread.0 == annotated_tid)
        .collect();
    assert_eq!(listed.len(), 1);
    let call = dump
        .calls
        .iter()
        .find(|c| c.function.ends_with("annotated_wait"))
        .unwrap();
    assert_eq!(listed[0].calls, [call.id]);
    assert_eq!(listed[0].name.as_deref(), Some("annotated-call"));
    assert!(matches!(call.native, Some(NativeStack::Captured { .. })));
    // Each thread once.
    let mut tids: Vec<i32> = dump.threads.iter().map(|t| t.thread.0).collect();
    let all = tids.len();
    tids.dedup();
    assert_eq!(tids.len(), all);

    let text = dump.to_string();
    assert!(
        text.contains(&format!(
            "thread 'plain-parked' (tid {plain_tid}) [sleeping]:"
        )),
        "{text}"
    );
    assert!(
        text.contains(&format!("dump_all_threads.rs:{PARKED_LINE}")),
        "{text}"
    );
    assert!(
        text.contains(&format!(
            "thread 'annotated-call' (tid {annotated_tid}) [sleeping]: runs call {}",
            call.id
        )),
        "{text}"
    );
    // Its stack is written once: under the call.
    assert_eq!(
        text.matches(&format!("native stack of thread {annotated_tid}"))
            .count(),
        1,
        "{text}"
    );

    let json = serde_json::to_value(&dump).unwrap();
    let threads = json["threads"].as_array().unwrap();
    let plain_json = threads.iter().find(|t| t["thread"] == plain_tid).unwrap();
    assert_eq!(plain_json["name"], "plain-parked");
    assert_eq!(plain_json["state"], "sleeping");
    assert!(plain_json["native"]["captured"]["frames"].is_array());

    drop((wake_plain, wake_annotated));
    plain.join().unwrap();
    annotated.join().unwrap();
}

#[test]
fn a_thread_that_cannot_be_captured_is_listed_with_the_reason() {
    monitor_demo::own_process!();
    let stop = Arc::new(AtomicBool::new(false));
    let (tid_tx, tid_rx) = channel();
    let spinner = {
        let stop = stop.clone();
        std::thread::Builder::new()
            .name("deaf-spinner".into())
            .spawn(move || {
                // Blocks every real-time signal (the capture's among them)
                // and runs, so it can be captured neither way.
                // SAFETY: plain signal set calls on a local set.
                unsafe {
                    let mut set: libc::sigset_t = std::mem::zeroed();
                    libc::sigemptyset(&mut set);
                    for signal in libc::SIGRTMIN()..=libc::SIGRTMAX() {
                        libc::sigaddset(&mut set, signal);
                    }
                    libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
                }
                tid_tx.send(tid()).unwrap();
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
            .unwrap()
    };
    let spinner_tid = tid_rx.recv().unwrap();
    let dump = DumpOptions::new()
        .all_threads(true)
        .answer_within(Duration::from_millis(50))
        .take();
    stop.store(true, Ordering::Relaxed);
    spinner.join().unwrap();

    let listed = dump
        .threads
        .iter()
        .find(|t| t.thread.0 == spinner_tid)
        .expect("listed although it cannot be captured");
    assert!(
        matches!(&listed.native, Some(NativeStack::Unavailable { .. })),
        "{listed:?}"
    );
    let text = dump.to_string();
    assert!(
        text.contains(&format!(
            "thread 'deaf-spinner' (tid {spinner_tid}) [running]: native stack unavailable: \
             the thread did not answer signal"
        )),
        "{text}"
    );
}

#[test]
fn without_all_threads_no_thread_is_listed() {
    monitor_demo::own_process!();
    let dump = DumpOptions::new().native_stacks(false).take();
    assert!(dump.threads.is_empty());
    let json = serde_json::to_value(&dump).unwrap();
    assert!(json.get("threads").is_none(), "{json}");
    // Listing without native stacks: names and states only.
    let dump = DumpOptions::new()
        .all_threads(true)
        .native_stacks(false)
        .take();
    let me = dump
        .threads
        .iter()
        .find(|t| t.thread.0 == tid())
        .expect("this thread is listed");
    assert_eq!(
        me.name.as_deref(),
        std::thread::current().name(),
        "this thread's full name"
    );
    assert!(me.native.is_none());
}
