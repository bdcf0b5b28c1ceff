//! No thread is left behind by dumps: the watchdog (`monitor-watch`), the
//! thread that loads debug info ahead of the first report
//! (`monitor-prepare`) and the dump worker that takes and writes the
//! reports (`monitor-dump`) exit once no call is in flight and no report
//! is left to write. One test, so that no other test's calls keep them
//! alive.

use std::thread;
use std::time::Duration;

use monitor_demo::{eventually, kept_dumps, threads_named};
use monitor_runtime::{dump::DumpReason, stack_on_timeout};

#[stack_on_timeout(30ms)]
fn late() {
    thread::sleep(Duration::from_millis(300));
}

#[test]
fn no_thread_left_after_reports_and_dumps() {
    monitor_demo::own_process!();
    let before = threads_named("").expect("this test reads /proc/self/task");
    let dumps = kept_dumps();

    // Overdue reports on the dump worker, with native stacks.
    let callers: Vec<_> = (0..4).map(|_| thread::spawn(late)).collect();
    for caller in callers {
        caller.join().unwrap();
    }
    // A dump on this thread.
    let _ = monitor_runtime::dump();
    // The first report loads debug info: it may come after the calls end.
    let overdue = || {
        dumps
            .lock()
            .unwrap()
            .iter()
            .filter(|d| matches!(d.reason, DumpReason::Overdue { .. }))
            .count()
    };
    eventually("an overdue report", || overdue() > 0);
    assert!(overdue() <= 4, "{} overdue dumps", overdue());

    eventually("the watchdog to exit", || {
        threads_named("monitor-watch") == Some(0)
    });
    eventually("the preparation to end", || {
        threads_named("monitor-prepare") == Some(0)
    });
    eventually("the dump worker to exit", || {
        threads_named("monitor-dump") == Some(0)
    });
    assert_eq!(threads_named(""), Some(before), "a thread was left behind");
}
