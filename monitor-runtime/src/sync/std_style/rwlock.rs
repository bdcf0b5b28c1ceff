//! [`RwLock`]: `std::sync::RwLock` that knows who holds it.

use std::fmt;
use std::panic::Location;
use std::sync::{LockResult, TryLockResult};

use crate::sync::acquire::{held_std, let_go_std, map_poison, map_try, take_std, took_std, TRACK};
use crate::sync::graph::{LockState, Want};
use crate::sync::holder::{task_holder, thread_holder};
use crate::sync::lock_order_checking;
use crate::sync::readers::{self, ALIGNED};
use crate::sync::report::Deadlock;

/// A reader-writer lock with the API of [`std::sync::RwLock`] that reports
/// a deadlock the moment it forms (see [the module](crate::sync)), including a
/// thread that reads it again while a writer waits for it: the writer
/// waits for the first read, the second read waits behind the writer (as
/// std's lock does on Linux): one report names both. Every reader is
/// known, however many hold the lock at once (four in the lock itself,
/// more in chunks allocated on the side the first time they are needed).
///
/// ```
/// use monitor_runtime::sync::RwLock;
///
/// let config = RwLock::with_name(String::from("a"), "config");
/// {
///     let r1 = config.read().unwrap();
///     let r2 = config.read().unwrap();
///     assert_eq!(*r1, *r2);
/// }
/// config.write().unwrap().push('b');
/// assert_eq!(*config.read().unwrap(), "ab");
/// ```
pub struct RwLock<T: ?Sized> {
    state: LockState,
    inner: std::sync::RwLock<T>,
}

/// Shared access to an [`RwLock`]'s value until it drops.
///
/// ```
/// let lock = monitor_runtime::sync::RwLock::new(1);
/// assert_eq!(*lock.read().unwrap(), 1);
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockReadGuard<'a, T: ?Sized + 'a> {
    state: &'a LockState,
    /// Where the read is on record, one word (see [`IN_LOCK`]); 0 without
    /// bookkeeping.
    slot: usize,
    inner: std::sync::RwLockReadGuard<'a, T>,
}

/// A read guard's record is, in the common case, the address of its slot
/// in the thread's table of reads, untagged: letting go is one store.
/// Else it is tagged (the address's low bits are clear): `IN_LOCK`, the
/// index of a slot in the lock (shifted past the tags), for a read beyond
/// the table; and [`ORDERED`].
const IN_LOCK: usize = 1;

/// The read may be on the thread's held set of the lock-order check: let
/// go there too.
const ORDERED: usize = 2;

/// The tags' bits, clear in a slot's address.
const TAGS: usize = IN_LOCK | ORDERED;
const _: () = assert!(TAGS & ALIGNED == TAGS);

/// Exclusive access to an [`RwLock`]'s value until it drops.
///
/// ```
/// let lock = monitor_runtime::sync::RwLock::new(1);
/// *lock.write().unwrap() = 2;
/// assert_eq!(*lock.read().unwrap(), 2);
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct RwLockWriteGuard<'a, T: ?Sized + 'a> {
    state: &'a LockState,
    inner: std::sync::RwLockWriteGuard<'a, T>,
}

impl<T> RwLock<T> {
    /// A new, unlocked lock, unnamed in reports.
    ///
    /// ```
    /// static LOCK: monitor_runtime::sync::RwLock<u8> = monitor_runtime::sync::RwLock::new(0);
    /// assert_eq!(*LOCK.read().unwrap(), 0);
    /// ```
    pub const fn new(value: T) -> Self {
        Self::with_name(value, "")
    }

    /// A new, unlocked lock called `name` in reports.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::RwLock::with_name(0, "table");
    /// assert_eq!(lock.name(), "table");
    /// ```
    pub const fn with_name(value: T, name: &'static str) -> Self {
        RwLock {
            state: LockState::new(name),
            inner: std::sync::RwLock::new(value),
        }
    }

    /// The value, consuming the lock.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::RwLock::new(3).into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> RwLock<T> {
    /// The name given with [`RwLock::with_name`] ("" if none).
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::RwLock::new(()).name(), "");
    /// ```
    pub fn name(&self) -> &'static str {
        self.state.name
    }

    /// Shared access, blocking while a writer holds the lock, as
    /// [`std::sync::RwLock::read`]; a deadlock is reported as for
    /// [`Mutex::lock`](crate::sync::Mutex::lock).
    ///
    /// ```
    /// let lock = monitor_runtime::sync::RwLock::new(5);
    /// assert_eq!(*lock.read().unwrap(), 5);
    /// ```
    #[track_caller]
    #[inline(always)]
    pub fn read(&self) -> LockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        // The uncontended path with the order check off, as `Mutex::lock`.
        if TRACK
            && !lock_order_checking()
            && let Ok(inner) = self.inner.try_read()
        {
            return Ok(RwLockReadGuard {
                state: &self.state,
                slot: record_read(&self.state, task_holder(), at),
                inner,
            });
        }
        match self.acquire_read(at, false) {
            Ok(result) => result,
            Err(_) => unreachable!("unchecked acquisitions report and wait"),
        }
    }

    /// [`RwLock::read`] that returns the [`Deadlock`] instead of waiting
    /// forever.
    ///
    /// ```
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::RwLock::new(0);
    /// let writing = lock.write().unwrap();
    /// assert!(lock.read_checked().unwrap_err().is_self_deadlock());
    /// drop(writing);
    /// # }
    /// ```
    #[track_caller]
    pub fn read_checked(&self) -> Result<LockResult<RwLockReadGuard<'_, T>>, Deadlock> {
        self.acquire_read(Location::caller(), true)
    }

    /// Exclusive access, blocking while anyone holds the lock, as
    /// [`std::sync::RwLock::write`]; a deadlock is reported as for
    /// [`Mutex::lock`](crate::sync::Mutex::lock).
    ///
    /// ```
    /// let lock = monitor_runtime::sync::RwLock::new(5);
    /// *lock.write().unwrap() += 1;
    /// assert_eq!(*lock.read().unwrap(), 6);
    /// ```
    #[track_caller]
    #[inline(always)]
    pub fn write(&self) -> LockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        if TRACK
            && !lock_order_checking()
            && let Ok(inner) = self.inner.try_write()
        {
            held_std(&self.state, task_holder(), at);
            return Ok(RwLockWriteGuard {
                state: &self.state,
                inner,
            });
        }
        match self.acquire_write(at, false) {
            Ok(result) => result,
            Err(_) => unreachable!("unchecked acquisitions report and wait"),
        }
    }

    /// [`RwLock::write`] that returns the [`Deadlock`] instead of waiting
    /// forever.
    ///
    /// ```
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::RwLock::new(0);
    /// let reading = lock.read().unwrap();
    /// assert!(lock.write_checked().unwrap_err().is_self_deadlock());
    /// drop(reading);
    /// # }
    /// ```
    #[track_caller]
    pub fn write_checked(&self) -> Result<LockResult<RwLockWriteGuard<'_, T>>, Deadlock> {
        self.acquire_write(Location::caller(), true)
    }

    /// Shared access if no writer holds the lock, as
    /// [`std::sync::RwLock::try_read`].
    ///
    /// ```
    /// let lock = monitor_runtime::sync::RwLock::new(0);
    /// let w = lock.write().unwrap();
    /// assert!(lock.try_read().is_err());
    /// drop(w);
    /// assert!(lock.try_read().is_ok());
    /// ```
    #[track_caller]
    pub fn try_read(&self) -> TryLockResult<RwLockReadGuard<'_, T>> {
        let at = Location::caller();
        let me = if TRACK { task_holder() } else { 0 };
        map_try(self.inner.try_read(), |inner| {
            self.read_guard(inner, me, at)
        })
    }

    /// Exclusive access if nobody holds the lock, as
    /// [`std::sync::RwLock::try_write`].
    ///
    /// ```
    /// let lock = monitor_runtime::sync::RwLock::new(0);
    /// let r = lock.read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    #[track_caller]
    pub fn try_write(&self) -> TryLockResult<RwLockWriteGuard<'_, T>> {
        let at = Location::caller();
        let me = if TRACK { task_holder() } else { 0 };
        map_try(self.inner.try_write(), |inner| {
            self.write_guard(inner, me, at)
        })
    }

    /// Whether a writer panicked, as [`std::sync::RwLock::is_poisoned`].
    ///
    /// ```
    /// assert!(!monitor_runtime::sync::RwLock::new(0).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poison, as [`std::sync::RwLock::clear_poison`].
    ///
    /// ```
    /// monitor_runtime::sync::RwLock::new(0).clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// The value, through `&mut`: no locking needed.
    ///
    /// ```
    /// let mut lock = monitor_runtime::sync::RwLock::new(1);
    /// *lock.get_mut().unwrap() = 2;
    /// assert_eq!(lock.into_inner().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }

    #[track_caller]
    #[inline(never)]
    fn acquire_read(
        &self,
        at: &'static Location<'static>,
        checked: bool,
    ) -> Result<LockResult<RwLockReadGuard<'_, T>>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let result = take_std(
            &self.state,
            me,
            at,
            Want::Shared,
            checked,
            || self.inner.try_read(),
            || self.inner.read(),
        )?;
        Ok(map_poison(result, |inner| self.read_guard(inner, me, at)))
    }

    #[track_caller]
    #[inline(never)]
    fn acquire_write(
        &self,
        at: &'static Location<'static>,
        checked: bool,
    ) -> Result<LockResult<RwLockWriteGuard<'_, T>>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let result = take_std(
            &self.state,
            me,
            at,
            Want::Exclusive,
            checked,
            || self.inner.try_write(),
            || self.inner.write(),
        )?;
        Ok(map_poison(result, |inner| self.write_guard(inner, me, at)))
    }

    #[inline]
    fn read_guard<'a>(
        &'a self,
        inner: std::sync::RwLockReadGuard<'a, T>,
        me: u64,
        at: &'static Location<'static>,
    ) -> RwLockReadGuard<'a, T> {
        let slot = if TRACK {
            took_std(&self.state, at);
            record_read_ordered(&self.state, me, at)
        } else {
            0
        };
        RwLockReadGuard {
            state: &self.state,
            slot,
            inner,
        }
    }

    #[inline]
    fn write_guard<'a>(
        &'a self,
        inner: std::sync::RwLockWriteGuard<'a, T>,
        me: u64,
        at: &'static Location<'static>,
    ) -> RwLockWriteGuard<'a, T> {
        if TRACK {
            held_std(&self.state, me, at);
            took_std(&self.state, at);
        }
        RwLockWriteGuard {
            state: &self.state,
            inner,
        }
    }
}

impl<T: Default> Default for RwLock<T> {
    fn default() -> Self {
        RwLock::new(T::default())
    }
}

impl<T> From<T> for RwLock<T> {
    /// A new, unlocked lock holding `value`, as std's `From<T>`.
    fn from(value: T) -> Self {
        RwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for RwLock<T> {
    /// As std's, which it is inside: the value if the lock is free at
    /// that moment (`<locked>` if not); the name is left out, so output
    /// written for the peer's lock reads the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<'a, T: ?Sized> RwLockWriteGuard<'a, T> {
    /// Turns the write lock into a read lock without letting go, as
    /// [`std::sync::RwLockWriteGuard::downgrade`]: no writer can get in
    /// between. On record from then on as a reader that took the lock at
    /// this call. An associated function, `RwLockWriteGuard::downgrade(g)`,
    /// as std's. On Rust 1.92 and later (std's is stable from 1.92).
    ///
    /// ```
    /// use monitor_runtime::sync::{RwLock, RwLockWriteGuard};
    ///
    /// let lock = RwLock::new(1);
    /// let mut writing = lock.write().unwrap();
    /// *writing = 2;
    /// let reading = RwLockWriteGuard::downgrade(writing);
    /// assert_eq!(*reading, 2);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// assert!(lock.try_write().is_err());
    /// ```
    #[rustversion::since(1.92)]
    #[allow(clippy::incompatible_msrv)]
    #[track_caller]
    pub fn downgrade(s: Self) -> RwLockReadGuard<'a, T> {
        let at = Location::caller();
        let this = std::mem::ManuallyDrop::new(s);
        let state = this.state;
        // The reader's record first, then the writer's goes: the lock is
        // never on record as free while this thread holds it.
        let slot = if TRACK {
            took_std(state, at);
            record_read_ordered(state, task_holder(), at)
        } else {
            0
        };
        // SAFETY: `this` is never dropped nor used again, so the std guard
        // is moved out exactly once.
        let inner = unsafe { std::ptr::read(&this.inner) };
        let inner = std::sync::RwLockWriteGuard::downgrade(inner);
        if TRACK {
            let_go_std(state);
            state.released();
        }
        RwLockReadGuard { state, slot, inner }
    }
}

impl<T: ?Sized> Drop for RwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if !TRACK {
            return;
        }
        if self.slot & TAGS == 0 {
            readers::let_go(self.slot);
        } else {
            let_go_tagged(self.state, self.slot);
        }
    }
}

/// A read guard's record that is not just a slot of the thread's table.
#[cold]
#[inline(never)]
fn let_go_tagged(state: &LockState, slot: usize) {
    if slot & ORDERED != 0 {
        let_go_std(state);
    }
    if slot & IN_LOCK != 0 {
        state.read_released(slot >> TAGS.count_ones());
    } else {
        readers::let_go(slot & !TAGS);
    }
}

/// A read of `state` by `holder` at `at`, on record: in the thread's
/// table (no read-modify-write: the guard is `!Send`, so it is let go on
/// this thread), else in a slot of the lock.
///
/// The holder stored is the thread's id outside a task, not a 0 chosen
/// from tokio's answer: a value that waits for that answer (a conditional
/// move) held the table's stores, and std's release after them, back by
/// about 3 ns a read (min of many runs on the bench machine), which a
/// thread-local read that only a predicted branch waits for does not.
#[inline]
fn record_read(state: &LockState, holder: u64, at: &'static Location<'static>) -> usize {
    match readers::took(state, holder, at, thread_holder) {
        Some(slot) => slot,
        None => record_read_in_lock(state, holder, at),
    }
}

/// The thread's table is full, or gone: a slot of the lock.
#[cold]
#[inline(never)]
fn record_read_in_lock(state: &LockState, holder: u64, at: &'static Location<'static>) -> usize {
    state.read_acquired(holder, at) << TAGS.count_ones() | IN_LOCK
}

/// [`record_read`] after the order check's `took_std`: tagged [`ORDERED`]
/// if the check has seen the lock (a read it may have pushed onto the
/// thread's held set).
#[inline]
fn record_read_ordered(state: &LockState, holder: u64, at: &'static Location<'static>) -> usize {
    let ordered = if state.order_id_if_any() != 0 {
        ORDERED
    } else {
        0
    };
    record_read(state, holder, at) | ordered
}

impl<T: ?Sized> Drop for RwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            let_go_std(self.state);
            self.state.released();
        }
    }
}

guard_traits!(RwLockReadGuard<'_, T> => T, inner);
guard_traits!(RwLockWriteGuard<'_, T> => T, inner, mut);

#[cfg(all(test, not(feature = "plain-locks")))]
mod tests {
    use super::*;

    /// A thread's reads are on record in its table, and those beyond it in
    /// the lock's slots; every one is seen, and gone once let go.
    #[test]
    fn every_read_of_a_thread_is_on_record() {
        let locks: Vec<RwLock<u8>> = (0..12).map(|_| RwLock::new(0)).collect();
        let me = task_holder();
        let reads: Vec<_> = locks.iter().map(|lock| lock.read().unwrap()).collect();
        assert!(reads.iter().any(|read| read.slot & IN_LOCK == 0));
        assert!(reads.iter().any(|read| read.slot & IN_LOCK != 0));
        for lock in &locks {
            assert!(lock.state.held_by(me).is_some());
        }
        drop(reads);
        for lock in &locks {
            assert!(lock.state.held_by(me).is_none());
        }
        // The slots are free again: the next reads go to the table.
        let again = locks[0].read().unwrap();
        assert!(again.slot & IN_LOCK == 0);
    }
}
