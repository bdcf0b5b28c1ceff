//! After a supervisor stops, nothing it started is left running: no worker
//! thread, no supervisor thread, no tokio task. Its own binary, so that no
//! other test's threads are counted. The dump of the stalled worker is
//! kept (`kept_dumps`), so that nothing reaches stderr.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::{DumpOptions, DumpReason};
use monitor_runtime::supervisor::Supervisor;

/// Names of this process's threads, but the runtime's own watchdog and
/// helpers, which linger a while on their own.
fn threads() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir("/proc/self/task")
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path().join("comm")).ok())
        .map(|name| name.trim_end().to_owned())
        .filter(|name| !name.starts_with("monitor-watch") && !name.starts_with("monitor-dump"))
        .filter(|name| !name.starts_with("monitor-prepa"))
        .collect();
    names.sort();
    names
}

#[test]
fn nothing_is_left_running_after_stop() {
    monitor_demo::own_process!();
    let kept = kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    // The runtime's threads exist, and have their names, before the
    // baseline.
    eventually("the runtime's workers started", || {
        threads().iter().filter(|n| *n == "tokio-rt-worker").count() == 2
    });
    let before = threads();

    // A thread worker that stalls once (its first thread is told to stop
    // and detached), then beats.
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let thread_handle = Supervisor::builder("threads::counted")
        .heartbeat(Duration::from_millis(50))
        .dump(Some(DumpOptions::new().native_stacks(false)))
        .spawn_thread(move |beat, stop| {
            let stall = c.fetch_add(1, Ordering::SeqCst) == 0;
            while !stop.wait(Duration::from_millis(5)) {
                if !stall {
                    beat.beat();
                }
            }
            Ok::<(), String>(())
        })
        .unwrap();

    // An async worker that stalls once (cancelled), then is stuck at
    // shutdown ignoring its stop signal (cancelled after the grace).
    let a = Arc::new(AtomicUsize::new(0));
    let async_handle = runtime.block_on(async {
        let a = a.clone();
        Supervisor::builder("threads::tasks")
            .heartbeat(Duration::from_millis(50))
            .grace(Duration::from_millis(50))
            .dump(None)
            .spawn(move |beat, _stop| {
                let first = a.fetch_add(1, Ordering::SeqCst) == 0;
                async move {
                    loop {
                        if !first {
                            beat.beat();
                        }
                        tokio::time::sleep(Duration::from_millis(5)).await;
                    }
                    #[allow(unreachable_code)]
                    Ok::<(), String>(())
                }
            })
            .unwrap()
    });
    eventually("both restarted after their stall", || {
        thread_handle.stats().stall_restarts >= 1 && async_handle.stats().stall_restarts >= 1
    });
    // The restarted instances start (and name their threads) just after
    // the restart is counted.
    eventually("the restarted thread worker", || {
        threads().iter().any(|n| n == "counted")
    });
    eventually("the thread worker's supervisor", || {
        threads().iter().any(|n| n == "monitor-sup")
    });
    eventually("the restarted async worker", || {
        runtime.metrics().num_alive_tasks() >= 2
    });

    thread_handle.stop_blocking().unwrap();
    runtime
        .block_on(async_handle.stop())
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(5);
    while threads() != before {
        assert!(
            Instant::now() < deadline,
            "threads left: before {before:?}, now {:?}",
            threads()
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    eventually("every task ended", || {
        runtime.metrics().num_alive_tasks() == 0
    });
    // The stall of the thread worker was dumped, to the kept dumps.
    eventually("the stalled worker's dump is kept", || {
        kept.lock().unwrap().iter().any(|dump| {
            matches!(&dump.reason, DumpReason::StalledWorker { worker, .. }
                if worker == "threads::counted")
        })
    });
}
