//! Under `DeadlockPolicy::Panic`, the acquisition that closes a lock-order
//! cycle panics (after the report), and its guards unwind: nothing stays
//! held. A binary of its own: the policy is process-wide.
#![cfg(not(feature = "plain-locks"))]

use std::panic;
use std::sync::{PoisonError, TryLockError};

use monitor_demo::kept_dumps;
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{set_deadlock_policy, set_lock_order_checking, DeadlockPolicy, Mutex};

#[test]
fn the_acquisition_that_closes_the_cycle_panics() {
    monitor_demo::own_process!();
    kept_dumps();
    set_lock_order_checking(true);
    set_deadlock_policy(DeadlockPolicy::Panic);
    let (a, b) = (
        Mutex::with_name((), "panic a"),
        Mutex::with_name((), "panic b"),
    );
    {
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    let line = line!() + 3;
    let closed = panic::catch_unwind(|| {
        let _b = b.lock().unwrap();
        let _a = a.lock().unwrap();
    });
    let message = closed
        .expect_err("the second order panics")
        .downcast::<String>()
        .map(|m| *m)
        .unwrap_or_default();
    assert!(message.starts_with("lock-order inversion"), "{message}");
    assert!(
        message.contains(&format!("{}:{line}:", file!())),
        "{message}"
    );
    // Everything was let go: `a` was never handed out (so it is not
    // poisoned), `b` was held by the code that panicked (poisoned, as
    // std's would be).
    assert!(a.try_lock().is_ok());
    assert!(!a.is_poisoned());
    assert!(!matches!(b.try_lock(), Err(TryLockError::WouldBlock)));
    assert!(b.is_poisoned());
    let reported = kept_dumps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|dump| matches!(dump.reason, DumpReason::LockOrder(_)))
        .count();
    assert_eq!(reported, 1, "reported before the panic");
    set_deadlock_policy(DeadlockPolicy::Report);
}
