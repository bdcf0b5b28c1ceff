//! [`AsyncMutex`]: tokio's mutex that knows which task holds it.

use std::fmt;
use std::future::Future;
use std::panic::Location;
use std::sync::Arc;

use tokio::sync::TryLockError;

use super::{coop_turn, take_blocking, unbound, unchecked, within_turn, Caller, Exclusive, SyncIf};
use crate::sync::acquire::{order_check, order_policy, took_async, TRACK};
use crate::sync::async_wait::before_wait;
use crate::sync::graph::{LockState, Want};
use crate::sync::holder::task_holder;
use crate::sync::order::took_known_async;
use crate::sync::report::Deadlock;

/// An async mutex with the API of [`tokio::sync::Mutex`] that reports a
/// deadlock between tasks (or a task that takes a lock it holds) the
/// moment it forms (see [the module](crate::sync)). The holder is the tokio task
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
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct AsyncMutexGuard<'a, T: ?Sized> {
    held: Exclusive<'a>,
    inner: tokio::sync::MutexGuard<'a, T>,
    /// For [`AsyncMutexGuard::mutex`].
    lock: &'a AsyncMutex<T>,
}

/// The guard of an [`AsyncMutex`] in an `Arc`, from
/// [`AsyncMutex::lock_owned`], as [`tokio::sync::OwnedMutexGuard`]: it
/// keeps the `Arc` instead of borrowing the mutex, so it can move into
/// another task. `T` must be `'static` (see [`AsyncMutex::lock_owned`]).
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncMutex::new(1));
/// let mut guard: OwnedAsyncMutexGuard<i32> = lock.clone().lock_owned().await;
/// tokio::spawn(async move { *guard += 1 }).await.unwrap();
/// assert_eq!(*lock.lock().await, 2);
/// # }
/// ```
#[clippy::has_significant_drop]
pub struct OwnedAsyncMutexGuard<T: ?Sized + 'static> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    guard: AsyncMutexGuard<'static, T>,
    lock: Arc<AsyncMutex<T>>,
}

/// The guard of an [`AsyncMutex`] narrowed to a part of the value, from
/// [`AsyncMutexGuard::map`], as [`tokio::sync::MappedMutexGuard`]. The
/// mutex stays held, and reported as taken where the original guard took
/// it, until this drops.
///
/// ```
/// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard, MappedAsyncMutexGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = AsyncMutex::new((1, "one"));
/// let mut first: MappedAsyncMutexGuard<'_, i32> =
///     AsyncMutexGuard::map(lock.lock().await, |pair| &mut pair.0);
/// *first += 1;
/// assert!(lock.try_lock().is_err());
/// drop(first);
/// assert_eq!(*lock.lock().await, (2, "one"));
/// # }
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct MappedAsyncMutexGuard<'a, T: ?Sized> {
    held: Exclusive<'a>,
    inner: tokio::sync::MappedMutexGuard<'a, T>,
}

/// An [`OwnedAsyncMutexGuard`] narrowed to a part of the value (a `U` in
/// the `T`), from [`OwnedAsyncMutexGuard::map`], as
/// [`tokio::sync::OwnedMappedMutexGuard`].
///
/// ```
/// use std::sync::Arc;
/// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = Arc::new(AsyncMutex::new(vec![1, 2]));
/// let mut last = OwnedAsyncMutexGuard::map(lock.clone().lock_owned().await, |v| {
///     v.last_mut().unwrap()
/// });
/// tokio::spawn(async move { *last = 7 }).await.unwrap();
/// assert_eq!(*lock.lock().await, [1, 7]);
/// # }
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the Mutex will immediately unlock"]
pub struct OwnedMappedAsyncMutexGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    guard: MappedAsyncMutexGuard<'static, U>,
    lock: Arc<AsyncMutex<T>>,
    /// `Sync` only for a `T: Sync`, as tokio's guard.
    sync: SyncIf<T>,
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

    /// [`AsyncMutex::new`] under the name of
    /// [`tokio::sync::Mutex::const_new`], so that code written for tokio's
    /// compiles after the import swap (ours is `const` under either name).
    ///
    /// ```
    /// use monitor_runtime::sync::AsyncMutex;
    ///
    /// static LOCK: AsyncMutex<u8> = AsyncMutex::const_new(1);
    /// assert_eq!(*LOCK.try_lock().unwrap(), 1);
    /// ```
    pub const fn const_new(value: T) -> Self {
        Self::new(value)
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
    /// [`DeadlockPolicy`](crate::sync::DeadlockPolicy) applies. Cancel-safe: a
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
        async move { unchecked(self.acquire(at, false).await) }
    }

    /// [`AsyncMutex::lock`] that returns the [`Deadlock`] instead of
    /// waiting forever, whatever the policy.
    ///
    /// A wait for a lock the caller's own task holds returns it after a
    /// second, if the task still holds it then: another branch of the
    /// task (`join!`, `select!`) may hold it and let go.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::AsyncMutex::new(0);
    /// let _held = lock.lock().await;
    /// assert!(lock.lock_checked().await.unwrap_err().is_self_deadlock());
    /// # }
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_checked(
        &self,
    ) -> impl Future<Output = Result<AsyncMutexGuard<'_, T>, Deadlock>> + '_ {
        let at = Location::caller();
        self.acquire(at, true)
    }

    fn guard<'a>(&'a self, inner: tokio::sync::MutexGuard<'a, T>) -> AsyncMutexGuard<'a, T> {
        AsyncMutexGuard {
            held: Exclusive(&self.state),
            inner,
            lock: self,
        }
    }

    async fn acquire(&self, at: Caller, checked: bool) -> Result<AsyncMutexGuard<'_, T>, Deadlock> {
        if !TRACK {
            return Ok(self.guard(self.inner.lock().await));
        }
        let me = task_holder();
        // Not a `match` on `try_lock()`: its `Result` would stay in the
        // future across the `.await` below, and tokio's guard in it is
        // `!Sync` for a `T: !Sync`, which would make this future `!Sync`
        // where tokio's is `Sync` (tests/locks/lock_auto_traits.rs).
        if let Ok(inner) = within_turn(coop_turn().await, self.inner.try_lock()) {
            // Taken without a wait: when every pair is known (or the
            // check is off), the check and the held set's push are one
            // look at the task's record; else the whole check.
            if took_known_async(&self.state, me, at) {
                self.state.acquired(me, at);
                return Ok(self.guard(inner));
            }
            let inversion = order_check(&self.state, me, at);
            return Ok(self.took(inversion, inner, me, at));
        }
        let inversion = order_check(&self.state, me, at);
        let waiting = before_wait(&self.state, me, at, Want::Exclusive, checked)?;
        let inner = waiting.until(self.inner.lock()).await?;
        Ok(self.took(inversion, inner, me, at))
    }

    /// The acquisition's end: the order policy, then the record.
    fn took<'a>(
        &'a self,
        inversion: Option<crate::sync::LockOrderInversion>,
        inner: tokio::sync::MutexGuard<'a, T>,
        me: u64,
        at: Caller,
    ) -> AsyncMutexGuard<'a, T> {
        let inner = order_policy(inversion, inner);
        self.state.acquired(me, at);
        took_async(&self.state, me, at);
        self.guard(inner)
    }

    /// Takes the lock from outside the runtime, blocking the thread, as
    /// [`tokio::sync::Mutex::blocking_lock`]; a deadlock is reported as for
    /// [`AsyncMutex::lock`], with the thread as the waiter.
    ///
    /// # Panics
    ///
    /// As tokio's, at the caller: if called within an asynchronous
    /// execution context (a thread driving tasks; `spawn_blocking` threads
    /// may block), even when the lock is free.
    ///
    /// ```
    /// let lock = monitor_runtime::sync::AsyncMutex::new(1);
    /// *lock.blocking_lock() += 1;
    /// assert_eq!(*lock.blocking_lock(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock(&self) -> AsyncMutexGuard<'_, T> {
        self.blocking_acquire(Location::caller())
    }

    #[track_caller]
    fn blocking_acquire(&self, at: Caller) -> AsyncMutexGuard<'_, T> {
        if !TRACK {
            return self.guard(self.inner.blocking_lock());
        }
        let (inner, me) = take_blocking(
            &self.state,
            at,
            Want::Exclusive,
            || self.inner.try_lock().ok(),
            || self.inner.blocking_lock(),
        );
        self.state.acquired(me, at);
        took_async(&self.state, me, at);
        self.guard(inner)
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
        self.try_acquire(Location::caller())
    }

    fn try_acquire(&self, at: Caller) -> Result<AsyncMutexGuard<'_, T>, TryLockError> {
        let inner = self.inner.try_lock()?;
        if TRACK {
            let me = task_holder();
            self.state.acquired(me, at);
            took_async(&self.state, me, at);
        }
        Ok(self.guard(inner))
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

impl<T: ?Sized + 'static> AsyncMutex<T> {
    /// Takes the lock of a mutex in an `Arc`, as
    /// [`tokio::sync::Mutex::lock_owned`]: the guard keeps the `Arc`, so it
    /// is `'static` and can move into another task. Reports as
    /// [`AsyncMutex::lock`] does. `T` must be `'static`, unlike tokio's:
    /// the guard keeps a borrow of the mutex next to the `Arc`, which the
    /// borrow checker cannot tie to the `Arc` (tokio's keeps raw
    /// pointers).
    ///
    /// The holder on record stays the task that took the lock, even after
    /// the guard moves: a cycle through the task it moved to is not seen,
    /// and one through the task that took it may be reported when that
    /// task no longer holds the lock.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncMutex;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncMutex::with_name(0, "jobs"));
    /// let mut guard = lock.clone().lock_owned().await;
    /// let task = tokio::spawn(async move { *guard += 1 });
    /// task.await.unwrap();
    /// assert_eq!(*lock.lock().await, 1);
    /// # }
    /// ```
    #[track_caller]
    pub fn lock_owned(self: Arc<Self>) -> impl Future<Output = OwnedAsyncMutexGuard<T>> {
        Self::acquire_owned(self, Location::caller())
    }

    async fn acquire_owned(this: Arc<Self>, at: Caller) -> OwnedAsyncMutexGuard<T> {
        // SAFETY: `this` drops after the pending wait (an argument), or
        // lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&this) };
        let guard = unchecked(lock.acquire(at, false).await);
        OwnedAsyncMutexGuard { guard, lock: this }
    }

    /// [`AsyncMutex::lock_owned`] from outside the runtime, blocking the
    /// thread, as [`tokio::sync::Mutex::blocking_lock_owned`]; reports, and
    /// panics inside a runtime, as [`AsyncMutex::blocking_lock`] does.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncMutex;
    ///
    /// let lock = Arc::new(AsyncMutex::new(1));
    /// let mut guard = lock.clone().blocking_lock_owned();
    /// std::thread::spawn(move || *guard += 1).join().unwrap();
    /// assert_eq!(*lock.blocking_lock(), 2);
    /// ```
    #[track_caller]
    pub fn blocking_lock_owned(self: Arc<Self>) -> OwnedAsyncMutexGuard<T> {
        let at = Location::caller();
        // SAFETY: `self` lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&self) };
        let guard = lock.blocking_acquire(at);
        OwnedAsyncMutexGuard { guard, lock: self }
    }

    /// Takes the lock of a mutex in an `Arc` if it is free, as
    /// [`tokio::sync::Mutex::try_lock_owned`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::AsyncMutex;
    ///
    /// let lock = Arc::new(AsyncMutex::new(0));
    /// let held = lock.clone().try_lock_owned().unwrap();
    /// assert!(lock.clone().try_lock_owned().is_err());
    /// drop(held);
    /// assert!(lock.try_lock_owned().is_ok());
    /// ```
    #[track_caller]
    pub fn try_lock_owned(self: Arc<Self>) -> Result<OwnedAsyncMutexGuard<T>, TryLockError> {
        let at = Location::caller();
        // SAFETY: `self` lives on in the guard, after the borrowed guard.
        let lock = unsafe { unbound(&self) };
        let guard = lock.try_acquire(at)?;
        Ok(OwnedAsyncMutexGuard { guard, lock: self })
    }
}

impl<T: Default> Default for AsyncMutex<T> {
    fn default() -> Self {
        AsyncMutex::new(T::default())
    }
}

impl<T> From<T> for AsyncMutex<T> {
    fn from(value: T) -> Self {
        AsyncMutex::new(value)
    }
}

impl<T: ?Sized + fmt::Debug> fmt::Debug for AsyncMutex<T> {
    /// As tokio's, which it is inside: the value if the lock is free at
    /// that moment (`<locked>` if not); the name is left out, so output
    /// written for the peer's lock reads the same.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.inner, f)
    }
}

impl<'a, T: ?Sized> AsyncMutexGuard<'a, T> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::MutexGuard::map`]; the mutex stays held. An
    /// associated function, `AsyncMutexGuard::map(guard, f)`, so that it
    /// does not hide a method of `T`.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncMutex::new((1, 2));
    /// *AsyncMutexGuard::map(lock.lock().await, |pair| &mut pair.1) = 5;
    /// assert_eq!(*lock.lock().await, (1, 5));
    /// # }
    /// ```
    pub fn map<U, F>(this: Self, f: F) -> MappedAsyncMutexGuard<'a, U>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> &mut U,
    {
        let (held, inner) = remap!(tokio::sync::MutexGuard::map, this.held, this.inner, f);
        MappedAsyncMutexGuard { held, inner }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::MutexGuard::try_map`]; gives the guard back if not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncMutex::new(vec![1]);
    /// let guard = AsyncMutexGuard::try_map(lock.lock().await, |v| v.get_mut(3)).unwrap_err();
    /// let mut first = AsyncMutexGuard::try_map(guard, |v| v.first_mut()).unwrap();
    /// *first = 2;
    /// drop(first);
    /// assert_eq!(*lock.lock().await, [2]);
    /// # }
    /// ```
    pub fn try_map<U, F>(this: Self, f: F) -> Result<MappedAsyncMutexGuard<'a, U>, Self>
    where
        U: ?Sized,
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        let lock = this.lock;
        match remap!(tokio::sync::MutexGuard::try_map, this.held, this.inner, f) {
            (held, Ok(inner)) => Ok(MappedAsyncMutexGuard { held, inner }),
            (held, Err(inner)) => Err(AsyncMutexGuard { held, inner, lock }),
        }
    }

    /// The mutex this guard holds, as [`tokio::sync::MutexGuard::mutex`]
    /// (an associated function, so that it does not hide a method of `T`).
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard};
    ///
    /// let lock = AsyncMutex::with_name(0, "jobs");
    /// let guard = lock.try_lock().unwrap();
    /// assert!(std::ptr::eq(AsyncMutexGuard::mutex(&guard), &lock));
    /// ```
    pub fn mutex(this: &Self) -> &'a AsyncMutex<T> {
        this.lock
    }
}

impl<'a, T: ?Sized> MappedAsyncMutexGuard<'a, T> {
    /// Narrows the guard further, as
    /// [`tokio::sync::MappedMutexGuard::map`].
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard, MappedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncMutex::new(((1, 2), 3));
    /// let inner = AsyncMutexGuard::map(lock.lock().await, |t| &mut t.0);
    /// *MappedAsyncMutexGuard::map(inner, |pair| &mut pair.1) = 7;
    /// assert_eq!(*lock.lock().await, ((1, 7), 3));
    /// # }
    /// ```
    pub fn map<U, F>(this: Self, f: F) -> MappedAsyncMutexGuard<'a, U>
    where
        F: FnOnce(&mut T) -> &mut U,
    {
        let (held, inner) = remap!(tokio::sync::MappedMutexGuard::map, this.held, this.inner, f);
        MappedAsyncMutexGuard { held, inner }
    }

    /// Narrows the guard further if `f` finds a part, as
    /// [`tokio::sync::MappedMutexGuard::try_map`]; gives it back if not.
    ///
    /// ```
    /// use monitor_runtime::sync::{AsyncMutex, AsyncMutexGuard, MappedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = AsyncMutex::new((vec![1], 0));
    /// let list = AsyncMutexGuard::map(lock.lock().await, |t| &mut t.0);
    /// let list = MappedAsyncMutexGuard::try_map(list, |v| v.get_mut(1)).unwrap_err();
    /// assert_eq!(*list, [1]);
    /// # }
    /// ```
    pub fn try_map<U, F>(this: Self, f: F) -> Result<MappedAsyncMutexGuard<'a, U>, Self>
    where
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        match remap!(
            tokio::sync::MappedMutexGuard::try_map,
            this.held,
            this.inner,
            f
        ) {
            (held, Ok(inner)) => Ok(MappedAsyncMutexGuard { held, inner }),
            (held, Err(inner)) => Err(MappedAsyncMutexGuard { held, inner }),
        }
    }
}

impl<T: ?Sized + 'static> OwnedAsyncMutexGuard<T> {
    /// Narrows the guard to a part of the value, as
    /// [`tokio::sync::OwnedMutexGuard::map`]; the mutex stays held.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncMutex::new((1, 2)));
    /// *OwnedAsyncMutexGuard::map(lock.clone().lock_owned().await, |p| &mut p.0) = 3;
    /// assert_eq!(*lock.lock().await, (3, 2));
    /// # }
    /// ```
    pub fn map<U, F>(this: Self, f: F) -> OwnedMappedAsyncMutexGuard<T, U>
    where
        U: ?Sized + 'static,
        F: FnOnce(&mut T) -> &mut U,
    {
        OwnedMappedAsyncMutexGuard {
            guard: AsyncMutexGuard::map(this.guard, f),
            lock: this.lock,
            sync: SyncIf::NEW,
        }
    }

    /// Narrows the guard to a part of the value if `f` finds one, as
    /// [`tokio::sync::OwnedMutexGuard::try_map`]; gives it back if not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncMutex::new(vec![1]));
    /// let guard = lock.clone().lock_owned().await;
    /// let guard = OwnedAsyncMutexGuard::try_map(guard, |v| v.get_mut(1)).unwrap_err();
    /// assert_eq!(*guard, [1]);
    /// # }
    /// ```
    pub fn try_map<U, F>(this: Self, f: F) -> Result<OwnedMappedAsyncMutexGuard<T, U>, Self>
    where
        U: ?Sized + 'static,
        F: FnOnce(&mut T) -> Option<&mut U>,
    {
        match AsyncMutexGuard::try_map(this.guard, f) {
            Ok(guard) => Ok(OwnedMappedAsyncMutexGuard {
                guard,
                lock: this.lock,
                sync: SyncIf::NEW,
            }),
            Err(guard) => Err(OwnedAsyncMutexGuard {
                guard,
                lock: this.lock,
            }),
        }
    }

    /// The mutex this guard holds, as
    /// [`tokio::sync::OwnedMutexGuard::mutex`] (an associated function, so
    /// that it does not hide a method of `T`).
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard};
    ///
    /// let lock = Arc::new(AsyncMutex::with_name(0, "jobs"));
    /// let guard = lock.clone().try_lock_owned().unwrap();
    /// assert!(Arc::ptr_eq(OwnedAsyncMutexGuard::mutex(&guard), &lock));
    /// ```
    pub fn mutex(this: &Self) -> &Arc<AsyncMutex<T>> {
        &this.lock
    }
}

impl<T: ?Sized + 'static, U: ?Sized + 'static> OwnedMappedAsyncMutexGuard<T, U> {
    /// Narrows the guard further, as
    /// [`tokio::sync::OwnedMappedMutexGuard::map`].
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard, OwnedMappedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncMutex::new(((1, 2), 3)));
    /// let inner = OwnedAsyncMutexGuard::map(lock.clone().lock_owned().await, |t| &mut t.0);
    /// *OwnedMappedAsyncMutexGuard::map(inner, |pair| &mut pair.0) = 9;
    /// assert_eq!(*lock.lock().await, ((9, 2), 3));
    /// # }
    /// ```
    pub fn map<S, F>(this: Self, f: F) -> OwnedMappedAsyncMutexGuard<T, S>
    where
        S: 'static,
        F: FnOnce(&mut U) -> &mut S,
    {
        OwnedMappedAsyncMutexGuard {
            guard: MappedAsyncMutexGuard::map(this.guard, f),
            lock: this.lock,
            sync: SyncIf::NEW,
        }
    }

    /// Narrows the guard further if `f` finds a part, as
    /// [`tokio::sync::OwnedMappedMutexGuard::try_map`]; gives it back if
    /// not.
    ///
    /// ```
    /// use std::sync::Arc;
    /// use monitor_runtime::sync::{AsyncMutex, OwnedAsyncMutexGuard, OwnedMappedAsyncMutexGuard};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let lock = Arc::new(AsyncMutex::new((vec![1], 0)));
    /// let list = OwnedAsyncMutexGuard::map(lock.clone().lock_owned().await, |t| &mut t.0);
    /// let mut one = OwnedMappedAsyncMutexGuard::try_map(list, |v| v.get_mut(0)).unwrap();
    /// *one = 4;
    /// drop(one);
    /// assert_eq!(lock.lock().await.0, [4]);
    /// # }
    /// ```
    pub fn try_map<S, F>(this: Self, f: F) -> Result<OwnedMappedAsyncMutexGuard<T, S>, Self>
    where
        S: 'static,
        F: FnOnce(&mut U) -> Option<&mut S>,
    {
        match MappedAsyncMutexGuard::try_map(this.guard, f) {
            Ok(guard) => Ok(OwnedMappedAsyncMutexGuard {
                guard,
                lock: this.lock,
                sync: SyncIf::NEW,
            }),
            Err(guard) => Err(OwnedMappedAsyncMutexGuard {
                guard,
                lock: this.lock,
                sync: this.sync,
            }),
        }
    }
}

guard_traits!(AsyncMutexGuard<'_, T> => T, inner, mut);
guard_traits!(MappedAsyncMutexGuard<'_, T> => T, inner, mut);
guard_traits!(OwnedAsyncMutexGuard<T> => T, guard, mut);
guard_traits!(OwnedMappedAsyncMutexGuard<T, U> => U, guard, mut);
