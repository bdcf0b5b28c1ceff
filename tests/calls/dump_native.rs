//! The time to dump with the native stacks of 100 blocked threads: the
//! first dump of a process (which loads the debug info) and the next ones.
//! A binary of its own, so that the first dump is the process's first.

use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use monitor_runtime::{
    dump::{Dump, NativeStack, Origin},
    stack_on_timeout,
};

const THREADS: usize = 100;

#[stack_on_timeout(1h)]
fn blocked(ready: &Barrier, release: std::sync::mpsc::Receiver<()>) {
    ready.wait();
    let _ = release.recv();
}

fn captured_with_user_frames(dump: &Dump) -> usize {
    dump.calls
        .iter()
        .filter(|c| c.function == "calls::dump_native::blocked")
        .filter(|c| match &c.native {
            // By name: a release build has no file names.
            Some(NativeStack::Captured { frames, .. }) => frames.iter().any(|f| {
                f.origin == Origin::User
                    && f.function
                        .as_deref()
                        .is_some_and(|f| f.starts_with("calls::dump_native::blocked"))
            }),
            _ => false,
        })
        .count()
}

#[cfg(all(
    target_os = "linux",
    any(target_arch = "x86_64", target_arch = "aarch64")
))]
#[test]
fn native_stacks_of_a_hundred_blocked_threads() {
    let ready = Arc::new(Barrier::new(THREADS + 1));
    let mut releases = Vec::new();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (release, wait) = channel();
            releases.push(release);
            let ready = ready.clone();
            thread::spawn(move || blocked(&ready, wait))
        })
        .collect();
    ready.wait();

    let began = Instant::now();
    let first = monitor_runtime::dump();
    let cold = began.elapsed();
    let mut warm = Vec::new();
    for _ in 0..3 {
        let began = Instant::now();
        let dump = monitor_runtime::dump();
        warm.push(began.elapsed());
        assert_eq!(captured_with_user_frames(&dump), THREADS, "{dump}");
    }
    println!(
        "dump with native stacks of {THREADS} blocked threads: first {cold:?} (loads debug info), then {warm:?}"
    );
    // The threads may still be on their way into `recv` in the first dump.
    assert!(captured_with_user_frames(&first) > 0, "{first}");
    // Generous bounds: the machine is shared, and this is a debug build.
    assert!(warm.iter().all(|t| *t < Duration::from_secs(5)), "{warm:?}");
    assert!(cold < Duration::from_secs(30), "{cold:?}");

    drop(releases);
    for thread in threads {
        thread.join().unwrap();
    }
}
