//! A service to break: a capped, slow handler, one that hangs now and then,
//! and the debug page.
//!
//! ```text
//! cargo run --example axum_server
//! # a burst: 10 requests run, the rest get 503 with Retry-After at once
//! for i in $(seq 50); do curl -s -o /dev/null -w '%{http_code}\n' localhost:3000/slow & done; wait
//! curl -s localhost:3000/hang &        # reported after 5 s, cut at 30 s (504)
//! open http://127.0.0.1:3000/debug/monitor          # the page
//! curl localhost:3000/debug/monitor/stacks          # the text dump
//! curl localhost:3000/metrics                        # for Prometheus
//! curl -s localhost:3000/hang & sleep 1; kill -TERM %%  # a stuck shutdown
//! ```
//!
//! On SIGTERM or Ctrl-C it shuts down gracefully, and says what held it
//! up: it stops accepting, tells open connections to close after their
//! request (hyper-util's `GracefulShutdown`, what axum's
//! `with_graceful_shutdown` does for `axum::serve`), and
//! [`drain`](monitor_runtime::drain()) refuses new calls with 503
//! `shutting down` while the calls in flight get 5 s. A call still running
//! then is in a dump on stderr (its logical and native stack) and in the
//! report; the process exits with status 1 rather than wait for it.
//!
//! The debug page reveals code paths: it answers loopback peers only (a
//! 403 for any other), and this example binds to 127.0.0.1 anyway.
//!
//! It is served the way a service exposed to clients it does not control
//! should be: `axum::serve` keeps an idle or half-sent connection forever
//! (20,000 connections that never finished their headers once exhausted
//! this example's file descriptors, and the debug page stopped answering).
//! Here hyper reads each request's headers within 10 s or closes the
//! connection, also between the requests of a kept-alive connection;
//! tower-http's `TimeoutLayer` answers any request still running after
//! 30 s with 504; and at most 1,024 connections are open at once (the
//! next ones wait in the kernel's accept queue).
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::Query;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use monitor_runtime::{monitored, stack_on_timeout, Error};
use tokio::sync::Semaphore;
use tower::Service;
use tower_http::timeout::TimeoutLayer;

/// A client must send a request's headers within this, or the connection
/// is closed (idle kept-alive connections included).
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request still running after this is answered with 504 and dropped.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// Connections open at once; the next wait to be accepted.
const MAX_CONNECTIONS: usize = 1_024;
/// How long the calls in flight get at shutdown.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// At most 10 at a time, 50 ms each at most: a burst gets 503, a slow
/// request (`/slow?ms=200`) gets 504. The work takes `?ms=` (default 30).
#[monitored(timeout = "50ms", max_active = 10)]
async fn slow(Query(query): Query<HashMap<String, u64>>) -> Result<String, Error> {
    let ms = query.get("ms").copied().unwrap_or(30);
    tokio::time::sleep(Duration::from_millis(ms)).await;
    Ok(format!("worked {ms} ms\n"))
}

/// Hangs for a minute; after 5 s the call is reported (stderr and the
/// debug page), but not cancelled: the server's request timeout cuts it
/// at 30 s.
#[stack_on_timeout(5s)]
async fn hang() -> &'static str {
    tokio::time::sleep(Duration::from_secs(60)).await;
    "finally\n"
}

#[tokio::main]
async fn main() {
    // Prometheus: the monitors' stats are copied into the recorder at each
    // scrape (`monitor_runtime::metrics::record`), then rendered.
    // The latency is a histogram: its buckets are the exporter's to set.
    let prometheus = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets_for_metric(
            metrics_exporter_prometheus::Matcher::Full("monitor_call_duration_seconds".into()),
            monitor_runtime::metrics::LATENCY_BUCKETS,
        )
        .unwrap()
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
        .nest("/debug/monitor", monitor_runtime::http::router())
        .layer(TimeoutLayer::with_status_code(
            StatusCode::GATEWAY_TIMEOUT,
            REQUEST_TIMEOUT,
        ));
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".into());
    let listener = tokio::net::TcpListener::bind(&addr).await.unwrap();
    println!(
        "listening on http://{}; the debug page is /debug/monitor",
        listener.local_addr().unwrap()
    );
    serve(listener, app, shutdown_signal()).await;
    // Stopped accepting; open connections close after their request. The
    // calls in flight get the grace period, new ones are refused (503).
    eprintln!("shutting down: the calls in flight get {SHUTDOWN_GRACE:?}");
    let report = monitor_runtime::drain_async(SHUTDOWN_GRACE).await;
    eprintln!("{report}");
    // A call left now is stuck; it was dumped to stderr above. Exit rather
    // than wait for it: restart fast.
    std::process::exit(if report.is_clean() { 0 } else { 1 });
}

/// SIGTERM (what a service manager sends) or Ctrl-C.
async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(e) => {
                eprintln!("cannot listen for SIGTERM: {e}");
                std::future::pending::<()>().await
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
}

/// What `axum::serve(..).with_graceful_shutdown(signal)` does, with a
/// header-read timeout and a cap on connections. Each connection's service
/// carries the peer's address (`ConnectInfo`), which the debug page
/// checks. Returns once `signal` fired, having told every open connection
/// to close after its request.
async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    signal: impl std::future::Future<Output = ()>,
) {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT);
    let http = Arc::new(http);
    let connections = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = GracefulShutdown::new();
    let mut signal = std::pin::pin!(signal);
    loop {
        // At the cap, stop accepting until a connection closes.
        let accepted = tokio::select! {
            accepted = async {
                let permit = connections.clone().acquire_owned().await.unwrap();
                (permit, listener.accept().await)
            } => accepted,
            () = signal.as_mut() => break,
        };
        let (permit, accepted) = accepted;
        let (stream, peer) = match accepted {
            Ok(accepted) => accepted,
            Err(e) => {
                // Out of file descriptors, or the peer left: back off.
                eprintln!("accept: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let service = match make_service.call(peer).await {
            Ok(service) => service,
            Err(never) => match never {},
        };
        let http = http.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let _permit = permit;
            let connection =
                http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(service));
            let connection = watcher.watch(connection);
            // A client that leaves or times out ends its connection; nothing
            // to report.
            let _ = connection.await;
        });
    }
    // Tell every connection to close after its request; the drain in
    // `main` bounds the wait, so nothing waits for this.
    tokio::spawn(graceful.shutdown());
}
