//! Loading what native capture needs (the debug info: about a second for
//! a large binary) ahead of the first dump that captures, on a short-lived
//! thread (`monitor-prepare`), so that dump is not late by the loading.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;

use crate::inflight;
use crate::native;

/// Whether symbol loading was started (by [`prepare_once`] or on a
/// `monitor-prepare` thread).
static PREPARING: AtomicBool = AtomicBool::new(false);

/// Loads what native capture needs, once, on this thread.
pub(super) fn prepare_once() {
    static PREPARED: Once = Once::new();
    PREPARING.store(true, Ordering::Relaxed);
    PREPARED.call_once(|| {
        // Errors (unsupported platform, no free signal) show in the
        // capture's results.
        let _ = native::prepare();
    });
}

/// Loads what native capture needs on a short-lived thread
/// (`monitor-prepare`), unless that was done or started already: for a
/// supervisor of a thread worker, whose first stall dump would otherwise
/// be late by the loading (about a second for a large binary).
pub(crate) fn prepare_soon() {
    if PREPARING.swap(true, Ordering::Relaxed) {
        return;
    }
    spawn_prepare();
}

/// Starts a `monitor-prepare` thread that runs [`prepare_once`]; the caller
/// has set [`PREPARING`]. Whether the thread started: if not, `PREPARING`
/// is cleared, and the first capture will load the debug info itself.
fn spawn_prepare() -> bool {
    let spawned = std::thread::Builder::new()
        .name("monitor-prepare".into())
        .spawn(prepare_once);
    if spawned.is_err() {
        PREPARING.store(false, Ordering::Relaxed);
    }
    spawned.is_ok()
}

/// Coarse nanoseconds of the watchdog's last look for calls that may go
/// overdue.
static LAST_LOOK_NS: AtomicU64 = AtomicU64::new(0);

/// Once a `#[stack_on_timeout]` call is in flight, loads the debug info on
/// a short-lived thread (`monitor-prepare`), so that the first overdue
/// report is not late by the loading (about a second for a large binary).
/// Looks every 100 ms, and never again once started.
pub(super) fn prepare_ahead(now_ns: u64) {
    const EVERY: u64 = 100_000_000;
    if PREPARING.load(Ordering::Relaxed)
        || now_ns.saturating_sub(LAST_LOOK_NS.load(Ordering::Relaxed)) < EVERY
    {
        return;
    }
    LAST_LOOK_NS.store(now_ns, Ordering::Relaxed);
    if !inflight::any_reportable() {
        return;
    }
    PREPARING.store(true, Ordering::Relaxed);
    if !spawn_prepare() {
        // Never look again: the first capture will load the debug info.
        LAST_LOOK_NS.store(u64::MAX, Ordering::Relaxed);
    }
}
