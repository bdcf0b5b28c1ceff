//! The debug page as a browser renders it: headless Chromium (Debian's
//! `chromium`, installed by `.ci/run`) loads it while a call hangs, and the
//! DOM shows the monitor table and the call in flight.
//!
//! Ignored by default (it needs the browser):
//! `cargo test --test calls http_chromium -- --ignored`.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use monitor_runtime::{monitored, stack_on_timeout, Error};
use tokio::sync::Notify;

#[monitored(timeout = "50ms", max_active = 10)]
async fn quick() -> Result<&'static str, Error> {
    Ok("quick")
}

#[stack_on_timeout(10ms)]
async fn hanging(State(gate): State<Arc<Notify>>) -> &'static str {
    gate.notified().await;
    "done"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs chromium: cargo test --test calls http_chromium -- --ignored"]
async fn chromium_shows_the_monitor_table_and_a_call_in_flight() {
    // The hanging call goes overdue: its dump is kept, not printed.
    let kept = monitor_demo::kept_dumps();
    let gate = Arc::new(Notify::new());
    let app = Router::new()
        .route("/quick", get(quick))
        .route("/hanging", get(hanging))
        .nest("/debug/monitor", monitor_runtime::http::router())
        .with_state(gate.clone());
    let base = monitor_demo::serve_on_loopback(app).await;

    let client = monitor_demo::Client::new();
    assert_eq!(client.get(format!("{base}/quick")).await.text(), "quick");
    let waiting = tokio::spawn({
        let url = format!("{base}/hanging");
        async move { client.get(url).await.text() }
    });
    tokio::time::sleep(Duration::from_millis(50)).await;

    let profile = std::env::temp_dir().join(format!("monitor-chromium-{}", std::process::id()));
    let url = format!("{base}/debug/monitor");
    let dom = tokio::task::spawn_blocking(move || {
        let output = Command::new("chromium")
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ])
            .arg(format!("--user-data-dir={}", profile.display()))
            .args(["--dump-dom", &url])
            .output()
            .expect("chromium runs (install Debian's `chromium`; .ci/run does)");
        let _ = std::fs::remove_dir_all(&profile);
        assert!(output.status.success(), "{output:?}");
        String::from_utf8(output.stdout).unwrap()
    })
    .await
    .unwrap();

    assert!(dom.contains("<table id=\"monitors\">"), "{dom}");
    assert!(
        dom.contains("<td>calls::http_chromium::quick</td>"),
        "{dom}"
    );
    assert!(
        dom.contains("<b>calls::http_chromium::hanging</b>"),
        "{dom}"
    );
    assert!(dom.contains("(overdue)"), "{dom}");

    gate.notify_one();
    assert_eq!(waiting.await.unwrap(), "done");
    // The overdue call was announced.
    let start = std::time::Instant::now();
    let announced = || {
        kept.lock()
            .unwrap()
            .iter()
            .any(|dump| dump.to_string().contains("calls::http_chromium::hanging"))
    };
    while !announced() {
        assert!(start.elapsed() < Duration::from_secs(20), "never announced");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}
