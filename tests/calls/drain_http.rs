//! What a client sees of a drain: `503 Service Unavailable` with
//! `Retry-After` and a generic body, for a handler whose monitor drains;
//! other handlers go on. One monitor drains (`Monitor::drain`), so the
//! other tests of this binary are not refused.

use std::time::Duration;

use axum::routing::get;
use axum::Router;
use monitor_runtime::{monitored, Error};

#[monitored(max_active = 8)]
async fn closing() -> Result<&'static str, Error> {
    Ok("served\n")
}

#[monitored]
async fn open() -> Result<&'static str, Error> {
    Ok("still served\n")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_draining_handler_answers_503_with_retry_after() {
    let app = Router::new()
        .route("/closing", get(closing))
        .route("/open", get(open));
    let base = monitor_demo::serve_on_loopback(app).await;
    let client = monitor_demo::Client::new();
    let served = client.get(format!("{base}/closing")).await;
    assert_eq!(served.status, 200);

    let monitor = monitor_runtime::monitor(concat!(module_path!(), "::closing")).unwrap();
    let drained = monitor.clone();
    let report = tokio::task::spawn_blocking(move || drained.drain(Duration::from_secs(1)))
        .await
        .unwrap();
    assert!(report.is_clean(), "{report}");

    let refused = client.get(format!("{base}/closing")).await;
    assert_eq!(refused.status, 503);
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(refused.text(), "shutting down");
    assert_eq!(monitor.stats().shutting_down, 1);

    let other = client.get(format!("{base}/open")).await;
    assert_eq!(other.status, 200, "only the drained monitor refuses");

    monitor.resume();
    let again = client.get(format!("{base}/closing")).await;
    assert_eq!(again.status, 200);
}
