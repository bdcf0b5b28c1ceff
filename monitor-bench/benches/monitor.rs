//! The cost of a monitored call against what a user would otherwise write,
//! in the same run: a plain call, `tokio::time::timeout`, and tower's
//! `LoadShed + ConcurrencyLimit + Timeout`. One group per row of the
//! README's table, each with its peer: `async_ready` and
//! `async_yield_once` (plain, `tokio::time::timeout`, tower, monitored),
//! `sync` and `busy` (a plain call), `stack_guard` (plain sync and async
//! calls; async-backtrace's `#[framed]` is not a dependency of this
//! workspace, so it is not measured here), and `contention`: two threads
//! calling one monitored function at once against the same two threads
//! doing a bare `fetch_add`/`fetch_sub` pair on one shared atomic, the
//! least a capped call must do (and, in that group, the same two threads
//! calling one run-time monitor's `call`: `runtime_monitor`).
//!
//! Run: `cargo bench -p monitor-bench --bench monitor`

use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Barrier;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::{monitored, Error, Monitor};
use tower::{Service, ServiceBuilder, ServiceExt};

#[inline(never)]
async fn plain_ready(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
async fn monitored_ready(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[inline(never)]
async fn plain_yield(x: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(black_box(x))
}

#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
async fn monitored_yield(x: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(black_box(x))
}

#[inline(never)]
fn plain_sync(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

/// The floor of a capped call: the slot taken and given back with one
/// locked read-modify-write each, on a word no other thread writes, around
/// the same body (`sync/bare_pair`).
#[inline(never)]
fn floor_sync(x: u64) -> Result<u64, Error> {
    FLOOR.0.fetch_add(1, Ordering::Acquire);
    let out = Ok(black_box(x));
    FLOOR.0.fetch_sub(1, Ordering::Release);
    out
}

/// `floor_sync` for an async call whose body is ready.
#[inline(never)]
async fn floor_ready(x: u64) -> Result<u64, Error> {
    FLOOR.0.fetch_add(1, Ordering::Acquire);
    let out = Ok(black_box(x));
    FLOOR.0.fetch_sub(1, Ordering::Release);
    out
}

/// `floor_sync` for an async call whose body yields once.
#[inline(never)]
async fn floor_yield(x: u64) -> Result<u64, Error> {
    FLOOR.0.fetch_add(1, Ordering::Acquire);
    tokio::task::yield_now().await;
    let out = Ok(black_box(x));
    FLOOR.0.fetch_sub(1, Ordering::Release);
    out
}

/// The floor of a refusal as the issue puts it: one compare-and-swap
/// that fails, and the error (`busy/failed_cas`).
#[inline(never)]
fn floor_refused(x: u64) -> Result<u64, Error> {
    match FLOOR
        .0
        .compare_exchange(u64::MAX, 0, Ordering::Acquire, Ordering::Relaxed)
    {
        Ok(_) => Ok(black_box(x)),
        Err(_) => Err(black_box(Error::Busy {
            monitor: "floor".into(),
            max_active: 1,
        })),
    }
}

/// The word of the floors, on a cache line of its own.
static FLOOR: Shared = Shared(AtomicU64::new(0));

#[monitored(max_active = 10)]
#[inline(never)]
fn monitored_sync(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[monitored(timeout = "50ms", max_active = 10)]
#[inline(never)]
fn monitored_sync_timeout(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

#[monitored(max_active = 1)]
fn hold_then(f: fn()) -> Result<(), Error> {
    f();
    Ok(())
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// Times `iters` awaits of `call` inside one `block_on`, so that the
/// executor's own per-iteration cost is not measured.
macro_rules! bench_async {
    ($group:expr, $rt:expr, $name:literal, |$i:ident| $call:expr) => {
        $group.bench_function($name, |b| {
            b.iter_custom(|iters| {
                $rt.block_on(async {
                    let start = Instant::now();
                    for $i in 0..iters {
                        black_box($call.await).ok();
                    }
                    start.elapsed()
                })
            })
        });
    };
}

fn async_calls(c: &mut Criterion) {
    let rt = runtime();
    for (group_name, yields) in [("async_ready", false), ("async_yield_once", true)] {
        let mut group = c.benchmark_group(group_name);
        let tower_svc = {
            let _guard = rt.enter();
            ServiceBuilder::new()
                .load_shed()
                .concurrency_limit(10)
                .timeout(Duration::from_millis(50))
                .service_fn(move |x: u64| async move {
                    if yields {
                        tokio::task::yield_now().await;
                    }
                    Ok::<_, tower::BoxError>(black_box(x))
                })
        };
        if yields {
            bench_async!(group, rt, "plain", |i| plain_yield(i));
            bench_async!(group, rt, "bare_pair", |i| floor_yield(i));
            bench_async!(group, rt, "tokio_timeout", |i| async move {
                tokio::time::timeout(Duration::from_millis(50), plain_yield(i))
                    .await
                    .unwrap_or(Ok(0))
            });
            bench_async!(group, rt, "monitored", |i| monitored_yield(i));
        } else {
            bench_async!(group, rt, "plain", |i| plain_ready(i));
            bench_async!(group, rt, "bare_pair", |i| floor_ready(i));
            bench_async!(group, rt, "tokio_timeout", |i| async move {
                tokio::time::timeout(Duration::from_millis(50), plain_ready(i))
                    .await
                    .unwrap_or(Ok(0))
            });
            bench_async!(group, rt, "monitored", |i| monitored_ready(i));
        }
        bench_async!(group, rt, "tower_stack", |i| {
            let mut svc = tower_svc.clone();
            async move { svc.ready().await?.call(i).await }
        });
        group.finish();
    }
}

fn sync_calls(c: &mut Criterion) {
    let mut group = c.benchmark_group("sync");
    group.bench_function("plain", |b| b.iter(|| plain_sync(black_box(1))));
    group.bench_function("bare_pair", |b| b.iter(|| floor_sync(black_box(1))));
    group.bench_function("monitored", |b| b.iter(|| monitored_sync(black_box(1))));
    group.bench_function("monitored_timeout", |b| {
        b.iter(|| monitored_sync_timeout(black_box(1)))
    });
    group.finish();
}

fn busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("busy");
    group.bench_function("plain", |b| b.iter(|| plain_sync(black_box(1))));
    group.bench_function("failed_cas", |b| {
        b.iter(|| black_box(floor_refused(black_box(1))).is_err())
    });
    // The only slot is held by the outer call: every inner call is refused.
    group.bench_function("rejected", |b| {
        b.iter_custom(|iters| {
            let mut elapsed = Duration::ZERO;
            let _ = hold_then_measure(iters, &mut elapsed);
            elapsed
        })
    });
    group.finish();
}

thread_local! {
    static MEASURE: std::cell::Cell<(u64, Duration)> = const { std::cell::Cell::new((0, Duration::ZERO)) };
}

fn hold_then_measure(iters: u64, out: &mut Duration) -> Result<(), Error> {
    MEASURE.with(|m| m.set((iters, Duration::ZERO)));
    hold_then(|| {
        let (iters, _) = MEASURE.with(|m| m.get());
        let start = Instant::now();
        for _ in 0..iters {
            assert!(black_box(hold_then(|| ())).is_err());
        }
        MEASURE.with(|m| m.set((iters, start.elapsed())));
    })?;
    *out = MEASURE.with(|m| m.get()).1;
    Ok(())
}

/// What `#[stack_on_timeout(5s)]` expands to, for a call that finishes in
/// time: registered in the calls-in-flight registry, never reported.
static GUARD_SITE: monitor_runtime::__private::CallSite =
    monitor_runtime::__private::CallSite::new("bench::guarded", file!(), line!())
        .report_after(Duration::from_secs(5));

#[inline(never)]
fn guarded_sync(x: u64) -> u64 {
    monitor_runtime::__private::stack_sync(&GUARD_SITE, move || black_box(x))
}

#[inline(never)]
fn plain_u64(x: u64) -> u64 {
    black_box(x)
}

fn stack_guard(c: &mut Criterion) {
    let mut group = c.benchmark_group("stack_guard");
    group.bench_function("plain", |b| b.iter(|| plain_u64(black_box(1))));
    group.bench_function("guarded", |b| b.iter(|| guarded_sync(black_box(1))));
    let rt = runtime();
    bench_async!(group, rt, "plain_async", |i| async move {
        Ok::<_, Error>(plain_u64(i))
    });
    bench_async!(group, rt, "guarded_async", |i| async move {
        Ok::<_, Error>(
            monitor_runtime::__private::stack_async(&GUARD_SITE, async move { black_box(i) }).await,
        )
    });
    group.finish();
}

/// The one word that both threads of the `contention/bare_pair` bench
/// share, on a cache line of its own.
#[repr(align(128))]
struct Shared(AtomicU64);

static SHARED: Shared = Shared(AtomicU64::new(0));

/// A bare `fetch_add`/`fetch_sub` pair on one shared word: what a capped
/// call cannot do without (its slot taken and given back).
#[inline(never)]
fn bare_pair(x: u64) -> u64 {
    SHARED.0.fetch_add(1, Ordering::Acquire);
    let x = black_box(x);
    SHARED.0.fetch_sub(1, Ordering::Release);
    x
}

/// Runs `f(thread, i)` `iters` times on each of two threads (0 and 1) at
/// once, started together; the time until both are done.
fn on_two_threads(iters: u64, f: fn(usize, u64) -> u64) -> Duration {
    let start = Barrier::new(3);
    std::thread::scope(|s| {
        let workers: Vec<_> = (0..2)
            .map(|thread| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    for i in 0..iters {
                        black_box(f(thread, i));
                    }
                })
            })
            .collect();
        start.wait();
        let began = Instant::now();
        for worker in workers {
            worker.join().unwrap();
        }
        began.elapsed()
    })
}

/// A second function like `monitored_sync`, with a monitor of its own.
#[monitored(max_active = 10)]
#[inline(never)]
fn monitored_sync_other(x: u64) -> Result<u64, Error> {
    Ok(black_box(x))
}

/// Each thread calls a function of its own: two monitors, nothing shared.
fn own_monitor(thread: usize, x: u64) -> u64 {
    if thread == 0 {
        monitored_sync(x).unwrap()
    } else {
        monitored_sync_other(x).unwrap()
    }
}

/// Two threads calling one monitored function, against the bare pair, and
/// what tells the two apart: `own_monitors` (each thread its own monitored
/// function, so no line is shared: the per-thread work alone) and
/// `bare_pair_around_own` (the bare pair on one shared word around that
/// same per-thread work). A slot is held across the body, so the shared
/// line moves between the cores twice per call once the calls overlap,
/// while a bare pair with nothing between its two halves mostly keeps it:
/// `monitored` is to be read against `bare_pair_around_own`.
fn contention(c: &mut Criterion) {
    let mut group = c.benchmark_group("contention");
    group.bench_function("bare_pair", |b| {
        b.iter_custom(|iters| on_two_threads(iters, |_, i| bare_pair(i)))
    });
    group.bench_function("monitored", |b| {
        b.iter_custom(|iters| on_two_threads(iters, |_, i| monitored_sync(i).unwrap()))
    });
    group.bench_function("own_monitors", |b| {
        b.iter_custom(|iters| on_two_threads(iters, own_monitor))
    });
    // A run-time monitor (built, not declared): its handle is shared, so
    // anything a call does to the handle itself is shared by the threads.
    static RUNTIME_MONITOR: std::sync::OnceLock<Monitor> = std::sync::OnceLock::new();
    RUNTIME_MONITOR.get_or_init(|| Monitor::builder("bench.contention").max_active(10).build());
    group.bench_function("runtime_monitor", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, |_, i| {
                RUNTIME_MONITOR
                    .get()
                    .unwrap()
                    .call(|| black_box(i))
                    .unwrap()
            })
        })
    });
    group.bench_function("bare_pair_around_own", |b| {
        b.iter_custom(|iters| {
            on_two_threads(iters, |thread, i| {
                SHARED.0.fetch_add(1, Ordering::Acquire);
                let x = own_monitor(thread, i);
                SHARED.0.fetch_sub(1, Ordering::Release);
                x
            })
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    async_calls,
    sync_calls,
    busy,
    stack_guard,
    contention
);
criterion_main!(benches);
