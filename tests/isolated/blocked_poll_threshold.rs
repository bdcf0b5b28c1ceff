//! The blocking threshold: set process-wide with
//! `monitor::set_blocking_threshold`, or off; a call's timeout, when it is
//! shorter, is the threshold of its polls. A binary of its own: the
//! threshold is process-wide, so its one test changes it step by step.

use std::time::Duration;

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::monitor::{blocking_threshold, set_blocking_threshold};
use monitor_runtime::{monitored, Error};

#[monitored]
async fn blocks_for(ms: u64) -> Result<(), Error> {
    tokio::task::yield_now().await;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

#[monitored(timeout = "30ms")]
async fn blocks_past_its_timeout(ms: u64) -> Result<(), Error> {
    tokio::task::yield_now().await;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

fn blocked(function: &str) -> u64 {
    monitor_runtime::monitor(function).map_or(0, |m| m.stats().blocked_polls)
}

/// The thresholds of the reported polls of `function`.
fn thresholds(function: &str) -> Vec<Duration> {
    let dumps = kept_dumps().lock().unwrap();
    dumps
        .iter()
        .flat_map(|dump| match &dump.reason {
            DumpReason::BlockedPoll { polls } => polls.clone(),
            _ => Vec::new(),
        })
        .filter(|poll| poll.function == function)
        .map(|poll| poll.threshold)
        .collect()
}

#[test]
fn the_threshold_is_set_process_wide_or_by_the_timeout() {
    monitor_demo::own_process!();
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    assert_eq!(blocking_threshold(), Some(Duration::from_millis(10)));

    // Off: a long block is not counted.
    set_blocking_threshold(None);
    runtime.block_on(blocks_for(100)).unwrap();
    // Give the watchdog the ticks it would have needed.
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked("isolated::blocked_poll_threshold::blocks_for"), 0);

    // 300 ms: 100 ms is under it, 600 ms over it.
    set_blocking_threshold(Some(Duration::from_millis(300)));
    runtime.block_on(blocks_for(100)).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(blocked("isolated::blocked_poll_threshold::blocks_for"), 0);
    runtime.block_on(blocks_for(600)).unwrap();
    eventually("the 600 ms poll counted", || {
        blocked("isolated::blocked_poll_threshold::blocks_for") == 1
    });
    eventually("the 600 ms poll reported", || {
        !thresholds("isolated::blocked_poll_threshold::blocks_for").is_empty()
    });
    assert_eq!(
        thresholds("isolated::blocked_poll_threshold::blocks_for"),
        [Duration::from_millis(300)]
    );

    // A timeout shorter than the threshold is the threshold.
    runtime.block_on(blocks_past_its_timeout(150)).unwrap();
    eventually("the poll past its timeout counted", || {
        blocked("isolated::blocked_poll_threshold::blocks_past_its_timeout") == 1
    });
    eventually("the poll past its timeout reported", || {
        !thresholds("isolated::blocked_poll_threshold::blocks_past_its_timeout").is_empty()
    });
    assert_eq!(
        thresholds("isolated::blocked_poll_threshold::blocks_past_its_timeout"),
        [Duration::from_millis(30)]
    );
    set_blocking_threshold(Some(Duration::from_millis(10)));
}
