//! [`OwnedAsyncRwLockWriteGuard`]: exclusive access to the value of an
//! [`AsyncRwLock`] in an `Arc`.

use std::sync::Arc;

use super::{
    AsyncRwLock, AsyncRwLockWriteGuard, OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockReadGuard,
};

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
#[clippy::has_significant_drop]
pub struct OwnedAsyncRwLockWriteGuard<T: ?Sized + 'static> {
    // First: drops, and unlocks, before the `Arc` it borrows from.
    pub(super) guard: AsyncRwLockWriteGuard<'static, T>,
    pub(super) lock: Arc<AsyncRwLock<T>>,
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

guard_traits!(OwnedAsyncRwLockWriteGuard<T> => T, guard, mut);
