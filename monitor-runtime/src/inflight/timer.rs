//! A pending async call's timeout, kept in its record's cell
//! ([`TimerCell`]): armed by the call with a few stores, fired by the
//! watchdog (`read::fire_timeouts`), disarmed when the call ends. No entry
//! in a shared timer heap, no lock of the watchdog's.

use std::sync::atomic::Ordering;
use std::task::Waker;

use super::record::{Record, TimerCell, LOCKED};
use super::{clock, Alarm, AsyncCall};

impl AsyncCall {
    /// Arms the call's timeout: once the precise clock reaches `at_ns`
    /// (nanoseconds since the process epoch), the watchdog wakes `waker`.
    /// At most once per call; the call's end disarms it. `false` if the
    /// call is not in the table (polled while its thread is torn down).
    #[inline]
    pub(crate) fn arm_timeout(&self, at_ns: u64, waker: &Waker, alarm: Alarm) -> bool {
        match self.record {
            Some(record) => {
                arm(record, at_ns, waker, alarm);
                true
            }
            None => false,
        }
    }

    /// The task polled the call again with `waker`: the watchdog wakes it
    /// instead, if it is another. `false` once the watchdog has fired the
    /// timeout (its deadline has passed).
    #[inline]
    pub(crate) fn timeout_waker(&self, waker: &Waker) -> bool {
        match self.record {
            Some(record) => match record.timer() {
                Some(cell) => cell.set_waker(waker),
                None => true,
            },
            None => true,
        }
    }
}

/// Stores the timeout into the record's cell, and lowers the arena's hint
/// if it comes before it: a few stores, no lock of the watchdog's.
#[inline(never)]
fn arm(record: &'static Record, at_ns: u64, waker: &Waker, alarm: Alarm) {
    // Even, and never before `at_ns`: the low bit is the lock.
    let at = (at_ns.saturating_add(1) & !LOCKED).max(2);
    let cell = match record.timer() {
        Some(cell) => cell,
        None => record.timer_made(),
    };
    // SAFETY: `word` is 0 (the last call of this record disarmed it, or the
    // watchdog fired it, before the record was freed): no one else reads or
    // writes `waker` until the store below publishes it.
    unsafe { *cell.waker.get() = Some(waker.clone()) };
    cell.word.store(at, Ordering::Release);
    // Pairs with the heavy fence of `read::fire_timeouts` between resetting
    // the hint and reading the cells: either it sees this timeout, or this
    // call sees the reset hint and lowers it.
    crate::fence::light();
    let arena = record.arena();
    if at < arena.next_timeout.load(Ordering::Relaxed) {
        arena.next_timeout.fetch_min(at, Ordering::Relaxed);
    }
    let wakes_at = alarm.wakes_at.load(Ordering::Relaxed);
    if at < wakes_at || (wakes_at == 0 && !clock::is_kept()) {
        // Sooner than the watchdog looks next (a timeout shorter than its
        // tick), or it has not said when and does not tick (a call that
        // starts the ticks starts the thread, which says when it looks
        // once it runs): make sure it looks in time.
        (alarm.hurry)(at);
    }
}

impl TimerCell {
    /// Takes the lock bit of an armed timer; `None` once it is disarmed or
    /// fired. Only the watchdog's firing holds it otherwise, for a few
    /// instructions.
    #[inline]
    fn lock(&self) -> Option<u64> {
        loop {
            let word = self.word.load(Ordering::Relaxed);
            if word == 0 {
                return None;
            }
            if word & LOCKED == 0
                && self
                    .word
                    .compare_exchange_weak(
                        word,
                        word | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return Some(word);
            }
            std::hint::spin_loop();
        }
    }

    /// `false` if the timer has fired (or was never armed).
    #[inline(never)]
    fn set_waker(&self, waker: &Waker) -> bool {
        let Some(word) = self.lock() else {
            // Fired: the task is woken already.
            return false;
        };
        // SAFETY: we hold the lock bit.
        let slot = unsafe { &mut *self.waker.get() };
        let old = if slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            None
        } else {
            slot.replace(waker.clone())
        };
        self.word.store(word, Ordering::Release);
        drop(old);
        true
    }

    /// The watchdog: fires the timer if it is armed for `at` or before and
    /// free; `Err(at)` when it is not due yet (or held: look again).
    pub(crate) fn fire(&self, now_ns: u64) -> Result<Option<Waker>, u64> {
        let word = self.word.load(Ordering::Relaxed);
        if word == 0 {
            return Ok(None);
        }
        let at = word & !LOCKED;
        if at > now_ns
            || word & LOCKED != 0
            || self
                .word
                .compare_exchange(word, word | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return Err(at);
        }
        // SAFETY: we hold the lock bit.
        let waker = unsafe { (*self.waker.get()).take() };
        self.word.store(0, Ordering::Release);
        Ok(waker)
    }
}

/// The call ends: its timeout, if armed, is disarmed before the record is
/// freed, and its waker dropped.
#[inline]
pub(super) fn disarm(record: &Record) {
    if let Some(cell) = record.timer()
        && cell.word.load(Ordering::Acquire) != 0
    {
        disarm_cell(cell);
    }
}

#[inline(never)]
fn disarm_cell(cell: &TimerCell) {
    if cell.lock().is_some() {
        // SAFETY: we hold the lock bit; once `word` is 0 the waker is ours.
        let waker = unsafe { (*cell.waker.get()).take() };
        cell.word.store(0, Ordering::Release);
        drop(waker);
    }
}
