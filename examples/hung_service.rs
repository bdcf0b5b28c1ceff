//! A service that hangs, to look at from outside: a plain thread (no
//! annotation) parked on a channel, a `#[stack_on_timeout]` call stuck on
//! another, and an async request waiting for a reply that never comes. It
//! serves the debug page on loopback and answers `kill -QUIT` with a dump
//! of every thread; it runs until stopped (Ctrl-C), or for `SECONDS`.
//!
//! ```text
//! cargo run --example hung_service              # prints its pid and address
//! kill -QUIT <pid>                              # every thread, on its stderr
//! curl 'http://127.0.0.1:PORT/debug/monitor/stacks?threads=all'
//! go tool pprof -top http://127.0.0.1:PORT/debug/monitor/pprof/goroutine
//! ```

use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use monitor_runtime::stack_on_timeout;

/// A thread the runtime knows nothing about, parked on a channel.
fn cache_refresher(wake: Receiver<()>) {
    while wake.recv().is_ok() {}
}

/// An annotated call stuck on a reply: overdue after an hour, listed now.
#[stack_on_timeout(3600s)]
fn charge_card(reply: Receiver<()>) {
    let _ = reply.recv();
}

/// An async call waiting to be polled.
#[stack_on_timeout(3600s)]
async fn fetch_profile(user: u64) -> String {
    std::future::pending::<()>().await;
    format!("user {user}")
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    monitor_runtime::dump_on_signal()?;

    let (_wake, wake) = channel();
    std::thread::Builder::new()
        .name("cache-refresher".into())
        .spawn(move || cache_refresher(wake))?;
    let (_reply, reply) = channel();
    std::thread::Builder::new()
        .name("payments".into())
        .spawn(move || charge_card(reply))?;
    tokio::spawn(fetch_profile(7));

    let app = axum::Router::new().nest("/debug/monitor", monitor_runtime::http::router());
    let port = std::env::var("PORT").unwrap_or_else(|_| "0".into());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!(
        "pid {}, debug page at http://{}/debug/monitor",
        std::process::id(),
        listener.local_addr()?
    );
    let serve = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    );
    match std::env::var("SECONDS").ok().and_then(|s| s.parse().ok()) {
        Some(seconds) => {
            let _ = tokio::time::timeout(Duration::from_secs(seconds), serve).await;
        }
        None => serve.await?,
    }
    Ok(())
}
