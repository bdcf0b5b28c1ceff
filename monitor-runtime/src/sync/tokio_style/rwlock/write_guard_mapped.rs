//! [`AsyncRwLockMappedWriteGuard`]: exclusive access to a part of an
//! [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value.

use crate::sync::tokio_style::Exclusive;

/// Exclusive access to a part of an
/// [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value, from
/// [`AsyncRwLockWriteGuard::map`](crate::sync::AsyncRwLockWriteGuard::map),
/// as [`tokio::sync::RwLockMappedWriteGuard`].
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
#[clippy::has_significant_drop]
pub struct AsyncRwLockMappedWriteGuard<'a, T: ?Sized> {
    pub(super) held: Exclusive<'a>,
    pub(super) inner: tokio::sync::RwLockMappedWriteGuard<'a, T>,
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

guard_traits!(AsyncRwLockMappedWriteGuard<'_, T> => T, inner, mut);
