//! [`AsyncMutex`] and [`AsyncRwLock`]: tokio's locks that know which task
//! holds them.

use std::fmt;
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::panic::Location;

use tokio::sync::TryLockError;

use super::graph::{LockState, UNTRACKED};
use super::{before_wait, task_holder, Deadlock, Want, TRACK};

type Site = &'static Location<'static>;

/// An async mutex with the API of [`tokio::sync::Mutex`] that reports a
/// deadlock between tasks (or a task that takes a lock it holds) the
/// moment it forms (see [the module](super)). The holder is the tokio task
/// (the thread, outside a task).
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::AsyncMutex;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncMutex::with_name(0, "jobs"));
/// let other = lock.clone();
/// tokio::spawn(async move { *other.lock().await += 1 }).await.unwrap();
/// assert_eq!(*lock.lock().await, 1);
/// # }
/// ```
pub struct AsyncMutex<T: ?Sized> {
    state: LockState,
    inner: tokio::sync::Mutex<T>,
}

/// The guard of an [`AsyncMutex`].
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncMutex::new(1);
/// *lock.lock().await += 1;
/// assert_eq!(*lock.lock().await, 2);
/// # }
/// ```
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct AsyncMutexGuard<'a, T: ?Sized> {
    state: &'a LockState,
    inner: tokio::sync::MutexGuard<'a, T>,
}

impl<T> AsyncMutex<T> {
    /// A new, unlocked mutex, unnamed in reports.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncMutex::new(0);
    /// assert_eq!(lock.name(), "");
    /// ```
    pub const fn new(value: T) -> Self {
        Self::with_name(value, "")
    }

    /// A new, unlocked mutex called `name` in reports.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncMutex::with_name(0, "cache");
    /// assert_eq!(lock.name(), "cache");
    /// ```
    pub const fn with_name(value: T, name: &'static str) -> Self {
        AsyncMutex {
            state: LockState::new(name),
            inner: tokio::sync::Mutex::const_new(value),
        }
    }

    /// The value, consuming the mutex.
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncMutex::new(3).into_inner(), 3);
    /// ```
    pub fn into_inner(self) -> T {
        self.inner.into_inner()
    }
}

impl<T: ?Sized> AsyncMutex<T> {
    /// The name given with [`AsyncMutex::with_name`] ("" if none).
    ///
    /// ```
    /// assert_eq!(monitor_runtime::sync::AsyncMutex::new(()).name(), "");
    /// ```
    pub fn name(&self) -> &'static str {
        self.state.name
    }

    /// Takes the lock, waiting while another task holds it, as
    /// [`tokio::sync::Mutex::lock`]. If the wait closes a cycle, or this
    /// task holds the lock already, a [`Deadlock`] is reported and the
    /// [`DeadlockPolicy`](super::DeadlockPolicy) applies. Cancel-safe: a
    /// dropped wait leaves the graph.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncMutex::new(vec![1]);
    /// lock.lock().await.push(2);
    /// assert_eq!(*lock.lock().await, [1, 2]);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock(&self) -> impl Future<Output = AsyncMutexGuard<'_, T>> + '_ {
        let at = Location::caller();
        async move {
            match self.acquire(at, false).await {
                Ok(guard) => guard,
                Err(_) => unreachable!("unchecked acquisitions report and wait"),
            }
        }
    }

    /// [`AsyncMutex::lock`] that returns the [`Deadlock`] instead of
    /// waiting forever, whatever the policy.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncMutex::new(0);
    /// let _held = lock.lock().await;
    /// assert!(lock.lock_checked().await.unwrap_err().is_self_deadlock());
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncMutexGuard<'_, T>, Deadlock>> + '_ {
        let at = Location::caller();
        self.acquire(at, true)
    }

    async fn acquire(&self, at: Site, checked: bool) -> Result<AsyncMutexGuard<'_, T>, Deadlock> {
        if !TRACK {
            let inner = self.inner.lock().await;
            return Ok(AsyncMutexGuard {
                state: &self.state,
                inner,
            });
        }
        let me = task_holder();
        let inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = before_wait(&self.state, me, at, Want::Exclusive, checked)?;
                let inner = self.inner.lock().await;
                drop(waiting);
                inner
            }
        };
        self.state.acquired(me, at);
        Ok(AsyncMutexGuard {
            state: &self.state,
            inner,
        })
    }

    /// Takes the lock from outside the runtime, blocking the thread, as
    /// [`tokio::sync::Mutex::blocking_lock`] (which panics in an async
    /// context); a deadlock is reported as for [`AsyncMutex::lock`], with
    /// the thread as the waiter.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncMutex::new(1);
    /// *lock.blocking_lock() += 1;
    /// assert_eq!(*lock.blocking_lock(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> AsyncMutexGuard<'_, T> {
        let at = Location::caller();
        if !TRACK {
            let inner = self.inner.blocking_lock();
            return AsyncMutexGuard {
                state: &self.state,
                inner,
            };
        }
        let me = task_holder();
        let inner = match self.inner.try_lock() {
            Ok(inner) => inner,
            Err(_) => {
                let waiting = match before_wait(&self.state, me, at, Want::Exclusive, false) {
                    Ok(waiting) => waiting,
                    Err(_) => unreachable!("unchecked acquisitions report and wait"),
                };
                let inner = self.inner.blocking_lock();
                drop(waiting);
                inner
            }
        };
        self.state.acquired(me, at);
        AsyncMutexGuard {
            state: &self.state,
            inner,
        }
    }

    /// Takes the lock if it is free, as [`tokio::sync::Mutex::try_lock`].
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncMutex::new(0);
    /// let held = lock.try_lock().unwrap();
    /// assert!(lock.try_lock().is_err());
    /// drop(held);
    /// ```
    #[track_caller]
    pub fn try_lock(&self) -> Result<AsyncMutexGuard<'_, T>, TryLockError> {
        let at = Location::caller();
        let inner = self.inner.try_lock()?;
        if TRACK {
            self.state.acquired(task_holder(), at);
        }
        Ok(AsyncMutexGuard {
            state: &self.state,
            inner,
        })
    }

    /// The value, through `&mut`: no locking needed.
    ///
    /// ```
    /// let mut lock = monitor_runtime::sync::AsyncMutex::new(1);
    /// *lock.get_mut() = 2;
    /// assert_eq!(lock.into_inner(), 2);
    /// ```
    pub fn get_mut(&mut self) -> &mut T {
        self.inner.get_mut()
    }
}

impl<T: Default> Default for AsyncMutex<T> {
    fn default() -> Self {
        AsyncMutex::new(T::default())
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutex<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AsyncMutex")
            .field("name", &self.state.name)
            .field("inner", &&self.inner)
            .finish()
    }
}

impl<T: ?Sized> Drop for AsyncMutexGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            self.state.released();
        }
    }
}

impl<T: ?Sized> Deref for AsyncMutexGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for AsyncMutexGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutexGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

/// An async reader-writer lock with the API of [`tokio::sync::RwLock`]
/// that reports a deadlock the moment it forms (see [the module](super)).
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
    state: LockState,
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
    state: &'a LockState,
    slot: usize,
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
    state: &'a LockState,
    inner: tokio::sync::RwLockWriteGuard<'a, T>,
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
    /// reported as for [`AsyncMutex::lock`].
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
        async move {
            match self.acquire_read(at, false).await {
                Ok(guard) => guard,
                Err(_) => unreachable!("unchecked acquisitions report and wait"),
            }
        }
    }

    /// [`AsyncRwLock::read`] that returns the [`Deadlock`] instead of
    /// waiting forever.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// let _w = lock.write().await;
    /// assert!(lock.read_checked().await.is_err());
    /// # }
    /// ```
    #[track_caller]
    pub fn read_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncRwLockReadGuard<'_, T>, Deadlock>> + '_ {
        self.acquire_read(Location::caller(), true)
    }

    /// Exclusive access, as [`tokio::sync::RwLock::write`]; a deadlock is
    /// reported as for [`AsyncMutex::lock`].
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
        async move {
            match self.acquire_write(at, false).await {
                Ok(guard) => guard,
                Err(_) => unreachable!("unchecked acquisitions report and wait"),
            }
        }
    }

    /// [`AsyncRwLock::write`] that returns the [`Deadlock`] instead of
    /// waiting forever.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = monitor_runtime::sync::AsyncRwLock::new(0);
    /// let _r = lock.read().await;
    /// assert!(lock.write_checked().await.is_err());
    /// # }
    /// ```
    #[track_caller]
    pub fn write_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncRwLockWriteGuard<'_, T>, Deadlock>> + '_ {
        self.acquire_write(Location::caller(), true)
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
        let at = Location::caller();
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
        let at = Location::caller();
        let inner = self.inner.try_write()?;
        if TRACK {
            self.state.acquired(task_holder(), at);
        }
        Ok(AsyncRwLockWriteGuard {
            state: &self.state,
            inner,
        })
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
            state: &self.state,
            slot,
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
        Ok(AsyncRwLockWriteGuard {
            state: &self.state,
            inner,
        })
    }
}

impl<T: Default> Default for AsyncRwLock<T> {
    fn default() -> Self {
        AsyncRwLock::new(T::default())
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

impl<T: ?Sized> Drop for AsyncRwLockReadGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        self.state.read_released(self.slot);
    }
}

impl<T: ?Sized> Drop for AsyncRwLockWriteGuard<'_, T> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            self.state.released();
        }
    }
}

impl<T: ?Sized> Deref for AsyncRwLockReadGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> Deref for AsyncRwLockWriteGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.inner
    }
}

impl<T: ?Sized> DerefMut for AsyncRwLockWriteGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.inner
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncRwLockReadGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncRwLockWriteGuard<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.inner, f)
    }
}
