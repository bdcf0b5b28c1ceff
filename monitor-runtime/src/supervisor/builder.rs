//! How a supervisor is configured and started: [`SupervisorBuilder`].

use std::fmt;
use std::future::Future;
use std::time::Duration;

use super::policy::Policy;
use super::{instance, run};
use super::{
    Backoff, Heartbeat, Restart, StopSignal, Supervisor, SupervisorError, SupervisorHandle,
};
use crate::dump::{self, DumpOptions};

/// How a supervisor runs its worker; see [`Supervisor::builder`].
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::{Backoff, Restart, Supervisor};
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
    pub(super) name: String,
    pub(super) heartbeat: Duration,
    pub(super) restart: Restart,
    pub(super) max_restarts: u32,
    pub(super) within: Duration,
    pub(super) backoff: Backoff,
    pub(super) grace: Duration,
    pub(super) dump: Option<DumpOptions>,
}

impl SupervisorBuilder {
    /// The defaults, for [`Supervisor::builder`].
    pub(super) fn new(name: String) -> Self {
        SupervisorBuilder {
            name,
            heartbeat: Duration::from_secs(1),
            restart: Restart::Permanent,
            max_restarts: 3,
            within: Duration::from_secs(5),
            backoff: Backoff::None,
            grace: Duration::from_secs(1),
            dump: Some(DumpOptions::new()),
        }
    }

    /// The heartbeat timeout: a worker that does not beat for this long is
    /// stalled (found within a quarter more). Default 1 s.
    ///
    /// ```
    /// use std::time::Duration;
    /// let builder = monitor_runtime::supervisor::Supervisor::builder("doc::hb").heartbeat(Duration::from_millis(250));
    /// # drop(builder);
    /// ```
    pub fn heartbeat(mut self, timeout: Duration) -> Self {
        self.heartbeat = timeout.max(Duration::from_millis(1));
        self
    }

    /// When to restart. Default [`Restart::Permanent`].
    ///
    /// ```
    /// use monitor_runtime::supervisor::{Restart, Supervisor};
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
    /// let builder = monitor_runtime::supervisor::Supervisor::builder("doc::intensity")
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
    /// use monitor_runtime::supervisor::{Backoff, Supervisor};
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
    /// let builder = monitor_runtime::supervisor::Supervisor::builder("doc::grace").grace(Duration::from_millis(200));
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
    /// use monitor_runtime::{dump::DumpOptions, supervisor::Supervisor};
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

    /// The restart policy configured.
    pub(super) fn policy(&self) -> Policy {
        Policy {
            restart: self.restart,
            max_restarts: self.max_restarts,
            within: self.within,
            backoff: self.backoff,
        }
    }

    /// Runs an async worker under a supervisor task, each instance in a
    /// task of its own, on the current tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::supervisor::{Restart, Supervisor};
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
        let supervisor = Supervisor::register(self.name.clone());
        let start = instance::task_starter(runtime.clone(), worker);
        let result = run::on_task(&runtime, supervisor.clone(), self, start);
        Ok(SupervisorHandle::new(supervisor, result))
    }

    /// Runs a sync worker, each instance on a thread of its own, under a
    /// supervisor thread. Needs no tokio runtime.
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::supervisor::Supervisor;
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
        let start = instance::thread_starter(self.name.clone(), worker);
        if self.dump.as_ref().is_some_and(|d| d.native_stacks) {
            dump::prepare_soon();
        }
        let supervisor = Supervisor::register(self.name.clone());
        let result = run::on_thread(supervisor.clone(), self, start)?;
        Ok(SupervisorHandle::new(supervisor, result))
    }
}
