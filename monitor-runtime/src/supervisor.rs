//! Heartbeat supervision: run a worker, restart it when it stops beating,
//! panics or fails, and give up after too many restarts, as OTP's
//! supervisors do.
//!
//! ```
//! use std::time::Duration;
//! use monitor_runtime::supervisor::{Heartbeat, StopSignal, Supervisor};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let handle = Supervisor::builder("doc::poller")
//!     .heartbeat(Duration::from_millis(200))
//!     .spawn(|beat: Heartbeat, stop: StopSignal| async move {
//!         while !stop.is_stopped() {
//!             beat.beat();
//!             tokio::time::sleep(Duration::from_millis(10)).await;
//!         }
//!         Ok::<(), std::io::Error>(())
//!     })
//!     .unwrap();
//! tokio::time::sleep(Duration::from_millis(50)).await;
//! assert_eq!(handle.stats().starts, 1);
//! handle.stop().await.unwrap();
//! # }
//! ```
//!
//! How it works: one supervisor per worker (a tokio task for an async
//! worker, a thread for a thread worker) looks at the worker's
//! [`Heartbeat`] every quarter of the heartbeat timeout, with the process
//! watchdog's timers. A beat is a relaxed load (and, once per look, a
//! compare-and-swap) on a cell of its own instance (`supervisor/pulse.rs`,
//! model-checked with `loom`), so a late beat of a replaced instance
//! cannot cancel a restart, nor cause a second one.
//!
//! When no beat came for the heartbeat timeout, the supervisor writes a
//! dump ([`DumpReason::StalledWorker`](crate::dump::DumpReason::StalledWorker):
//! the worker's name, how long it has been silent, the native stack of a
//! thread worker, and the calls in flight) to the dump sink (taken on the
//! dump worker thread, `monitor-dump`, and waited for), stops the old
//! instance (an async worker is cancelled; a thread is told to stop and
//! detached, never joined) and starts a new one.
//!
//! Limits: the supervisor of an async worker is a task of the same tokio
//! runtime, so a worker that blocks the only thread of a `current_thread`
//! runtime blocks its supervisor too (use a multi-thread runtime, or a
//! thread worker, for code that may block). A cancelled async worker that
//! is stuck in blocking code, and a thread that ignores its stop signal,
//! run on until they return: Rust cannot stop them from outside.
//!
//! Code map, one concept per file: this file holds [`Supervisor`] and the
//! registry behind [`supervisors`]; `heartbeat.rs` what a worker holds
//! ([`Heartbeat`], [`StopSignal`]); `pulse.rs` the heartbeat's state
//! machine (built alone under `loom`); `policy.rs` [`Restart`],
//! [`Backoff`] and the restart decision, a pure function of the restarts
//! so far and the time; `builder.rs` [`SupervisorBuilder`]; `instance.rs`
//! one running instance, started as a task or a thread; `run.rs` the loop
//! that watches an instance and acts on the decision; `wait.rs` sleeping
//! without a tokio timer; `handle.rs` [`SupervisorHandle`] and
//! [`SupervisorStats`]; `error.rs` [`Cause`] and [`SupervisorError`].

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::registry::Registry;

mod builder;
mod error;
mod handle;
mod heartbeat;
mod instance;
mod policy;
pub(crate) mod pulse;
mod run;
mod wait;

pub use builder::SupervisorBuilder;
pub use error::{Cause, SupervisorError};
pub use handle::{SupervisorHandle, SupervisorStats};
pub use heartbeat::{Heartbeat, StopSignal};
pub use policy::{Backoff, Restart};

/// A running supervisor, as listed by [`supervisors`]: its name and
/// stats, and a way to ask it to stop. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::Supervisor;
///
/// let handle = Supervisor::builder("doc::listed")
///     .spawn_thread(|_beat, stop| {
///         stop.wait(Duration::from_secs(60));
///         Ok::<(), String>(())
///     })
///     .unwrap();
/// let listed = monitor_runtime::supervisor::supervisor("doc::listed").unwrap();
/// assert!(listed.stats().running);
/// listed.stop();
/// handle.join_blocking().unwrap();
/// assert!(monitor_runtime::supervisor::supervisor("doc::listed").is_none());
/// ```
#[derive(Clone)]
pub struct Supervisor(pub(crate) Arc<SupervisorState>);

pub(crate) struct SupervisorState {
    name: String,
    shutdown: StopSignal,
    starts: AtomicU64,
    missed: AtomicU64,
    restarts: AtomicU64,
    stall_restarts: AtomicU64,
    panic_restarts: AtomicU64,
    error_restarts: AtomicU64,
    gave_up: AtomicBool,
    running: AtomicBool,
    /// When a [`drain`](crate::drain()) wants the worker stopped by
    /// (nanoseconds on the process clock; 0: no such deadline).
    stop_by: AtomicU64,
}

impl Supervisor {
    /// Starts configuring a supervisor named `name` (for the logs, the dump
    /// and [`supervisor`]).
    ///
    /// ```
    /// let builder = monitor_runtime::supervisor::Supervisor::builder("app::ingest");
    /// # drop(builder);
    /// ```
    pub fn builder(name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder::new(name.into())
    }

    /// A new supervisor named `name`, listed by [`supervisors`] until it
    /// is [unregistered](Self::unregister).
    fn register(name: String) -> Supervisor {
        let supervisor = Supervisor(Arc::new(SupervisorState {
            name,
            shutdown: StopSignal::new(),
            starts: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            stall_restarts: AtomicU64::new(0),
            panic_restarts: AtomicU64::new(0),
            error_restarts: AtomicU64::new(0),
            gave_up: AtomicBool::new(false),
            running: AtomicBool::new(true),
            stop_by: AtomicU64::new(0),
        }));
        SUPERVISORS.add(Arc::downgrade(&supervisor.0));
        supervisor
    }

    /// Takes the supervisor off the list of [`supervisors`].
    fn unregister(&self) {
        SUPERVISORS.remove(|s| Arc::ptr_eq(s, &self.0));
    }

    /// The name.
    ///
    /// ```
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::named")
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// assert_eq!(handle.supervisor().name(), "doc::named");
    /// ```
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// The counters now.
    ///
    /// ```
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::stats")
    ///     .restart(monitor_runtime::supervisor::Restart::Temporary)
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// let supervisor = handle.supervisor().clone();
    /// handle.join_blocking().unwrap();
    /// let stats = supervisor.stats();
    /// assert_eq!((stats.starts, stats.restarts, stats.running), (1, 0, false));
    /// ```
    pub fn stats(&self) -> SupervisorStats {
        let s = &self.0;
        SupervisorStats {
            starts: s.starts.load(Ordering::Relaxed),
            missed_heartbeats: s.missed.load(Ordering::Relaxed),
            restarts: s.restarts.load(Ordering::Relaxed),
            stall_restarts: s.stall_restarts.load(Ordering::Relaxed),
            panic_restarts: s.panic_restarts.load(Ordering::Relaxed),
            error_restarts: s.error_restarts.load(Ordering::Relaxed),
            gave_up: s.gave_up.load(Ordering::Relaxed),
            running: s.running.load(Ordering::Relaxed),
        }
    }

    /// Asks the supervisor to stop its worker (within the grace period)
    /// and end; returns at once. Await the [`SupervisorHandle`] to know
    /// when it has.
    ///
    /// ```
    /// use std::time::Duration;
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::stop_from_elsewhere")
    ///     .spawn_thread(|_beat, stop| {
    ///         stop.wait(Duration::from_secs(60));
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// handle.supervisor().clone().stop();
    /// handle.join_blocking().unwrap();
    /// ```
    pub fn stop(&self) {
        self.0.shutdown.stop();
    }

    /// [`stop`](Self::stop), with the worker's grace period cut short so
    /// that it is stopped (or cancelled, or detached) by `deadline`: for a
    /// [`drain`](crate::drain()).
    pub(crate) fn stop_by(&self, deadline: std::time::Instant) {
        let ns = crate::clock::ns_of_instant(deadline).max(1);
        self.0.stop_by.store(ns, Ordering::Relaxed);
        self.stop();
    }

    /// The grace period the worker gets now: `grace`, or less when a drain
    /// wants it stopped sooner.
    pub(crate) fn grace_now(&self, grace: std::time::Duration) -> std::time::Duration {
        match self.0.stop_by.load(Ordering::Relaxed) {
            0 => grace,
            by => grace.min(std::time::Duration::from_nanos(
                by.saturating_sub(crate::clock::now_ns()),
            )),
        }
    }
}

impl fmt::Debug for Supervisor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Supervisor")
            .field("name", &self.0.name)
            .field("stats", &self.stats())
            .finish()
    }
}

/// The running supervisors, weakly.
static SUPERVISORS: Registry<std::sync::Weak<SupervisorState>> = Registry::new();

/// Every supervisor of the process that still runs, in the order they
/// started.
///
/// ```
/// assert!(monitor_runtime::supervisor::supervisors().iter().all(|s| s.stats().running));
/// ```
pub fn supervisors() -> Vec<Supervisor> {
    SUPERVISORS.live().into_iter().map(Supervisor).collect()
}

/// The running supervisor named `name` (the first one, if several share
/// it).
///
/// ```
/// assert!(monitor_runtime::supervisor::supervisor("no such supervisor").is_none());
/// ```
pub fn supervisor(name: &str) -> Option<Supervisor> {
    supervisors().into_iter().find(|s| s.name() == name)
}
