//! [`AsyncRwLock`]: tokio's read-write lock that knows which tasks hold it.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use tokio::sync::TryLockError;

use super::{coop_turn, take_blocking, unbound, unchecked, within_turn, Caller, Exclusive, Shared};
use crate::sync::acquire::{order_check, order_policy, took_async, TRACK};
use crate::sync::async_wait::before_wait;
use crate::sync::graph::{LockState, Want, UNTRACKED};
use crate::sync::holder::task_holder;
use crate::sync::report::Deadlock;

mod owned_read_guard;
mod owned_write_guard;
mod owned_write_guard_mapped;
mod read_guard;
mod write_guard;
mod write_guard_mapped;

pub use owned_read_guard::OwnedAsyncRwLockReadGuard;
pub use owned_write_guard::OwnedAsyncRwLockWriteGuard;
pub use owned_write_guard_mapped::OwnedAsyncRwLockMappedWriteGuard;
pub use read_guard::AsyncRwLockReadGuard;
pub use write_guard::AsyncRwLockWriteGuard;
pub use write_guard_mapped::AsyncRwLockMappedWriteGuard;

/// An async reader-writer lock with the API of [`tokio::sync::RwLock`]
/// that reports a deadlock the moment it forms (see [the module](crate::sync)).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncRwLock::with_name(1, "table");
/// {
///     let (a, b) = (lock.read().await, lock.read().await);
///     assert_eq!(*a + *b, 2);
/// }
/// *lock.write().await = 5;
/// assert_eq!(*lock.read().await, 5);
/// # }
/// ```
pub struct AsyncRwLock<T: ?Sized> {
    pub(super) state: LockState,
    inner: tokio::sync::RwLock<T>,
}

impl<T> AsyncRwLock<T> {
    /// A new, unlocked lock, unnamed in reports.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncRwLock::new(0).name(), "");
    /// ```
    pub const fn new(value: T) -> Self {
        Self::with_name(value, "")
    }

    /// [`AsyncRwLock::new`] under the name of
    /// [`tokio::sync::RwLock::const_new`], so that code written for tokio's
    /// compiles after the import swap.
    ///
    /// ```
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// static LOCK: AsyncRwLock<u8> = AsyncRwLock::const_new(1);
    /// assert_eq!(*LOCK.try_read().unwrap(), 1);
    /// ```
    pub const fn const_new(value: T) -> Self {
        Self::new(value)
    }

    /// [`AsyncRwLock::with_max_readers`] under the name of
    /// [`tokio::sync::RwLock::const_with_max_readers`].
    ///
    /// # Panics
    ///
    /// As [`AsyncRwLock::with_max_readers`].
    ///
    /// ```
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// static ONE: AsyncRwLock<u8> = AsyncRwLock::const_with_max_readers(0, 1);
    /// let _reading = ONE.try_read().unwrap();
    /// assert!(ONE.try_read().is_err());
    /// ```
    #[track_caller]
    pub const fn const_with_max_readers(value: T, max_reads: u32) -> Self {
        Self::with_max_readers(value, max_reads)
    }

    /// A new, unlocked lock called `name` in reports.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncRwLock::with_name(0, "t").name(), "t");
    /// ```
    pub const fn with_name(value: T, name: &'static str) -> Self {
        AsyncRwLock {
            state: LockState::new(name),
            inner: tokio::sync::RwLock::const_new(value),
        }
    }

    /// A new, unlocked lock, unnamed in reports, that lets at most
    /// `max_reads` readers in at once, as
    /// [`tokio::sync::RwLock::with_max_readers`] (and `const`, as
    /// [`tokio::sync::RwLock::const_with_max_readers`]).
    ///
    /// # Panics
    ///
    /// If `max_reads` is 0 or more than `u32::MAX >> 3`, as tokio's.
    ///
    /// ```
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// static TWO_AT_ONCE: AsyncRwLock<u8> = AsyncRwLock::with_max_readers(0, 2);
    /// let (_a, _b) = (TWO_AT_ONCE.try_read().unwrap(), TWO_AT_ONCE.try_read().unwrap());
    /// assert!(TWO_AT_ONCE.try_read().is_err());
    /// ```
    #[track_caller]
    pub const fn with_max_readers(value: T, max_reads: u32) -> Self {
        // tokio's `with_max_readers` checks (and words) these; its
        // `const_with_max_readers`, called below, is not `#[track_caller]`.
        if max_reads == 0 {
            panic!(
                "assertion `left != right` failed: a RwLock may not be created with 0 readers\n  left: 0\n right: 0"
            );
        }
        if max_reads > u32::MAX >> 3 {
            panic!("a RwLock may not be created with more than 536870911 readers");
        }
        AsyncRwLock {
            state: LockState::with_readers("", true),
            inner: tokio::sync::RwLock::const_with_max_readers(value, max_reads),
        }
    }

    /// The value, consuming the lock.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncRwLock::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> AsyncRwLock<T> {
    /// The name given with [`AsyncRwLock::with_name`] ("" if none).
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncRwLock::new(()).name(), "");
    /// ```
    pub fn name(&self) -> &'static str {
        self.state.name
    }

    /// Shared access, as [`tokio::sync::RwLock::read`]; a deadlock is
    /// reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(5);
    /// assert_eq!(*lock.read().await, 5);
    /// # }
    /// ```
    #[track_caller]
    pub fn read(&self) -> impl Future<Output = AsyncRwLockReadGuard<'_, T>> + '_ {
        let at = Location::caller();
        async move { unchecked(self.acquire_read(at, false).await) }
    }

    /// [`AsyncRwLock::read`] that returns the [`Deadlock`] instead of
    /// waiting forever.
    ///
    /// A wait for a lock the caller's own task holds returns it after a
    /// second, if the task still holds it then: another branch of the
    /// task (`join!`, `select!`) may hold it and let go.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// let _w = lock.write().await;
    /// assert!(lock.read_checked().await.is_err());
    /// # }
    /// # }
    /// ```
    #[track_caller]
    pub fn read_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncRwLockReadGuard<'_, T>, Deadlock>> + '_ {
        self.acquire_read(Location::caller(), true)
    }

    /// Exclusive access, as [`tokio::sync::RwLock::write`]; a deadlock is
    /// reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(5);
    /// *lock.write().await += 1;
    /// assert_eq!(*lock.read().await, 6);
    /// # }
    /// ```
    #[track_caller]
    pub fn write(&self) -> impl Future<Output = AsyncRwLockWriteGuard<'_, T>> + '_ {
        let at = Location::caller();
        async move { unchecked(self.acquire_write(at, false).await) }
    }

    /// [`AsyncRwLock::write`] that returns the [`Deadlock`] instead of
    /// waiting forever.
    ///
    /// A wait for a lock the caller's own task holds returns it after a
    /// second, if the task still holds it then: another branch of the
    /// task (`join!`, `select!`) may hold it and let go.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// let _r = lock.read().await;
    /// assert!(lock.write_checked().await.is_err());
    /// # }
    /// # }
    /// ```
    #[track_caller]
    pub fn write_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncRwLockWriteGuard<'_, T>, Deadlock>> + '_ {
        self.acquire_write(Location::caller(), true)
    }

    /// Shared access from outside the runtime, blocking the thread, as
    /// [`tokio::sync::RwLock::blocking_read`]; a deadlock is reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock), with
    /// the thread as the waiter.
    ///
    /// # Panics
    ///
    /// As tokio's, at the caller: if called within an asynchronous
    /// execution context (a thread driving tasks), even when the lock is
    /// free.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
    /// let (a, b) = (lock.blocking_read(), lock.blocking_read());
    /// assert_eq!(*a + *b, 2);
    /// ```
    #[track_caller]
    pub fn blocking_read(&self) -> AsyncRwLockReadGuard<'_, T> {
        let at = Location::caller();
        if !TRACK {
            return self.wrap_read(self.inner.blocking_read(), 0, at);
        }
        let (inner, me) = take_blocking(
            &self.state,
            at,
            Want::Shared,
            || self.inner.try_read().ok(),
            || self.inner.blocking_read(),
        );
        self.wrap_read(inner, me, at)
    }

    /// Exclusive access from outside the runtime, blocking the thread, as
    /// [`tokio::sync::RwLock::blocking_write`]; a deadlock is reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock), with
    /// the thread as the waiter.
    ///
    /// # Panics
    ///
    /// As tokio's, at the caller: if called within an asynchronous
    /// execution context (a thread driving tasks), even when the lock is
    /// free.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
    /// *lock.blocking_write() += 1;
    /// assert_eq!(*lock.blocking_read(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_write(&self) -> AsyncRwLockWriteGuard<'_, T> {
        let at = Location::caller();
        if !TRACK {
            return self.write_guard(self.inner.blocking_write());
        }
        let (inner, me) = take_blocking(
            &self.state,
            at,
            Want::Exclusive,
            || self.inner.try_write().ok(),
            || self.inner.blocking_write(),
        );
        self.state.acquired(me, at);
        took_async(&self.state, me, at);
        self.write_guard(inner)
    }

    /// Shared access if no writer holds or waits for the lock, as
    /// [`tokio::sync::RwLock::try_read`].
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// assert!(lock.try_read().is_ok());
    /// ```
    #[track_caller]
    pub fn try_read(&self) -> Result<AsyncRwLockReadGuard<'_, T>, TryLockError> {
        self.try_acquire_read(Location::caller())
    }

    fn try_acquire_read(&self, at: Caller) -> Result<AsyncRwLockReadGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_read()?;
        Ok(self.wrap_read(inner, if TRACK { task_holder() } else { 0 }, at))
    }

    /// Exclusive access if nobody holds the lock, as
    /// [`tokio::sync::RwLock::try_write`].
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// let r = lock.try_read().unwrap();
    /// assert!(lock.try_write().is_err());
    /// drop(r);
    /// assert!(lock.try_write().is_ok());
    /// ```
    #[track_caller]
    pub fn try_write(&self) -> Result<AsyncRwLockWriteGuard<'_, T>, TryLockError> {
        self.try_acquire_write(Location::caller())
    }

    fn try_acquire_write(&self, at: Caller) -> Result<AsyncRwLockWriteGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_write()?;
        if TRACK {
            let me = task_holder();
            self.state.acquired(me, at);
            took_async(&self.state, me, at);
        }
        Ok(self.write_guard(inner))
    }

    /// The value, through `&mut`: no locking needed.
    ///
    /// ```
    /// let mut lock = monitor_runtime::sync::AsyncRwLock::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }

    fn wrap_read<'a>(
        &'a self,
        inner: tokio::sync::RwLockReadGuard<'a, T>,
        me: u64,
        at: Caller,
    ) -> AsyncRwLockReadGuard<'a, T> {
        let slot = if TRACK {
            took_async(&self.state, me, at);
            self.state.read_acquired(me, at)
        } else {
            UNTRACKED
        };
        AsyncRwLockReadGuard {
            held: Shared {
                state: &self.state,
                slot,
                holder: me,
            },
            inner,
        }
    }

    fn write_guard<'a>(
        &'a self,
        inner: tokio::sync::RwLockWriteGuard<'a, T>,
    ) -> AsyncRwLockWriteGuard<'a, T> {
        AsyncRwLockWriteGuard {
            held: Exclusive(&self.state),
            inner,
        }
    }

    async fn acquire_read(
        &self,
        at: Caller,
        checked: bool,
    ) -> Result<AsyncRwLockReadGuard<'_, T>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let inversion = order_check(&self.state, me, at);
        let inner = match within_turn(coop_turn().await, self.inner.try_read()) {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = before_wait(&self.state, me, at, Want::Shared, checked)?;
                waiting.until(self.inner.read()).await?
            }
        };
        let inner = order_policy(inversion, inner);
        Ok(self.wrap_read(inner, me, at))
    }

    async fn acquire_write(
        &self,
        at: Caller,
        checked: bool,
    ) -> Result<AsyncRwLockWriteGuard<'_, T>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let inversion = order_check(&self.state, me, at);
        let inner = match within_turn(coop_turn().await, self.inner.try_write()) {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = before_wait(&self.state, me, at, Want::Exclusive, checked)?;
                waiting.until(self.inner.write()).await?
            }
        };
        let inner = order_policy(inversion, inner);
        if TRACK {
            self.state.acquired(me, at);
            took_async(&self.state, me, at);
        }
        Ok(self.write_guard(inner))
    }
}

impl<T: ?Sized + 'static> AsyncRwLock<T> {
    /// Shared access to a lock in an `Arc`, as
    /// [`tokio::sync::RwLock::read_owned`]: the guard keeps the `Arc`, so
    /// it is `'static`. Reports as [`AsyncRwLock::read`] does. `T` must be
    /// `'static`, unlike tokio's (see [`AsyncMutex::lock_owned`](crate::sync::AsyncMutex::lock_owned)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let guard = lock.clone().read_owned().await;
    /// assert_eq!(tokio::spawn(async move { *guard + 1 }).await.unwrap(), 2);
    /// # }
    /// ```
    #[track_caller]
    pub fn read_owned(self: Arc<Self>) -> impl Future<Output = OwnedAsyncRwLockReadGuard<T>> {
        Self::acquire_read_owned(self, Location::caller())
    }

    async fn acquire_read_owned(this: Arc<Self>, at: Caller) -> OwnedAsyncRwLockReadGuard<T> {
        // SAFETY: `this` drops after the pending wait (an argument), or
        // lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&this) };
        let guard = unchecked(lock.acquire_read(at, false).await);
        OwnedAsyncRwLockReadGuard { guard, lock: this }
    }

    /// Exclusive access to a lock in an `Arc`, as
    /// [`tokio::sync::RwLock::write_owned`]: the guard keeps the `Arc`, so
    /// it is `'static`. Reports as [`AsyncRwLock::write`] does. `T` must be
    /// `'static`, unlike tokio's (see [`AsyncMutex::lock_owned`](crate::sync::AsyncMutex::lock_owned)).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let mut guard = lock.clone().write_owned().await;
    /// tokio::spawn(async move { *guard = 3 }).await.unwrap();
    /// assert_eq!(*lock.read().await, 3);
    /// # }
    /// ```
    #[track_caller]
    pub fn write_owned(self: Arc<Self>) -> impl Future<Output = OwnedAsyncRwLockWriteGuard<T>> {
        Self::acquire_write_owned(self, Location::caller())
    }

    async fn acquire_write_owned(this: Arc<Self>, at: Caller) -> OwnedAsyncRwLockWriteGuard<T> {
        // SAFETY: `this` drops after the pending wait (an argument), or
        // lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&this) };
        let guard = unchecked(lock.acquire_write(at, false).await);
        OwnedAsyncRwLockWriteGuard { guard, lock: this }
    }

    /// Shared access to a lock in an `Arc` if no writer holds or waits for
    /// it, as [`tokio::sync::RwLock::try_read_owned`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let reading = lock.clone().try_read_owned().unwrap();
    /// assert!(lock.clone().try_write_owned().is_err());
    /// assert_eq!(*reading, 1);
    /// ```
    #[track_caller]
    pub fn try_read_owned(self: Arc<Self>) -> Result<OwnedAsyncRwLockReadGuard<T>, TryLockError> {
        let at = Location::caller();
        // SAFETY: `self` lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&self) };
        let guard = lock.try_acquire_read(at)?;
        Ok(OwnedAsyncRwLockReadGuard { guard, lock: self })
    }

    /// Exclusive access to a lock in an `Arc` if nobody holds it, as
    /// [`tokio::sync::RwLock::try_write_owned`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let mut writing = lock.clone().try_write_owned().unwrap();
    /// assert!(lock.clone().try_read_owned().is_err());
    /// *writing = 2;
    /// drop(writing);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    #[track_caller]
    pub fn try_write_owned(self: Arc<Self>) -> Result<OwnedAsyncRwLockWriteGuard<T>, TryLockError> {
        let at = Location::caller();
        // SAFETY: `self` lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&self) };
        let guard = lock.try_acquire_write(at)?;
        Ok(OwnedAsyncRwLockWriteGuard { guard, lock: self })
    }
}

impl<T: Default> Default for AsyncRwLock<T> {
    fn default() -> Self {
        AsyncRwLock::new(T::default())
    }
}

impl<T> From<T> for AsyncRwLock<T> {
    fn from(value: T) -> Self {
        AsyncRwLock::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncRwLock<T> {
    /// As tokio's, which it is inside: the value if the lock is free at
    /// that moment (`<locked>` if not); the name is left out, so output
    /// written for the peer's lock reads the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}
