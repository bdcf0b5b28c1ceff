//! The tour: what `#[monitored]` does to ordinary functions.
//!
//! Run: `cargo run --example demo`

use std::sync::Arc;
use std::time::Duration;

use monitor_runtime::{monitored, Error};
use tokio::sync::Notify;

/// A handler whose downstream answers in 20 ms for even ids, and never for
/// odd ones.
#[monitored(timeout = "50ms", max_active = 5, alert = "200ms")]
async fn lookup(id: u32, downstream: Arc<Notify>) -> Result<String, Error> {
    if id % 2 == 1 {
        downstream.notified().await; // stuck until someone notifies
    }
    tokio::time::sleep(Duration::from_millis(20)).await;
    Ok(format!("item {id}"))
}

/// A sync function with a cap but no timeout: runs inline.
#[monitored(max_active = 2)]
fn checksum(data: &[u8]) -> Result<u32, Error> {
    Ok(data.iter().map(|&b| u32::from(b)).sum())
}

/// A sync function with a timeout: runs on a pooled worker thread, so the
/// caller gets `Timeout` at the deadline even though the body cannot be
/// interrupted.
#[monitored(timeout = "30ms", max_active = 2)]
fn slow_disk(ms: u64) -> Result<u64, Error> {
    std::thread::sleep(Duration::from_millis(ms));
    Ok(ms)
}

/// Holds its slot until released: used to saturate a monitor.
#[monitored(max_active = 3, alert = "150ms", name = "demo::saturated")]
async fn saturated(release: Arc<Notify>) -> Result<(), Error> {
    release.notified().await;
    Ok(())
}

#[tokio::main]
async fn main() {
    println!("== a burst of 10 concurrent calls, max_active = 5, timeout = 50ms ==");
    println!("   (the first five in take the slots; the other five are refused at once)");
    let downstream = Arc::new(Notify::new());
    let calls = (0..10).map(|id| lookup(id, downstream.clone()));
    for (id, result) in futures_join_all(calls).await.into_iter().enumerate() {
        match result {
            Ok(item) => println!("  call {id}: {item}"),
            Err(error) => println!("  call {id}: {error}"),
        }
    }

    println!("\n== sync calls ==");
    println!("  checksum: {:?}", checksum(b"monitored"));
    println!("  slow_disk(5):   {:?}", slow_disk(5));
    match slow_disk(500) {
        Ok(ms) => println!("  slow_disk(500): {ms}"),
        Err(error) => println!("  slow_disk(500): {error}"),
    }

    println!("\n== a stall: the cap is full and nothing completes for 150ms ==");
    let release = Arc::new(Notify::new());
    let held: Vec<_> = (0..3)
        .map(|_| tokio::spawn(saturated(release.clone())))
        .collect();
    tokio::time::sleep(Duration::from_millis(10)).await;
    let refused = saturated(release.clone()).await;
    println!("  a fourth call: {}", refused.unwrap_err());
    tokio::time::sleep(Duration::from_millis(250)).await; // the alert prints on stderr
    release.notify_waiters();
    for task in held {
        task.await.unwrap().unwrap();
    }

    println!("\n== every monitor of the process ==");
    println!(
        "  {:<22} {:>6} {:>6} {:>5} {:>8} {:>7} {:>6} {:>9} {:>9}",
        "monitor", "calls", "done", "busy", "timeouts", "cancel", "alerts", "p50", "p99"
    );
    for monitor in monitor_runtime::monitors() {
        let s = monitor.stats();
        println!(
            "  {:<22} {:>6} {:>6} {:>5} {:>8} {:>7} {:>6} {:>9.1?} {:>9.1?}",
            monitor.name(),
            s.calls,
            s.completed,
            s.busy,
            s.timeouts,
            s.cancelled,
            s.alerts,
            s.latency.p50,
            s.latency.p99
        );
    }
}

/// Awaits every future concurrently, in order.
async fn futures_join_all<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let tasks: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::new();
    for task in tasks {
        out.push(task.await.unwrap());
    }
    out
}
