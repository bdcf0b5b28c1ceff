//! `MonitorLayer` against the stack a tower user builds today for the same
//! job (`LoadShed + ConcurrencyLimit + Timeout`), and a bare service, per
//! request, in the same run: ready and driven through `ready().call()`.
//!
//! Run: `cargo bench -p monitor-bench --bench tower`

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use monitor_runtime::tower::MonitorLayer;
use monitor_runtime::Monitor;
use tower::{service_fn, Layer, Service, ServiceBuilder, ServiceExt};

/// Times `iters` requests through a clone of `service`, inside one
/// `block_on`, so that the executor's own per-iteration cost is not measured.
macro_rules! bench_service {
    ($group:expr, $rt:expr, $name:literal, $service:expr) => {{
        let service = $service;
        $group.bench_function($name, |b| {
            b.iter_custom(|iters| {
                $rt.block_on(async {
                    let start = Instant::now();
                    for i in 0..iters {
                        let mut svc = service.clone();
                        let ready = svc.ready().await.ok().unwrap();
                        black_box(ready.call(i).await).ok();
                    }
                    start.elapsed()
                })
            })
        });
    }};
}

fn layers(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let _guard = rt.enter();
    for (group_name, yields) in [("tower_ready", false), ("tower_yield_once", true)] {
        let mut group = c.benchmark_group(group_name);
        let inner = service_fn(move |x: u64| async move {
            if yields {
                tokio::task::yield_now().await;
            }
            Ok::<_, Infallible>(black_box(x))
        });
        bench_service!(group, rt, "plain", inner);
        bench_service!(
            group,
            rt,
            "tower_stack",
            ServiceBuilder::new()
                .load_shed()
                .concurrency_limit(10)
                .timeout(Duration::from_millis(50))
                .service(inner)
        );
        let monitor = Monitor::builder(if yields { "bench.yield" } else { "bench.ready" })
            .timeout(Duration::from_millis(50))
            .max_active(10)
            .build();
        bench_service!(
            group,
            rt,
            "monitor_layer",
            MonitorLayer::new(monitor).layer(inner)
        );
        group.finish();
    }
}

criterion_group!(benches, layers);
criterion_main!(benches);
