//! The cost of an uncontended lock and unlock of the `sync` locks against
//! the locks they wrap, in the same run. Goal: within 2x of
//! `std::sync::Mutex` and of `tokio::sync::Mutex`.
//!
//! Run: `cargo bench -p monitor-runtime --bench locks` (and with
//! `--features plain-locks` for the locks without bookkeeping).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::sync::{AsyncMutex, AsyncRwLock, Mutex, RwLock};

fn mutex(c: &mut Criterion) {
    let mut group = c.benchmark_group("mutex_lock_unlock");
    let std_lock = std::sync::Mutex::new(0u64);
    group.bench_function("std", |b| {
        b.iter(|| *black_box(&std_lock).lock().unwrap() += 1)
    });
    let ours = Mutex::new(0u64);
    group.bench_function("monitor", |b| {
        b.iter(|| *black_box(&ours).lock().unwrap() += 1)
    });
    group.finish();

    let mut group = c.benchmark_group("rwlock_read_unlock");
    let std_lock = std::sync::RwLock::new(0u64);
    group.bench_function("std", |b| b.iter(|| *black_box(&std_lock).read().unwrap()));
    let ours = RwLock::new(0u64);
    group.bench_function("monitor", |b| b.iter(|| *black_box(&ours).read().unwrap()));
    group.finish();
}

/// Inside one task (the holder is the task): a loop of lock and unlock,
/// timed per iteration, so the executor's cost is not measured.
fn async_mutex(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mut group = c.benchmark_group("async_mutex_lock_unlock");
    let tokio_lock = tokio::sync::Mutex::new(0u64);
    let ours = AsyncMutex::new(0u64);
    let tokio_rw = tokio::sync::RwLock::new(0u64);
    let ours_rw = AsyncRwLock::new(0u64);
    macro_rules! bench {
        ($group:ident, $name:literal, $lock:expr, $op:ident) => {
            $group.bench_function($name, |b| {
                b.iter_custom(|iters| {
                    runtime.block_on(async {
                        tokio::spawn(async move {
                            let start = std::time::Instant::now();
                            for _ in 0..iters {
                                black_box(*black_box($lock).$op().await);
                            }
                            start.elapsed()
                        })
                        .await
                        .unwrap()
                    })
                })
            });
        };
    }
    let (tokio_lock, ours): (&'static _, &'static _) =
        (Box::leak(Box::new(tokio_lock)), Box::leak(Box::new(ours)));
    bench!(group, "tokio", tokio_lock, lock);
    bench!(group, "monitor", ours, lock);
    group.finish();
    let mut group = c.benchmark_group("async_rwlock_read_unlock");
    let (tokio_rw, ours_rw): (&'static _, &'static _) =
        (Box::leak(Box::new(tokio_rw)), Box::leak(Box::new(ours_rw)));
    bench!(group, "tokio", tokio_rw, read);
    bench!(group, "monitor", ours_rw, read);
    group.finish();
}

criterion_group!(benches, mutex, async_mutex);
criterion_main!(benches);
