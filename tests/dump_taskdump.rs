//! Await points of waiting async calls, from tokio's task dumps. Built only
//! with `--cfg tokio_unstable` and the `tokio-taskdump` feature on Linux;
//! `.ci/run` runs it so:
//!
//! ```text
//! RUSTFLAGS="--cfg tokio_unstable" cargo test --features tokio-taskdump --test dump_taskdump
//! ```
#![cfg(all(
    tokio_unstable,
    feature = "tokio-taskdump",
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]

use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_runtime::{
    dump::{CallState, DumpOptions},
    stack_on_timeout,
};
use tokio::sync::Notify;

#[stack_on_timeout(60s)]
async fn lookup(wait: Arc<Notify>) {
    wait_here(wait).await;
}

#[inline(never)]
async fn wait_here(wait: Arc<Notify>) {
    wait.notified().await;
}

#[test]
fn a_waiting_call_shows_where_it_awaits() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let wait = Arc::new(Notify::new());
    let task = rt.spawn(lookup(wait.clone()));

    let deadline = Instant::now() + Duration::from_secs(10);
    let waiting = || {
        DumpOptions::new()
            .native_stacks(false)
            .take()
            .calls
            .iter()
            .any(|c| c.function.ends_with("::lookup") && c.state == CallState::Waiting)
    };
    while !waiting() {
        assert!(Instant::now() < deadline, "the call never waited");
        std::thread::sleep(Duration::from_millis(5));
    }

    let dump = DumpOptions::new()
        .answer_within(Duration::from_secs(5))
        .take();
    let call = dump
        .calls
        .iter()
        .find(|c| c.function.ends_with("::lookup"))
        .expect("the call is in flight");
    let points = call
        .await_points
        .as_deref()
        .unwrap_or_else(|| panic!("no await points:\n{dump}"));
    assert!(points.contains("wait_here"), "{points}");
    assert!(points.contains("Notified"), "{points}");
    let text = dump.to_string();
    assert!(text.contains("await points (tokio task dump):"), "{text}");
    println!("{text}");

    wait.notify_one();
    rt.block_on(task).unwrap();
}
