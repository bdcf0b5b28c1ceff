//! Heartbeat supervision: run a worker, restart it when it stops beating,
//! panics or fails, and give up after too many restarts, as OTP's
//! supervisors do.
//!
//! ```
//! use std::time::Duration;
//! use monitor_runtime::{Heartbeat, StopSignal, Supervisor};
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
//! dump ([`DumpReason::StalledWorker`](crate::DumpReason::StalledWorker):
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

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use crate::dump::{self, DumpOptions};
use crate::format::human;
use crate::native::{self, Tid};
use crate::registry::Registry;
use crate::watchdog::Timer;

mod error;
mod heartbeat;
mod policy;
pub(crate) mod pulse;

pub use error::{Cause, SupervisorError};
pub use heartbeat::{Heartbeat, StopSignal};
pub use policy::{Backoff, Restart};

use policy::{Decision, History, Policy};
use pulse::{Look, Pulse};

/// A supervisor's counters.
///
/// ```
/// let stats = monitor_runtime::SupervisorStats::default();
/// assert_eq!(stats.restarts, 0);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SupervisorStats {
    /// Worker instances started (the first one included).
    pub starts: u64,
    /// Times the worker went a whole heartbeat timeout without a beat.
    pub missed_heartbeats: u64,
    /// Restarts, all causes.
    pub restarts: u64,
    /// Restarts after a stall.
    pub stall_restarts: u64,
    /// Restarts after a panic.
    pub panic_restarts: u64,
    /// Restarts after an error return.
    pub error_restarts: u64,
    /// Whether the supervisor gave up (too many restarts).
    pub gave_up: bool,
    /// Whether the supervisor still runs.
    pub running: bool,
}

/// A running supervisor, as listed by [`supervisors`]: its name and
/// stats, and a way to ask it to stop. Cheap to clone.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::Supervisor;
///
/// let handle = Supervisor::builder("doc::listed")
///     .spawn_thread(|_beat, stop| {
///         stop.wait(Duration::from_secs(60));
///         Ok::<(), String>(())
///     })
///     .unwrap();
/// let listed = monitor_runtime::supervisor("doc::listed").unwrap();
/// assert!(listed.stats().running);
/// listed.stop();
/// handle.join_blocking().unwrap();
/// assert!(monitor_runtime::supervisor("doc::listed").is_none());
/// ```
#[derive(Clone)]
pub struct Supervisor(pub(crate) Arc<State>);

pub(crate) struct State {
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
}

impl Supervisor {
    /// Starts configuring a supervisor named `name` (for the logs, the dump
    /// and [`supervisor`]).
    ///
    /// ```
    /// let builder = monitor_runtime::Supervisor::builder("app::ingest");
    /// # drop(builder);
    /// ```
    pub fn builder(name: impl Into<String>) -> SupervisorBuilder {
        SupervisorBuilder {
            name: name.into(),
            heartbeat: Duration::from_secs(1),
            restart: Restart::Permanent,
            max_restarts: 3,
            within: Duration::from_secs(5),
            backoff: Backoff::None,
            grace: Duration::from_secs(1),
            dump: Some(DumpOptions::new()),
        }
    }

    /// The name.
    ///
    /// ```
    /// let handle = monitor_runtime::Supervisor::builder("doc::named")
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
    /// let handle = monitor_runtime::Supervisor::builder("doc::stats")
    ///     .restart(monitor_runtime::Restart::Temporary)
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
    /// let handle = monitor_runtime::Supervisor::builder("doc::stop_from_elsewhere")
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
static SUPERVISORS: Registry<std::sync::Weak<State>> = Registry::new();

/// Every supervisor of the process that still runs, in the order they
/// started.
///
/// ```
/// assert!(monitor_runtime::supervisors().iter().all(|s| s.stats().running));
/// ```
pub fn supervisors() -> Vec<Supervisor> {
    SUPERVISORS.live().into_iter().map(Supervisor).collect()
}

/// The running supervisor named `name` (the first one, if several share
/// it).
///
/// ```
/// assert!(monitor_runtime::supervisor("no such supervisor").is_none());
/// ```
pub fn supervisor(name: &str) -> Option<Supervisor> {
    supervisors().into_iter().find(|s| s.name() == name)
}

/// How a supervisor runs its worker; see [`Supervisor::builder`].
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::{Backoff, Restart, Supervisor};
///
/// let builder = Supervisor::builder("doc::builder")
///     .heartbeat(Duration::from_millis(100))
///     .restart(Restart::Transient)
///     .max_restarts(5, Duration::from_secs(10))
///     .backoff(Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1)))
///     .grace(Duration::from_millis(500))
///     .dump(None);
/// # drop(builder);
/// ```
#[derive(Clone, Debug)]
#[must_use = "a builder does nothing until `spawn` or `spawn_thread`"]
pub struct SupervisorBuilder {
    name: String,
    heartbeat: Duration,
    restart: Restart,
    max_restarts: u32,
    within: Duration,
    backoff: Backoff,
    grace: Duration,
    dump: Option<DumpOptions>,
}

impl SupervisorBuilder {
    /// The heartbeat timeout: a worker that does not beat for this long is
    /// stalled (found within a quarter more). Default 1 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = monitor_runtime::Supervisor::builder("doc::hb").heartbeat(Duration::from_millis(250));
    /// # drop(builder);
    /// ```
    pub fn heartbeat(mut self, timeout: Duration) -> Self {
        self.heartbeat = timeout.max(Duration::from_millis(1));
        self
    }

    /// When to restart. Default [`Restart::Permanent`].
    ///
    /// ```
    /// use monitor_runtime::{Restart, Supervisor};
    /// let handle = Supervisor::builder("doc::transient")
    ///     .restart(Restart::Transient)
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// handle.join_blocking().unwrap(); // a normal return ends it
    /// ```
    pub fn restart(mut self, restart: Restart) -> Self {
        self.restart = restart;
        self
    }

    /// At most `restarts` restarts within `within`; one more failure and
    /// the supervisor gives up with [`SupervisorError::GaveUp`]. Default 3
    /// in 5 s (OTP's is 1 in 5 s: a worker with a slow start deserves a
    /// few tries).
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = monitor_runtime::Supervisor::builder("doc::intensity")
    ///     .max_restarts(1, Duration::from_secs(5)); // OTP's default
    /// # drop(builder);
    /// ```
    pub fn max_restarts(mut self, restarts: u32, within: Duration) -> Self {
        self.max_restarts = restarts;
        self.within = within;
        self
    }

    /// The delay before each restart. Default none.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::{Backoff, Supervisor};
    /// let builder = Supervisor::builder("doc::backoff")
    ///     .backoff(Backoff::exponential(Duration::from_millis(50), Duration::from_secs(5)));
    /// # drop(builder);
    /// ```
    pub fn backoff(mut self, backoff: Backoff) -> Self {
        self.backoff = backoff;
        self
    }

    /// How long a worker told to stop at shutdown gets to return before it
    /// is cancelled (async) or detached (thread). Default 1 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = monitor_runtime::Supervisor::builder("doc::grace").grace(Duration::from_millis(200));
    /// # drop(builder);
    /// ```
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// What the dump written on a stall includes (`None`: no dump).
    /// Default: [`DumpOptions::new`], with native stacks.
    ///
    /// ```
    /// use monitor_runtime::{DumpOptions, Supervisor};
    /// // Logical stacks only (no signal sent to any thread).
    /// let quick = Supervisor::builder("doc::dump").dump(Some(DumpOptions::new().native_stacks(false)));
    /// // No dump at all.
    /// let silent = Supervisor::builder("doc::no_dump").dump(None);
    /// # drop((quick, silent));
    /// ```
    pub fn dump(mut self, options: Option<DumpOptions>) -> Self {
        self.dump = options;
        self
    }

    fn policy(&self) -> Policy {
        Policy {
            restart: self.restart,
            max_restarts: self.max_restarts,
            within: self.within,
            backoff: self.backoff,
        }
    }

    fn state(&self) -> Supervisor {
        let supervisor = Supervisor(Arc::new(State {
            name: self.name.clone(),
            shutdown: StopSignal::new(),
            starts: AtomicU64::new(0),
            missed: AtomicU64::new(0),
            restarts: AtomicU64::new(0),
            stall_restarts: AtomicU64::new(0),
            panic_restarts: AtomicU64::new(0),
            error_restarts: AtomicU64::new(0),
            gave_up: AtomicBool::new(false),
            running: AtomicBool::new(true),
        }));
        SUPERVISORS.add(Arc::downgrade(&supervisor.0));
        supervisor
    }

    /// Runs an async worker under a supervisor task, each instance in a
    /// task of its own, on the current tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::{Restart, Supervisor};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = Supervisor::builder("doc::once")
    ///     .restart(Restart::Transient)
    ///     .spawn(|beat, _stop| async move {
    ///         beat.beat();
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// handle.join().await.unwrap();
    /// # }
    /// ```
    pub fn spawn<F, Fut, E>(self, worker: F) -> Result<SupervisorHandle, SupervisorError>
    where
        F: FnMut(Heartbeat, StopSignal) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), E>> + Send + 'static,
        E: fmt::Display + Send + 'static,
    {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return Err(SupervisorError::NoRuntime { name: self.name });
        };
        let supervisor = self.state();
        let (done, result) = oneshot::channel();
        let mut worker = worker;
        let spawner = runtime.clone();
        let start = move |beat: Heartbeat, stop: StopSignal| {
            let task = spawner.spawn(worker(beat, stop.clone()));
            let abort = task.abort_handle();
            let exit: ExitFuture = Box::pin(async move {
                match task.await {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(Cause::Error {
                        message: error.to_string(),
                    }),
                    Err(error) if error.is_panic() => Some(Cause::Panic {
                        message: panic_message(&*error.into_panic()),
                    }),
                    Err(_) => Some(Cause::Cancelled),
                }
            });
            Ok(Instance {
                exit,
                stop,
                abort: Some(abort),
                tid: None,
            })
        };
        let run = supervise(supervisor.clone(), self, start);
        runtime.spawn(async move {
            let _ = done.send(run.await);
        });
        Ok(SupervisorHandle {
            supervisor,
            result: Some(result),
        })
    }

    /// Runs a sync worker, each instance on a thread of its own, under a
    /// supervisor thread. Needs no tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::Supervisor;
    ///
    /// let handle = Supervisor::builder("doc::thread")
    ///     .heartbeat(Duration::from_millis(200))
    ///     .spawn_thread(|beat, stop| {
    ///         while !stop.wait(Duration::from_millis(10)) {
    ///             beat.beat();
    ///         }
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// std::thread::sleep(Duration::from_millis(50));
    /// handle.stop_blocking().unwrap();
    /// ```
    pub fn spawn_thread<F, E>(self, worker: F) -> Result<SupervisorHandle, SupervisorError>
    where
        F: Fn(Heartbeat, StopSignal) -> Result<(), E> + Send + Sync + 'static,
        E: fmt::Display + 'static,
    {
        let name = self.name.clone();
        let thread_name = thread_name(&name);
        let worker = Arc::new(worker);
        let start = move |beat: Heartbeat, stop: StopSignal| {
            let (exit_tx, exit_rx) = oneshot::channel();
            let tid = Arc::new(AtomicI32::new(0));
            let (worker, stop2, tid2) = (worker.clone(), stop.clone(), tid.clone());
            std::thread::Builder::new()
                .name(thread_name.clone())
                .spawn(move || {
                    tid2.store(native::current_tid().0, Ordering::Relaxed);
                    let cause =
                        match std::panic::catch_unwind(AssertUnwindSafe(|| worker(beat, stop2))) {
                            Ok(Ok(())) => None,
                            Ok(Err(error)) => Some(Cause::Error {
                                message: error.to_string(),
                            }),
                            Err(panic) => Some(Cause::Panic {
                                message: panic_message(&*panic),
                            }),
                        };
                    let _ = exit_tx.send(cause);
                })
                .map_err(|error| SupervisorError::Spawn {
                    name: name.clone(),
                    error: error.to_string(),
                })?;
            let exit: ExitFuture = Box::pin(async move { exit_rx.await.unwrap_or(None) });
            Ok(Instance {
                exit,
                stop,
                abort: None,
                tid: Some(tid),
            })
        };
        if self.dump.as_ref().is_some_and(|d| d.native_stacks) {
            dump::prepare_soon();
        }
        let supervisor = self.state();
        let (done, result) = oneshot::channel();
        let run = supervise(supervisor.clone(), self, start);
        let spawned = std::thread::Builder::new()
            .name("monitor-sup".into())
            .spawn(move || {
                let _ = done.send(block_on(run));
            });
        if let Err(error) = spawned {
            SUPERVISORS.remove(|s| Arc::ptr_eq(s, &supervisor.0));
            return Err(SupervisorError::Spawn {
                name: supervisor.0.name.clone(),
                error: error.to_string(),
            });
        }
        Ok(SupervisorHandle {
            supervisor,
            result: Some(result),
        })
    }
}

/// At most 15 bytes: the kernel truncates longer thread names.
fn thread_name(name: &str) -> String {
    let last = name.rsplit("::").next().unwrap_or(name);
    let mut out = String::new();
    for c in last.chars() {
        if out.len() + c.len_utf8() > 15 {
            break;
        }
        out.push(c);
    }
    out
}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> Option<String> {
    panic
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| panic.downcast_ref::<String>().cloned())
}

/// The way to stop a supervisor, wait for it, and read its stats. Dropping
/// it asks the supervisor to stop (without waiting): a supervisor never
/// outlives every way to stop it.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::Supervisor;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handle = Supervisor::builder("doc::handle")
///     .grace(Duration::from_millis(100))
///     .spawn(|_beat, stop| async move {
///         stop.stopped().await;
///         Ok::<(), String>(())
///     })
///     .unwrap();
/// assert_eq!(handle.supervisor().name(), "doc::handle");
/// handle.stop().await.unwrap();
/// # }
/// ```
pub struct SupervisorHandle {
    supervisor: Supervisor,
    result: Option<oneshot::Receiver<Result<(), SupervisorError>>>,
}

impl SupervisorHandle {
    /// The supervisor, as listed by [`supervisors`].
    ///
    /// ```
    /// let handle = monitor_runtime::Supervisor::builder("doc::entry")
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// assert_eq!(handle.supervisor().name(), "doc::entry");
    /// ```
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// The counters now.
    ///
    /// ```
    /// let handle = monitor_runtime::Supervisor::builder("doc::handle_stats")
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// assert!(handle.stats().starts <= 4);
    /// ```
    pub fn stats(&self) -> SupervisorStats {
        self.supervisor.stats()
    }

    /// Waits for the supervisor to end on its own: it gave up, or a
    /// transient or temporary worker ended.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use std::time::Duration;
    /// use monitor_runtime::{Supervisor, SupervisorError};
    /// let handle = Supervisor::builder("doc::join")
    ///     .max_restarts(0, Duration::from_secs(5))
    ///     .spawn(|_beat, _stop| async { Err::<(), _>("broken") })
    ///     .unwrap();
    /// assert!(matches!(handle.join().await, Err(SupervisorError::GaveUp { .. })));
    /// # }
    /// ```
    pub async fn join(mut self) -> Result<(), SupervisorError> {
        let name = self.supervisor.0.name.clone();
        match self.result.take() {
            Some(result) => result.await.unwrap_or(Err(SupervisorError::Lost { name })),
            None => Err(SupervisorError::Lost { name }),
        }
    }

    /// Stops the worker (it gets the grace period to return, then is
    /// cancelled or detached) and waits for the supervisor to end.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let handle = monitor_runtime::Supervisor::builder("doc::stop")
    ///     .spawn(|_beat, stop| async move {
    ///         stop.stopped().await;
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// handle.stop().await.unwrap();
    /// # }
    /// ```
    pub async fn stop(self) -> Result<(), SupervisorError> {
        self.supervisor.stop();
        self.join().await
    }

    /// [`join`](Self::join) for sync code. Panics if called from an async
    /// context (use `join` there).
    ///
    /// ```
    /// let handle = monitor_runtime::Supervisor::builder("doc::join_blocking")
    ///     .restart(monitor_runtime::Restart::Transient)
    ///     .spawn_thread(|beat, _stop| {
    ///         beat.beat();
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// handle.join_blocking().unwrap();
    /// ```
    pub fn join_blocking(mut self) -> Result<(), SupervisorError> {
        let name = self.supervisor.0.name.clone();
        match self.result.take() {
            Some(result) => result
                .blocking_recv()
                .unwrap_or(Err(SupervisorError::Lost { name })),
            None => Err(SupervisorError::Lost { name }),
        }
    }

    /// [`stop`](Self::stop) for sync code. Panics if called from an async
    /// context (use `stop` there).
    ///
    /// ```
    /// use std::time::Duration;
    /// let handle = monitor_runtime::Supervisor::builder("doc::stop_blocking")
    ///     .spawn_thread(|_beat, stop| {
    ///         stop.wait(Duration::from_secs(60));
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// handle.stop_blocking().unwrap();
    /// ```
    pub fn stop_blocking(self) -> Result<(), SupervisorError> {
        self.supervisor.stop();
        self.join_blocking()
    }
}

impl Drop for SupervisorHandle {
    fn drop(&mut self) {
        if self.result.is_some() {
            self.supervisor.stop();
        }
    }
}

impl fmt::Debug for SupervisorHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SupervisorHandle")
            .field(&self.supervisor)
            .finish()
    }
}

type ExitFuture = Pin<Box<dyn Future<Output = Option<Cause>> + Send>>;

/// One running instance of the worker.
struct Instance {
    /// Completes when the instance ends: `None` for `Ok`.
    exit: ExitFuture,
    stop: StopSignal,
    /// An async instance's task.
    abort: Option<tokio::task::AbortHandle>,
    /// A thread instance's kernel id, once it runs.
    tid: Option<Arc<AtomicI32>>,
}

impl Instance {
    /// Ends the instance at once: an async one is cancelled, a thread is
    /// told to stop and left to finish on its own.
    fn kill(self) {
        self.stop.stop();
        if let Some(abort) = self.abort {
            abort.abort();
        }
    }

    /// Tells the instance to stop and gives it `grace` to return.
    async fn shut_down(mut self, name: &str, grace: Duration) {
        self.stop.stop();
        let mut sleep = pin!(Sleep::new(Instant::now() + grace));
        let returned = std::future::poll_fn(|cx| {
            if self.exit.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            sleep.as_mut().poll(cx).map(|()| false)
        })
        .await;
        if !returned {
            tracing::warn!(
                target: "monitor_runtime",
                supervisor = name,
                grace_ms = grace.as_millis() as u64,
                "worker of supervisor {name} did not stop within {}; {}",
                human(grace),
                if self.abort.is_some() { "cancelled" } else { "its thread is detached" },
            );
            self.kill();
        }
    }
}

enum Event {
    Exit(Option<Cause>),
    Look,
    Shutdown,
}

/// The supervisor's loop: start, watch, decide, restart.
async fn supervise(
    supervisor: Supervisor,
    spec: SupervisorBuilder,
    mut start: impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError>,
) -> Result<(), SupervisorError> {
    let result = run(&supervisor, &spec, &mut start).await;
    let state = &supervisor.0;
    state.running.store(false, Ordering::Relaxed);
    SUPERVISORS.remove(|s| Arc::ptr_eq(s, &supervisor.0));
    result
}

async fn run(
    supervisor: &Supervisor,
    spec: &SupervisorBuilder,
    start: &mut impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError>,
) -> Result<(), SupervisorError> {
    let state = &*supervisor.0;
    let name = state.name.as_str();
    let look_every = (spec.heartbeat / 4).max(Duration::from_millis(1));
    let policy = spec.policy();
    let mut history = History::default();
    loop {
        if state.shutdown.is_stopped() {
            return Ok(());
        }
        let pulse = Arc::new(Pulse::new());
        let mut instance = start(Heartbeat(pulse.clone()), StopSignal::new())?;
        let starts = state.starts.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(target: "monitor_runtime", supervisor = name, starts, "worker of supervisor {name} started");

        let mut last_beat = Instant::now();
        let mut next_look = last_beat + look_every;
        let cause = loop {
            let mut sleep = pin!(Sleep::new(next_look));
            let mut shutdown = pin!(state.shutdown.stopped());
            let event = std::future::poll_fn(|cx| {
                if let Poll::Ready(cause) = instance.exit.as_mut().poll(cx) {
                    return Poll::Ready(Event::Exit(cause));
                }
                if shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Shutdown);
                }
                sleep.as_mut().poll(cx).map(|()| Event::Look)
            })
            .await;
            match event {
                Event::Exit(cause) => break cause.unwrap_or(Cause::Exit),
                Event::Shutdown => {
                    instance.shut_down(name, spec.grace).await;
                    tracing::info!(target: "monitor_runtime", supervisor = name, "supervisor {name} stopped");
                    return Ok(());
                }
                Event::Look => {
                    let now = Instant::now();
                    next_look = now + look_every;
                    match pulse.look() {
                        Look::Beat => last_beat = now,
                        Look::Stalled => {}
                        Look::Quiet => {
                            let silent_for = now.saturating_duration_since(last_beat);
                            if silent_for < spec.heartbeat {
                                continue;
                            }
                            if !pulse.claim_stall() {
                                // A beat came between the look and the claim.
                                last_beat = now;
                                continue;
                            }
                            state.missed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                target: "monitor_runtime",
                                supervisor = name,
                                silent_ms = silent_for.as_millis() as u64,
                                timeout_ms = spec.heartbeat.as_millis() as u64,
                                "worker of supervisor {name} missed its heartbeat: none for {}",
                                human(silent_for),
                            );
                            if let Some(options) = &spec.dump {
                                let tid = instance
                                    .tid
                                    .as_ref()
                                    .map(|tid| tid.load(Ordering::Relaxed))
                                    .filter(|&tid| tid != 0)
                                    .map(Tid);
                                write_dump(name, silent_for, tid, options.clone()).await;
                            }
                            instance.kill();
                            break Cause::Stall { silent_for };
                        }
                    }
                }
            }
        };

        let delay = match policy.decide(&mut history, &cause, Instant::now(), policy::random()) {
            Decision::End => {
                tracing::info!(target: "monitor_runtime", supervisor = name, %cause, "worker of supervisor {name} {cause}; not restarted");
                return match cause {
                    Cause::Exit => Ok(()),
                    cause => Err(SupervisorError::WorkerFailed {
                        name: name.to_owned(),
                        cause,
                    }),
                };
            }
            Decision::GiveUp => {
                state.gave_up.store(true, Ordering::Relaxed);
                let error = SupervisorError::GaveUp {
                    name: name.to_owned(),
                    restarts: spec.max_restarts,
                    within: spec.within,
                    last: cause,
                };
                tracing::error!(target: "monitor_runtime", supervisor = name, "{error}");
                return Err(error);
            }
            Decision::Restart { delay } => delay,
        };
        state.restarts.fetch_add(1, Ordering::Relaxed);
        let by_cause = match cause {
            Cause::Stall { .. } => Some(&state.stall_restarts),
            Cause::Panic { .. } => Some(&state.panic_restarts),
            Cause::Error { .. } => Some(&state.error_restarts),
            _ => None,
        };
        if let Some(counter) = by_cause {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(
            target: "monitor_runtime",
            supervisor = name,
            %cause,
            delay_ms = delay.as_millis() as u64,
            "worker of supervisor {name} {cause}; restarting{}",
            if delay.is_zero() { String::new() } else { format!(" in {}", human(delay)) },
        );
        if !delay.is_zero() {
            let mut sleep = pin!(Sleep::new(Instant::now() + delay));
            let mut shutdown = pin!(state.shutdown.stopped());
            let stopped = std::future::poll_fn(|cx| {
                if shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                sleep.as_mut().poll(cx).map(|()| false)
            })
            .await;
            if stopped {
                return Ok(());
            }
        }
    }
}

/// Takes and writes the dump of a stalled worker on the dump worker
/// (capturing native stacks blocks), and waits for it: the worker is
/// stopped only once its stack is captured. Behind dumps queued before it,
/// and behind a sink that blocks, as every dump is.
async fn write_dump(name: &str, silent_for: Duration, tid: Option<Tid>, options: DumpOptions) {
    let (done, written) = oneshot::channel::<()>();
    dump::submit(dump::Job::StalledWorker {
        worker: name.to_owned(),
        silent_for,
        thread: tid,
        options,
        done,
    });
    // An error: the dump panicked (in the sink); the worker is stopped all
    // the same.
    let _ = written.await;
}

/// A sleep on the process watchdog's timers: works on any executor (and on
/// the supervisor thread's `block_on`), with no tokio timer driver needed.
struct Sleep {
    deadline: Instant,
    timer: Option<Timer>,
}

impl Sleep {
    fn new(deadline: Instant) -> Self {
        Sleep {
            deadline,
            timer: None,
        }
    }
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let this = self.get_mut();
        if Instant::now() >= this.deadline {
            return Poll::Ready(());
        }
        match &mut this.timer {
            Some(timer) => timer.update(cx.waker()),
            None => match Timer::new(this.deadline, cx.waker()) {
                Some(timer) => this.timer = Some(timer),
                // No watchdog thread: sleep here rather than spin.
                None => {
                    std::thread::sleep(this.deadline.saturating_duration_since(Instant::now()));
                    return Poll::Ready(());
                }
            },
        }
        Poll::Pending
    }
}

/// Runs a future on this thread (the supervisor thread of a thread worker).
fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(std::thread::Thread);
    impl std::task::Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
        fn wake_by_ref(self: &Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit_the_kernel() {
        assert_eq!(thread_name("app::ingest"), "ingest");
        assert_eq!(thread_name("a_very_long_worker_name").len(), 15);
    }

    #[test]
    fn a_late_beat_wins_against_the_claim() {
        let pulse = Pulse::new();
        assert_eq!(pulse.look(), Look::Quiet);
        pulse.beat();
        assert!(!pulse.claim_stall());
        assert_eq!(pulse.look(), Look::Beat);
        assert!(pulse.claim_stall());
        pulse.beat();
        assert_eq!(pulse.look(), Look::Stalled);
        assert!(!pulse.claim_stall());
    }
}
