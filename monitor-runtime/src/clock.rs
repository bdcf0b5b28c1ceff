//! The process clock: one epoch, a precise reading for deadlines, and a
//! coarse reading that costs one relaxed load, kept current by the watchdog
//! every [`TICK`] while calls begin or are polled, and 0 while it is not
//! kept: a reader never takes a stale reading for a current one. A
//! reading may be behind by more than a tick when the watchdog is
//! scheduled late (a loaded machine): its [`History`] says until when each
//! recent reading was current, so that a time counted from one is never
//! overstated.

use std::collections::VecDeque;
use std::ops::Range;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::{Duration, Instant};

/// How often the watchdog refreshes the coarse clock and looks for overdue
/// calls and blocking polls while it keeps the coarse clock.
pub(crate) const TICK: Duration = Duration::from_millis(4);

/// The epoch as an `Instant`, and as a reading of the monotonic clock in
/// nanoseconds (read first, so that [`now_ns`] is never behind the
/// `Instant`s converted by [`ns_of_instant`]; it may be ahead by the few
/// nanoseconds between the two reads: a deadline counted on it is never
/// early, and the watchdog woken at `instant_of_ns` of it finds it due).
static EPOCH: OnceLock<(Instant, u64)> = OnceLock::new();
static COARSE_NS: AtomicU64 = AtomicU64::new(0);

fn epoch_and_raw() -> (Instant, u64) {
    *EPOCH.get_or_init(|| {
        let raw = raw_ns();
        (Instant::now(), raw)
    })
}

fn epoch() -> Instant {
    epoch_and_raw().0
}

/// The monotonic clock that `Instant` reads (Linux: `CLOCK_MONOTONIC`), in
/// nanoseconds, read directly: a `clock_gettime` and a multiply, without
/// `Instant`'s checked arithmetic.
#[cfg(target_os = "linux")]
#[inline]
fn raw_ns() -> u64 {
    let mut now = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `clock_gettime` writes the `timespec` we pass, on our stack.
    unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut now) };
    (now.tv_sec as u64)
        .wrapping_mul(1_000_000_000)
        .wrapping_add(now.tv_nsec as u64)
}

#[cfg(not(target_os = "linux"))]
fn raw_ns() -> u64 {
    0
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
#[cfg(target_os = "linux")]
#[inline]
pub(crate) fn now_ns() -> u64 {
    let (_, raw) = epoch_and_raw();
    raw_ns().saturating_sub(raw)
}

/// Nanoseconds since the epoch, precisely.
#[cfg(not(target_os = "linux"))]
pub(crate) fn now_ns() -> u64 {
    epoch().elapsed().as_nanos() as u64
}

/// Nanoseconds since the epoch as of the watchdog's last tick, at most one
/// [`TICK`] behind; 0 while the watchdog does not keep it (see
/// [`stop`]): then the reader starts the ticks, or reads [`now_ns`].
#[inline]
pub(crate) fn coarse_ns() -> u64 {
    COARSE_NS.load(Ordering::Relaxed)
}

/// Sets the coarse clock (the watchdog, each tick; whoever starts the
/// ticks). Never 0.
pub(crate) fn tick() -> u64 {
    let mut history = history();
    let now = now_ns().max(1);
    COARSE_NS.store(now, Ordering::SeqCst);
    history.replaced_by(now, now_ns());
    now
}

/// The watchdog no longer keeps the coarse clock: it reads 0 until the
/// next [`tick`].
pub(crate) fn stop() {
    let mut history = history();
    COARSE_NS.store(0, Ordering::SeqCst);
    history.replaced_by(0, now_ns());
}

/// How many replaced readings [`History`] keeps: a second of ticks.
const KEPT: usize = 256;

/// How long a reading stays current when the watchdog is on time: a tick,
/// and a millisecond for its wake-up.
const ON_TIME_NS: u64 = TICK.as_nanos() as u64 + 1_000_000;

/// The coarse clock's recent readings, and until when each was current:
/// what a time counted from a reading is counted from at the latest
/// ([`History::read_by`]).
pub(crate) struct History {
    /// The reading the clock holds (0: stopped).
    current: u64,
    /// Readings no longer current, oldest first, with the precise time
    /// just after the store that replaced each (so none was read later).
    replaced: VecDeque<(u64, u64)>,
    /// When the newest reading no longer kept was replaced (0: none).
    forgotten_until: u64,
}

static HISTORY: Mutex<History> = Mutex::new(History::new());

/// The coarse clock's history, locked: the clock does not change while it
/// is held.
pub(crate) fn history() -> MutexGuard<'static, History> {
    HISTORY.lock().unwrap_or_else(|e| e.into_inner())
}

impl History {
    const fn new() -> Self {
        History {
            current: 0,
            replaced: VecDeque::new(),
            forgotten_until: 0,
        }
    }

    /// The clock now reads `next` (0: stopped); `current`, if any, was
    /// current until `at`, just after the store of `next`.
    fn replaced_by(&mut self, next: u64, at: u64) {
        let was = std::mem::replace(&mut self.current, next);
        if was == 0 {
            return;
        }
        if self.replaced.len() == KEPT
            && let Some((_, replaced)) = self.replaced.pop_front()
        {
            self.forgotten_until = replaced;
        }
        self.replaced.push_back((was, at));
    }

    /// The latest precise time at which a reading in `readings` can have
    /// been taken: for a coarse reading, when it was replaced (`u64::MAX`
    /// if it is current); for a precise one (taken when the clock was
    /// started; no coarse reading was in `readings`), its own time. A
    /// reading older than those kept is taken to have been current for
    /// [`ON_TIME_NS`] at most, and never after the newest forgotten one
    /// was replaced.
    pub(crate) fn read_by(&self, readings: Range<u64>) -> u64 {
        if self.current != 0 && readings.contains(&self.current) {
            return u64::MAX;
        }
        let precise = readings.end.saturating_sub(1);
        // Newest first: the readings only grow, so the first found was
        // replaced last.
        for &(reading, replaced) in self.replaced.iter().rev() {
            if reading < readings.start {
                // Every coarse reading since is kept: none was in range.
                return precise;
            }
            if reading < readings.end {
                return replaced;
            }
        }
        match self.forgotten_until {
            0 => precise,
            until => precise.saturating_add(ON_TIME_NS).min(until),
        }
    }
}

/// Whether the coarse clock is kept current (not [`stop`]ped).
#[inline]
pub(crate) fn is_kept() -> bool {
    coarse_ns() != 0
}

/// Nanoseconds from the epoch to `instant` (0 if before it).
pub(crate) fn ns_of_instant(instant: Instant) -> u64 {
    instant.saturating_duration_since(epoch()).as_nanos() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_direct_reading_agrees_with_instant() {
        let before = ns_of_instant(Instant::now());
        let now = now_ns();
        let after = ns_of_instant(Instant::now());
        // The raw epoch is read before the `Instant` one: a direct reading
        // is never behind `Instant`'s, and ahead of it by that gap only.
        assert!(now >= before, "{now} < {before}");
        assert!(now <= after + 1_000_000, "{now} far ahead of {after}");
    }

    #[test]
    fn a_reading_is_current_until_it_is_replaced_however_late() {
        let mut history = History::new();
        // Before any reading was replaced: a precise reading.
        assert_eq!(history.read_by(500..1_500), 1_499);
        history.replaced_by(1_000, 1_100);
        assert_eq!(history.read_by(500..1_500), u64::MAX, "still current");
        // Replaced a second late.
        history.replaced_by(0, 1_000_001_000);
        assert_eq!(history.read_by(500..1_500), 1_000_001_000);
        assert_eq!(history.read_by(1_000..1_001), 1_000_001_000);
        // No coarse reading in the range, a later one kept: precise.
        history.replaced_by(5_000_000_000, 5_000_000_100);
        assert_eq!(history.read_by(2_000..3_000), 2_999);
        assert_eq!(history.read_by(999..1_000), 999);
        for reading in 1..=KEPT as u64 {
            let at = 5_000_000_000 + reading * 4_000_000;
            history.replaced_by(at, at + 100);
        }
        assert_eq!(history.replaced.len(), KEPT);
        assert_eq!(history.forgotten_until, 1_000_001_000);
        // Forgotten: on time, but never past when the last forgotten one
        // was replaced.
        assert_eq!(history.read_by(500..1_500), 1_499 + ON_TIME_NS);
        assert_eq!(history.read_by(999_999_000..1_000_000_000), 1_000_001_000);
    }
}
