//! A service to break: a capped, slow handler, one that hangs now and then,
//! and the debug page.
//!
//! ```text
//! cargo run --example axum_server
//! # a burst: 10 requests run, the rest get 503 with Retry-After at once
//! for i in $(seq 50); do curl -s -o /dev/null -w '%{http_code}\n' localhost:3000/slow & done; wait
//! curl -s localhost:3000/hang &        # reported after 5 s, never cancelled
//! open http://127.0.0.1:3000/debug/monitor          # the page
//! curl localhost:3000/debug/monitor/stacks          # the text dump
//! curl localhost:3000/metrics                        # for Prometheus
//! ```
//!
//! The debug page reveals code paths: it answers loopback peers only (a
//! 403 for any other), and this example binds to 127.0.0.1 anyway.
use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Query;
use axum::routing::get;
use axum::Router;
use monitor_runtime::{monitored, stack_on_timeout, Error};
/// At most 10 at a time, 50 ms each at most: a burst gets 503, a slow
/// request (`/slow?ms=200`) gets 504. The work takes `?ms=` (default 30).
#[monitored(timeout = "50ms", max_active = 10)]
async fn slow(Query(query): Query<HashMap<String, u64>>) -> Result<String, Error> {
    let ms = query.get("ms").copied().unwrap_or(30);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(format!("worked {ms} ms\n"))
}

/// Hangs for a minute; after 5 s the call is reported (stderr and the
/// debug page), but never cancelled.
#[stack_on_timeout(5s)]
async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "finally\n"
}

#[tokio::main]
async fn main() {
    // Prometheus: the monitors' stats are copied into the recorder at each
    // scrape (`monitor_runtime::metrics::record`), then rendered.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .install_recorder()
        .unwrap();
    let app = Router::new()
        .route(
            "/metrics",
            get(move || async move {
                monitor_runtime::metrics::record();
                prometheus.render()
            }),
        )
        .route("/slow", get(slow))
        .route("/hang", get(hang))
        .nest("/debug/monitor", monitor_runtime::http::router());
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!(
        "listening on http://{}; the debug page is /debug/monitor",
        listener.local_addr().unwrap()
    );
    // The debug page answers loopback peers only: it needs their addresses.
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await
    .unwrap();
}
