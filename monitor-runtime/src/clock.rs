//! The process clock: one epoch, read in milliseconds for stall clocks.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

static EPOCH: OnceLock<Instant> = OnceLock::new();

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
