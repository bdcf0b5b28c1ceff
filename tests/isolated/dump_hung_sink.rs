//! A dump sink that never returns costs bounded memory however many calls
//! go overdue: the dump worker's queue coalesces the overdue reports into
//! one and counts what it leaves out, and the sink runs on a thread of its
//! own, so that the dump worker is not stuck with it.

use std::time::Duration;

use monitor_demo::hung_sink;
use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(1ms)]
async fn late() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

/// Resident memory, in bytes, from `/proc/self/statm`.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[test]
fn many_overdue_calls_under_a_hung_sink_cost_bounded_memory() {
    monitor_demo::own_process!();
    const BATCH: usize = 10_000;
    const BATCHES: usize = 6;
    let (release, entered) = hung_sink();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let batch = || {
        runtime.block_on(futures::future::join_all((0..BATCH).map(|_| late())));
    };
    // Warm up: the table of calls in flight, the runtime's timers, and the
    // sink, now hung in the first report.
    batch();
    entered
        .recv_timeout(Duration::from_secs(20))
        .expect("the first report reached the sink");
    batch();
    let before = rss();
    for _ in 0..BATCHES {
        batch();
    }
    let grown = rss().saturating_sub(before);
    if std::env::var_os("MONITOR_TEST_FIGURES").is_some() {
        eprintln!("RSS grew by {} KiB", grown >> 10);
    }
    // 60,000 overdue calls: queued one by one, 120,000 took 10 MB and more.
    assert!(
        grown < 2 << 20,
        "RSS grew by {} KiB over {} overdue calls while the sink hung",
        grown >> 10,
        BATCH * BATCHES
    );
    drop(release);
}
