//! The cost of a monitored call against what a user would otherwise write,
//! in the same run: a plain call, `tokio::time::timeout`, and tower's
//! `LoadShed + ConcurrencyLimit + Timeout`.
//!
//! Run: `cargo bench -p monitor-bench --bench monitor`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::{monitored, Error};
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
            bench_async!(group, rt, "tokio_timeout", |i| async move {
                tokio::time::timeout(Duration::from_millis(50), plain_yield(i))
                    .await
                    .unwrap_or(Ok(0))
            });
            bench_async!(group, rt, "monitored", |i| monitored_yield(i));
        } else {
            bench_async!(group, rt, "plain", |i| plain_ready(i));
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
    group.bench_function("monitored", |b| b.iter(|| monitored_sync(black_box(1))));
    group.bench_function("monitored_timeout", |b| {
        b.iter(|| monitored_sync_timeout(black_box(1)))
    });
    group.finish();
}

fn busy(c: &mut Criterion) {
    let mut group = c.benchmark_group("busy");
    group.bench_function("plain", |b| b.iter(|| plain_sync(black_box(1))));
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

criterion_group!(benches, async_calls, sync_calls, busy, stack_guard);
criterion_main!(benches);
