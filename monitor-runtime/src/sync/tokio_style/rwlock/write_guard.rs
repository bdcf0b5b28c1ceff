//! [`AsyncRwLockWriteGuard`]: exclusive access to an
//! [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value; it maps, downgrades
//! and turns into a mapped guard.

use std::panic::Location;

use super::{AsyncRwLockMappedWriteGuard, AsyncRwLockReadGuard};
use crate::sync::acquire::{took_async, TRACK};
use crate::sync::graph::UNTRACKED;
use crate::sync::holder::task_holder;
use crate::sync::tokio_style::{Caller, Exclusive, Shared};

/// Exclusive access to an [`AsyncRwLock`](crate::sync::AsyncRwLock)'s value
/// until it drops.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let lock = monitor_runtime::sync::AsyncRwLock::new(1);
/// *lock.write().await += 1;
/// assert_eq!(*lock.read().await, 2);
/// # }
/// ```
#[clippy::has_significant_drop]
#[must_use = "if unused the RwLock will immediately unlock"]
pub struct AsyncRwLockWriteGuard<'a, T: ?Sized> {
    pub(super) held: Exclusive<'a>,
    pub(super) inner: tokio::sync::RwLockWriteGuard<'a, T>,
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
    fn reader_record(&self, at: Caller) -> Shared<'a> {
        let state = self.held.0;
        let holder = if TRACK { task_holder() } else { 0 };
        let slot = if TRACK {
            took_async(state, holder, at);
            state.read_acquired(holder, at)
        } else {
            UNTRACKED
        };
        Shared {
            state,
            slot,
            holder,
        }
    }
}

guard_traits!(AsyncRwLockWriteGuard<'_, T> => T, inner, mut);
