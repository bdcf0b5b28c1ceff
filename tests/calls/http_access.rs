//! Who may read the debug page: loopback peers by default, a 403 that says
//! how to allow more for every other peer (and for a request whose peer is
//! unknown), allowed networks and an authorization check as opt-ins.
//!
//! Requests go through the router with `tower::ServiceExt::oneshot`, the
//! peer set as a `ConnectInfo` extension, as `axum::serve` with
//! `into_make_service_with_connect_info` sets it: no network traffic.

use std::net::SocketAddr;

use axum::body::{to_bytes, Body};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use axum::Router;
use monitor_runtime::http::{Network, RouterBuilder};
use tower::ServiceExt;

const NOT_LOOPBACK: &str = "203.0.113.7:5000";

fn mounted(page: Router) -> Router {
    Router::new().nest("/debug/monitor", page)
}

/// The status and body of `GET path` from `peer` (none: no `ConnectInfo`),
/// with the headers given.
async fn get(
    app: &Router,
    path: &str,
    peer: Option<&str>,
    headers: &[(&str, &str)],
) -> (StatusCode, String) {
    let mut request = Request::get(path);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    if let Some(peer) = peer {
        let peer: SocketAddr = peer.parse().unwrap();
        request.extensions_mut().insert(ConnectInfo(peer));
    }
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let body = to_bytes(response.into_body(), 16 * 1024 * 1024)
        .await
        .unwrap();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_non_loopback_peer_gets_403_with_how_to_allow_it() {
    let app = mounted(monitor_runtime::http::router());
    for path in [
        "/debug/monitor",
        "/debug/monitor?format=json",
        "/debug/monitor/stacks",
        "/debug/monitor/stacks?format=json&native=false",
    ] {
        let (status, body) = get(&app, path, Some(NOT_LOOPBACK), &[]).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
        assert!(body.contains("203.0.113.7 is not one"), "{body}");
        assert!(body.contains("RouterBuilder::new()"), "{body}");
        assert!(body.contains(".allow("), "{body}");
        assert!(body.contains(".authorize("), "{body}");
        assert!(!body.contains("monitor dump at"), "{body}");
    }
}

#[tokio::test]
async fn loopback_peers_get_the_page() {
    let app = mounted(monitor_runtime::http::router());
    // IPv4, IPv6, and IPv4 as a dual-stack listener reports it.
    for peer in [
        "127.0.0.1:40000",
        "127.3.2.1:1",
        "[::1]:40000",
        "[::ffff:127.0.0.1]:40000",
    ] {
        let (status, body) = get(&app, "/debug/monitor?format=json", Some(peer), &[]).await;
        assert_eq!(status, StatusCode::OK, "{peer}: {body}");
        assert!(body.contains("\"monitors\""), "{body}");
        let (status, body) = get(&app, "/debug/monitor/stacks?native=false", Some(peer), &[]).await;
        assert_eq!(status, StatusCode::OK, "{peer}: {body}");
        assert!(body.starts_with("monitor dump at "), "{body}");
    }
}

#[tokio::test]
async fn without_connect_info_every_request_gets_403_that_says_how_to_serve() {
    let app = mounted(monitor_runtime::http::router());
    let (status, body) = get(&app, "/debug/monitor", None, &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "{body}");
    assert!(
        body.contains("into_make_service_with_connect_info::<std::net::SocketAddr>()"),
        "{body}"
    );
    assert!(body.contains("allow_any_peer()"), "{body}");
}

#[tokio::test]
async fn an_allowed_network_is_served_and_others_still_refused() {
    let app = mounted(
        RouterBuilder::new()
            .allow("203.0.113.0/24".parse::<Network>().unwrap())
            .build(),
    );
    let (status, body) = get(&app, "/debug/monitor?format=json", Some(NOT_LOOPBACK), &[]).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    // IPv4-mapped, as a dual-stack listener reports it.
    let mapped = "[::ffff:203.0.113.200]:5000";
    assert_eq!(
        get(&app, "/debug/monitor", Some(mapped), &[]).await.0,
        StatusCode::OK
    );
    let (status, _) = get(&app, "/debug/monitor", Some("198.51.100.1:5000"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    // Loopback stays allowed.
    let (status, _) = get(&app, "/debug/monitor", Some("127.0.0.1:1"), &[]).await;
    assert_eq!(status, StatusCode::OK);

    // A single address.
    let one = app_with_one_address();
    assert_eq!(
        get(&one, "/debug/monitor", Some(NOT_LOOPBACK), &[]).await.0,
        StatusCode::OK
    );
    let (status, _) = get(&one, "/debug/monitor", Some("203.0.113.8:5000"), &[]).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
}

fn app_with_one_address() -> Router {
    let peer: SocketAddr = NOT_LOOPBACK.parse().unwrap();
    mounted(RouterBuilder::new().allow(peer.ip()).build())
}

fn has_token(parts: &axum::http::request::Parts) -> bool {
    parts
        .headers
        .get("x-debug-token")
        .is_some_and(|t| t == "s3cret")
}

#[tokio::test]
async fn an_authorization_check_decides_after_the_network() {
    // On top of loopback: a loopback peer needs the token too.
    let app = mounted(RouterBuilder::new().authorize(has_token).build());
    let token = [("x-debug-token", "s3cret")];
    let wrong = [("x-debug-token", "guess")];
    let loopback = Some("127.0.0.1:1");
    assert_eq!(
        get(&app, "/debug/monitor", loopback, &token).await.0,
        StatusCode::OK
    );
    let (status, body) = get(&app, "/debug/monitor", loopback, &wrong).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert!(body.contains("authorization check refused"), "{body}");
    assert_eq!(
        get(&app, "/debug/monitor", loopback, &[]).await.0,
        StatusCode::FORBIDDEN
    );
    // The token does not open the page to other networks.
    let (status, _) = get(&app, "/debug/monitor", Some(NOT_LOOPBACK), &token).await;
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Any peer with the token, no peer address needed.
    let app = mounted(
        RouterBuilder::new()
            .allow_any_peer()
            .authorize(has_token)
            .build(),
    );
    let (status, body) = get(
        &app,
        "/debug/monitor/stacks?native=false",
        Some(NOT_LOOPBACK),
        &token,
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body.starts_with("monitor dump at "), "{body}");
    assert_eq!(
        get(&app, "/debug/monitor", None, &token).await.0,
        StatusCode::OK
    );
    assert_eq!(
        get(&app, "/debug/monitor", Some(NOT_LOOPBACK), &wrong)
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        get(&app, "/debug/monitor", None, &[]).await.0,
        StatusCode::FORBIDDEN
    );
}
