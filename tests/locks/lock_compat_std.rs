//! `Mutex` and `RwLock` behave as `std::sync::Mutex` and
//! `std::sync::RwLock`, which they replace by a swapped import: each test
//! checks, against our types, a behaviour that std's own lock tests check
//! (`library/std/tests/sync/mutex.rs`, `rwlock.rs`), or compares our output
//! with the peer's directly.

use monitor_runtime::sync::{Mutex, RwLock};

/// `{:?}` of the lock is std's, free and held: code (and tests) that print
/// a lock read the same after the swap.
#[test]
fn debug_of_the_locks_is_stds() {
    let ours = Mutex::new("data");
    let peer = std::sync::Mutex::new("data");
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(
        format!("{ours:?}"),
        r#"Mutex { data: "data", poisoned: false, .. }"#
    );
    let (_a, _b) = (ours.lock().unwrap(), peer.lock().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));

    let ours = RwLock::new(1);
    let peer = std::sync::RwLock::new(1);
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    let (_a, _b) = (ours.write().unwrap(), peer.write().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(
        format!("{ours:?}"),
        "RwLock { data: <locked>, poisoned: false, .. }"
    );
}

/// Guards format as their value, `{:?}` and `{}`, as std's do.
#[test]
fn guards_format_as_stds() {
    let (ours, peer) = (Mutex::new(5), std::sync::Mutex::new(5));
    let (a, b) = (ours.lock().unwrap(), peer.lock().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    let (ours, peer) = (RwLock::new("x"), std::sync::RwLock::new("x"));
    let (a, b) = (ours.read().unwrap(), peer.read().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    drop((a, b));
    let (a, b) = (ours.write().unwrap(), peer.write().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
}

use std::sync::{Arc, TryLockError};
use std::thread;

/// std's `mutex.rs`: a holder that panics poisons the mutex; the value is
/// still there through the error (`into_inner`), `get_mut` and
/// `into_inner` report the poison, and `clear_poison` lifts it.
#[test]
fn poison_as_stds() {
    let lock = Arc::new(Mutex::new(1));
    let other = lock.clone();
    let joined = thread::spawn(move || {
        let _guard = other.lock().unwrap();
        panic!("poisoning on purpose");
    })
    .join();
    assert!(joined.is_err());
    assert!(lock.is_poisoned());
    let guard = lock.lock().unwrap_err().into_inner();
    assert_eq!(*guard, 1);
    drop(guard);
    assert!(matches!(lock.try_lock(), Err(TryLockError::Poisoned(_))));
    lock.clear_poison();
    assert!(!lock.is_poisoned());
    assert_eq!(*lock.lock().unwrap(), 1);

    let mut poisoned = Mutex::new(2);
    let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _guard = poisoned.lock().unwrap();
        panic!("poisoning on purpose");
    }));
    assert_eq!(*poisoned.get_mut().unwrap_err().into_inner(), 2);
    assert_eq!(poisoned.into_inner().unwrap_err().into_inner(), 2);
}

/// std's `mutex.rs`: `try_lock` fails with `WouldBlock` while held, and
/// the lock works across threads.
#[test]
fn try_lock_and_threads_as_stds() {
    let lock = Arc::new(Mutex::new(0));
    let held = lock.lock().unwrap();
    assert!(matches!(lock.try_lock(), Err(TryLockError::WouldBlock)));
    drop(held);
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || {
                for _ in 0..100 {
                    *lock.lock().unwrap() += 1;
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*lock.lock().unwrap(), 400);
}

/// std's `rwlock.rs`: readers share, a writer excludes, a panicking
/// writer poisons but a panicking reader does not.
#[test]
fn rwlock_shares_excludes_and_poisons_as_stds() {
    let lock = Arc::new(RwLock::new(1));
    let (a, b) = (lock.read().unwrap(), lock.try_read().unwrap());
    assert!(matches!(lock.try_write(), Err(TryLockError::WouldBlock)));
    drop((a, b));
    let w = lock.write().unwrap();
    assert!(matches!(lock.try_read(), Err(TryLockError::WouldBlock)));
    drop(w);

    let reader = lock.clone();
    assert!(thread::spawn(move || {
        let _r = reader.read().unwrap();
        panic!("a reader panics");
    })
    .join()
    .is_err());
    assert!(!lock.is_poisoned());

    let writer = lock.clone();
    assert!(thread::spawn(move || {
        let _w = writer.write().unwrap();
        panic!("a writer panics");
    })
    .join()
    .is_err());
    assert!(lock.is_poisoned());
    assert_eq!(*lock.read().unwrap_err().into_inner(), 1);
    lock.clear_poison();
    assert!(lock.write().is_ok());
}

use std::time::Duration;

use monitor_runtime::sync::Condvar;

/// std's condvar tests (`library/std/tests/sync/condvar.rs`): one waiter
/// woken by `notify_one`, all by `notify_all`, `wait_while` returns with
/// the condition false, and the timeouts time out.
#[test]
fn condvar_wakes_and_times_out_as_stds() {
    let pair = Arc::new((Mutex::new(0u32), Condvar::new()));
    let waiters: Vec<_> = (0..3)
        .map(|_| {
            let pair = pair.clone();
            thread::spawn(move || {
                let (lock, condvar) = &*pair;
                let guard = condvar
                    .wait_while(lock.lock().unwrap(), |n| *n == 0)
                    .unwrap();
                *guard
            })
        })
        .collect();
    *pair.0.lock().unwrap() = 7;
    pair.1.notify_all();
    for waiter in waiters {
        assert_eq!(waiter.join().unwrap(), 7);
    }

    let other = pair.clone();
    let woken = thread::spawn(move || {
        let (lock, condvar) = &*other;
        let mut guard = lock.lock().unwrap();
        while *guard != 8 {
            guard = condvar.wait(guard).unwrap();
        }
    });
    *pair.0.lock().unwrap() = 8;
    // Until the waiter is seen gone, notify again: a notification sent
    // before it waits would be lost, as with std's.
    while !woken.is_finished() {
        pair.1.notify_one();
        thread::yield_now();
    }
    woken.join().unwrap();

    let (lock, condvar) = &*pair;
    let (guard, timeout) = condvar
        .wait_timeout_while(lock.lock().unwrap(), Duration::from_millis(5), |n| *n == 8)
        .unwrap();
    assert!(timeout.timed_out());
    assert_eq!(*guard, 8);
    let (guard, _) = condvar
        .wait_timeout(guard, Duration::from_millis(1))
        .unwrap();
    drop(guard);
    assert_eq!(
        format!("{condvar:?}"),
        format!("{:?}", std::sync::Condvar::new())
    );
}

/// A thread waiting on the condvar does not hold the mutex on record, and
/// holds it once (not twice) after: nesting the mutex under another lock
/// later reports no lock-order inversion, where a record left behind by
/// the wait would make one (held mutex → other lock → mutex).
#[cfg(not(feature = "plain-locks"))]
#[test]
fn a_condvar_wait_lets_go_of_the_record() {
    use monitor_runtime::sync::{lock_order_inversions, set_lock_order_checking};

    set_lock_order_checking(true);
    let (lock, condvar) = (Mutex::with_name(0, "condvar-state"), Condvar::new());
    let other = Mutex::with_name(0, "condvar-other");
    let guard = lock.lock().unwrap();
    let (guard, _) = condvar
        .wait_timeout(guard, Duration::from_millis(1))
        .unwrap();
    drop(guard);
    {
        let _other = other.lock().unwrap();
        let _state = lock.lock().unwrap();
    }
    let names = |i: &monitor_runtime::sync::LockOrderInversion| {
        i.edges.iter().any(|e| e.held.lock.contains("condvar-"))
    };
    assert!(!lock_order_inversions().iter().any(names));
    // The mutex is free and takes no report when taken again alone.
    assert!(lock.try_lock().is_ok());
}

/// std's `rwlock.rs` (`test_downgrade_basic`, `test_downgrade_atomic`):
/// a downgraded writer reads what it wrote, readers get in, and no writer
/// gets in between the write and the read.
#[test]
fn downgrade_as_stds() {
    use monitor_runtime::sync::RwLockWriteGuard;

    let lock = Arc::new(RwLock::new(0));
    let reading = RwLockWriteGuard::downgrade(lock.write().unwrap());
    assert_eq!(*lock.try_read().unwrap(), 0, "readers get in");
    assert!(lock.try_write().is_err());
    drop(reading);

    let mut writing = lock.write().unwrap();
    *writing = 1;
    let other = lock.clone();
    let writer = thread::spawn(move || *other.write().unwrap() = 2);
    let reading = RwLockWriteGuard::downgrade(writing);
    assert_eq!(*reading, 1, "no writer got in between");
    drop(reading);
    writer.join().unwrap();
    assert_eq!(*lock.read().unwrap(), 2);
    // The lock is free: nothing of the downgrade stays on record.
    assert!(lock.try_write().is_ok());
}

/// The results and errors come with the locks: an import of
/// `std::sync::{Mutex, TryLockError, ...}` swaps whole to
/// `monitor_runtime::sync`, and they are std's own types, so code that
/// names them either way (or matches on them) agrees.
#[test]
fn stds_results_and_errors_swap_with_the_locks() {
    use monitor_runtime::sync::{
        Condvar, LockResult, MutexGuard, PoisonError, TryLockError, TryLockResult,
        WaitTimeoutResult,
    };
    use std::time::Duration;

    let lock = Mutex::new(0);
    let held: LockResult<MutexGuard<'_, i32>> = lock.lock();
    let busy: TryLockResult<MutexGuard<'_, i32>> = lock.try_lock();
    let busy: Result<_, std::sync::TryLockError<_>> = busy;
    assert!(matches!(busy, Err(TryLockError::WouldBlock)));
    let timeout: std::sync::LockResult<(_, WaitTimeoutResult)> =
        Condvar::new().wait_timeout(held.unwrap(), Duration::ZERO);
    let poisoned: PoisonError<i32> = std::sync::PoisonError::new(7);
    assert_eq!(poisoned.into_inner(), 7);
    drop(timeout);
}

/// std's `RwLock` comes from its value (`From<T>`), as the mutex does.
#[test]
fn rwlock_comes_from_its_value_as_stds() {
    let lock: RwLock<Vec<u8>> = vec![1].into();
    assert_eq!(*lock.read().unwrap(), [1]);
    assert_eq!(RwLock::from(2).into_inner().unwrap(), 2);
    assert_eq!(Mutex::from(3).into_inner().unwrap(), 3);
}

/// std's deprecated `Condvar::wait_timeout_ms` still builds after the swap
/// and answers as std's: `true` when woken before the time was up, `false`
/// on a timeout, the mutex held again either way.
#[test]
#[allow(deprecated)]
fn condvar_wait_timeout_ms_as_stds() {
    use monitor_runtime::sync::Condvar;

    let pair = Arc::new((Mutex::new(false), Condvar::new()));
    let (lock, condvar) = &*pair;
    let (guard, woken) = condvar.wait_timeout_ms(lock.lock().unwrap(), 1).unwrap();
    assert!(!woken && !*guard);
    assert!(lock.try_lock().is_err(), "the mutex is held again");

    let other = pair.clone();
    let notifier = thread::spawn(move || {
        *other.0.lock().unwrap() = true;
        other.1.notify_all();
    });
    let mut guard = guard;
    let mut woken = true;
    while !*guard {
        (guard, woken) = condvar.wait_timeout_ms(guard, 60_000).unwrap();
    }
    assert!(woken);
    drop(guard);
    notifier.join().unwrap();
}
