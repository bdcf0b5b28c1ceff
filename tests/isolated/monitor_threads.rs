//! Threads: none per call, and none left once a monitor is stopped and the
//! work is done. One test, so that no other test's threads are counted.

use std::time::Duration;

use monitor_demo::{eventually, threads_named};
use monitor_runtime::{Error, Monitor};

#[test]
fn no_thread_per_call_and_none_left_after_stop() {
    monitor_demo::own_process!();
    let before = threads_named("").expect("this test reads /proc/self/task");
    let watchdogs = || threads_named("monitor-watch").unwrap();
    let workers = || threads_named("monitor-worker").unwrap();

    // Inline sync calls and async calls that finish on their first poll start
    // no thread of their own: at most the process's one watchdog, which
    // ticks the coarse clock of the table of calls in flight.
    let inline = Monitor::builder("threads-inline")
        .max_active(4)
        .timeout(Duration::from_millis(100))
        .alert(Duration::from_secs(1))
        .build();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    for i in 0..1000 {
        assert_eq!(inline.call(|| i), Ok(i));
        assert_eq!(runtime.block_on(inline.call_async(async move { i })), Ok(i));
    }
    // A thread takes its name once it runs: wait for a new watchdog to be
    // named rather than count it as a stranger.
    eventually("no thread but the watchdog started", || {
        threads_named("").unwrap() == before + watchdogs()
    });
    assert!(watchdogs() <= 1, "{} watchdogs", watchdogs());

    // Sync calls with a timeout reuse pooled workers.
    for i in 0..1000 {
        assert_eq!(inline.call_blocking(move || i), Ok(i));
    }
    assert!(workers() <= 2, "{} workers for sequential calls", workers());

    // A stall arms the watchdog; stopping the monitor ends its streams and,
    // with nothing else to watch, the watchdog thread.
    let stalled = Monitor::builder("threads-stalled")
        .max_active(1)
        .alert(Duration::from_secs(3600))
        .build();
    let mut alerts = stalled.alerts();
    let inner = stalled.clone();
    stalled
        .call(|| assert!(matches!(inner.call(|| ()), Err(Error::Busy { .. }))))
        .unwrap();
    eventually("the watchdog to start", || watchdogs() == 1);
    stalled.stop();
    assert_eq!(runtime.block_on(alerts.recv()), None);
    eventually("the watchdog to exit", || watchdogs() == 0);
    eventually("the pool to empty", || workers() == 0);
    assert_eq!(threads_named("").unwrap(), before);

    // Stopped monitors still guard calls, and the watchdog comes back when
    // a deadline needs it.
    let result = runtime.block_on(inline.call_async(std::future::pending::<()>()));
    assert!(matches!(result, Err(Error::Timeout { .. })));
    assert_eq!(stalled.call(|| 5), Ok(5));
    eventually("the watchdog to exit again", || watchdogs() == 0);
}
