//! The cost of `Heartbeat::beat` against a plain relaxed store of a
//! timestamp (what a hand-written heartbeat does), in the same run. Goal:
//! at most 5 ns.
//!
//! Run: `cargo bench -p monitor-bench --bench supervisor`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Duration;

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::supervisor::{Heartbeat, Supervisor, SupervisorHandle};

/// A thread worker that hands its heartbeat out and waits to be stopped.
fn supervised(name: &str, timeout: Duration) -> (SupervisorHandle, Heartbeat) {
    let (tx, rx) = mpsc::channel();
    let handle = Supervisor::builder(name)
        .heartbeat(timeout)
        .dump(None)
        .spawn_thread(move |beat, stop| {
            let _ = tx.send(beat.clone());
            while !stop.wait(timeout / 10) {
                beat.beat();
            }
            Ok::<(), String>(())
        })
        .unwrap();
    (handle, rx.recv().unwrap())
}

fn beat(c: &mut Criterion) {
    let mut group = c.benchmark_group("beat");
    let plain = AtomicU64::new(0);
    let mut now = 0u64;
    group.bench_function("plain_relaxed_store", |b| {
        b.iter(|| {
            now += 1;
            plain.store(black_box(now), Ordering::Relaxed);
        })
    });
    // The supervisor looks every 15 minutes: the load-only path.
    let (slow, heartbeat) = supervised("bench::slow", Duration::from_secs(3600));
    group.bench_function("heartbeat", |b| b.iter(|| black_box(&heartbeat).beat()));
    // The supervisor looks every millisecond: a compare-and-swap per look,
    // and the cache line moving to the supervisor's core and back.
    let (fast, heartbeat) = supervised("bench::fast", Duration::from_millis(4));
    group.bench_function("heartbeat_looked_at_every_ms", |b| {
        b.iter(|| black_box(&heartbeat).beat())
    });
    group.finish();
    slow.stop_blocking().unwrap();
    fast.stop_blocking().unwrap();
}

criterion_group!(benches, beat);
criterion_main!(benches);
