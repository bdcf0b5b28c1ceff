//! An async handler that blocks its worker thread: `std::thread::sleep`
//! where it should `.await`. Its timeout cannot interrupt the sleep (a
//! timeout is a future, and the thread that would poll it is asleep), so
//! the call returns late but "successfully". The watchdog sees the poll
//! that runs past the blocking threshold (10 ms): it counts it in the
//! monitor's stats, warns, and reports it once with the native stack of the
//! blocked worker, which names the sleeping line. No `#[stack_on_timeout]`
//! needed. The fix is `tokio::task::spawn_blocking`, or a sync
//! `#[monitored(timeout = ..)]` function.
//!
//! ```text
//! cargo run --example blocking
//! ```

use std::time::Duration;

use monitor_runtime::dump::{set_dump_sink, DumpSink};
use monitor_runtime::{monitored, Error};

#[monitored(timeout = "100ms", max_active = 2)]
async fn quote(id: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    // Blocks the worker thread, and every task queued on it, for a second.
    std::thread::sleep(Duration::from_secs(1));
    Ok(id * 100)
}

#[tokio::main]
async fn main() {
    set_dump_sink(DumpSink::custom(|dump| eprintln!("{dump}"))).unwrap();
    let started = std::time::Instant::now();
    let price = quote(7).await;
    let monitor = monitor_runtime::monitor("blocking::quote").unwrap();
    println!(
        "quote(7) = {price:?} after {:?}; blocked polls: {}, timeouts: {}",
        started.elapsed(),
        monitor.stats().blocked_polls,
        monitor.stats().timeouts,
    );
}
