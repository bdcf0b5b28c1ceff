//! Admission while draining ([`drain`](crate::drain())): the one word that
//! every admitted call loads once, and the cold path that refuses a call
//! with [`Error::ShuttingDown`].
//!
//! `CLOSING` is 0 while nothing drains, which is all a call pays: one
//! relaxed load of a process-wide word that is only ever written by a
//! drain, so it stays in every core's cache. Bit 0 says that the process
//! drains; the bits above count the monitors that drain alone
//! ([`Monitor::drain`](crate::Monitor::drain)), whose own flag the cold
//! path reads.
//!
//! A call loads the word after it took its slot in the gate (an acquire
//! read-modify-write); a drain stores it, then runs the heavy side of the
//! asymmetric fence (`fence.rs`), then reads the gates. So either the call
//! sees the drain and gives its slot back, or the drain sees the call in
//! flight and waits for it: no call slips in unseen after a drain began.

use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Monitor, MonitorState};
use crate::error::Error;

static CLOSING: AtomicUsize = AtomicUsize::new(0);

const PROCESS: usize = 1;
const ONE_MONITOR: usize = 2;

/// Whether some drain is under way: the only check on the hot path.
#[inline]
pub(crate) fn closing() -> bool {
    CLOSING.load(Ordering::Relaxed) != 0
}

/// Refuses every new call of every monitor from now on.
pub(crate) fn close_process() {
    CLOSING.fetch_or(PROCESS, Ordering::SeqCst);
    crate::fence::heavy();
}

/// Admits calls again (after [`close_process`]); monitors that drain
/// alone stay closed.
pub(crate) fn reopen_process() {
    CLOSING.fetch_and(!PROCESS, Ordering::SeqCst);
}

/// Whether the process drains.
pub(crate) fn process_closed() -> bool {
    CLOSING.load(Ordering::Acquire) & PROCESS != 0
}

/// Refuses every new call of this monitor from now on.
pub(crate) fn close_monitor(state: &MonitorState) {
    if !state.draining.swap(true, Ordering::SeqCst) {
        CLOSING.fetch_add(ONE_MONITOR, Ordering::SeqCst);
    }
    crate::fence::heavy();
}

/// Admits calls of this monitor again (after [`close_monitor`]).
pub(crate) fn reopen_monitor(state: &MonitorState) {
    if state.draining.swap(false, Ordering::SeqCst) {
        CLOSING.fetch_sub(ONE_MONITOR, Ordering::SeqCst);
    }
}

impl Monitor {
    /// The error for a call refused because its monitor drains, counted.
    #[cold]
    pub(super) fn shutting_down(&self) -> Error {
        let s = self.state();
        s.shutting_down.fetch_add(1, Ordering::Relaxed);
        tracing::debug!(
            target: "monitor_runtime",
            monitor = %s.config.name,
            "call refused: shutting down"
        );
        Error::ShuttingDown {
            monitor: s.config.name.clone(),
        }
    }

    /// Whether this monitor refuses new calls because it, or the process,
    /// drains.
    ///
    /// ```
    /// let monitor = monitor_runtime::Monitor::builder("doc::is_draining").build();
    /// assert!(!monitor.is_draining());
    /// ```
    #[inline]
    pub fn is_draining(&self) -> bool {
        process_closed() || self.state().draining.load(Ordering::Acquire)
    }
}
