//! [`AsyncRwLockReadGuard`]: shared access to an
//! [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value.

use crate::sync::tokio_style::Shared;

/// Shared access to an [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value
/// until it drops.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
/// assert_eq!(*lock.read().await, 1);
/// # }
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct AsyncRwLockReadGuard<'a, T: ?Sized> {
    pub(super) held: Shared<'a>,
    pub(super) inner: tokio::sync::RwLockReadGuard<'a, T>,
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

guard_traits!(AsyncRwLockReadGuard<'_, T> => T, inner);
