//! Feature `tower`: `MonitorLayer` gives a tower service what `#[monitored]`
//! gives a function — timeout, fail-fast cap, stats under the name given,
//! the table of calls in flight — as errors for plain tower stacks and as
//! responses for axum routers.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::routing::get;
use axum::Router;
use monitor_runtime::tower::{BoxError, MonitorLayer};
use monitor_runtime::{Error, Monitor};
use tokio::sync::Notify;
use tower::{service_fn, Layer, ServiceBuilder, ServiceExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejections_are_boxed_monitor_errors_and_counted() {
    let monitor = Monitor::builder("tower_layer.boxed")
        .timeout(Duration::from_millis(30))
        .max_active(1)
        .build();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let service = MonitorLayer::new(monitor.clone()).layer(service_fn(move |wait: bool| {
        let gate = gate.clone();
        async move {
            if wait {
                gate.notified().await;
            }
            Ok::<_, Infallible>("done")
        }
    }));

    assert_eq!(service.clone().oneshot(false).await.unwrap(), "done");

    // One request in flight fills the cap: the next fails at once, Busy.
    let held = tokio::spawn(service.clone().oneshot(true));
    monitor_demo::eventually("the first request is in flight", || {
        monitor.stats().in_flight == 1
    });
    let busy: BoxError = service.clone().oneshot(false).await.unwrap_err();
    assert!(
        matches!(
            busy.downcast_ref::<Error>(),
            Some(Error::Busy { max_active: 1, .. })
        ),
        "{busy}"
    );
    // The held request overruns its timeout.
    let late = held.await.unwrap().unwrap_err();
    assert!(
        matches!(late.downcast_ref::<Error>(), Some(Error::Timeout { .. })),
        "{late}"
    );
    release.notify_waiters();

    let stats = monitor.stats();
    assert_eq!(
        (stats.completed, stats.busy, stats.timeouts, stats.in_flight),
        (1, 1, 1, 0),
        "{stats:?}"
    );
    assert!(monitor_runtime::monitor("tower_layer.boxed").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inner_services_errors_pass_through_boxed() {
    let monitor = Monitor::builder("tower_layer.inner_error").build();
    let service = MonitorLayer::new(monitor.clone()).layer(service_fn(|_: ()| async {
        Err::<(), _>(std::io::Error::other("disk on fire"))
    }));
    let error = service.oneshot(()).await.unwrap_err();
    assert_eq!(error.to_string(), "disk on fire");
    assert!(error.downcast_ref::<std::io::Error>().is_some());
    // The call itself returned: it completed, with the service's error.
    assert_eq!(monitor.stats().completed, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_in_flight_is_in_the_dump_under_the_monitors_name() {
    let monitor = Monitor::builder("tower_layer.in_dump").build();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let service = MonitorLayer::new(monitor.clone()).layer(service_fn(move |()| {
        let gate = gate.clone();
        async move {
            gate.notified().await;
            Ok::<_, Infallible>(())
        }
    }));
    let held = tokio::spawn(service.oneshot(()));
    // The monitor counts the request before its first poll enters the
    // table of calls in flight: wait for the table.
    monitor_demo::eventually("the request is in the dump", || {
        monitor_runtime::dump()
            .calls
            .iter()
            .any(|call| call.function == "tower_layer.in_dump")
    });
    release.notify_waiters();
    held.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn under_axum_busy_is_503_and_a_timeout_504() {
    let monitor = Monitor::builder("tower_layer.axum")
        .timeout(Duration::from_millis(30))
        .max_active(1)
        .build();
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let app: Router = Router::new()
        .route("/fast", get(|| async { "fast" }))
        .route(
            "/wait",
            get(move || {
                let gate = gate.clone();
                async move {
                    gate.notified().await;
                    "waited"
                }
            }),
        )
        .route_layer(MonitorLayer::new(monitor.clone()).respond());
    let request = |path: &str| Request::get(path).body(Body::empty()).unwrap();

    let fast = app.clone().oneshot(request("/fast")).await.unwrap();
    assert_eq!(fast.status(), StatusCode::OK);

    let held = tokio::spawn(app.clone().oneshot(request("/wait")));
    monitor_demo::eventually("the slow request is in flight", || {
        monitor.stats().in_flight == 1
    });
    let busy = app.clone().oneshot(request("/fast")).await.unwrap();
    assert_eq!(busy.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(busy.headers().contains_key("retry-after"));
    let late = held.await.unwrap().unwrap();
    assert_eq!(late.status(), StatusCode::GATEWAY_TIMEOUT);
    release.notify_waiters();
    assert_eq!(monitor.stats().busy, 1);
    assert_eq!(monitor.stats().timeouts, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn it_stacks_with_other_tower_layers() {
    let monitor = Monitor::builder("tower_layer.stacked")
        .max_active(4)
        .build();
    let service = ServiceBuilder::new()
        .layer(MonitorLayer::new(monitor.clone()))
        .map_request(|n: u32| n + 1)
        .service(service_fn(
            |n: u32| async move { Ok::<_, Infallible>(n * 10) },
        ));
    assert_eq!(service.oneshot(4).await.unwrap(), 50);
    assert_eq!(monitor.stats().completed, 1);
}
