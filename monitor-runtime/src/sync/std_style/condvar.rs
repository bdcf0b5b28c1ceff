//! [`Condvar`]: `std::sync::Condvar` for the guards of our [`Mutex`](crate::sync::Mutex).

use std::fmt;
use std::panic::Location;
use std::sync::{LockResult, PoisonError, WaitTimeoutResult};
use std::time::Duration;

use super::MutexGuard;
use crate::sync::acquire::{condvar_wait, map_poison};
use crate::sync::graph::LockState;

/// A condition variable with the API of [`std::sync::Condvar`], for the
/// guards of [`Mutex`](crate::sync::Mutex) (std's takes only std's guard).
///
/// While a thread waits, the mutex is not on record as held by it (it is
/// let go, as std's condvar lets go of the lock), so a deadlock or
/// lock-order report never names a waiting thread as a holder; when the
/// wait returns, the mutex is on record again as taken at the `wait` call.
/// Meanwhile the thread (or task) is listed by
/// [`lock_waits`](crate::sync::lock_waits), in dumps and on the debug page
/// as waiting on the condvar (its name, given with
/// [`Condvar::with_name`], and the line of the `wait`), for how long so far.
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{Condvar, Mutex};
///
/// let pair = Arc::new((Mutex::with_name(false, "started"), Condvar::new()));
/// let other = pair.clone();
/// std::thread::spawn(move || {
///     *other.0.lock().unwrap() = true;
///     other.1.notify_one();
/// });
/// let (lock, condvar) = &*pair;
/// let started = condvar.wait_while(lock.lock().unwrap(), |started| !*started).unwrap();
/// assert!(*started);
/// ```
pub struct Condvar {
    /// Never held: the name, and what `lock_waits()` points at.
    state: LockState,
    inner: std::sync::Condvar,
}

/// `f` on the guard inside a wait's result, poisoned or not.
fn map_timeout<G, H>(
    result: LockResult<(G, WaitTimeoutResult)>,
    f: impl FnOnce(G) -> H,
) -> LockResult<(H, WaitTimeoutResult)> {
    match result {
        Ok((guard, timeout)) => Ok((f(guard), timeout)),
        Err(poisoned) => {
            let (guard, timeout) = poisoned.into_inner();
            Err(PoisonError::new((f(guard), timeout)))
        }
    }
}

impl Condvar {
    /// A new condition variable, as [`std::sync::Condvar::new`].
    ///
    /// ```
    /// static READY: monitor_runtime::sync::Condvar = monitor_runtime::sync::Condvar::new();
    /// READY.notify_all();
    /// ```
    pub const fn new() -> Self {
        Self::with_name("")
    }

    /// A new condition variable called `name` in
    /// [`lock_waits`](crate::sync::lock_waits) and dumps.
    ///
    /// ```
    /// let ready = monitor_runtime::sync::Condvar::with_name("ready");
    /// assert_eq!(ready.name(), "ready");
    /// ```
    pub const fn with_name(name: &'static str) -> Self {
        Condvar {
            state: LockState::new(name),
            inner: std::sync::Condvar::new(),
        }
    }

    /// The name given with [`Condvar::with_name`] ("" if none).
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::Condvar::new().name(), "");
    /// ```
    pub fn name(&self) -> &'static str {
        self.state.name
    }

    /// Lets go of the mutex and waits for a notification (or a spurious
    /// wakeup), then takes the mutex back, as
    /// [`std::sync::Condvar::wait`]. The result is poisoned if the mutex
    /// is.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{Condvar, Mutex};
    ///
    /// let pair = Arc::new((Mutex::new(0), Condvar::new()));
    /// let other = pair.clone();
    /// std::thread::spawn(move || {
    ///     *other.0.lock().unwrap() = 1;
    ///     other.1.notify_all();
    /// });
    /// let mut value = pair.0.lock().unwrap();
    /// while *value == 0 {
    ///     value = pair.1.wait(value).unwrap();
    /// }
    /// assert_eq!(*value, 1);
    /// ```
    #[track_caller]
    pub fn wait<'a, T>(&self, guard: MutexGuard<'a, T>) -> LockResult<MutexGuard<'a, T>> {
        let at = Location::caller();
        let (state, inner) = guard.unrecord();
        let waiting = condvar_wait(&self.state, at);
        let result = self.inner.wait(inner);
        drop(waiting);
        map_poison(result, |inner| MutexGuard::rerecord(state, inner, at))
    }

    /// Waits while `condition` holds, as
    /// [`std::sync::Condvar::wait_while`]: returns with the mutex held and
    /// `condition` false.
    ///
    /// ```
    /// use monitor_runtime::sync::{Condvar, Mutex};
    ///
    /// let (lock, condvar) = (Mutex::new(3), Condvar::new());
    /// let guard = condvar.wait_while(lock.lock().unwrap(), |n| *n == 0).unwrap();
    /// assert_eq!(*guard, 3);
    /// ```
    #[track_caller]
    pub fn wait_while<'a, T, F>(
        &self,
        mut guard: MutexGuard<'a, T>,
        mut condition: F,
    ) -> LockResult<MutexGuard<'a, T>>
    where
        F: FnMut(&mut T) -> bool,
    {
        let at = Location::caller();
        while condition(&mut *guard) {
            let (state, inner) = guard.unrecord();
            let waiting = condvar_wait(&self.state, at);
            let result = self.inner.wait(inner);
            drop(waiting);
            match result {
                Ok(inner) => guard = MutexGuard::rerecord(state, inner, at),
                Err(poisoned) => {
                    return Err(PoisonError::new(MutexGuard::rerecord(
                        state,
                        poisoned.into_inner(),
                        at,
                    )))
                }
            }
        }
        Ok(guard)
    }

    /// [`Condvar::wait`] for at most `timeout`, as
    /// [`std::sync::Condvar::wait_timeout`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::sync::{Condvar, Mutex};
    ///
    /// let (lock, condvar) = (Mutex::new(()), Condvar::new());
    /// let (_guard, timeout) = condvar
    ///     .wait_timeout(lock.lock().unwrap(), Duration::from_millis(1))
    ///     .unwrap();
    /// # let _ = timeout.timed_out(); // a spurious wakeup may come first
    /// ```
    #[track_caller]
    pub fn wait_timeout<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)> {
        let at = Location::caller();
        let (state, inner) = guard.unrecord();
        let waiting = condvar_wait(&self.state, at);
        let result = self.inner.wait_timeout(inner, timeout);
        drop(waiting);
        map_timeout(result, |inner| MutexGuard::rerecord(state, inner, at))
    }

    /// [`Condvar::wait`] for at most `ms` milliseconds, as std's
    /// deprecated `wait_timeout_ms`, so that code still calling it builds
    /// after the import swap (with the same deprecation warning). The
    /// `bool` is `true` if the wait did *not* time out.
    ///
    /// ```
    /// use monitor_runtime::sync::{Condvar, Mutex};
    ///
    /// let (lock, condvar) = (Mutex::new(()), Condvar::new());
    /// #[allow(deprecated)]
    /// let (_guard, _notified) = condvar.wait_timeout_ms(lock.lock().unwrap(), 1).unwrap();
    /// ```
    #[deprecated(note = "replaced by `Condvar::wait_timeout`, as std's")]
    #[track_caller]
    pub fn wait_timeout_ms<'a, T>(
        &self,
        guard: MutexGuard<'a, T>,
        ms: u32,
    ) -> LockResult<(MutexGuard<'a, T>, bool)> {
        match self.wait_timeout(guard, Duration::from_millis(u64::from(ms))) {
            Ok((guard, timeout)) => Ok((guard, !timeout.timed_out())),
            Err(poisoned) => {
                let (guard, timeout) = poisoned.into_inner();
                Err(PoisonError::new((guard, !timeout.timed_out())))
            }
        }
    }

    /// [`Condvar::wait_while`] for at most `timeout`, as
    /// [`std::sync::Condvar::wait_timeout_while`].
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::sync::{Condvar, Mutex};
    ///
    /// let (lock, condvar) = (Mutex::new(false), Condvar::new());
    /// let (guard, timeout) = condvar
    ///     .wait_timeout_while(lock.lock().unwrap(), Duration::from_millis(1), |ready| !*ready)
    ///     .unwrap();
    /// assert!(timeout.timed_out() && !*guard);
    /// ```
    #[track_caller]
    pub fn wait_timeout_while<'a, T, F>(
        &self,
        guard: MutexGuard<'a, T>,
        timeout: Duration,
        mut condition: F,
    ) -> LockResult<(MutexGuard<'a, T>, WaitTimeoutResult)>
    where
        F: FnMut(&mut T) -> bool,
    {
        let at = Location::caller();
        let (state, inner) = guard.unrecord();
        // std's loop (one deadline across spurious wakeups) runs on std's
        // guard, so the record stays let go, and the wait on record (also
        // while `condition` runs), until it returns.
        let waiting = condvar_wait(&self.state, at);
        let result = self
            .inner
            .wait_timeout_while(inner, timeout, |value| condition(value));
        drop(waiting);
        map_timeout(result, |inner| MutexGuard::rerecord(state, inner, at))
    }

    /// Wakes one waiting thread, as [`std::sync::Condvar::notify_one`].
    ///
    /// ```
    /// monitor_runtime::sync::Condvar::new().notify_one();
    /// ```
    pub fn notify_one(&self) {
        self.inner.notify_one();
    }

    /// Wakes every waiting thread, as [`std::sync::Condvar::notify_all`].
    ///
    /// ```
    /// monitor_runtime::sync::Condvar::new().notify_all();
    /// ```
    pub fn notify_all(&self) {
        self.inner.notify_all();
    }
}

impl Default for Condvar {
    fn default() -> Self {
        Condvar::new()
    }
}

impl fmt::Debug for Condvar {
    /// As std's: `Condvar { .. }`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
