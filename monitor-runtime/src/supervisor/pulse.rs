//! The heartbeat's state machine: what a beat leaves behind, and how the
//! supervisor reads it and decides that a worker stalled.
//!
//! Kept apart, on the `crate::shim` shims only, so that
//! `tests/loom_supervisor.rs` model-checks exactly this code: a late beat
//! racing the supervisor's decision never yields two restarts, and a worker
//! that stopped beating is always found.

use crate::shim::atomic::{AtomicU8, Ordering};

/// No beat since the supervisor's last look.
const QUIET: u8 = 0;
/// At least one beat since the supervisor's last look.
const BEAT: u8 = 1;
/// The supervisor declared a stall; final: later beats change nothing.
const STALLED: u8 = 2;

/// One worker instance's heartbeat cell.
///
/// A beat costs one relaxed load while the cell already shows a beat, and
/// one compare-and-swap per look of the supervisor (every quarter of the
/// heartbeat timeout) otherwise: beats from many threads share the cache
/// line read-only between looks.
pub struct Pulse {
    state: AtomicU8,
}

/// What the supervisor saw at a look.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Look {
    /// A beat since the last look (the cell is quiet again).
    Beat,
    /// No beat since the last look.
    Quiet,
    /// A stall was already claimed.
    Stalled,
}

impl Default for Pulse {
    fn default() -> Self {
        Self::new()
    }
}

impl Pulse {
    /// A quiet cell.
    pub fn new() -> Self {
        Pulse {
            state: AtomicU8::new(QUIET),
        }
    }

    /// The worker is alive.
    #[inline]
    pub fn beat(&self) {
        // Only the first beat after a look writes: the cache line stays
        // shared between the beating threads.
        if self.state.load(Ordering::Relaxed) == QUIET {
            let _ = self
                .state
                .compare_exchange(QUIET, BEAT, Ordering::Relaxed, Ordering::Relaxed);
        }
    }

    /// The supervisor looks: was there a beat since the last look?
    pub fn look(&self) -> Look {
        match self
            .state
            .compare_exchange(BEAT, QUIET, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => Look::Beat,
            Err(QUIET) => Look::Quiet,
            Err(_) => Look::Stalled,
        }
    }

    /// The supervisor decides the worker stalled. `true` exactly once, and
    /// only if no beat came since the last look; `false` means a late beat
    /// won the race (the next [`look`](Self::look) sees it) or the stall
    /// was already claimed.
    pub fn claim_stall(&self) -> bool {
        self.state
            .compare_exchange(QUIET, STALLED, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }
}
