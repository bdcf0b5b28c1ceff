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
