//! A holder's record of the tokio locks it holds, behind a spin lock that
//! is also its sequence count and its liveness.

use super::*;

/// `std::cell::UnsafeCell` with loom's interface, so that the record
/// builds on either.
#[cfg(not(loom))]
pub(super) struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    pub(super) fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    pub(super) fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// How many lock numbers a record keeps where the check reads them
/// without its spin lock; a holder of more takes the spin lock to check.
pub(super) const SEEN: usize = 4;

/// What one holder (a task, or a thread outside a task) holds of the
/// tokio locks: its entries, behind a spin lock that is also its
/// liveness (see the module's comment).
pub struct Record {
    /// The spin lock and sequence count: even when free, odd while
    /// locked (each write to the record counts two), [`RETIRED`] once
    /// retired.
    pub(super) state: AtomicU64,
    /// `entries.len()`, read without the lock (`RETIRED_LEN` once
    /// retired: never read as empty).
    pub(super) len: AtomicUsize,
    /// The first [`SEEN`] entries' lock numbers, for the check's reads
    /// without the lock (written under it).
    pub(super) ids: [AtomicU64; SEEN],
    pub(super) entries: UnsafeCell<Vec<Entry>>,
}

/// `Record::state` of a retired record: odd, so never taken as free.
pub(super) const RETIRED: u64 = u64::MAX;

/// `Record::len` of a retired record.
pub(super) const RETIRED_LEN: usize = usize::MAX;

// SAFETY: `entries` is touched only through a `Locked`, which exists only
// while `state` is odd by it (taken with `Acquire`, let go with
// `Release`), or by `retire_if_empty` under the same protocol.
unsafe impl Sync for Record {}
// SAFETY: as above; `Entry` is `Send`.
unsafe impl Send for Record {}

/// A locked, live record: the state it was taken at.
pub(super) struct Locked<'a>(&'a Record, u64);

impl Record {
    pub(super) fn new() -> Record {
        Record {
            state: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            ids: std::array::from_fn(|_| AtomicU64::new(0)),
            entries: UnsafeCell::new(Vec::new()),
        }
    }

    /// Locks the record, spinning while another thread has it (a guard
    /// dropped in another task than its holder's, or a check adding an
    /// edge); `None` if it is retired.
    #[inline]
    pub(super) fn lock(&self) -> Option<Locked<'_>> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & 1 == 0 {
                match self.state.compare_exchange_weak(
                    state,
                    state + 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // The odd count before the writes: a reader that
                        // sees one of them sees the count moved (its
                        // acquire fence pairs with this one).
                        fence(Ordering::Release);
                        return Some(Locked(self, state + 1));
                    }
                    Err(now) => state = now,
                }
            } else if state == RETIRED {
                return None;
            } else {
                wait_a_little();
                state = self.state.load(Ordering::Relaxed);
            }
        }
    }

    /// Locks the record if no one has it locked (one attempt, for the
    /// fast paths; the slow ones spin).
    #[inline]
    pub(super) fn try_lock(&self) -> Option<Locked<'_>> {
        let state = self.state.load(Ordering::Relaxed);
        if state & 1 != 0
            || self
                .state
                .compare_exchange(state, state + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        // As in `lock`.
        fence(Ordering::Release);
        Some(Locked(self, state + 1))
    }

    /// Whether `f` is true for each lock number of the record, read
    /// without its lock; `None` if the read raced a write, or the record
    /// has more than [`SEEN`] entries, or is retired (then the caller
    /// takes the lock, or looks the holder up again).
    #[inline]
    pub(super) fn all_ids(&self, mut f: impl FnMut(u64) -> bool) -> Option<bool> {
        let before = self.state.load(Ordering::Acquire);
        let len = self.len.load(Ordering::Relaxed);
        if before & 1 != 0 || len > SEEN {
            return None;
        }
        let all = self.ids[..len]
            .iter()
            .all(|id| f(id.load(Ordering::Relaxed)));
        // The loads above before the second read of the count.
        fence(Ordering::Acquire);
        (self.state.load(Ordering::Relaxed) == before).then_some(all)
    }

    /// Retires the record if it is empty and no one has it locked:
    /// whether it did.
    pub(super) fn retire_if_empty(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if state & 1 != 0
            || self
                .state
                .compare_exchange(state, state + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let locked = Locked(self, state + 1);
        if !locked.is_empty() {
            return false;
        }
        std::mem::forget(locked);
        self.len.store(RETIRED_LEN, Ordering::Relaxed);
        self.state.store(RETIRED, Ordering::Release);
        true
    }
}

#[cold]
pub(super) fn wait_a_little() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

impl Locked<'_> {
    /// `f` on the entries, as they are (the caller keeps `len` and `ids`
    /// up to date).
    #[inline]
    pub(super) fn with<R>(&self, f: impl FnOnce(&mut Vec<Entry>) -> R) -> R {
        // SAFETY: `self` has the record locked.
        self.0
            .entries
            .with_mut(|entries| f(unsafe { &mut *entries }))
    }

    pub(super) fn is_empty(&self) -> bool {
        self.with(|entries| entries.is_empty())
    }

    /// A new entry, on top.
    #[inline]
    pub(super) fn push(&self, entry: Entry) {
        let len = self.with(|entries| {
            entries.push(entry);
            entries.len()
        });
        if let Some(slot) = self.0.ids.get(len - 1) {
            slot.store(entry.id, Ordering::Relaxed);
        }
        self.0.len.store(len, Ordering::Relaxed);
    }

    /// [`Locked::push`] if the entries have room: whether they had.
    #[inline]
    pub(super) fn push_within(&self, entry: Entry) -> bool {
        let len = self.with(|entries| {
            let len = entries.len();
            (len < entries.capacity()).then(|| {
                entries.push(entry);
                len + 1
            })
        });
        let Some(len) = len else {
            return false;
        };
        if let Some(slot) = self.0.ids.get(len - 1) {
            slot.store(entry.id, Ordering::Relaxed);
        }
        self.0.len.store(len, Ordering::Relaxed);
        true
    }

    /// Takes out the newest entry of lock number `id`: whether it was a
    /// source; `None` if there is none. The top of the stack first.
    #[inline]
    pub(super) fn pop(&self, id: u64) -> Option<bool> {
        self.pop_top(id).or_else(|| self.remove(id))
    }

    /// [`Locked::pop`] if the newest entry is of lock number `id`.
    #[inline]
    pub(super) fn pop_top(&self, id: u64) -> Option<bool> {
        let top = self.with(|entries| {
            let last = entries.last_mut()?;
            if last.id != id {
                return None;
            }
            let source = last.source;
            entries.pop();
            Some((source, entries.len()))
        });
        let (source, len) = top?;
        self.0.len.store(len, Ordering::Relaxed);
        Some(source)
    }

    /// [`Locked::pop`] of an entry under the top.
    #[cold]
    #[inline(never)]
    pub(super) fn remove(&self, id: u64) -> Option<bool> {
        let (source, len) = self.with(|entries| {
            let found = entries.iter().rposition(|e| e.id == id)?;
            let source = entries.remove(found).source;
            for (slot, entry) in self.0.ids.iter().zip(entries.iter()).skip(found) {
                slot.store(entry.id, Ordering::Relaxed);
            }
            Some((source, entries.len()))
        })?;
        self.0.len.store(len, Ordering::Relaxed);
        Some(source)
    }

    /// `f` on each entry, oldest first; `f` may change an entry's
    /// `source`, not its lock number.
    pub(super) fn each(&self, mut f: impl FnMut(&mut Entry)) {
        self.with(|entries| entries.iter_mut().for_each(&mut f));
    }
}

impl Drop for Locked<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.state.store(self.1 + 1, Ordering::Release);
    }
}
