//! A worker that beats every 10 ms and, on its third round, gets stuck
//! waiting for a reply that never comes. Its supervisor notices the missed
//! heartbeat after 100 ms, writes a dump of what the worker was doing (its
//! thread's native stack: `fetch_from_upstream`, and that call in the
//! registry, thanks to `#[stack_on_timeout]`), tells the stuck thread to
//! stop, and starts a new instance, which runs fine. Then the example
//! stops the supervisor and prints its stats.
//!
//! ```text
//! cargo run --example supervisor
//! ```

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use monitor_runtime::{
    stack_on_timeout,
    supervisor::{Heartbeat, StopSignal, Supervisor},
};

static INSTANCES: AtomicU32 = AtomicU32::new(0);

/// Waits for a reply that never comes; gives up only when told to stop.
#[stack_on_timeout(10s)]
fn fetch_from_upstream(replies: &mpsc::Receiver<u64>, stop: &StopSignal) -> Option<u64> {
    loop {
        if let Ok(reply) = replies.recv_timeout(Duration::from_millis(20)) {
            return Some(reply);
        }
        if stop.is_stopped() {
            return None;
        }
    }
}

fn worker(beat: Heartbeat, stop: StopSignal) -> Result<(), String> {
    let instance = INSTANCES.fetch_add(1, Ordering::SeqCst) + 1;
    println!("instance {instance} started");
    let (_upstream, replies) = mpsc::channel::<u64>();
    let mut round = 0;
    while !stop.is_stopped() {
        round += 1;
        beat.beat();
        if instance == 1 && round == 3 {
            println!("instance {instance}, round {round}: asking upstream (no reply will come)");
            if fetch_from_upstream(&replies, &stop).is_none() {
                println!("instance {instance}: told to stop, returning");
                return Ok(());
            }
        }
        stop.wait(Duration::from_millis(10));
    }
    println!("instance {instance} stopped after {round} rounds");
    Ok(())
}

fn main() {
    let handle = Supervisor::builder("example::poller")
        .heartbeat(Duration::from_millis(100))
        .spawn_thread(worker)
        .expect("a thread");
    std::thread::sleep(Duration::from_millis(1500));
    let stats = handle.stats();
    handle.stop_blocking().expect("stops cleanly");
    println!(
        "stats: {} starts, {} missed heartbeat(s), {} restart(s) after a stall",
        stats.starts, stats.missed_heartbeats, stats.stall_restarts
    );
}
