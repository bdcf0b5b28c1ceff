//! The lock-free heart of a monitor: the count of calls in flight against
//! the cap, and the stall clock.
//!
//! Kept apart, on the `crate::shim` shims only, so that `tests/loom_gate.rs`
//! model-checks exactly this code.

use crate::shim::atomic::{AtomicU64, Ordering};

/// `calls` holds, in its low 32 bits, the calls in flight, and in its high
/// 32 bits the calls completed (modulo 2^32; `wraps` counts the
/// overflows). A call that completes gives its slot back and counts itself
/// in one atomic add, so a monitored call costs two read-modify-writes in
/// all: one in, one out.
///
/// `stall` holds 0 while the monitor is not stalled; otherwise the time of
/// the first Busy rejection since the last completion (milliseconds since the
/// process clock's epoch, at least 1) shifted left by one, with the low bit
/// set once the alert for that stall has fired.
///
/// `calls` sits on a cache-line pair of its own: every call of every
/// thread writes it, and nothing a call only reads may share its line, or
/// each thread's read misses after another thread's call: neither the
/// monitor's read-only fields (its cap, its configuration) nor `stall`,
/// which every completion reads and only a stall writes. A completion on a
/// contended gate then moves one line, for its one read-modify-write.
#[repr(align(128))]
pub struct Gate {
    calls: AtomicU64,
    rare: Rare,
}

/// The words of a gate that calls read but seldom write.
#[repr(align(128))]
struct Rare {
    wraps: AtomicU64,
    stall: AtomicU64,
}

const ACTIVE: u64 = u32::MAX as u64;
const ONE_COMPLETED: u64 = 1 << 32;

/// The largest cap a gate can enforce.
#[cfg_attr(loom, allow(dead_code))]
pub const MAX_CAP: usize = u32::MAX as usize - 1;

/// A slot taken: the gate's word as the call found it.
#[derive(Clone, Copy)]
pub struct Entered(u64);

impl Entered {
    /// Whether fewer than `calls` calls had completed when this one entered
    /// (approximately, after 2^32 calls): read from the entry's own
    /// read-modify-write, not loaded again from a line other threads write.
    #[inline]
    pub fn young(self, calls: u64) -> bool {
        self.0 >> 32 < calls
    }

    /// Whether this is one of every `n` entries (a power of two) of its
    /// gate: the calls that entered before it, less those cancelled or
    /// panicked, are a multiple of `n`, read from the entry's own
    /// read-modify-write. Each gate counts its own calls, so a thread that
    /// enters several gates in turn does not favour one of them.
    #[inline]
    pub fn one_in(self, n: u32) -> bool {
        debug_assert!(n.is_power_of_two());
        // Completed (high half) plus in flight (low half), modulo `n`.
        ((self.0 >> 32).wrapping_add(self.0) as u32) & (n - 1) == 0
    }
}

impl Gate {
    /// A gate with no call in flight and no stall.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Gate {
            calls: AtomicU64::new(0),
            rare: Rare {
                wraps: AtomicU64::new(0),
                stall: AtomicU64::new(0),
            },
        }
    }

    /// A gate with no call in flight and no stall.
    #[cfg(loom)]
    pub fn new() -> Self {
        Gate {
            calls: AtomicU64::new(0),
            rare: Rare {
                wraps: AtomicU64::new(0),
                stall: AtomicU64::new(0),
            },
        }
    }

    /// Takes a slot if fewer than `cap` calls are in flight, and answers
    /// the calls completed before it ([`Entered`]). Never waits: a full gate
    /// answers `None` at once. Exact: a slot is refused only when `cap`
    /// slots are really held.
    #[inline]
    pub fn try_enter(&self, cap: usize) -> Option<Entered> {
        let mut current = self.calls.load(Ordering::Relaxed);
        loop {
            if (current & ACTIVE) as usize >= cap {
                return None;
            }
            match self.calls.compare_exchange_weak(
                current,
                current + 1,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(before) => return Some(Entered(before)),
                Err(actual) => current = actual,
            }
        }
    }

    /// Takes a slot with no cap.
    #[inline]
    pub fn enter(&self) -> Entered {
        Entered(self.calls.fetch_add(1, Ordering::Acquire))
    }

    /// Gives a slot back: the call completed (its body returned).
    #[inline]
    pub fn exit_completed(&self) {
        let before = self.calls.fetch_add(ONE_COMPLETED - 1, Ordering::Release);
        if before >> 32 == ACTIVE {
            self.rare.wraps.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Gives a slot back: the call panicked or was cancelled.
    #[inline]
    pub fn exit(&self) {
        self.calls.fetch_sub(1, Ordering::Release);
    }

    /// Calls in flight now.
    pub fn active(&self) -> usize {
        (self.calls.load(Ordering::Relaxed) & ACTIVE) as usize
    }

    /// Calls completed so far.
    pub fn completed(&self) -> u64 {
        let wraps = self.rare.wraps.load(Ordering::Relaxed);
        let calls = self.calls.load(Ordering::Relaxed);
        (wraps << 32) + (calls >> 32)
    }

    /// A call was refused as Busy at `now_ms`. Returns the stall's start when
    /// this rejection began a new stall (the caller then arms the alert).
    #[inline]
    pub fn on_busy(&self, now_ms: impl FnOnce() -> u64) -> Option<u64> {
        if self.rare.stall.load(Ordering::Relaxed) != 0 {
            return None;
        }
        let since = now_ms().max(1);
        self.rare
            .stall
            .compare_exchange(0, since << 1, Ordering::AcqRel, Ordering::Relaxed)
            .ok()
            .map(|_| since)
    }

    /// A call's body finished: the stall, if any, is over.
    #[inline]
    pub fn on_progress(&self) {
        // A swap, not a store: loom finds executions in which a plain store
        // loses against the watchdog's concurrent claim (tests/loom_gate.rs).
        if self.rare.stall.load(Ordering::Relaxed) != 0 {
            self.rare.stall.swap(0, Ordering::AcqRel);
        }
    }

    /// The alert deadline of the stall that began at `since` has passed.
    /// Returns `true` exactly once per stall, and only while that stall
    /// still lasts.
    pub fn claim_alert(&self, since: u64) -> bool {
        self.rare
            .stall
            .compare_exchange(
                since << 1,
                (since << 1) | 1,
                Ordering::AcqRel,
                Ordering::Relaxed,
            )
            .is_ok()
    }

    /// The stall that began at `since` is over without an alert: the cap
    /// was no longer full when its alert came due.
    pub fn end_stall(&self, since: u64) {
        let _ =
            self.rare
                .stall
                .compare_exchange(since << 1, 0, Ordering::AcqRel, Ordering::Relaxed);
    }

    /// The raw stall word, for model checks.
    #[cfg(loom)]
    pub fn raw_stall(&self) -> u64 {
        self.rare.stall.load(Ordering::SeqCst)
    }
}
