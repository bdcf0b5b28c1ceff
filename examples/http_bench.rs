//! The server `bench/http.sh` drives with `wrk`: the same trivial handler
//! four ways, so that what the monitor costs per HTTP request is measured
//! against a plain handler and the tower stack users would otherwise build.
//!
//! Run: `cargo run --release --example http_bench [ADDR]`, then
//! `wrk http://ADDR/plain`, `/monitored`, `/layer`, `/tower`.

use std::time::Duration;

use axum::error_handling::HandleErrorLayer;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use monitor_runtime::tower::MonitorLayer;
use monitor_runtime::{monitored, Error, Monitor};
use tower::ServiceBuilder;

async fn plain() -> &'static str {
    "ok\n"
}

#[monitored(timeout = "1s", max_active = 10000)]
async fn monitored() -> Result<&'static str, Error> {
    Ok("ok\n")
}

#[tokio::main]
async fn main() {
    let layer = Monitor::builder("http_bench.layer")
        .timeout(Duration::from_secs(1))
        .max_active(10_000)
        .build();
    let tower_stack = ServiceBuilder::new()
        .layer(HandleErrorLayer::new(|_: tower::BoxError| async {
            StatusCode::SERVICE_UNAVAILABLE
        }))
        .load_shed()
        .concurrency_limit(10_000)
        .timeout(Duration::from_secs(1));
    let app = Router::new()
        .route("/plain", get(plain))
        .route("/monitored", get(monitored))
        .merge(
            Router::new()
                .route("/layer", get(plain))
                .route_layer(MonitorLayer::new(layer).respond()),
        )
        .merge(
            Router::new()
                .route("/tower", get(plain))
                .route_layer(tower_stack),
        );
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3001".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!("listening on http://{}", listener.local_addr().unwrap());
    axum::serve(listener, app).await.unwrap();
}
