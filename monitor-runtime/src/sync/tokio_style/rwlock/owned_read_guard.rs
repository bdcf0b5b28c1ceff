//! [`OwnedAsyncRwLockReadGuard`]: shared access to the value of an
//! [`AsyncRwLock`] in an `Arc`.

use std::sync::Arc;

use super::{AsyncRwLock, AsyncRwLockReadGuard};

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
#[clippy::has_significant_drop]
pub struct OwnedAsyncRwLockReadGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    pub(super) guard: AsyncRwLockReadGuard<'static, U>,
    pub(super) lock: Arc<AsyncRwLock<T>>,
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

guard_traits!(OwnedAsyncRwLockReadGuard<T, U> => U, guard);
