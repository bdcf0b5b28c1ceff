//! Makes concurrency problems visible and survivable.
//!
//! Annotate a function with [`#[monitored]`](macro@monitored) and every call
//! runs through a [`Monitor`]: a per-call timeout, a cap on calls in flight
//! that fails fast with [`Error::Busy`] instead of queueing, and an
//! [`Alert`](monitor::Alert) when the cap stays saturated while no call
//! completes.
//!
//! ```
//! use monitor_runtime::{monitored, Error};
//!
//! #[monitored(name = "users.fetch", timeout = "50ms", max_active = 10, alert = "100s")]
//! async fn fetch_user(id: u64) -> Result<String, Error> {
//!     Ok(format!("user {id}"))
//! }
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! assert_eq!(fetch_user(7).await.unwrap(), "user 7");
//! let stats = monitor_runtime::monitor("users.fetch").unwrap().stats();
//! assert_eq!(stats.completed, 1);
//! # }
//! ```
//!
//! The same monitor works without the macro: see [`Monitor`].
//!
//! # Modules
//!
//! | module | what |
//! |---|---|
//! | the crate root | the attributes [`monitored`](macro@monitored), [`stack_on_timeout`](macro@stack_on_timeout) and [`supervised`](macro@supervised); [`Monitor`], [`Error`], [`dump()`], [`dump_on_signal()`], [`monitor()`] and [`monitors()`]; [`drain()`], [`drain_async`], [`DrainReport`], [`watch_leaks`] |
//! | [`monitor`](mod@monitor) | the monitor's builder, stats, futures and stall alerts |
//! | [`dump`](mod@dump) | what is in flight: dumps as text and data, their sink, the panic hook, stall detection |
//! | [`supervisor`] | workers restarted when they stop beating, panic or fail, within limits |
//! | [`drain`](mod@drain) | graceful exit: refuse new calls, give the calls in flight a grace period, report and dump what is left ([`drain()`], [`DrainReport`]) |
//! | [`leak`] | a watch for calls that pile up and threads that never end ([`watch_leaks`]) |
//! | [`sync`] | `Mutex`, `RwLock` (std's API) and `AsyncMutex`, `AsyncRwLock` (tokio's) that report deadlocks the moment they form, and lock-order inversions before anything hangs |
//! | `http` | the debug page, like Go's `net/http/pprof` (feature `axum`) |
//! | `axum` | [`Error`] as an HTTP response (feature `axum`) |
//! | `metrics` | every monitor's and supervisor's stats through the `metrics` facade (feature `metrics`) |
//! | `tower` | the monitor as a tower `Layer`, for any `Service`: axum routers, tonic, hyper (feature `tower`) |
//!
//! # Cargo features
//!
//! | feature | what |
//! |---|---|
//! | `axum` | the `http` and `axum` modules |
//! | `metrics` | the `metrics` module |
//! | `tower` | the `tower` module |
//! | `tokio-taskdump` | await points of waiting async calls in dumps, from tokio's task dumps (needs `--cfg tokio_unstable`; Linux x86, x86_64, aarch64) |
//! | `pprof` | dumps as a goroutine profile in pprof's format (`Dump::to_pprof`), and with `axum` the debug page's `/pprof/goroutine` |
//! | `plain-locks` | the locks of [`sync`] without bookkeeping: same API, no deadlock detection, the cost of std's and tokio's locks |
//!
//! How the runtime is laid out, and what its hot path never does, is in
//! `ARCHITECTURE.md` at the repository's root.
#![warn(missing_docs)]
// docs.rs marks each feature's items with the feature they need.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod gate;
mod shim;

// Everything but the state machines is left out of `loom` builds, which
// model-check `gate`, the heartbeat pulse, the wait-for graph and the
// locks' held records alone
// (`monitor-runtime/tests/loom*.rs`).
#[cfg(not(loom))]
mod alert;
#[cfg(all(not(loom), feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;
#[cfg(not(loom))]
mod background;
#[cfg(not(loom))]
mod clock;
#[cfg(not(loom))]
pub mod drain;
#[cfg(not(loom))]
pub mod dump;
#[cfg(not(loom))]
mod error;
#[cfg(not(loom))]
mod fence;
#[cfg(not(loom))]
mod format;
#[cfg(not(loom))]
mod histogram;
// Leaf: counters that only statistics read, per thread, summed when read.
#[cfg(all(not(loom), feature = "axum"))]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod http;
#[cfg(not(loom))]
mod inflight;
#[cfg(not(loom))]
pub mod leak;
#[cfg(all(not(loom), feature = "metrics"))]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
#[cfg(not(loom))]
pub mod monitor;
#[cfg(not(loom))]
mod native;
#[cfg(not(loom))]
mod pool;
#[cfg(not(loom))]
mod registry;
#[cfg(not(loom))]
pub mod supervisor;
#[cfg(not(loom))]
pub mod sync;
#[cfg(not(loom))]
mod tally;
#[cfg(not(loom))]
mod task;
#[cfg(all(not(loom), feature = "tower"))]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub mod tower;
#[cfg(not(loom))]
mod user_code;
#[cfg(not(loom))]
mod watchdog;

#[cfg(not(loom))]
pub use drain::{drain, drain_async, DrainReport};
#[cfg(not(loom))]
pub use dump::dump;
#[cfg(not(loom))]
pub use dump::dump_on_signal;
#[cfg(not(loom))]
pub use error::{Error, FromMonitorError, Name};
#[cfg(not(loom))]
pub use leak::watch_leaks;
#[cfg(not(loom))]
pub use monitor::{monitor, monitors, Monitor};

// The crate-root paths of 0.1, deprecated (see CHANGELOG.md).
#[cfg(not(loom))]
mod deprecated;
#[cfg(not(loom))]
#[allow(deprecated)]
pub use deprecated::*;

#[cfg(loom)]
#[path = "supervisor/pulse.rs"]
mod pulse;

#[cfg(loom)]
#[doc(hidden)]
pub use pulse::{Look, Pulse};

#[cfg(loom)]
#[doc(hidden)]
pub use gate::Gate;

#[cfg(loom)]
#[path = "sync/graph.rs"]
mod graph;

#[cfg(loom)]
#[doc(hidden)]
pub use graph::{Graph, LockState, Want};

#[cfg(loom)]
#[path = "sync/held/mod.rs"]
mod held;

#[cfg(loom)]
#[doc(hidden)]
pub use held::{Cache as HeldCache, Table as HeldTable};

/// Runs every call of the function through a [`Monitor`].
///
/// ```
/// use monitor_runtime::{monitored, Error};
///
/// #[monitored(max_active = 2)]
/// fn parse(input: String) -> Result<u32, Error> {
///     Ok(input.len() as u32)
/// }
/// assert_eq!(parse("abc".into()), Ok(3));
/// ```
///
/// # Keys
///
/// | key | value | meaning |
/// |---|---|---|
/// | `timeout` | duration | callers give up with [`Error::Timeout`] |
/// | `max_active` | integer > 0 | more calls in flight fail at once with [`Error::Busy`] |
/// | `alert` | duration | raise an [`Alert`](monitor::Alert) when a stall lasts this long (needs `max_active`) |
/// | `name` | string | the monitor's name (default: `module::path::function`) |
/// | `on_timeout` | `cancel` (default) or `detach` | async only: drop the body at the deadline, or let it run on in a tokio task |
/// | `crate` | string path | where the runtime is, if you re-export it |
///
/// Durations are strings (`"50ms"`) or bare literals (`50ms`, `5s`,
/// `1.5s`), in `ns`, `us`, `ms`, `s`, `m` or `h`.
///
/// # What runs where
///
/// * async: the body's future runs in place, on the caller's task. At the
///   deadline it is dropped (`cancel`), or moved to a tokio task
///   (`detach`, which needs a `Send + 'static` body).
/// * sync without `timeout`: the body runs inline on the caller's thread.
/// * sync with `timeout`: the body runs on a pooled worker thread, so that
///   the caller can return at the deadline; arguments must be owned and
///   `Send + 'static`.
///
/// The return type must carry the rejection: `Result<T, E>` with
/// `E: From<monitor_runtime::Error>`, or a type that implements
/// [`FromMonitorError`].
///
/// # What an async timeout cannot do
///
/// It cannot interrupt blocking code. The timeout is a future: it fires
/// when the task is polled, and a body that calls `std::thread::sleep`, a
/// synchronous lock or socket, or computes for long holds the worker
/// thread (and every task queued on it) until that code returns; then the
/// call returns its value, late. What the monitor does instead: a poll
/// that runs past the blocking threshold (10 ms, see
/// [`monitor::set_blocking_threshold`]) or the timeout is counted
/// ([`Stats::blocked_polls`](monitor::Stats::blocked_polls)), warned about
/// and reported once with the native stack of the blocked thread, which
/// names the blocking line. Move such code to
/// `tokio::task::spawn_blocking`, or into a sync `#[monitored(timeout =
/// ..)]` function, which runs on a worker thread and returns at its
/// deadline.
///
/// # Where a waiting call waits
///
/// Each `.await` of an async body notes its line and column when it
/// returns `Pending`, so that a dump shows where the call is parked
/// (`fetch  src/x.rs:17 awaiting (defined at :14)`,
/// [`LogicalFrame::awaiting`](dump::LogicalFrame::awaiting)). That covers
/// the `.await`s of the body and of the `async` blocks and closures written
/// in it when they are polled as part of the call; not those inside macro
/// invocations (`tokio::select!`, `join!`), of nested `fn` items, or of a
/// block spawned as a task of its own. A ready `.await` costs a branch.
///
/// # Expansion
///
/// `#[monitored(max_active = 10)] async fn get(id: u64) -> Result<Item, Error> { db::get(id).await }`
/// expands, roughly, to:
///
/// ```ignore
/// async fn get(id: u64) -> Result<Item, Error> {
///     static __MONITOR: ::monitor_runtime::__private::StaticMonitor =
///         ::monitor_runtime::__private::StaticMonitor::new(
///             ::monitor_runtime::monitor::MonitorBuilder::new(concat!(module_path!(), "::get")).max_active(10),
///         );
///     ::monitor_runtime::__private::cancel(&__MONITOR, async move {
///         ::monitor_runtime::__private::awaiting(line!(), column!(), db::get(id)).await
///     })
///     .await
/// }
/// ```
///
/// # With `#[async_trait]`
///
/// Put `#[monitored]` on the method inside the `#[async_trait]` impl.
/// `async_trait` expands first; `#[monitored]` recognises the boxed
/// `async move` block it writes and monitors that future, which stays
/// `Send`.
#[cfg(not(loom))]
pub use monitor_macros::monitored;

/// Reports a call that has not returned by its deadline, and changes
/// nothing else: the call runs on, with the same signature, arguments,
/// return value and panics as without the attribute.
///
/// ```
/// use monitor_runtime::stack_on_timeout;
///
/// #[stack_on_timeout(5s)]
/// fn count(words: &str) -> usize {
///     words.split_whitespace().count()
/// }
///
/// #[stack_on_timeout(timeout = "250ms", name = "jobs.fetch")]
/// async fn fetch(id: u64) -> Option<String> {
///     (id > 0).then(|| format!("job {id}"))
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// assert_eq!(count("a b c"), 3);
/// assert_eq!(fetch(7).await.as_deref(), Some("job 7"));
/// # }
/// ```
///
/// If a call is still running when its deadline passes, a dump of the
/// calls in flight is written once for that call, with a `tracing` event.
/// Nothing is cancelled or refused, so any return type works.
///
/// # Arguments
///
/// | argument | value | meaning |
/// |---|---|---|
/// | the deadline, or `timeout = ..` | duration | report a call still running after this long |
/// | `name` | string | the name in reports (default: `module::path::function`) |
/// | `crate` | string path | where the runtime is, if you re-export it |
///
/// The deadline is a bare literal (`5s`, `1.5s`, `250ms`) or a string
/// (`"5s"`), in `ns`, `us`, `ms`, `s`, `m` or `h`.
///
/// It applies to sync and async functions, methods (`self`, `&self`,
/// `&mut self`), generic functions, `unsafe fn`, `async fn` in traits and,
/// inside an `#[async_trait]` impl, to the future `async_trait` makes. A
/// sync body runs inline on the caller's thread, so borrowed arguments are
/// fine; an async body's future is `Send` when the body's is.
///
/// # With `#[monitored]`
///
/// The two combine, in either order: the monitor enforces its limits, and
/// a call that overruns the deadline is reported.
///
/// ```
/// use monitor_runtime::{monitored, stack_on_timeout, Error};
///
/// #[monitored(max_active = 10)]
/// #[stack_on_timeout(1s)]
/// fn lookup(key: &str) -> Result<usize, Error> {
///     Ok(key.len())
/// }
/// assert_eq!(lookup("abc"), Ok(3));
/// ```
///
/// # Expansion
///
/// `#[stack_on_timeout(5s)] fn work(x: u32) -> u32 { body }` expands,
/// roughly, to:
///
/// ```ignore
/// fn work(x: u32) -> u32 {
///     static __MONITOR_SITE: ::monitor_runtime::__private::CallSite =
///         ::monitor_runtime::__private::CallSite::new(concat!(module_path!(), "::work"), file!(), line!())
///             .report_after(::monitor_runtime::__private::Duration::from_secs(5));
///     ::monitor_runtime::__private::stack_sync(&__MONITOR_SITE, move || -> u32 { body })
/// }
/// ```
///
/// and an `async fn` to
/// `stack_async(&__MONITOR_SITE, async move { body }).await` after the
/// same `static`, each `.await` of the body rewritten as under
/// [`monitored`] to note where the call waits: an overdue async call shows
/// the line it is parked at. An async function that blocks its thread is
/// reported by its poll, with its line, even without this attribute (see
/// [`monitored`]: what an async timeout cannot do).
#[cfg(not(loom))]
pub use monitor_macros::stack_on_timeout;

/// Runs the function as a worker under a [`Supervisor`]: it is restarted
/// when it stops beating, panics or returns an error, within limits.
///
/// The function takes a [`Heartbeat`] (and, optionally, a [`StopSignal`]),
/// by value or, for a sync function, by reference, and returns
/// `Result<(), E>` with `E: Display`; it is left unchanged. The
/// attribute adds, next to it, `spawn()`, which starts it under a
/// supervisor and returns the [`SupervisorHandle`] (stop it, await it,
/// read its stats), and `builder()`, the configured [`SupervisorBuilder`]:
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::{supervised, supervisor::Heartbeat, supervisor::StopSignal};
///
/// #[supervised(heartbeat = "100ms", max_restarts = 5, within = "10s")]
/// async fn poller(beat: Heartbeat, stop: StopSignal) -> Result<(), std::io::Error> {
///     while !stop.is_stopped() {
///         beat.beat();
///         tokio::time::sleep(Duration::from_millis(10)).await;
///     }
///     Ok(())
/// }
///
/// #[supervised(heartbeat = 1s, restart = transient)]
/// fn indexer(beat: Heartbeat) -> Result<(), String> {
///     beat.beat();
///     Ok(())
/// }
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = poller::spawn().unwrap();
/// tokio::time::sleep(Duration::from_millis(30)).await;
/// assert_eq!(handle.stats().starts, 1);
/// handle.stop().await.unwrap();
///
/// // A sync worker runs on a thread of its own.
/// let done = tokio::task::spawn_blocking(|| indexer::spawn().unwrap().join_blocking());
/// done.await.unwrap().unwrap();
/// # }
/// ```
///
/// An `async fn` runs in tokio tasks (`spawn` must be called inside a
/// runtime); a sync `fn` runs on threads.
///
/// # Keys
///
/// | key | value | meaning |
/// |---|---|---|
/// | `heartbeat` | duration (required) | a worker silent this long is stalled |
/// | `max_restarts` | integer | restarts allowed within `within` (default 3) |
/// | `within` | duration | the intensity period (default 5 s) |
/// | `restart` | `permanent` (default), `transient`, `temporary` | see [`Restart`] |
/// | `grace` | duration | how long the worker gets to stop at shutdown (default 1 s) |
/// | `name` | string | the supervisor's name (default: `module::path::function`) |
/// | `crate` | string path | where the runtime is, if you re-export it |
///
/// For a backoff, or to change anything else, start from `builder()`:
/// `poller::builder().backoff(..).spawn(poller)`.
///
/// # Expansion
///
/// `#[supervised(heartbeat = "100ms")] async fn poller(beat: Heartbeat) -> Result<(), E> { body }`
/// expands, roughly, to the function unchanged, and:
///
/// ```ignore
/// #[allow(non_camel_case_types, dead_code)]
/// struct poller {}
///
/// impl poller {
///     fn spawn() -> Result<::monitor_runtime::supervisor::SupervisorHandle, ::monitor_runtime::supervisor::SupervisorError> {
///         Self::builder().spawn(|__monitor_beat, _| poller(__monitor_beat))
///     }
///     fn builder() -> ::monitor_runtime::supervisor::SupervisorBuilder {
///         ::monitor_runtime::supervisor::Supervisor::builder(concat!(module_path!(), "::poller"))
///             .heartbeat(Duration::from_millis(100))
///     }
/// }
/// ```
///
/// The struct has the function's name and visibility: types and functions
/// live in different namespaces, so both `poller(..)` and
/// `poller::spawn()` work. Hence the attribute applies to free functions
/// (not methods) without generic parameters.
#[cfg(not(loom))]
pub use monitor_macros::supervised;

/// Code used by the macros' expansions (`__private.rs`). Not public API:
/// it changes without notice.
#[cfg(not(loom))]
#[doc(hidden)]
pub mod __private;
