//! With the feature `plain-locks` (`cargo test --features plain-locks
//! --test lock_plain`), the locks keep their API and behave as std's and
//! tokio's, and nothing is tracked: a deadlock is not reported.
#![cfg(feature = "plain-locks")]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use monitor_runtime::dump::{set_dump_sink, Dump, DumpReason, DumpSink};
use monitor_runtime::sync::{AsyncMutex, AsyncRwLock, Mutex, RwLock};

#[test]
fn the_locks_work_as_plain_locks() {
    let mutex = Arc::new(Mutex::with_name(0, "plain"));
    *mutex.lock().unwrap() += 1;
    let held = mutex.lock().unwrap();
    assert!(mutex.try_lock().is_err());
    drop(held);
    let poisoner = {
        let mutex = mutex.clone();
        thread::spawn(move || {
            let _held = mutex.lock().unwrap();
            panic!("poisons the lock");
        })
    };
    assert!(poisoner.join().is_err());
    assert!(mutex.is_poisoned());
    assert_eq!(mutex.name(), "plain");

    let rw = RwLock::new(1);
    let (r1, r2) = (rw.read().unwrap(), rw.read().unwrap());
    assert_eq!(*r1 + *r2, 2);
    assert!(rw.try_write().is_err());
    drop((r1, r2));
    *rw.write_checked().unwrap().unwrap() = 3;
    assert_eq!(*rw.read().unwrap(), 3);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let lock = AsyncMutex::new(vec![1]);
        lock.lock().await.push(2);
        assert!(lock.lock_checked().await.is_ok());
        assert_eq!(*lock.try_lock().unwrap(), [1, 2]);
        let rw = AsyncRwLock::new(5);
        assert_eq!(*rw.read().await + *rw.read().await, 10);
        *rw.write().await += 1;
        assert_eq!(*rw.try_read().unwrap(), 6);
    });
}

/// Two threads take two locks in opposite orders: with bookkeeping off,
/// nothing reports it (the two threads stay blocked; the test process
/// ends around them).
#[test]
fn a_deadlock_is_not_reported() {
    static REPORTS: AtomicUsize = AtomicUsize::new(0);
    set_dump_sink(DumpSink::custom(|dump: &Dump| {
        if matches!(dump.reason, DumpReason::Deadlock(_)) {
            REPORTS.fetch_add(1, Ordering::SeqCst);
        }
    }))
    .unwrap();
    let locks = Arc::new([Mutex::new(()), Mutex::new(())]);
    let barrier = Arc::new(Barrier::new(3));
    let at_second = Arc::new(AtomicUsize::new(0));
    for i in 0..2 {
        let (locks, barrier, at_second) = (locks.clone(), barrier.clone(), at_second.clone());
        thread::spawn(move || {
            let _first = locks[i].lock().unwrap();
            barrier.wait();
            at_second.fetch_add(1, Ordering::SeqCst);
            let _second = locks[1 - i].lock_checked();
        });
    }
    barrier.wait();
    monitor_demo::eventually("both reach their second lock", || {
        at_second.load(Ordering::SeqCst) == 2
    });
    // They are in it (or about to be): a report would come now.
    thread::sleep(Duration::from_millis(200));
    assert!(locks[0].try_lock().is_err() && locks[1].try_lock().is_err());
    assert_eq!(REPORTS.load(Ordering::SeqCst), 0);
}
