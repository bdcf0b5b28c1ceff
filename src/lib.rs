//! Helpers shared by the workspace's integration tests (`tests/`) and
//! examples (`examples/`). Not published.

use std::time::{Duration, Instant};

mod client;
mod dumps;
mod own_process;
mod recorder;

pub use client::{Client, Response};
pub use dumps::{
    deadlock_report_naming, dump_channel, hung_sink, inversion_reports_naming, kept_blocked_polls,
    kept_dumps, kept_overdue,
};
#[doc(hidden)]
pub use own_process::run_in_own_process;
pub use recorder::{Recorded, RecordedEvent, RecordedSpan, Recorder};

/// How many threads of this process have a name starting with `prefix`
/// (Linux: read from `/proc/self/task`; elsewhere `None`).
///
/// ```
/// assert!(monitor_demo::threads_named("no-such-thread").unwrap_or(0) == 0);
/// ```
pub fn threads_named(prefix: &str) -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end().starts_with(prefix))
            .count(),
    )
}

/// Serves `app` on an ephemeral loopback port, with the peer address that
/// the debug page checks (`into_make_service_with_connect_info`), in a
/// task of the current tokio runtime; returns `http://127.0.0.1:PORT`.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let base = monitor_demo::serve_on_loopback(axum::Router::new()).await;
/// assert!(base.starts_with("http://127.0.0.1:"));
/// # }
/// ```
pub async fn serve_on_loopback(app: axum::Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap()
    });
    base
}

/// How long [`eventually`] waits before it fails.
const EVENTUALLY: Duration = Duration::from_secs(10);

/// Polls `done` every 2 ms until it returns `true`; panics, naming `what`
/// and the caller's line, if it has not within 10 s.
///
/// For what another thread does in its own time: a report written, a
/// thread exited, a waiter queued. The bound is generous because the
/// machines that run these tests are often loaded.
///
/// ```
/// use std::sync::atomic::{AtomicBool, Ordering};
/// use std::sync::Arc;
///
/// let flag = Arc::new(AtomicBool::new(false));
/// let setter = flag.clone();
/// std::thread::spawn(move || setter.store(true, Ordering::SeqCst));
/// monitor_demo::eventually("the flag set", || flag.load(Ordering::SeqCst));
/// ```
#[track_caller]
pub fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + EVENTUALLY;
    while !done() {
        assert!(
            Instant::now() < deadline,
            "timed out after {EVENTUALLY:?} waiting for: {what}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// The line of `source` (a test file's text, from `include_str!`) that ends
/// with the comment `// {mark}`; panics unless exactly one does. Lets a
/// test name the line a report must point at without counting lines.
///
/// ```
/// let source = "fn main() {\n    work(); // here\n}\n";
/// assert_eq!(monitor_demo::marked_line(source, "here"), 2);
/// ```
#[track_caller]
pub fn marked_line(source: &str, mark: &str) -> u32 {
    let mark = format!("// {mark}");
    let mut lines = source
        .lines()
        .enumerate()
        .filter(|(_, l)| l.ends_with(&mark));
    let (index, _) = lines.next().expect("a marked line");
    assert!(lines.next().is_none(), "one line marked {mark}");
    index as u32 + 1
}

/// The body of a GET of `url`, as text; panics on any failure.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let page = monitor_demo::get_text("http://127.0.0.1:3000/debug/monitor").await;
/// assert!(page.contains("<html"));
/// # }
/// ```
pub async fn get_text(url: impl AsRef<str>) -> String {
    Client::new().get(url).await.text()
}

/// The body of a GET of `url`, parsed as JSON; panics on any failure.
///
/// ```no_run
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let page = monitor_demo::get_json("http://127.0.0.1:3000/debug/monitor?format=json").await;
/// assert!(page["monitors"].is_array());
/// # }
/// ```
pub async fn get_json(url: impl AsRef<str>) -> serde_json::Value {
    Client::new().get(url).await.json()
}
