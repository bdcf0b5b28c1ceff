//! [`AsyncRwLock`]: tokio's read-write lock that knows which tasks hold it.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use tokio::sync::TryLockError;

use super::{unbound, unchecked, Exclusive, Shared, Site};
use crate::sync::acquire::{before_wait, TRACK};
use crate::sync::graph::{LockState, Want, UNTRACKED};
use crate::sync::holder::task_holder;
use crate::sync::report::Deadlock;

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

/// Shared access to an [`AsyncRwLock`]'s value until it drops.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
/// assert_eq!(*lock.read().await, 1);
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct AsyncRwLockReadGuard<'a, T: ?Sized> {
    held: Shared<'a>,
    inner: tokio::sync::RwLockReadGuard<'a, T>,
}

/// Exclusive access to an [`AsyncRwLock`]'s value until it drops.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 2);
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct AsyncRwLockWriteGuard<'a, T: ?Sized> {
    held: Exclusive<'a>,
    inner: tokio::sync::RwLockWriteGuard<'a, T>,
}

/// Exclusive access to a part of an [`AsyncRwLock`]'s value, from
/// [`AsyncRwLockWriteGuard::map`], as [`tokio::sync::RwLockMappedWriteGuard`].
/// The lock stays held, and reported as taken where the original guard
/// took it, until this drops.
///
/// ```
/// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockWriteGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = AsyncRwLock::new((1, 2));
/// let mut second: AsyncRwLockMappedWriteGuard<'_, i32> =
///     AsyncRwLockWriteGuard::map(lock.write().await, |pair| &mut pair.1);
/// *second = 3;
/// assert!(lock.try_read().is_err());
/// drop(second);
/// assert_eq!(*lock.read().await, (1, 3));
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct AsyncRwLockMappedWriteGuard<'a, T: ?Sized> {
    held: Exclusive<'a>,
    inner: tokio::sync::RwLockMappedWriteGuard<'a, T>,
}

/// Shared access to (a `U` in) the value of an [`AsyncRwLock`] in an
/// `Arc`, from [`AsyncRwLock::read_owned`], as
/// [`tokio::sync::OwnedRwLockReadGuard`]. `T` must be `'static` (see
/// [`AsyncMutex::lock_owned`](crate::sync::AsyncMutex::lock_owned)).
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncRwLock::new(5));
/// let guard: OwnedAsyncRwLockReadGuard<i32> = lock.clone().read_owned().await;
/// let seen = tokio::spawn(async move { *guard }).await.unwrap();
/// assert_eq!(seen, 5);
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedAsyncRwLockReadGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    guard: AsyncRwLockReadGuard<'static, U>,
    lock: Arc<AsyncRwLock<T>>,
}

/// Exclusive access to the value of an [`AsyncRwLock`] in an `Arc`, from
/// [`AsyncRwLock::write_owned`], as [`tokio::sync::OwnedRwLockWriteGuard`].
/// `T` must be `'static` (see [`AsyncMutex::lock_owned`](crate::sync::AsyncMutex::lock_owned)).
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncRwLock::new(5));
/// let mut guard: OwnedAsyncRwLockWriteGuard<i32> = lock.clone().write_owned().await;
/// tokio::spawn(async move { *guard += 1 }).await.unwrap();
/// assert_eq!(*lock.read().await, 6);
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedAsyncRwLockWriteGuard<T: ?Sized + 'static> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    guard: AsyncRwLockWriteGuard<'static, T>,
    lock: Arc<AsyncRwLock<T>>,
}

/// An [`OwnedAsyncRwLockWriteGuard`] narrowed to a part of the value (a
/// `U` in the `T`), from [`OwnedAsyncRwLockWriteGuard::map`], as
/// [`tokio::sync::OwnedRwLockMappedWriteGuard`].
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncRwLock::new((1, 2)));
/// let mut first = OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |p| &mut p.0);
/// tokio::spawn(async move { *first = 4 }).await.unwrap();
/// assert_eq!(*lock.read().await, (4, 2));
/// # }
/// ```
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct OwnedAsyncRwLockMappedWriteGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    guard: AsyncRwLockMappedWriteGuard<'static, U>,
    lock: Arc<AsyncRwLock<T>>,
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
    pub const fn with_max_readers(value: T, max_reads: u32) -> Self {
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
    /// [`tokio::sync::RwLock::blocking_read`] (which panics in an async
    /// context); a deadlock is reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock), with
    /// the thread as the waiter.
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
        let me = task_holder();
        let inner = match self.inner.try_read() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = unchecked(before_wait(&self.state, me, at, Want::Shared, false));
                let inner = self.inner.blocking_read();
                drop(waiting);
                inner
            }
        };
        self.wrap_read(inner, me, at)
    }

    /// Exclusive access from outside the runtime, blocking the thread, as
    /// [`tokio::sync::RwLock::blocking_write`] (which panics in an async
    /// context); a deadlock is reported as for [`AsyncMutex::lock`](crate::sync::AsyncMutex::lock), with
    /// the thread as the waiter.
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
        let me = task_holder();
        let inner = match self.inner.try_write() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = unchecked(before_wait(&self.state, me, at, Want::Exclusive, false));
                let inner = self.inner.blocking_write();
                drop(waiting);
                inner
            }
        };
        self.state.acquired(me, at);
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

    fn try_acquire_read(&self, at: Site) -> Result<AsyncRwLockReadGuard<'_, T>, TryLockError> {
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

    fn try_acquire_write(&self, at: Site) -> Result<AsyncRwLockWriteGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_write()?;
        if TRACK {
            self.state.acquired(task_holder(), at);
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
        at: Site,
    ) -> AsyncRwLockReadGuard<'a, T> {
        let slot = if TRACK {
            self.state.read_acquired(me, at)
        } else {
            UNTRACKED
        };
        AsyncRwLockReadGuard {
            held: Shared {
                state: &self.state,
                slot,
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
        at: Site,
        checked: bool,
    ) -> Result<AsyncRwLockReadGuard<'_, T>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let inner = match self.inner.try_read() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = before_wait(&self.state, me, at, Want::Shared, checked)?;
                let inner = self.inner.read().await;
                drop(waiting);
                inner
            }
        };
        Ok(self.wrap_read(inner, me, at))
    }

    async fn acquire_write(
        &self,
        at: Site,
        checked: bool,
    ) -> Result<AsyncRwLockWriteGuard<'_, T>, Deadlock> {
        let me = if TRACK { task_holder() } else { 0 };
        let inner = match self.inner.try_write() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = before_wait(&self.state, me, at, Want::Exclusive, checked)?;
                let inner = self.inner.write().await;
                drop(waiting);
                inner
            }
        };
        if TRACK {
            self.state.acquired(me, at);
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

    async fn acquire_read_owned(this: Arc<Self>, at: Site) -> OwnedAsyncRwLockReadGuard<T> {
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

    async fn acquire_write_owned(this: Arc<Self>, at: Site) -> OwnedAsyncRwLockWriteGuard<T> {
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncRwLock")
            .field("name", &self.state.name)
            .field("inner", &&self.inner)
            .finish()
    }
}

impl<'a, T: ?Sized> AsyncRwLockReadGuard<'a, T> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::RwLockReadGuard::map`]; the lock stays held (an
    /// associated function, so that it does not hide a method of `T`).
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockReadGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new((1, "one"));
    /// let name = AsyncRwLockReadGuard::map(lock.read().await, |pair| &pair.1);
    /// assert_eq!(*name, "one");
    /// assert!(lock.try_write().is_err());
    /// # }
    /// ```
    pub fn map<F, U>(this: Self, f: F) -> AsyncRwLockReadGuard<'a, U>
    where
        U: ?Sized,
        F: FnOnce(&T) -> &U,
    {
        let (held, inner) = remap!(tokio::sync::RwLockReadGuard::map, this.held, this.inner, f);
        AsyncRwLockReadGuard { held, inner }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::RwLockReadGuard::try_map`]; gives it back if not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockReadGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new(vec![1, 2]);
    /// let last = AsyncRwLockReadGuard::try_map(lock.read().await, |v| v.last()).unwrap();
    /// assert_eq!(*last, 2);
    /// # }
    /// ```
    pub fn try_map<F, U>(this: Self, f: F) -> Result<AsyncRwLockReadGuard<'a, U>, Self>
    where
        U: ?Sized,
        F: FnOnce(&T) -> Option<&U>,
    {
        match remap!(
            tokio::sync::RwLockReadGuard::try_map,
            this.held,
            this.inner,
            f
        ) {
            (held, Ok(inner)) => Ok(AsyncRwLockReadGuard { held, inner }),
            (held, Err(inner)) => Err(AsyncRwLockReadGuard { held, inner }),
        }
    }
}

impl<'a, T: ?Sized> AsyncRwLockWriteGuard<'a, T> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::RwLockWriteGuard::map`]; the lock stays held
    /// exclusively (an associated function, so that it does not hide a
    /// method of `T`).
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new((1, 2));
    /// *AsyncRwLockWriteGuard::map(lock.write().await, |pair| &mut pair.0) = 5;
    /// assert_eq!(*lock.read().await, (5, 2));
    /// # }
    /// ```
    pub fn map<F, U>(this: Self, f: F) -> AsyncRwLockMappedWriteGuard<'a, U>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> &mut U,
    {
        let (held, inner) = remap!(tokio::sync::RwLockWriteGuard::map, this.held, this.inner, f);
        AsyncRwLockMappedWriteGuard { held, inner }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::RwLockWriteGuard::try_map`]; gives it back if not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new(vec![1]);
    /// let guard = AsyncRwLockWriteGuard::try_map(lock.write().await, |v| v.get_mut(2));
    /// let mut guard = guard.unwrap_err();
    /// guard.push(2);
    /// drop(guard);
    /// assert_eq!(*lock.read().await, [1, 2]);
    /// # }
    /// ```
    pub fn try_map<F, U>(this: Self, f: F) -> Result<AsyncRwLockMappedWriteGuard<'a, U>, Self>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        match remap!(
            tokio::sync::RwLockWriteGuard::try_map,
            this.held,
            this.inner,
            f
        ) {
            (held, Ok(inner)) => Ok(AsyncRwLockMappedWriteGuard { held, inner }),
            (held, Err(inner)) => Err(AsyncRwLockWriteGuard { held, inner }),
        }
    }

    /// Turns exclusive access into shared access without letting a writer
    /// in between, as [`tokio::sync::RwLockWriteGuard::downgrade`]. The
    /// holder is now a reader, taken here. Its reader record is written
    /// before tokio's downgrade and its exclusive record erased after, so
    /// the lock never looks free while it is held.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
    /// let mut writing = lock.write().await;
    /// *writing = 2;
    /// let reading = writing.downgrade();
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// assert!(lock.try_write().is_err());
    /// drop(reading);
    /// assert!(lock.try_write().is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn downgrade(self) -> AsyncRwLockReadGuard<'a, T> {
        let held = self.reader_record(Location::caller());
        let inner = self.inner.downgrade();
        drop(self.held);
        AsyncRwLockReadGuard { held, inner }
    }

    /// [`AsyncRwLockWriteGuard::downgrade`] and [`AsyncRwLockReadGuard::map`]
    /// in one step, as [`tokio::sync::RwLockWriteGuard::downgrade_map`]
    /// (`f` still runs with exclusive access); recorded as `downgrade` is.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new((1, 2));
    /// let second = AsyncRwLockWriteGuard::downgrade_map(lock.write().await, |p| &p.1);
    /// assert_eq!(*second, lock.try_read().unwrap().1);
    /// assert!(lock.try_write().is_err());
    /// # }
    /// ```
    #[track_caller]
    pub fn downgrade_map<F, U>(this: Self, f: F) -> AsyncRwLockReadGuard<'a, U>
    where
        U: ?Sized,
        F: FnOnce(&T) -> &U,
    {
        let shared = this.reader_record(Location::caller());
        let ((held, exclusive), inner) = remap!(
            tokio::sync::RwLockWriteGuard::downgrade_map,
            (shared, this.held),
            this.inner,
            f
        );
        drop(exclusive);
        AsyncRwLockReadGuard { held, inner }
    }

    /// [`AsyncRwLockWriteGuard::downgrade_map`] if `f` finds a part, as
    /// [`tokio::sync::RwLockWriteGuard::try_downgrade_map`]; gives the
    /// write guard back, still exclusive, if not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new(vec![1]);
    /// let writing = lock.write().await;
    /// let writing = AsyncRwLockWriteGuard::try_downgrade_map(writing, |v| v.get(1)).unwrap_err();
    /// assert!(lock.try_read().is_err());
    /// let first = AsyncRwLockWriteGuard::try_downgrade_map(writing, |v| v.first()).unwrap();
    /// assert_eq!(*first, 1);
    /// assert!(lock.try_read().is_ok());
    /// # }
    /// ```
    #[track_caller]
    pub fn try_downgrade_map<F, U>(this: Self, f: F) -> Result<AsyncRwLockReadGuard<'a, U>, Self>
    where
        U: ?Sized,
        F: FnOnce(&T) -> Option<&U>,
    {
        let shared = this.reader_record(Location::caller());
        match remap!(
            tokio::sync::RwLockWriteGuard::try_downgrade_map,
            (shared, this.held),
            this.inner,
            f
        ) {
            ((held, exclusive), Ok(inner)) => {
                drop(exclusive);
                Ok(AsyncRwLockReadGuard { held, inner })
            }
            ((shared, held), Err(inner)) => {
                drop(shared);
                Err(AsyncRwLockWriteGuard { held, inner })
            }
        }
    }

    /// The guard as a mapped guard of the whole value, as
    /// [`tokio::sync::RwLockWriteGuard::into_mapped`].
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new(1);
    /// let mut all: AsyncRwLockMappedWriteGuard<'_, i32> =
    ///     AsyncRwLockWriteGuard::into_mapped(lock.write().await);
    /// *all = 2;
    /// drop(all);
    /// assert_eq!(*lock.read().await, 2);
    /// # }
    /// ```
    pub fn into_mapped(this: Self) -> AsyncRwLockMappedWriteGuard<'a, T> {
        AsyncRwLockMappedWriteGuard {
            held: this.held,
            inner: tokio::sync::RwLockWriteGuard::into_mapped(this.inner),
        }
    }

    /// The record of the reader this writer is about to become, written
    /// while the exclusive record still stands.
    fn reader_record(&self, at: Site) -> Shared<'a> {
        let state = self.held.0;
        let slot = if TRACK {
            state.read_acquired(task_holder(), at)
        } else {
            UNTRACKED
        };
        Shared { state, slot }
    }
}

impl<'a, T: ?Sized> AsyncRwLockMappedWriteGuard<'a, T> {
    /// Narrows the guard further, as
    /// [`tokio::sync::RwLockMappedWriteGuard::map`].
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new(((1, 2), 3));
    /// let inner = AsyncRwLockWriteGuard::map(lock.write().await, |t| &mut t.0);
    /// *AsyncRwLockMappedWriteGuard::map(inner, |pair| &mut pair.1) = 8;
    /// assert_eq!(*lock.read().await, ((1, 8), 3));
    /// # }
    /// ```
    pub fn map<F, U>(this: Self, f: F) -> AsyncRwLockMappedWriteGuard<'a, U>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> &mut U,
    {
        let (held, inner) = remap!(
            tokio::sync::RwLockMappedWriteGuard::map,
            this.held,
            this.inner,
            f
        );
        AsyncRwLockMappedWriteGuard { held, inner }
    }

    /// Narrows the guard further if `f` finds a part, as
    /// [`tokio::sync::RwLockMappedWriteGuard::try_map`]; gives it back if
    /// not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncRwLock::new((vec![1], 0));
    /// let list = AsyncRwLockWriteGuard::map(lock.write().await, |t| &mut t.0);
    /// let mut one = AsyncRwLockMappedWriteGuard::try_map(list, |v| v.get_mut(0)).unwrap();
    /// *one = 6;
    /// drop(one);
    /// assert_eq!(lock.read().await.0, [6]);
    /// # }
    /// ```
    pub fn try_map<F, U>(this: Self, f: F) -> Result<AsyncRwLockMappedWriteGuard<'a, U>, Self>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        match remap!(
            tokio::sync::RwLockMappedWriteGuard::try_map,
            this.held,
            this.inner,
            f
        ) {
            (held, Ok(inner)) => Ok(AsyncRwLockMappedWriteGuard { held, inner }),
            (held, Err(inner)) => Err(AsyncRwLockMappedWriteGuard { held, inner }),
        }
    }
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedAsyncRwLockReadGuard<T, U> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::OwnedRwLockReadGuard::map`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new((1, 2)));
    /// let second = OwnedAsyncRwLockReadGuard::map(lock.clone().read_owned().await, |p| &p.1);
    /// assert_eq!(*second, 2);
    /// # }
    /// ```
    pub fn map<F, V>(this: Self, f: F) -> OwnedAsyncRwLockReadGuard<T, V>
    where
        V: ?Sized + 'static,
        F: FnOnce(&U) -> &V,
    {
        OwnedAsyncRwLockReadGuard {
            guard: AsyncRwLockReadGuard::map(this.guard, f),
            lock: this.lock,
        }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::OwnedRwLockReadGuard::try_map`]; gives it back if
    /// not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new(vec![1]));
    /// let all = lock.clone().read_owned().await;
    /// let all = OwnedAsyncRwLockReadGuard::try_map(all, |v| v.get(5)).unwrap_err();
    /// assert_eq!(*all, [1]);
    /// # }
    /// ```
    pub fn try_map<F, V>(this: Self, f: F) -> Result<OwnedAsyncRwLockReadGuard<T, V>, Self>
    where
        V: ?Sized + 'static,
        F: FnOnce(&U) -> Option<&V>,
    {
        match AsyncRwLockReadGuard::try_map(this.guard, f) {
            Ok(guard) => Ok(OwnedAsyncRwLockReadGuard {
                guard,
                lock: this.lock,
            }),
            Err(guard) => Err(OwnedAsyncRwLockReadGuard {
                guard,
                lock: this.lock,
            }),
        }
    }

    /// The lock this guard holds, as
    /// [`tokio::sync::OwnedRwLockReadGuard::rwlock`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockReadGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::new(0));
    /// let guard = lock.clone().try_read_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedAsyncRwLockReadGuard::rwlock(&guard), &lock));
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<AsyncRwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized + 'static> OwnedAsyncRwLockWriteGuard<T> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::OwnedRwLockWriteGuard::map`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new((1, 2)));
    /// *OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |p| &mut p.1) = 0;
    /// assert_eq!(*lock.read().await, (1, 0));
    /// # }
    /// ```
    pub fn map<F, U>(this: Self, f: F) -> OwnedAsyncRwLockMappedWriteGuard<T, U>
    where
        U: ?Sized + 'static,
        F: FnOnce(&mut T) -> &mut U,
    {
        OwnedAsyncRwLockMappedWriteGuard {
            guard: AsyncRwLockWriteGuard::map(this.guard, f),
            lock: this.lock,
        }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::OwnedRwLockWriteGuard::try_map`]; gives it back if
    /// not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new(vec![1]));
    /// let all = lock.clone().write_owned().await;
    /// let mut one = OwnedAsyncRwLockWriteGuard::try_map(all, |v| v.first_mut()).unwrap();
    /// *one = 2;
    /// drop(one);
    /// assert_eq!(*lock.read().await, [2]);
    /// # }
    /// ```
    pub fn try_map<F, U>(this: Self, f: F) -> Result<OwnedAsyncRwLockMappedWriteGuard<T, U>, Self>
    where
        U: ?Sized + 'static,
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        match AsyncRwLockWriteGuard::try_map(this.guard, f) {
            Ok(guard) => Ok(OwnedAsyncRwLockMappedWriteGuard {
                guard,
                lock: this.lock,
            }),
            Err(guard) => Err(OwnedAsyncRwLockWriteGuard {
                guard,
                lock: this.lock,
            }),
        }
    }

    /// Turns exclusive access into shared access without letting a writer
    /// in between, as [`tokio::sync::OwnedRwLockWriteGuard::downgrade`];
    /// recorded as [`AsyncRwLockWriteGuard::downgrade`] does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncRwLock;
    ///
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let reading = lock.clone().try_write_owned().unwrap().downgrade();
    /// assert!(lock.try_read().is_ok());
    /// assert!(lock.try_write().is_err());
    /// drop(reading);
    /// assert!(lock.try_write().is_ok());
    /// ```
    #[track_caller]
    pub fn downgrade(self) -> OwnedAsyncRwLockReadGuard<T> {
        OwnedAsyncRwLockReadGuard {
            guard: self.guard.downgrade(),
            lock: self.lock,
        }
    }

    /// [`OwnedAsyncRwLockWriteGuard::downgrade`] and
    /// [`OwnedAsyncRwLockReadGuard::map`] in one step, as
    /// [`tokio::sync::OwnedRwLockWriteGuard::downgrade_map`]; recorded as
    /// [`AsyncRwLockWriteGuard::downgrade`] is.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::new((1, 2)));
    /// let writing = lock.clone().try_write_owned().unwrap();
    /// let first = OwnedAsyncRwLockWriteGuard::downgrade_map(writing, |p| &p.0);
    /// assert_eq!(*first, 1);
    /// assert!(lock.try_read().is_ok() && lock.try_write().is_err());
    /// ```
    #[track_caller]
    pub fn downgrade_map<F, U>(this: Self, f: F) -> OwnedAsyncRwLockReadGuard<T, U>
    where
        U: ?Sized + 'static,
        F: FnOnce(&T) -> &U,
    {
        OwnedAsyncRwLockReadGuard {
            guard: AsyncRwLockWriteGuard::downgrade_map(this.guard, f),
            lock: this.lock,
        }
    }

    /// [`OwnedAsyncRwLockWriteGuard::downgrade_map`] if `f` finds a part,
    /// as [`tokio::sync::OwnedRwLockWriteGuard::try_downgrade_map`]; gives
    /// the write guard back if not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::new(vec![1]));
    /// let writing = lock.clone().try_write_owned().unwrap();
    /// let writing = OwnedAsyncRwLockWriteGuard::try_downgrade_map(writing, |v| v.get(4));
    /// assert!(writing.is_err());
    /// assert!(lock.try_read().is_err());
    /// ```
    #[track_caller]
    pub fn try_downgrade_map<F, U>(
        this: Self,
        f: F,
    ) -> Result<OwnedAsyncRwLockReadGuard<T, U>, Self>
    where
        U: ?Sized + 'static,
        F: FnOnce(&T) -> Option<&U>,
    {
        match AsyncRwLockWriteGuard::try_downgrade_map(this.guard, f) {
            Ok(guard) => Ok(OwnedAsyncRwLockReadGuard {
                guard,
                lock: this.lock,
            }),
            Err(guard) => Err(OwnedAsyncRwLockWriteGuard {
                guard,
                lock: this.lock,
            }),
        }
    }

    /// The guard as a mapped guard of the whole value, as
    /// [`tokio::sync::OwnedRwLockWriteGuard::into_mapped`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::new(1));
    /// let mut all = OwnedAsyncRwLockWriteGuard::into_mapped(lock.clone().try_write_owned().unwrap());
    /// *all = 2;
    /// drop(all);
    /// assert_eq!(*lock.try_read().unwrap(), 2);
    /// ```
    pub fn into_mapped(this: Self) -> OwnedAsyncRwLockMappedWriteGuard<T> {
        OwnedAsyncRwLockMappedWriteGuard {
            guard: AsyncRwLockWriteGuard::into_mapped(this.guard),
            lock: this.lock,
        }
    }

    /// The lock this guard holds, as
    /// [`tokio::sync::OwnedRwLockWriteGuard::rwlock`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncRwLock, OwnedAsyncRwLockWriteGuard};
    ///
    /// let lock = Arc::new(AsyncRwLock::new(0));
    /// let guard = lock.clone().try_write_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedAsyncRwLockWriteGuard::rwlock(&guard), &lock));
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<AsyncRwLock<T>> {
        &this.lock
    }
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedAsyncRwLockMappedWriteGuard<T, U> {
    /// Narrows the guard further, as
    /// [`tokio::sync::OwnedRwLockMappedWriteGuard::map`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{
    ///     AsyncRwLock, OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockWriteGuard,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new(((1, 2), 3)));
    /// let inner = OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |t| &mut t.0);
    /// *OwnedAsyncRwLockMappedWriteGuard::map(inner, |pair| &mut pair.0) = 7;
    /// assert_eq!(*lock.read().await, ((7, 2), 3));
    /// # }
    /// ```
    pub fn map<F, V>(this: Self, f: F) -> OwnedAsyncRwLockMappedWriteGuard<T, V>
    where
        V: ?Sized + 'static,
        F: FnOnce(&mut U) -> &mut V,
    {
        OwnedAsyncRwLockMappedWriteGuard {
            guard: AsyncRwLockMappedWriteGuard::map(this.guard, f),
            lock: this.lock,
        }
    }

    /// Narrows the guard further if `f` finds a part, as
    /// [`tokio::sync::OwnedRwLockMappedWriteGuard::try_map`]; gives it back
    /// if not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{
    ///     AsyncRwLock, OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockWriteGuard,
    /// };
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncRwLock::new((vec![1], 0)));
    /// let list = OwnedAsyncRwLockWriteGuard::map(lock.clone().write_owned().await, |t| &mut t.0);
    /// let list = OwnedAsyncRwLockMappedWriteGuard::try_map(list, |v| v.get_mut(3)).unwrap_err();
    /// assert_eq!(*list, [1]);
    /// # }
    /// ```
    pub fn try_map<F, V>(this: Self, f: F) -> Result<OwnedAsyncRwLockMappedWriteGuard<T, V>, Self>
    where
        V: ?Sized + 'static,
        F: FnOnce(&mut U) -> Option<&mut V>,
    {
        match AsyncRwLockMappedWriteGuard::try_map(this.guard, f) {
            Ok(guard) => Ok(OwnedAsyncRwLockMappedWriteGuard {
                guard,
                lock: this.lock,
            }),
            Err(guard) => Err(OwnedAsyncRwLockMappedWriteGuard {
                guard,
                lock: this.lock,
            }),
        }
    }

    /// The lock this guard holds, as
    /// [`tokio::sync::OwnedRwLockMappedWriteGuard::rwlock`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{
    ///     AsyncRwLock, OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockWriteGuard,
    /// };
    ///
    /// let lock = Arc::new(AsyncRwLock::new((0, 1)));
    /// let guard = lock.clone().try_write_owned().unwrap();
    /// let guard = OwnedAsyncRwLockWriteGuard::map(guard, |p| &mut p.0);
    /// assert!(Arc::ptr_eq(OwnedAsyncRwLockMappedWriteGuard::rwlock(&guard), &lock));
    /// ```
    pub fn rwlock(this: &Self) -> &Arc<AsyncRwLock<T>> {
        &this.lock
    }
}

guard_traits!(AsyncRwLockReadGuard<'_, T> => T, inner);
guard_traits!(AsyncRwLockWriteGuard<'_, T> => T, inner, mut);
guard_traits!(AsyncRwLockMappedWriteGuard<'_, T> => T, inner, mut);
guard_traits!(OwnedAsyncRwLockReadGuard<T, U> => U, guard);
guard_traits!(OwnedAsyncRwLockWriteGuard<T> => T, guard, mut);
guard_traits!(OwnedAsyncRwLockMappedWriteGuard<T, U> => U, guard, mut);
