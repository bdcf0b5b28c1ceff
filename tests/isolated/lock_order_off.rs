//! The lock-order check switched off at run time: an inversion made while
//! it is off is not reported, nor counted. A binary of its own: the switch
//! is process-wide.
#![cfg(not(feature = "plain-locks"))]

use std::sync::PoisonError;

use monitor_demo::kept_dumps;
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{
    lock_order_checking, lock_order_inversion_count, set_lock_order_checking, AsyncMutex, Mutex,
    RwLock,
};

fn inversions() -> usize {
    kept_dumps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter(|dump| matches!(dump.reason, DumpReason::LockOrder(_)))
        .count()
}

#[test]
fn switched_off_nothing_is_reported_switched_on_it_is() {
    monitor_demo::own_process!();
    kept_dumps();
    assert_eq!(lock_order_checking(), cfg!(debug_assertions), "the default");
    set_lock_order_checking(false);
    let (a, b) = (
        Mutex::with_name((), "off a"),
        AsyncMutex::with_name((), "off b"),
    );
    {
        let _a = a.lock().unwrap();
        let _b = b.blocking_lock();
    }
    {
        let _b = b.blocking_lock();
        let _a = a.lock().unwrap();
    }
    assert_eq!(inversions(), 0);
    assert_eq!(lock_order_inversion_count(), 0);

    // Switched off, a std read takes the short path (the record in the
    // thread's table, let go with one store): still on record while held.
    let rw = RwLock::with_name((), "off rw");
    let reading = rw.read().unwrap();
    assert!(rw.write_checked().unwrap_err().is_self_deadlock());
    drop(reading);
    assert!(rw.write_checked().unwrap().is_ok());

    // The same, switched on: reported.
    set_lock_order_checking(true);
    let (c, d) = (
        Mutex::with_name((), "on c"),
        AsyncMutex::with_name((), "on d"),
    );
    {
        let _c = c.lock().unwrap();
        let _d = d.blocking_lock();
    }
    {
        let _d = d.blocking_lock();
        let _c = c.lock().unwrap();
    }
    assert_eq!(inversions(), 1);
    assert_eq!(lock_order_inversion_count(), 1);
}
