//! [`OwnedAsyncRwLockMappedWriteGuard`]: exclusive access to a part of
//! the value of an [`AsyncRwLock`] in an `Arc`.

use std::sync::Arc;

use super::{AsyncRwLock, AsyncRwLockMappedWriteGuard};

/// An [`OwnedAsyncRwLockWriteGuard`](crate::sync::OwnedAsyncRwLockWriteGuard)
/// narrowed to a part of the value (a `U` in the `T`), from
/// [`OwnedAsyncRwLockWriteGuard::map`](crate::sync::OwnedAsyncRwLockWriteGuard::map),
/// as [`tokio::sync::OwnedRwLockMappedWriteGuard`].
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
#[clippy::has_significant_drop]
pub struct OwnedAsyncRwLockMappedWriteGuard<T: ?Sized + 'static, U: ?Sized + 'static = T> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    pub(super) guard: AsyncRwLockMappedWriteGuard<'static, U>,
    pub(super) lock: Arc<AsyncRwLock<T>>,
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

guard_traits!(OwnedAsyncRwLockMappedWriteGuard<T, U> => U, guard, mut);
