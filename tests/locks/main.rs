//! The locks of `monitor_runtime::sync`: deadlocks, lock-order inversions,
//! waits, and their compatibility with std's and tokio's locks; the test
//! files that set no process-wide state other than turning the lock-order
//! check on (on by default in debug builds), one module each, in one
//! binary. The files that set a policy, a sink or turn the check off are
//! test binaries of their own (`tests/lock_*.rs`).

mod http_lock_order;
mod lock_async_api;
mod lock_auto_traits;
mod lock_compat_std;
mod lock_compat_tokio;
mod lock_condvar_waits;
mod lock_deadlock;
mod lock_deadlock_blocked_thread;
mod lock_deadlock_branches;
mod lock_deadlock_sync_async;
mod lock_order;
mod lock_order_known;
mod lock_order_known_async;
mod lock_order_mixed;
mod lock_order_tasks;
mod lock_readers;
