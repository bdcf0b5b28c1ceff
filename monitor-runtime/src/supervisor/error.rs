//! Why things end: [`Cause`], why a worker instance ended, and
//! [`SupervisorError`], why a supervisor ended without success.

use std::fmt;
use std::time::Duration;

use crate::format::human;

/// Why a worker instance ended, or was ended.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Cause {
    /// No heartbeat for this long (at least the heartbeat timeout).
    Stall {
        /// How long no beat was seen.
        silent_for: Duration,
    },
    /// The worker panicked.
    Panic {
        /// The panic's message, if it is a string.
        message: Option<String>,
    },
    /// The worker returned an error.
    Error {
        /// The error's `Display` text.
        message: String,
    },
    /// The worker returned `Ok` (restarted only when
    /// [`Restart::Permanent`]).
    ///
    /// [`Restart::Permanent`]: super::Restart::Permanent
    Exit,
    /// The worker's task was cancelled from outside the supervisor (its
    /// tokio runtime shut down).
    Cancelled,
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Stall { silent_for } => {
                write!(f, "stalled: no heartbeat for {}", human(*silent_for))
            }
            Cause::Panic {
                message: Some(message),
            } => write!(f, "panicked: {message}"),
            Cause::Panic { message: None } => f.write_str("panicked"),
            Cause::Error { message } => write!(f, "returned an error: {message}"),
            Cause::Exit => f.write_str("returned"),
            Cause::Cancelled => f.write_str("was cancelled from outside its supervisor"),
        }
    }
}

/// Why a supervisor ended without success.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::{Supervisor, SupervisorError};
///
/// let handle = Supervisor::builder("doc::flaky")
///     .max_restarts(2, Duration::from_secs(5))
///     .spawn_thread(|_beat, _stop| Err::<(), _>("no database"))
///     .unwrap();
/// match handle.join_blocking() {
///     Err(SupervisorError::GaveUp { restarts, last, .. }) => {
///         assert_eq!(restarts, 2);
///         assert_eq!(last.to_string(), "returned an error: no database");
///     }
///     other => panic!("{other:?}"),
/// }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum SupervisorError {
    /// The worker failed again after `restarts` restarts within `within`.
    GaveUp {
        /// The supervisor.
        name: String,
        /// The restarts allowed within `within`, all used.
        restarts: u32,
        /// The intensity period.
        within: Duration,
        /// Why the last instance ended.
        last: Cause,
    },
    /// A [`Restart::Transient`] or [`Restart::Temporary`] worker failed
    /// and is not restarted.
    ///
    /// [`Restart::Transient`]: super::Restart::Transient
    /// [`Restart::Temporary`]: super::Restart::Temporary
    WorkerFailed {
        /// The supervisor.
        name: String,
        /// Why the worker ended.
        cause: Cause,
    },
    /// [`SupervisorBuilder::spawn`] was called outside a tokio runtime.
    ///
    /// [`SupervisorBuilder::spawn`]: super::SupervisorBuilder::spawn
    NoRuntime {
        /// The supervisor.
        name: String,
    },
    /// A thread could not be started.
    Spawn {
        /// The supervisor.
        name: String,
        /// The operating system's error.
        error: String,
    },
    /// The supervisor's task ended without a result: its tokio runtime
    /// shut down.
    Lost {
        /// The supervisor.
        name: String,
    },
}

impl fmt::Display for SupervisorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SupervisorError::GaveUp {
                name,
                restarts,
                within,
                last,
            } => write!(
                f,
                "supervisor {name} gave up: the worker {last} after {restarts} restart{} within {}; \
                 fix the cause, or allow more with `max_restarts` or a longer `backoff`",
                if *restarts == 1 { "" } else { "s" },
                human(*within),
            ),
            SupervisorError::WorkerFailed { name, cause } => write!(
                f,
                "the worker of supervisor {name} {cause} and is not restarted \
                 (its restart type is not `Permanent`)"
            ),
            SupervisorError::NoRuntime { name } => write!(
                f,
                "supervisor {name}: an async worker needs a tokio runtime; call `spawn` from \
                 inside one, or run the worker on a thread with `spawn_thread`"
            ),
            SupervisorError::Spawn { name, error } => {
                write!(f, "supervisor {name}: cannot start a thread: {error}")
            }
            SupervisorError::Lost { name } => write!(
                f,
                "supervisor {name} ended without a result: its tokio runtime shut down"
            ),
        }
    }
}

impl std::error::Error for SupervisorError {}
