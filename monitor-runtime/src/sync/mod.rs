//! Locks that report a deadlock the moment it forms.
//!
//! [`Mutex`] and [`RwLock`] have the API of `std::sync`'s (guards,
//! `try_lock`, poisoning), [`AsyncMutex`] and [`AsyncRwLock`] that of
//! tokio's. Each lock knows who holds it (a thread, or a tokio task) and
//! where it was taken (`#[track_caller]`). When a thread or task has to
//! wait, and only then, it looks along the wait-for graph: if the holder of
//! the lock waits for a lock that it (or the holder of that one, and so
//! on) holds, the wait closes a cycle: a deadlock. The waiter that closes
//! it writes a [`Deadlock`] report at once, as a dump
//! ([`DumpReason::Deadlock`](crate::dump::DumpReason::Deadlock)) to the sink set
//! with [`set_dump_sink`](crate::dump::set_dump_sink): every participant, the
//! lock it holds and where it took it, the lock it waits for and where, and
//! the annotated calls it is in. Taking a lock that the same thread or task
//! holds already is reported as a self-deadlock; reading a read-write lock
//! again while a writer waits for it, as a cycle with that writer (new
//! readers wait behind a queued writer).
//!
//! What happens next is the [`DeadlockPolicy`]: keep waiting (the default,
//! as a plain lock would), or panic in the waiter that closed the cycle.
//! `lock_checked` returns the [`Deadlock`] as an error instead.
//!
//! ```
//! use monitor_runtime::sync::Mutex;
//!
//! static ACCOUNTS: Mutex<Vec<u64>> = Mutex::with_name(Vec::new(), "accounts");
//! ACCOUNTS.lock().unwrap().push(7);
//! assert_eq!(*ACCOUNTS.lock().unwrap(), [7]);
//! ```
//!
//! Cost: an uncontended lock and unlock is the inner lock's plus two
//! relaxed stores and a thread-local read; nothing global is touched until
//! a thread must wait. With the Cargo feature `plain-locks`, the locks keep
//! their API and do no bookkeeping at all: nothing is reported, and the
//! `*_checked` acquisitions never return a `Deadlock` (they wait, as the
//! plain ones do).

// First, so that the lock families below see `guard_traits!`.
#[macro_use]
mod guard;

mod acquire;
pub(crate) mod graph;
mod held;
mod holder;
mod inversion;
mod order;
mod policy;
pub(crate) mod report;
mod std_style;
mod tokio_style;

pub(crate) use acquire::lock_dropped;
pub use inversion::{LockOrderInversion, OrderEdge};
pub(crate) use order::forget as order_forget;
pub use order::{
    lock_order_checking, lock_order_inversion_count, lock_order_inversions, set_lock_order_checking,
};
pub use policy::{deadlock_policy, set_deadlock_policy, DeadlockPolicy};
pub use report::{
    lock_waits, CodeSite, Deadlock, LockHolder, LockSite, LockWait, Participant, Waiter,
};
pub use std_style::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use tokio_style::{
    AsyncMutex, AsyncMutexGuard, AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockReadGuard,
    AsyncRwLockWriteGuard, MappedAsyncMutexGuard, OwnedAsyncMutexGuard,
    OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
    OwnedMappedAsyncMutexGuard,
};
