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
//! readers wait behind a queued writer). A deadlock of a kind dumped
//! before (the same lock names, lines and thread names, none for tasks,
//! on other locks: each request deadlocking its own pair) is a `tracing`
//! warning, not another dump of every call in flight, which would grow
//! with the square of the hung requests; the policy applies to each.
//!
//! # Across the sync/async line
//!
//! A lock taken inside a tokio task is held by that task, whichever kind
//! it is: a std-style [`Mutex`] taken in a task is on record as the
//! task's (tokio recommends a std lock for short sections in async code),
//! and a task that waits for one waits as itself, not as the worker
//! thread it blocks. So a cycle closes through tasks and threads alike: a
//! thread that holds a [`Mutex`] and waits on an [`AsyncMutex`] with
//! `blocking_lock`, while a task holds that one and waits for the
//! [`Mutex`], is reported with both halves (`tests/locks/lock_deadlock_sync_async.rs`).
//! Outside a task the holder is the thread. A worker thread is never a
//! holder of what its tasks took, so tasks that take a lock in turn on one
//! thread make no false cycle.
//!
//! But a task that waits for a std-style lock blocks the thread it runs
//! on, and whatever can only go on on that thread waits with it: a lock
//! the thread took outside any task (before `block_on`), and a task parked
//! there that holds a std-style lock (a `LocalSet`'s task: the guard is
//! `!Send`, so it is let go on the thread that took it). A task that
//! blocks its thread on a lock one of those holds is reported the moment
//! its wait starts, as the thread's self-deadlock: the report names the
//! waiting task, the thread it blocks ([`Participant::thread`]) and who
//! holds the lock for it ([`Participant::held_by`]: the thread, or the
//! parked task), with both places. A cycle through such a thread (it holds
//! a lock, its task waits for a second one, held by a thread that waits
//! for the first) is reported with every participant, whoever closes it
//! (`tests/locks/lock_deadlock_blocked_thread.rs`). A task that holds a tokio
//! lock is never taken to be stuck on its thread: its guard may move, and
//! a multi-thread runtime resumes it on another worker.
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
//! # Lock-order inversions
//!
//! A deadlock needs two threads at the wrong moment; the orders that make
//! it possible are there every time. With the lock-order check on (the
//! default in debug builds, off in release builds; switch it at any time
//! with [`set_lock_order_checking`]), every blocking or awaiting
//! acquisition made while holding other locks of this module records that
//! those were taken first: an edge "held → taken" between the two lock
//! instances, in one graph for the process. An acquisition that closes a
//! cycle of edges (`checking` then `savings` in one function, `savings`
//! then `checking` in another, hours apart) is a
//! [`LockOrderInversion`]: reported at once, before the acquisition
//! waits, so nothing has to hang first. The report names, for each edge,
//! where the held lock was taken, where the next one was, and by which
//! thread or task; it goes where deadlock reports go (a dump with
//! [`DumpReason::LockOrder`](crate::dump::DumpReason::LockOrder), so
//! `tracing` with [`DumpSink::Tracing`](crate::dump::DumpSink::Tracing)),
//! to [`lock_order_inversions`] and the debug page, and is counted
//! ([`lock_order_inversion_count`], the metric
//! `monitor_lock_order_inversions_total`). Each distinct cycle is reported
//! once; cycles of one kind (the same lock names, places in the code and
//! thread names, on other locks: an inversion in a function that runs
//! for every request, on each request's own locks) make one dump between
//! them, as lockdep reports a pair of lock classes once, and are each
//! listed and counted.
//! The [`DeadlockPolicy`] applies to each: under `Panic` the acquisition
//! that closed the cycle panics.
//!
//! ```
//! # #[cfg(not(feature = "plain-locks"))] {
//! use monitor_runtime::sync::{lock_order_inversions, set_lock_order_checking, Mutex};
//!
//! set_lock_order_checking(true);
//! let (checking, savings) = (Mutex::with_name(0, "checking"), Mutex::with_name(0, "savings"));
//! fn transfer(from: &Mutex<i64>, to: &Mutex<i64>, amount: i64) {
//!     let mut from = from.lock().unwrap();
//!     *to.lock().unwrap() += amount;
//!     *from -= amount;
//! }
//! transfer(&checking, &savings, 10);
//! transfer(&savings, &checking, 5); // reported here, though nothing waits
//! let report = lock_order_inversions().pop().unwrap();
//! assert_eq!(report.edges[0].held.lock, "savings");
//! assert_eq!(report.edges[1].held.lock, "checking");
//! # }
//! ```
//!
//! What counts: locks are told apart by instance (a number no other lock
//! ever gets, so a lock dropped and another made at its address share no
//! edges); a read counts as an acquisition (a writer queued between two
//! readers makes them wait for each other); `try_lock` and the other
//! `try_` acquisitions add no edge (they cannot wait), though the lock
//! they took counts as held for later acquisitions; taking a lock that
//! is held already is the self-deadlock of the wait-for graph, not an
//! edge. A thread's std locks beyond the 16th held at once, and locks
//! taken while the check was off, are not seen. The held set of a tokio
//! lock follows the task that took it, as the deadlock report does (an
//! owned guard moved to another task stays with the first).
//!
//! Cost, with the check on: a pair seen before costs a lookup in a small
//! per-thread cache; a new pair takes one process-wide mutex and a walk
//! of the graph once. Std locks keep their held set in thread-local
//! storage; tokio locks (whose guards may drop anywhere, and whose task
//! may resume on another worker) in one record per task, which each
//! thread finds in a small cache of its own (a table finds it on a
//! miss): the running task's acquisitions and releases take no mutex.
//! Measured in the README.
//!
//! Cost: an uncontended lock and unlock is the inner lock's plus the
//! holder's id (tokio's task id, else the thread's: thread-local reads)
//! and two relaxed stores (a std lock: three, the third the thread it was
//! taken on; a std read: three into a table of the reading thread's own,
//! since claiming a slot in the lock would take a compare-and-swap, and
//! one to let go); nothing global is touched until a thread must wait.
//! Against the peer, uncontended (`cargo bench -p monitor-bench --bench
//! locks`, figures in the README; idle machine, 2026-12-02): [`Mutex`]
//! 1.01x std's, [`RwLock`] read 1.04x, [`AsyncMutex`] 0.93x and
//! [`AsyncRwLock`] read 1.09x tokio's (the async locks spend tokio's coop
//! budget as tokio's do). With the Cargo feature `plain-locks`, the locks keep
//! their API and do no bookkeeping at all: nothing is reported, and the
//! `*_checked` acquisitions never return a `Deadlock` (they wait, as the
//! plain ones do).
//!
//! # Compatibility with std's and tokio's locks
//!
//! Swapping the import is meant to be enough: the peers' methods under
//! their names, their `Debug` output, their panics (message and caller's
//! location), their auto traits (`tests/locks/lock_auto_traits.rs` checks every
//! type and future against the peer's), their `#[must_use]` (on the same
//! guards: tokio's owned guards and its mapped write guard have none, so
//! `lock.lock_owned().await;` compiles without a warning with either),
//! `#[clippy::has_significant_drop]` on every guard, as theirs, tokio's
//! cooperative scheduling (an async acquisition spends a unit of the
//! task's coop budget, also when the lock is free, so a task that takes
//! free locks in a loop yields to the other tasks of its worker after as
//! many acquisitions as with tokio's), and the
//! behaviours their own lock tests check (`tests/locks/lock_compat_std.rs`,
//! `tests/locks/lock_compat_tokio.rs`). Ours add a name (`with_name`, `name`)
//! and the `*_checked` acquisitions.
//!
//! How this is checked: the peers' own test files run against ours, in a
//! crate of their own outside this repository, with the import swapped:
//! tokio's `tests/sync_mutex.rs`, `sync_mutex_owned.rs`, `sync_rwlock.rs`,
//! the lock tests of `sync_panic.rs` and the lock lines of
//! `async_send_sync.rs`, with the doc examples of its `sync/mutex.rs` and
//! `sync/rwlock*` (54); std's `library/std/tests/sync/{mutex,rwlock,condvar}.rs`
//! (the tests that build on stable) and the doc examples of its `Mutex`,
//! `RwLock`, `Condvar`, their guards and errors (34). All pass; what failed
//! at first has a test of ours now, as has what probing past their tests
//! found (`From` for `RwLock`, the coop budget).
//!
//! | peer | ours | notes |
//! |---|---|---|
//! | `std::sync::Mutex`: `new` (const), `lock`, `try_lock`, `is_poisoned`, `clear_poison`, `into_inner`, `get_mut`, `Default`, `From`, `Debug` | [`Mutex`] | same signatures and results |
//! | `std::sync::MutexGuard`: `Deref(Mut)`, `Debug`, `Display` | [`MutexGuard`] | |
//! | `std::sync::RwLock`: `new` (const), `read`, `try_read`, `write`, `try_write`, `is_poisoned`, `clear_poison`, `into_inner`, `get_mut`, `Default`, `From`, `Debug` | [`RwLock`] | |
//! | `std::sync::RwLockWriteGuard::downgrade` | [`RwLockWriteGuard::downgrade`] | Rust 1.92 and later, as std's (the MSRV is older) |
//! | `std::sync::Condvar`: `new` (const), `wait`, `wait_while`, `wait_timeout`, `wait_timeout_while`, `notify_one`, `notify_all`, the deprecated `wait_timeout_ms`, `Default`, `Debug` | [`Condvar`] | takes our [`MutexGuard`]; `with_name`, and a waiting thread is listed by [`lock_waits`] (and in dumps) as waiting on the condvar |
//! | `std::sync::{LockResult, TryLockResult, PoisonError, TryLockError, WaitTimeoutResult}` | [`LockResult`], [`TryLockResult`], [`PoisonError`], [`TryLockError`], [`WaitTimeoutResult`] | std's own types, re-exported |
//! | `tokio::sync::Mutex`: `new`, `const_new`, `lock`, `lock_owned`, `try_lock`, `try_lock_owned`, `blocking_lock`, `blocking_lock_owned`, `get_mut`, `into_inner`, `Default`, `From`, `Debug` | [`AsyncMutex`] | `new` is `const` too; the owned acquisitions need `T: 'static` (see [`AsyncMutex::lock_owned`]) |
//! | `tokio::sync::{MutexGuard, OwnedMutexGuard}`: `map`, `try_map`, `mutex` | [`AsyncMutexGuard`], [`OwnedAsyncMutexGuard`] | |
//! | `tokio::sync::{MappedMutexGuard, OwnedMappedMutexGuard}`: `map`, `try_map` | [`MappedAsyncMutexGuard`], [`OwnedMappedAsyncMutexGuard`] | the owned one's `map` needs the new target `'static` |
//! | `tokio::sync::RwLock`: `new`, `const_new`, `with_max_readers`, `const_with_max_readers`, `read`, `read_owned`, `try_read`, `try_read_owned`, `write`, `write_owned`, `try_write`, `try_write_owned`, `blocking_read`, `blocking_write`, `get_mut`, `into_inner`, `Default`, `From`, `Debug` | [`AsyncRwLock`] | owned acquisitions need `T: 'static`; `with_max_readers` is `const`, and `const_with_max_readers` panics at the caller (tokio's, in tokio) |
//! | `tokio::sync::{RwLockReadGuard, OwnedRwLockReadGuard}`: `map`, `try_map`, `rwlock` | [`AsyncRwLockReadGuard`], [`OwnedAsyncRwLockReadGuard`] | |
//! | `tokio::sync::{RwLockWriteGuard, OwnedRwLockWriteGuard}`: `map`, `try_map`, `downgrade`, `downgrade_map`, `try_downgrade_map`, `into_mapped`, `rwlock` | [`AsyncRwLockWriteGuard`], [`OwnedAsyncRwLockWriteGuard`] | |
//! | `tokio::sync::{RwLockMappedWriteGuard, OwnedRwLockMappedWriteGuard}`: `map`, `try_map`, `rwlock` | [`AsyncRwLockMappedWriteGuard`], [`OwnedAsyncRwLockMappedWriteGuard`] | |
//! | `tokio::sync::TryLockError` | [`AsyncTryLockError`] | tokio's own type, re-exported under the name of our tokio family |
//!
//! What cannot apply:
//!
//! - std's nightly-only lock APIs (`Mutex::get_cloned`/`set`/`replace`,
//!   `data_ptr`, `with_mut`, the mapped guards `MutexGuard::map`,
//!   `MappedMutexGuard`, `MappedRwLock*Guard`, the `nonpoison` locks,
//!   `#[must_not_suspend]`): unstable features, not available to a crate
//!   that builds on stable. std's tests of them are left out of the run
//!   above (they fail on stable against std's own locks too).
//! - Lints that know std's guards by name: clippy's `await_holding_lock`
//!   finds std's `MutexGuard` and `RwLock*Guard` by their diagnostic
//!   items, which a crate outside std cannot give its types. The same
//!   warning for ours: list them under `await-holding-invalid-types` in
//!   `clippy.toml`.
//! - tokio's owned guards for a `T` that is not `'static` (see
//!   [`AsyncMutex::lock_owned`]).
//! - tokio's `tokio_unstable` instrumentation (tokio-console resources):
//!   the tokio lock inside ours is instrumented, under tokio's name.
//! - The name given with `with_name` is left out of `Debug`, so output
//!   written against the peer's reads the same.
//!
//! Where ours says more than the peer: a task (or thread) that holds a
//! lock and, in the same task, waits for it again is reported as a
//! self-deadlock, also when the wait is one branch of a `join!` or
//! `select!` (or a future polled by hand) whose other branch will let go.
//! With the default policy that is a report and nothing else: the wait
//! goes on and ends as the peer's does. Under
//! [`DeadlockPolicy::Panic`], or through a `*_checked` acquisition, such
//! a wait panics or returns the [`Deadlock`] where the peer's would have
//! waited.

// First, so that the lock families below see `guard_traits!`.
#[macro_use]
mod guard;

mod acquire;
mod async_wait;
pub(crate) mod graph;
mod held;
mod holder;
mod inversion;
mod order;
mod policy;
mod readers;
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
/// std's results and errors, which the std-style locks return (the same
/// types, re-exported so that the import of `std::sync::{Mutex,
/// TryLockError}` swaps whole).
///
/// ```
/// use monitor_runtime::sync::{LockResult, Mutex, MutexGuard, PoisonError, TryLockError};
///
/// let lock = Mutex::new(1);
/// let held: LockResult<MutexGuard<'_, i32>> = lock.lock();
/// assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
/// drop(held);
/// assert_eq!(PoisonError::new(5).into_inner(), 5);
/// ```
pub use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult, WaitTimeoutResult};
pub use std_style::{Condvar, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
/// tokio's `TryLockError`, which the tokio-style locks' `try_*`
/// acquisitions return (the same type: `tokio::sync::TryLockError`
/// swaps to this name, as `tokio::sync::Mutex` to [`AsyncMutex`]).
///
/// ```
/// use monitor_runtime::sync::{AsyncMutex, AsyncTryLockError};
///
/// let lock = AsyncMutex::new(1);
/// let _held = lock.try_lock().unwrap();
/// let busy: AsyncTryLockError = lock.try_lock().unwrap_err();
/// assert_eq!(busy.to_string(), "operation would block");
/// ```
pub use tokio::sync::TryLockError as AsyncTryLockError;
pub use tokio_style::{
    AsyncMutex, AsyncMutexGuard, AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockReadGuard,
    AsyncRwLockWriteGuard, MappedAsyncMutexGuard, OwnedAsyncMutexGuard,
    OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
    OwnedMappedAsyncMutexGuard,
};
