//! A watchdog scheduled late (a loaded machine: more runnable threads
//! than cores) keeps the coarse clock's reading current for longer than a
//! tick. Counted from that reading, a call or a poll would look older than
//! it is: reports would come early, for calls that finish in time and
//! polls that block their thread less than the threshold. They never do: a
//! report counts from the latest the reading can have been taken.
//!
//! The test makes the watchdog late for sure: it lowers the watchdog
//! thread's priority (nice 19) and keeps more threads spinning than there
//! are cores. Isolated: the spinning threads load the whole process.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_blocked_polls, kept_dumps, kept_overdue};
use monitor_runtime::{monitor::set_blocking_threshold, monitored, stack_on_timeout, Error};

const LIMIT: Duration = Duration::from_millis(20);

/// Works for `ms` milliseconds, sleeping, under a 20 ms report limit.
#[stack_on_timeout(20ms)]
fn under_the_limit(ms: u64) {
    std::thread::sleep(Duration::from_millis(ms));
}

/// Lowers the priority of the thread named `name` to the lowest (nice
/// 19); whether it was found.
fn lowest_priority(name: &str) -> bool {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return false;
    };
    for task in tasks.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        let Some(tid) = task
            .file_name()
            .to_str()
            .and_then(|t| t.parse::<u32>().ok())
        else {
            continue;
        };
        if comm.trim_end() == name {
            // SAFETY: a plain system call on a thread of this process.
            let set = unsafe { libc::setpriority(libc::PRIO_PROCESS, tid, 19) };
            assert_eq!(set, 0, "setpriority: {}", std::io::Error::last_os_error());
            return true;
        }
    }
    false
}

/// Runs `run` on 4 threads for 3 s while 3 threads per core spin, with
/// the watchdog at the lowest priority; `run` says whether its call or
/// poll really ran past the limit. Returns how many calls ran, and how
/// many of them ran past the limit.
fn under_load(run: impl Fn(u64) -> bool + Sync) -> (usize, usize) {
    kept_dumps();
    // The watchdog runs from the first call on, and stays while calls
    // come (it exits after 200 ms without any).
    run(0);
    eventually("the watchdog's thread", || lowest_priority("monitor-watch"));
    let stop = AtomicBool::new(false);
    let long = AtomicUsize::new(0);
    let calls = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
        for _ in 0..3 * cores {
            scope.spawn(|| {
                while !stop.load(SeqCst) {
                    std::hint::spin_loop();
                }
            });
        }
        let callers: Vec<_> = (0..4)
            .map(|thread| {
                let (long, calls, run) = (&long, &calls, &run);
                scope.spawn(move || {
                    let until = Instant::now() + Duration::from_secs(3);
                    let mut i = thread;
                    while Instant::now() < until {
                        // 10 to 18 ms: under the limit, unless the load
                        // stretches the sleep.
                        if run(10 + (i % 9) as u64) {
                            long.fetch_add(1, SeqCst);
                        }
                        calls.fetch_add(1, SeqCst);
                        i += 1;
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.join().unwrap();
        }
        stop.store(true, SeqCst);
    });
    // Reports found during the run are written within the rate limit's
    // second.
    std::thread::sleep(Duration::from_secs(2));
    (calls.load(SeqCst), long.load(SeqCst))
}

#[test]
fn a_late_watchdog_reports_no_call_early() {
    monitor_demo::own_process!();
    // Measured around the call: at least as long as the call.
    let (calls, long) = under_load(|ms| {
        let began = Instant::now();
        under_the_limit(ms);
        began.elapsed() >= LIMIT
    });
    let reported = kept_overdue("isolated::watchdog_late::under_the_limit");
    assert!(
        reported.len() <= long,
        "{} calls reported overdue, but only {long} of {calls} ran past {LIMIT:?}: {:?}",
        reported.len(),
        reported.iter().map(|call| call.elapsed).collect::<Vec<_>>()
    );
}

/// Yields once, then blocks its thread for `ms` milliseconds in one poll;
/// whether that poll ran past the limit (measured around it: at least as
/// long as the poll).
#[monitored(timeout = "30s")]
async fn blocks_for(ms: u64) -> Result<bool, Error> {
    tokio::task::yield_now().await;
    let began = Instant::now();
    std::thread::sleep(Duration::from_millis(ms));
    Ok(began.elapsed() >= LIMIT)
}

#[test]
fn a_late_watchdog_reports_no_poll_early() {
    monitor_demo::own_process!();
    set_blocking_threshold(Some(LIMIT));
    let (calls, long) = under_load(|ms| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        runtime.block_on(blocks_for(ms)).unwrap()
    });
    let reported = kept_blocked_polls("isolated::watchdog_late::blocks_for");
    assert!(
        reported.len() <= long,
        "{} polls reported blocking, but only {long} of {calls} ran past {LIMIT:?}: {:?}",
        reported.len(),
        reported
            .iter()
            .map(|poll| poll.blocked_for)
            .collect::<Vec<_>>()
    );
}
