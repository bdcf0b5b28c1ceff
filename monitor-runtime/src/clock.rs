//! The process clock: one epoch, a precise reading for deadlines, and a
//! coarse reading that costs one relaxed load, kept current by the watchdog
//! every [`TICK`] while calls are in flight.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How often the watchdog refreshes the coarse clock and looks for overdue
/// calls while any call is in flight.
pub(crate) const TICK: Duration = Duration::from_millis(4);

static EPOCH: OnceLock<Instant> = OnceLock::new();
static COARSE_NS: AtomicU64 = AtomicU64::new(0);

fn epoch() -> Instant {
    *EPOCH.get_or_init(Instant::now)
}

/// Milliseconds since the process clock's epoch, rounded up, so that a
/// deadline counted from it never comes early.
pub(crate) fn now_ms() -> u64 {
    epoch().elapsed().as_nanos().div_ceil(1_000_000) as u64
}

/// The instant `ms` milliseconds after the epoch.
pub(crate) fn instant_of_ms(ms: u64) -> Instant {
    epoch() + Duration::from_millis(ms)
}

/// The instant `ns` nanoseconds after the epoch.
pub(crate) fn instant_of_ns(ns: u64) -> Instant {
    epoch() + Duration::from_nanos(ns)
}

/// Nanoseconds since the epoch, precisely.
pub(crate) fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Nanoseconds since the epoch as of the watchdog's last tick: at most one
/// [`TICK`] behind while calls are in flight.
#[inline]
pub(crate) fn coarse_ns() -> u64 {
    COARSE_NS.load(Ordering::Relaxed)
}

/// Sets the coarse clock (the watchdog, each tick).
pub(crate) fn tick() -> u64 {
    let now = now_ns();
    COARSE_NS.store(now, Ordering::Relaxed);
    now
}

/// Nanoseconds from the epoch to `instant` (0 if before it).
pub(crate) fn ns_of_instant(instant: Instant) -> u64 {
    instant.saturating_duration_since(epoch()).as_nanos() as u64
}
