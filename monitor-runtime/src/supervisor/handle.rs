//! What the caller of `spawn` holds: the [`SupervisorHandle`], to stop a
//! supervisor and wait for it, and the [`SupervisorStats`] it reads.

use std::fmt;

use tokio::sync::oneshot;

use super::{Supervisor, SupervisorError};

/// A supervisor's counters.
///
/// ```
/// let stats = monitor_runtime::supervisor::SupervisorStats::default();
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

/// The way to stop a supervisor, wait for it, and read its stats. Dropping
/// it asks the supervisor to stop (without waiting): a supervisor never
/// outlives every way to stop it.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::Supervisor;
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
    /// The handle of `supervisor`, whose result comes on `result`.
    pub(super) fn new(
        supervisor: Supervisor,
        result: oneshot::Receiver<Result<(), SupervisorError>>,
    ) -> Self {
        SupervisorHandle {
            supervisor,
            result: Some(result),
        }
    }

    /// The supervisor, as listed by [`supervisors`].
    ///
    /// ```
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::entry")
    ///     .spawn_thread(|_beat, _stop| Ok::<(), String>(()))
    ///     .unwrap();
    /// assert_eq!(handle.supervisor().name(), "doc::entry");
    /// ```
    ///
    /// [`supervisors`]: super::supervisors
    pub fn supervisor(&self) -> &Supervisor {
        &self.supervisor
    }

    /// The counters now.
    ///
    /// ```
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::handle_stats")
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
    /// use monitor_runtime::supervisor::{Supervisor, SupervisorError};
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
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::stop")
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
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::join_blocking")
    ///     .restart(monitor_runtime::supervisor::Restart::Transient)
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
    /// let handle = monitor_runtime::supervisor::Supervisor::builder("doc::stop_blocking")
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
