//! The cost of an uncontended lock and unlock of the `sync` locks against
//! the locks they wrap, in the same run. Goal (issue 14): within 1.1x of
//! the peer, std's or tokio's, with the lock-order check off (release
//! builds, as benches run). `benches/icount.rs` counts the same
//! acquisitions' instructions.
//!
//! Run: `cargo bench -p monitor-bench --bench locks` (and with
//! `--features plain-locks` for the locks without bookkeeping).
//!
//! `lock_order_nested_pair`: the cost of the lock-order check, a nested
//! acquisition of a pair already known (`a` then `b`, both released), with
//! the check off and on. Goal: on within +30 ns of off.
//! `lock_order_nested_pair_added`: the same difference measured within
//! each sample (the check on, then off, back to back), which the machine's
//! drift between two benchmark functions does not move: `std` and `async`
//! the whole pair, `std_nested` and `async_nested` the nested acquisition
//! alone (`b` taken and let go while `a` is held).

use std::future::Future;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::sync::{set_lock_order_checking, AsyncMutex, AsyncRwLock, Mutex, RwLock};

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

/// A nested acquisition of a known pair, with the lock-order check off
/// and on: std mutexes on one thread, async mutexes in one task.
fn nested_pair(c: &mut Criterion) {
    let mut group = c.benchmark_group("lock_order_nested_pair");
    let (a, b) = (Mutex::new(0u64), Mutex::new(0u64));
    for (name, on) in [("std_off", false), ("std_on", true)] {
        set_lock_order_checking(on);
        group.bench_function(name, |bench| {
            bench.iter(|| {
                let mut first = black_box(&a).lock().unwrap();
                let mut second = black_box(&b).lock().unwrap();
                *first += 1;
                *second += 1;
            })
        });
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let pair: &'static (AsyncMutex<u64>, AsyncMutex<u64>) =
        Box::leak(Box::new((AsyncMutex::new(0), AsyncMutex::new(0))));
    for (name, on) in [("async_off", false), ("async_on", true)] {
        set_lock_order_checking(on);
        group.bench_function(name, |bench| {
            bench.iter_custom(|iters| {
                runtime.block_on(async {
                    tokio::spawn(async move {
                        let start = std::time::Instant::now();
                        for _ in 0..iters {
                            let mut first = black_box(&pair.0).lock().await;
                            let mut second = black_box(&pair.1).lock().await;
                            *first += 1;
                            *second += 1;
                        }
                        start.elapsed()
                    })
                    .await
                    .unwrap()
                })
            })
        });
    }
    set_lock_order_checking(false);
    group.finish();
    nested_pair_added(c, &runtime);
}

/// What the check adds to a pair, measured as a difference within each
/// sample: `iters` pairs with the check on, then `iters` with it off (a
/// pair of locks of its own each way: a lock the check once numbered is
/// looked up on release even with the check off), a few milliseconds
/// apart, so that the machine's drift over the seconds between two
/// benchmark functions cancels out. Criterion's time is the on pair's less
/// the off pair's.
fn nested_pair_added(c: &mut Criterion, runtime: &tokio::runtime::Runtime) {
    let mut group = c.benchmark_group("lock_order_nested_pair_added");
    let std_pairs: &'static [StdPair; 2] = Box::leak(Box::new([
        (Mutex::new(0), Mutex::new(0)),
        (Mutex::new(0), Mutex::new(0)),
    ]));
    group.bench_function("std", |bench| {
        bench.iter_custom(|iters| std_added(std_pairs, std_pair, iters))
    });
    group.bench_function("std_nested", |bench| {
        bench.iter_custom(|iters| std_added(std_pairs, std_nested, iters))
    });
    let async_pairs: &'static [AsyncPair; 2] = Box::leak(Box::new([
        (AsyncMutex::new(0), AsyncMutex::new(0)),
        (AsyncMutex::new(0), AsyncMutex::new(0)),
    ]));
    group.bench_function("async", |bench| {
        bench.iter_custom(|iters| async_added(runtime, async_pairs, async_pair, iters))
    });
    group.bench_function("async_nested", |bench| {
        bench.iter_custom(|iters| async_added(runtime, async_pairs, async_nested, iters))
    });
    group.finish();
}

type StdPair = (Mutex<u64>, Mutex<u64>);
type AsyncPair = (AsyncMutex<u64>, AsyncMutex<u64>);

/// `on` less `off`, never zero (criterion divides by it).
fn added(on: Duration, off: Duration) -> Duration {
    on.saturating_sub(off).max(Duration::from_nanos(1))
}

/// `run` for `iters` with the check on (the second pair), less `run` with
/// it off (the first).
fn std_added(pairs: &[StdPair; 2], run: fn(&StdPair, u64) -> Duration, iters: u64) -> Duration {
    set_lock_order_checking(true);
    let on = run(&pairs[1], iters);
    set_lock_order_checking(false);
    added(on, run(&pairs[0], iters))
}

/// [`std_added`] of async pairs, in a spawned task.
fn async_added<F>(
    runtime: &tokio::runtime::Runtime,
    pairs: &'static [AsyncPair; 2],
    run: fn(&'static AsyncPair, u64) -> F,
    iters: u64,
) -> Duration
where
    F: Future<Output = Duration> + Send + 'static,
{
    runtime.block_on(async move {
        tokio::spawn(async move {
            set_lock_order_checking(true);
            let on = run(&pairs[1], iters).await;
            set_lock_order_checking(false);
            added(on, run(&pairs[0], iters).await)
        })
        .await
        .unwrap()
    })
}

/// The whole pair, `iters` times: take `a`, take `b`, let both go.
fn std_pair(pair: &StdPair, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut first = black_box(&pair.0).lock().unwrap();
        let mut second = black_box(&pair.1).lock().unwrap();
        *first += 1;
        *second += 1;
    }
    start.elapsed()
}

/// The nested acquisition alone: `b` taken and let go while `a` is held.
fn std_nested(pair: &StdPair, iters: u64) -> Duration {
    let mut first = pair.0.lock().unwrap();
    let start = Instant::now();
    for _ in 0..iters {
        *black_box(&pair.1).lock().unwrap() += 1;
    }
    let elapsed = start.elapsed();
    *first += 1;
    elapsed
}

async fn async_pair(pair: &AsyncPair, iters: u64) -> Duration {
    let start = Instant::now();
    for _ in 0..iters {
        let mut first = black_box(&pair.0).lock().await;
        let mut second = black_box(&pair.1).lock().await;
        *first += 1;
        *second += 1;
    }
    start.elapsed()
}

async fn async_nested(pair: &AsyncPair, iters: u64) -> Duration {
    let mut first = pair.0.lock().await;
    let start = Instant::now();
    for _ in 0..iters {
        *black_box(&pair.1).lock().await += 1;
    }
    let elapsed = start.elapsed();
    *first += 1;
    elapsed
}

criterion_group!(benches, mutex, async_mutex, nested_pair);
criterion_main!(benches);
