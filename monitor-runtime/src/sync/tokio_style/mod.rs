//! [`AsyncMutex`] and [`AsyncRwLock`]: tokio's locks that know which task
//! holds them.
//!
//! Every guard keeps the lock's record (an `Exclusive` or a `Shared`, which
//! erase themselves on drop) in its first field and tokio's guard after it,
//! so the record goes before the lock is let go: the other order could
//! erase the record of the next holder. Mapping a guard moves the record
//! into the mapped guard unchanged, so a mapped guard is still reported as
//! taken where the original guard was.
//!
//! The owned guards (`lock_owned`, `read_owned`, ...) keep the `Arc` next to
//! a borrowed guard of the lock it points to, a borrow longer than the
//! borrow checker can see (see `unbound`). That is why their `T` must be
//! `'static`, where tokio's (built on raw pointers) need not.

use std::panic::Location;
use std::sync::Arc;

use tokio::task::coop::{poll_proceed, RestoreOnPending};

use crate::sync::acquire::{before_blocking_wait, let_go_async, order_check, order_policy, TRACK};
use crate::sync::graph::{LockState, Want};
use crate::sync::holder::task_holder;
use crate::sync::report::Deadlock;

/// Where a lock method was called (`#[track_caller]`).
type Caller = &'static Location<'static>;

/// A lock's exclusive record: dropping it records the release.
struct Exclusive<'a>(&'a LockState);

impl Drop for Exclusive<'_> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            let_go_async(self.0, self.0.owner());
            self.0.released();
        }
    }
}

/// A reader's slot in a lock's record
/// ([`UNTRACKED`](crate::sync::graph::UNTRACKED) for none): dropping it
/// frees the slot.
struct Shared<'a> {
    state: &'a LockState,
    slot: usize,
    /// The reader, as a holder id (0 without bookkeeping).
    holder: u64,
}

impl Drop for Shared<'_> {
    #[inline]
    fn drop(&mut self) {
        if TRACK {
            let_go_async(self.state, self.holder);
        }
        self.state.read_released(self.slot);
    }
}

/// The lock `arc` points to, for an owned guard to borrow.
///
/// # Safety
///
/// The reference, and every guard that borrows through it, must be gone
/// before `arc` is dropped. The owned guards keep the borrowed guard in
/// their first field and the `Arc` in their last (fields drop in
/// declaration order), never hand the `'static` out, and keep the two
/// together when they map or downgrade. The async acquisitions take the
/// `Arc` as an argument of an `async fn`, which drops after everything the
/// body holds, a pending wait included.
unsafe fn unbound<L: ?Sized + 'static>(arc: &Arc<L>) -> &'static L {
    // SAFETY: the caller keeps the allocation alive (see above).
    unsafe { &*Arc::as_ptr(arc) }
}

/// Panics where tokio's `blocking_*` methods panic (inside a runtime, on a
/// thread that drives tasks), with tokio's message, pointing at the caller
/// of the lock method: it asks tokio itself, through `blocking_lock` on a
/// mutex no one else can see (never contended, so it never waits). Our
/// blocking acquisitions try the lock first and would otherwise take a
/// free lock without a word, blocking a worker the next time it is held.
/// Costs an uncontended tokio lock and unlock; `blocking_*` are the
/// escape hatch for code outside the runtime, not a hot path.
#[track_caller]
#[inline]
fn forbid_blocking_in_runtime() {
    drop(tokio::sync::Mutex::const_new(()).blocking_lock());
}

/// A `blocking_*` acquisition of the lock whose record is `state`, with
/// tokio's panic inside a runtime and the order check: `try_take` first,
/// else the wait on record while `take` blocks the thread. The guard (the
/// policy of an inversion applied) and its holder; the caller records it.
#[track_caller]
fn take_blocking<G>(
    state: &LockState,
    at: Caller,
    want: Want,
    try_take: impl FnOnce() -> Option<G>,
    take: impl FnOnce() -> G,
) -> (G, u64) {
    forbid_blocking_in_runtime();
    let me = task_holder();
    let inversion = order_check(state, me, at);
    let inner = try_take().unwrap_or_else(|| {
        let waiting = unchecked(before_blocking_wait(state, me, at, want, false));
        let inner = take();
        drop(waiting);
        inner
    });
    (order_policy(inversion, inner), me)
}

/// The first step of an async acquisition: a unit of the task's coop
/// budget, after a yield if the budget is used up. tokio's `lock()`,
/// `read()` and `write()` spend a unit when they take the lock (and yield
/// if none is left), so a task that only takes free locks in a loop still
/// lets the other tasks of its worker run; ours take a free lock with
/// `try_*`, which spends none, so they take the unit here and hand it to
/// [`within_turn`] with the attempt. tokio's yield comes after the lock is
/// taken, with the lock held; this one before, with nothing held: the
/// count of acquisitions between two yields is tokio's. Costs about 50
/// instructions per acquisition (the budget lives in tokio's thread-local
/// context), which tokio's own acquisitions pay too.
async fn coop_turn() -> RestoreOnPending {
    std::future::poll_fn(poll_proceed).await
}

/// `taken`, with the unit of [`coop_turn`] spent if the lock was taken, or
/// given back (as `turn` drops) if it was busy: tokio's own wait spends
/// one when it ends.
#[inline]
fn within_turn<G, E>(turn: RestoreOnPending, taken: Result<G, E>) -> Result<G, E> {
    if taken.is_ok() {
        turn.made_progress();
    }
    taken
}

/// A marker that is always `Send`, and `Sync` only if `T` is: for a guard
/// that must not be `Sync` where tokio's is not (tokio's
/// `OwnedMappedMutexGuard<T, U>` is `Sync` only for a `T: Sync`, which the
/// `Arc<AsyncMutex<T>>` in ours does not require).
struct SyncIf<T: ?Sized>(std::marker::PhantomData<*const T>);

impl<T: ?Sized> SyncIf<T> {
    const NEW: Self = SyncIf(std::marker::PhantomData);
}

// SAFETY: it holds nothing; it only withholds `Sync` (below) from a `T:
// !Sync`.
unsafe impl<T: ?Sized> Send for SyncIf<T> {}
// SAFETY: as above.
unsafe impl<T: ?Sized + Sync> Sync for SyncIf<T> {}

/// An unchecked acquisition reports a deadlock and waits: it never gets
/// the [`Deadlock`] back.
fn unchecked<G>(acquired: Result<G, Deadlock>) -> G {
    match acquired {
        Ok(guard) => guard,
        Err(_) => unreachable!("unchecked acquisitions report and wait"),
    }
}

/// Maps tokio's guard `$inner` with `$map` and the user's `$f`, moving the
/// record `$held` along: `(record, mapped)`. `$f` runs with the record in
/// its own frame, so that if it panics the record drops first and tokio's
/// guard (unwinding through `$map`) unlocks after, the order of an
/// ordinary drop.
macro_rules! remap {
    ($map:path, $held:expr, $inner:expr, $f:expr) => {{
        let mut record = Some($held);
        let f = $f;
        let mapped = $map($inner, |value| {
            let held = record.take();
            let mapped = f(value);
            record = held;
            mapped
        });
        (record.expect("the map calls `f` once"), mapped)
    }};
}

mod mutex;
mod rwlock;

pub use mutex::{
    AsyncMutex, AsyncMutexGuard, MappedAsyncMutexGuard, OwnedAsyncMutexGuard,
    OwnedMappedAsyncMutexGuard,
};
pub use rwlock::{
    AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockReadGuard, AsyncRwLockWriteGuard,
    OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync::holder::task_holder;

    fn send_sync<G: Send + Sync>() {}
    fn send<G: Send>() {}

    /// The owned guards are `Send` and `Sync` where tokio's are.
    #[test]
    fn owned_guards_cross_threads_as_tokios_do() {
        send_sync::<OwnedAsyncMutexGuard<Vec<u8>>>();
        send_sync::<OwnedMappedAsyncMutexGuard<Vec<u8>, u8>>();
        send_sync::<OwnedAsyncRwLockReadGuard<Vec<u8>, [u8]>>();
        send_sync::<OwnedAsyncRwLockWriteGuard<Vec<u8>>>();
        send_sync::<OwnedAsyncRwLockMappedWriteGuard<Vec<u8>, u8>>();
        // Not `Sync`, as tokio's: a `Cell` shared through the guard.
        send::<OwnedAsyncMutexGuard<std::cell::Cell<u8>>>();
        send::<tokio::sync::OwnedMutexGuard<std::cell::Cell<u8>>>();
    }

    #[test]
    fn locks_come_from_their_value_as_tokios_do() {
        assert_eq!(AsyncMutex::from(3).into_inner(), 3);
        assert_eq!(AsyncRwLock::from(4).into_inner(), 4);
    }

    #[test]
    fn guards_display_their_value_as_tokios_do() {
        let lock = Arc::new(AsyncMutex::new(7));
        assert_eq!(lock.try_lock().unwrap().to_string(), "7");
        let owned = lock.clone().try_lock_owned().unwrap();
        assert_eq!(OwnedAsyncMutexGuard::map(owned, |n| n).to_string(), "7");
        let rw = Arc::new(AsyncRwLock::new("seven"));
        assert_eq!(rw.try_read().unwrap().to_string(), "seven");
        assert_eq!(rw.clone().try_write_owned().unwrap().to_string(), "seven");
    }

    /// A closure that panics in `map` leaves neither the lock nor its
    /// record held.
    #[test]
    fn a_panic_in_map_lets_go_of_everything() {
        use std::panic::{catch_unwind, AssertUnwindSafe};

        let lock = AsyncRwLock::new(1);
        let guard = lock.try_read().unwrap();
        let mapped = catch_unwind(AssertUnwindSafe(|| {
            AsyncRwLockReadGuard::map(guard, |_: &i32| -> &i32 { panic!("in map") })
        }));
        assert!(mapped.is_err());
        assert!(lock.try_write().is_ok());
        if TRACK {
            assert_eq!(lock.state.held_by(task_holder()), None);
        }

        let mutex = AsyncMutex::new(1);
        let guard = mutex.try_lock().unwrap();
        let mapped = catch_unwind(AssertUnwindSafe(|| {
            AsyncMutexGuard::map(guard, |_: &mut i32| -> &mut i32 { panic!("in map") })
        }));
        assert!(mapped.is_err());
        assert!(mutex.try_lock().is_ok());
    }
}
