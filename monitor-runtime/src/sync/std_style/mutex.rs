//! [`Mutex`]: `std::sync::Mutex` that knows who holds it.

use std::fmt;
use std::panic::Location;
use std::sync::{LockResult, TryLockResult};

use crate::sync::acquire::{held_std, let_go_std, map_poison, map_try, take_std, took_std, TRACK};
use crate::sync::graph::{LockState, Want};
use crate::sync::holder::task_holder;
use crate::sync::lock_order_checking;
use crate::sync::order::known_std;
use crate::sync::report::Deadlock;

/// A mutual exclusion lock with the API of [`std::sync::Mutex`] that
/// reports a deadlock the moment it forms (see [the module](crate::sync)).
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::Mutex;
///
/// let counter = Arc::new(Mutex::with_name(0, "counter"));
/// let threads: Vec<_> = (0..4)
///     .map(|_| {
///         let counter = counter.clone();
///         std::thread::spawn(move || *counter.lock().unwrap() += 1)
///     })
///     .collect();
/// threads.into_iter().for_each(|t| t.join().unwrap());
/// assert_eq!(*counter.lock().unwrap(), 4);
/// ```
pub struct Mutex<T: ?Sized> {
    state: LockState,
    inner: std::sync::Mutex<T>,
}

/// The guard of a [`Mutex`]: the lock is held until it drops.
///
/// ```
/// let lock = monitor_runtime::sync::Mutex::new(1);
/// let mut guard = lock.lock().unwrap();
/// *guard += 1;
/// drop(guard);
/// assert_eq!(*lock.lock().unwrap(), 2);
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MutexGuard<'a, T: ?Sized + 'a> {
    state: &'a LockState,
    inner: std::sync::MutexGuard<'a, T>,
}

impl<T> Mutex<T> {
    /// A new, unlocked mutex, unnamed in reports (its address stands in).
    ///
    /// ```
    /// static LOCK: monitor_runtime::sync::Mutex<u32> = monitor_runtime::sync::Mutex::new(0);
    /// assert_eq!(*LOCK.lock().unwrap(), 0);
    /// ```
    pub const fn new(value: T) -> Self {
        Self::with_name(value, "")
    }

    /// A new, unlocked mutex called `name` in reports.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::Mutex::with_name(0, "fork 1");
    /// assert_eq!(lock.name(), "fork 1");
    /// ```
    pub const fn with_name(value: T, name: &'static str) -> Self {
        Mutex {
            state: LockState::new(name),
            inner: std::sync::Mutex::new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::Mutex::new(3).into_inner().unwrap(), 3);
    /// ```
    pub fn into_inner(self) -> LockResult<T> {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> Mutex<T> {
    /// The name given with [`Mutex::with_name`] ("" if none).
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::Mutex::new(()).name(), "");
    /// ```
    pub fn name(&self) -> &'static str {
        self.state.name
    }

    /// Takes the lock, blocking while another thread holds it, as
    /// [`std::sync::Mutex::lock`]. If the wait closes a cycle of waiters,
    /// or this thread holds the lock already, a [`Deadlock`] is reported
    /// and the [`DeadlockPolicy`](crate::sync::DeadlockPolicy) applies.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::Mutex::new(vec![1]);
    /// lock.lock().unwrap().push(2);
    /// assert_eq!(*lock.lock().unwrap(), [1, 2]);
    /// ```
    #[track_caller]
    #[inline(always)]
    pub fn lock(&self) -> LockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        // The uncontended path, with the order check off: std's `try_lock`,
        // the holder and the place on record. A poisoned guard is let go
        // and taken again by the whole path, which reports the poison.
        // With the check on, the same when every pair "held → this lock"
        // is known (it closes no new cycle), plus the held set's push.
        if TRACK {
            let ordered = lock_order_checking();
            let me = if ordered { task_holder() } else { 0 };
            if (!ordered || known_std(&self.state, me))
                && let Ok(inner) = self.inner.try_lock()
            {
                return Ok(if ordered {
                    self.guard(inner, me, at)
                } else {
                    self.guard_unordered(inner, at)
                });
            }
        }
        match self.acquire(at, false) {
            Ok(result) => result,
            Err(_) => unreachable!("unchecked acquisitions report and wait"),
        }
    }

    /// Takes the lock like [`Mutex::lock`], but returns the [`Deadlock`]
    /// instead of waiting forever when the wait would close a cycle (or
    /// this thread holds the lock already), whatever the policy.
    ///
    /// ```
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::Mutex::new(0);
    /// let held = lock.lock_checked().unwrap().unwrap();
    /// assert!(lock.lock_checked().is_err());
    /// drop(held);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_checked(&self) -> Result<LockResult<MutexGuard<'_, T>>, Deadlock> {
        self.acquire(Location::caller(), true)
    }

    #[track_caller]
    #[inline(never)]
    fn acquire(
        &self,
        at: &'static Location<'static>,
        checked: bool,
    ) -> Result<LockResult<MutexGuard<'_, T>>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let result = take_std(
            &self.state,
            me,
            at,
            Want::Exclusive,
            checked,
            || self.inner.try_lock(),
            || self.inner.lock(),
        )?;
        Ok(map_poison(result, |inner| self.guard(inner, me, at)))
    }

    #[inline]
    fn guard<'a>(
        &'a self,
        inner: std::sync::MutexGuard<'a, T>,
        me: u64,
        at: &'static Location<'static>,
    ) -> MutexGuard<'a, T> {
        if TRACK {
            held_std(&self.state, me, at);
            took_std(&self.state, at);
        }
        MutexGuard {
            state: &self.state,
            inner,
        }
    }

    /// [`Mutex::guard`] when the order check is off: nothing to push.
    #[inline]
    fn guard_unordered<'a>(
        &'a self,
        inner: std::sync::MutexGuard<'a, T>,
        at: &'static Location<'static>,
    ) -> MutexGuard<'a, T> {
        held_std(&self.state, task_holder(), at);
        MutexGuard {
            state: &self.state,
            inner,
        }
    }

    /// Takes the lock if it is free, as [`std::sync::Mutex::try_lock`].
    ///
    /// ```
    /// use std::sync::TryLockError;
    /// let lock = monitor_runtime::sync::Mutex::new(0);
    /// let held = lock.try_lock().unwrap();
    /// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    /// drop(held);
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> TryLockResult<MutexGuard<'_, T>> {
        let at = Location::caller();
        let me = if TRACK { task_holder() } else { 0 };
        map_try(self.inner.try_lock(), |inner| self.guard(inner, me, at))
    }

    /// Whether a holder panicked, as [`std::sync::Mutex::is_poisoned`].
    ///
    /// ```
    /// assert!(!monitor_runtime::sync::Mutex::new(0).is_poisoned());
    /// ```
    pub fn is_poisoned(&self) -> bool {
        self.inner.is_poisoned()
    }

    /// Clears the poison, as [`std::sync::Mutex::clear_poison`].
    ///
    /// ```
    /// monitor_runtime::sync::Mutex::new(0).clear_poison();
    /// ```
    pub fn clear_poison(&self) {
        self.inner.clear_poison();
    }

    /// The value, through `&mut`: no locking needed.
    ///
    /// ```
    /// let mut lock = monitor_runtime::sync::Mutex::new(1);
    /// *lock.get_mut().unwrap() = 2;
    /// assert_eq!(lock.into_inner().unwrap(), 2);
    /// ```
    pub fn get_mut(&mut self) -> LockResult<&mut T> {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for Mutex<T> {
    fn default() -> Self {
        Mutex::new(T::default())
    }
}

impl<T> From<T> for Mutex<T> {
    fn from(value: T) -> Self {
        Mutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for Mutex<T> {
    /// As std's, which it is inside: the value if the lock is free at
    /// that moment (`<locked>` if not); the name is left out, so output
    /// written for the peer's lock reads the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<'a, T: ?Sized> MutexGuard<'a, T> {
    /// Takes the guard apart for a [`Condvar`](super::Condvar) wait: the
    /// record lets go of the lock (a waiting thread does not hold it), the
    /// std guard that is returned still does, until the wait unlocks it.
    pub(super) fn unrecord(self) -> (&'a LockState, std::sync::MutexGuard<'a, T>) {
        let this = std::mem::ManuallyDrop::new(self);
        if TRACK {
            let_go_std(this.state);
            this.state.released();
        }
        // SAFETY: `this` is never dropped nor used again, so the std guard
        // is moved out exactly once.
        let inner = unsafe { std::ptr::read(&this.inner) };
        (this.state, inner)
    }

    /// The guard again after a [`Condvar`](super::Condvar) wait took the
    /// lock back at `at`: recorded as an acquisition there.
    pub(super) fn rerecord(
        state: &'a LockState,
        inner: std::sync::MutexGuard<'a, T>,
        at: &'static Location<'static>,
    ) -> Self {
        if TRACK {
            held_std(state, task_holder(), at);
            took_std(state, at);
        }
        MutexGuard { state, inner }
    }
}

impl<T: ?Sized> Drop for MutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            let_go_std(self.state);
            self.state.released();
        }
    }
}

guard_traits!(MutexGuard<'_, T> => T, inner, mut);
