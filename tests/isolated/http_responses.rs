//! What an HTTP client sees of a rejection: a short generic body by
//! default, the detail (monitor, limits) only in the `tracing` event, a
//! body that can be set, and `Retry-After` whatever the body.

use std::time::Duration;

use axum::body::to_bytes;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use monitor_demo::Recorder;
use monitor_runtime::axum::Responses;
use monitor_runtime::Error;

/// `Responses` are process-wide: the tests that install them take turns.
static SETTINGS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

fn busy() -> Error {
    Error::Busy {
        monitor: "shop::flaky".into(),
        max_active: 4,
    }
}

fn late() -> Error {
    Error::Timeout {
        monitor: "shop::flaky".into(),
        after: Duration::from_millis(100),
    }
}

async fn body(response: Response) -> String {
    let bytes = to_bytes(response.into_body(), 64 * 1024).await.unwrap();
    String::from_utf8(bytes.to_vec()).unwrap()
}

#[tokio::test]
async fn default_bodies_are_generic_and_name_no_monitor() {
    monitor_demo::own_process!();
    let _turn = SETTINGS.lock().await;
    Responses::default().install();

    let response = busy().into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(
        response.headers()["content-type"],
        "text/plain; charset=utf-8"
    );
    let text = body(response).await;
    assert_eq!(text, "service busy");

    let response = late().into_response();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert!(response.headers().get("retry-after").is_none());
    let text = body(response).await;
    assert_eq!(text, "timed out");
    assert!(!text.contains("shop::flaky") && !text.contains("100ms"));
}

#[tokio::test]
async fn the_detail_goes_to_a_tracing_event() {
    monitor_demo::own_process!();
    let _turn = SETTINGS.lock().await;
    Responses::default().install();

    let (recorder, recorded) = Recorder::new();
    let (busy_response, late_response) = tracing::subscriber::with_default(recorder, || {
        (busy().into_response(), late().into_response())
    });
    assert_eq!(body(busy_response).await, "service busy");
    assert_eq!(body(late_response).await, "timed out");

    let events: Vec<_> = recorded
        .events()
        .into_iter()
        .filter(|e| e.message() == Some("rejection answered over HTTP"))
        .collect();
    assert_eq!(events.len(), 2, "{events:?}");
    let (busy_event, late_event) = (&events[0], &events[1]);
    assert_eq!(busy_event.target, "monitor_runtime");
    assert_eq!(busy_event.level, tracing::Level::DEBUG);
    assert_eq!(busy_event.field("monitor"), Some("shop::flaky"));
    assert_eq!(busy_event.field("status"), Some("503"));
    assert_eq!(busy_event.field("error"), Some(busy().to_string().as_str()));
    assert_eq!(late_event.level, tracing::Level::INFO);
    assert_eq!(late_event.field("monitor"), Some("shop::flaky"));
    assert_eq!(late_event.field("status"), Some("504"));
    assert_eq!(late_event.field("error"), Some(late().to_string().as_str()));
    assert!(late_event
        .field("error")
        .unwrap()
        .contains("did not finish within its timeout of 100ms"));
}

#[tokio::test]
async fn a_configured_body_is_sent_and_retry_after_stays() {
    monitor_demo::own_process!();
    let _turn = SETTINGS.lock().await;
    Responses::default()
        .busy_body("busy, please retry")
        .timeout_body("took too long")
        .retry_after(Duration::from_millis(2_500))
        .install();
    let current = Responses::current();
    assert_eq!(
        (current.busy_body, current.timeout_body),
        ("busy, please retry", "took too long")
    );

    let response = busy().into_response();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "3");
    assert_eq!(body(response).await, "busy, please retry");

    let response = late().into_response();
    assert_eq!(response.status(), StatusCode::GATEWAY_TIMEOUT);
    assert_eq!(body(response).await, "took too long");

    // A status and a body together; back to the defaults after.
    Responses::default()
        .busy(StatusCode::TOO_MANY_REQUESTS)
        .busy_body("slow down")
        .install();
    let response = busy().into_response();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(body(response).await, "slow down");
    Responses::default().install();
    assert_eq!(body(busy().into_response()).await, "service busy");
}
