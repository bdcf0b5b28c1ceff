//! Deadlocks through the rest of the async locks' API: owned guards
//! (`lock_owned`, `read_owned`, `write_owned`, the `try_*_owned` and
//! `blocking_lock_owned`), `blocking_read` and `blocking_write`, mapped
//! guards and `downgrade`. Each is reported, through the dump sink, with the
//! exact lines.
//!
//! Waiters that are not `*_checked` report and then wait for good, as a
//! plain lock would: their threads are left behind, and their tasks are
//! dropped with their runtime (`shutdown_background`). So every test ends,
//! and the policy (global) stays the default for the others.
#![cfg(not(feature = "plain-locks"))]

use std::future::Future;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use monitor_demo::{deadlock_report_naming, kept_dumps};
use monitor_runtime::sync::{
    AsyncMutex, AsyncMutexGuard, AsyncRwLock, AsyncRwLockReadGuard, AsyncRwLockWriteGuard,
    Deadlock, OwnedAsyncMutexGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard, Waiter,
};
use tokio::runtime::{Builder, Runtime};

fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

fn held_line(deadlock: &Deadlock, lock: &str) -> u32 {
    let p = deadlock
        .participants
        .iter()
        .find(|p| p.holds.lock == lock)
        .unwrap_or_else(|| panic!("nobody holds {lock}: {deadlock:?}"));
    assert_eq!(p.holds.at.as_ref().unwrap().file, file!());
    p.holds.at.as_ref().unwrap().line
}

fn wait_line(deadlock: &Deadlock, lock: &str) -> u32 {
    let p = deadlock
        .participants
        .iter()
        .find(|p| p.waits_for.lock == lock)
        .unwrap_or_else(|| panic!("nobody waits for {lock}: {deadlock:?}"));
    assert_eq!(p.waits_for.at.as_ref().unwrap().file, file!());
    p.waits_for.at.as_ref().unwrap().line
}

/// A wait that a report must end at once: if none comes, the test fails
/// instead of hanging.
async fn at_once<F: Future>(wait: F) -> F::Output {
    tokio::time::timeout(Duration::from_secs(5), wait)
        .await
        .expect("reported at once")
}

fn two_workers() -> Runtime {
    Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

fn one_thread() -> Runtime {
    Builder::new_current_thread().enable_time().build().unwrap()
}

/// The self-deadlock report naming `lock`, from a thread called `thread`.
fn self_deadlock_of_thread(lock: &str, thread: &str) -> (Deadlock, String) {
    let (deadlock, text) = deadlock_report_naming(lock);
    assert!(deadlock.is_self_deadlock(), "{text}");
    assert!(
        matches!(&deadlock.participants[0].waiter, Waiter::Thread { name: Some(name), .. } if name == thread),
        "{text}"
    );
    assert!(text.contains("self-deadlock"), "{text}");
    (deadlock, text)
}

/// Two tasks, each holding an owned guard and waiting (`lock_owned`, for
/// good) for the other's mutex: one report, both tasks in it, each with the
/// line where it took its guard and the line where it waits.
#[test]
fn a_cycle_through_lock_owned() {
    kept_dumps();
    let runtime = two_workers();
    let a = Arc::new(AsyncMutex::with_name((), "owned a"));
    let b = Arc::new(AsyncMutex::with_name((), "owned b"));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let taken = line!() + 5;
    let waits = line!() + 6;
    let spawn = |mine: Arc<AsyncMutex<()>>, theirs: Arc<AsyncMutex<()>>| {
        let barrier = barrier.clone();
        runtime.spawn(async move {
            let _mine = mine.lock_owned().await;
            barrier.wait().await;
            let _theirs = theirs.lock_owned().await;
        })
    };
    let _one = spawn(a.clone(), b.clone());
    let _two = spawn(b.clone(), a.clone());

    let (deadlock, text) = deadlock_report_naming("owned a");
    assert_eq!(deadlock.participants.len(), 2, "{text}");
    assert!(text.contains("deadlock: 2 waiters in a cycle"), "{text}");
    for p in &deadlock.participants {
        assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
        assert_ne!(p.holds.lock, p.waits_for.lock, "{p:?}");
    }
    for lock in ["owned a", "owned b"] {
        assert_eq!(held_line(&deadlock, lock), taken, "{text}");
        assert_eq!(wait_line(&deadlock, lock), waits, "{text}");
    }
    assert!(
        text.contains(&at(taken)) && text.contains(&at(waits)),
        "{text}"
    );
    // Both tasks still wait, as with plain locks.
    assert!(a.try_lock().is_err() && b.try_lock().is_err());
    runtime.shutdown_background();
}

/// A task that reads (`read_owned`) one lock and waits to write
/// (`write_owned`) another, whose writer waits to write the first.
#[test]
fn a_cycle_through_read_owned_and_write_owned() {
    kept_dumps();
    let runtime = two_workers();
    let a = Arc::new(AsyncRwLock::with_name(0, "owned rw a"));
    let b = Arc::new(AsyncRwLock::with_name(0, "owned rw b"));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let reads_a = line!() + 5;
    let waits_for_b = line!() + 6;
    let _reader = runtime.spawn({
        let (a, b, barrier) = (a.clone(), b.clone(), barrier.clone());
        async move {
            let _reading = a.read_owned().await;
            barrier.wait().await;
            let _writing = b.write_owned().await;
        }
    });
    let writes_b = line!() + 5;
    let waits_for_a = line!() + 6;
    let _writer = runtime.spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            let _writing = b.write_owned().await;
            barrier.wait().await;
            let _writing_too = a.write_owned().await;
        }
    });

    let (deadlock, text) = deadlock_report_naming("owned rw a");
    assert_eq!(deadlock.participants.len(), 2, "{text}");
    assert_eq!(held_line(&deadlock, "owned rw a"), reads_a, "{text}");
    assert_eq!(held_line(&deadlock, "owned rw b"), writes_b, "{text}");
    assert_eq!(wait_line(&deadlock, "owned rw b"), waits_for_b, "{text}");
    assert_eq!(wait_line(&deadlock, "owned rw a"), waits_for_a, "{text}");
    runtime.shutdown_background();
}

/// `blocking_write` on a thread that holds a `blocking_read` guard of the
/// same lock: a self-deadlock, reported before the thread blocks (for
/// good: it is left behind).
#[test]
fn blocking_write_after_blocking_read_on_a_thread() {
    kept_dumps();
    let lock = Arc::new(AsyncRwLock::with_name(0, "blocking read, then write"));
    let reads = line!() + 5;
    let writes = line!() + 5;
    thread::Builder::new()
        .name("reads, then writes".into())
        .spawn(move || {
            let _reading = lock.blocking_read();
            let _writing = lock.blocking_write();
        })
        .unwrap();
    let (deadlock, text) =
        self_deadlock_of_thread("blocking read, then write", "reads, then writes");
    let p = &deadlock.participants[0];
    assert_eq!(p.holds.at.as_ref().unwrap().line, reads, "{text}");
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, writes, "{text}");
    assert!(
        text.contains(&at(reads)) && text.contains(&at(writes)),
        "{text}"
    );
}

/// `blocking_read` on a thread that holds a `blocking_write` guard.
#[test]
fn blocking_read_after_blocking_write_on_a_thread() {
    kept_dumps();
    let lock = Arc::new(AsyncRwLock::with_name(0, "blocking write, then read"));
    let writes = line!() + 5;
    let reads = line!() + 5;
    thread::Builder::new()
        .name("writes, then reads".into())
        .spawn(move || {
            let _writing = lock.blocking_write();
            let _reading = lock.blocking_read();
        })
        .unwrap();
    let (deadlock, text) =
        self_deadlock_of_thread("blocking write, then read", "writes, then reads");
    let p = &deadlock.participants[0];
    assert_eq!(p.holds.at.as_ref().unwrap().line, writes, "{text}");
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, reads, "{text}");
}

/// `blocking_lock` on a thread that holds a `blocking_lock_owned` guard.
#[test]
fn blocking_lock_after_blocking_lock_owned_on_a_thread() {
    kept_dumps();
    let lock = Arc::new(AsyncMutex::with_name((), "blocking owned, then again"));
    let takes = line!() + 5;
    let again = line!() + 5;
    thread::Builder::new()
        .name("takes it twice".into())
        .spawn(move || {
            let _held = lock.clone().blocking_lock_owned();
            let _again = lock.blocking_lock();
        })
        .unwrap();
    let (deadlock, text) = self_deadlock_of_thread("blocking owned, then again", "takes it twice");
    let p = &deadlock.participants[0];
    assert_eq!(p.holds.at.as_ref().unwrap().line, takes, "{text}");
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, again, "{text}");
}

/// A task that holds a `try_lock_owned` guard and takes the lock again.
#[test]
fn lock_checked_after_try_lock_owned_in_a_task() {
    kept_dumps();
    let lock = Arc::new(AsyncMutex::with_name((), "try owned, then again"));
    let (deadlock, takes, again) = one_thread().block_on(async move {
        tokio::spawn(async move {
            let takes = line!() + 1;
            let _held = lock.clone().try_lock_owned().unwrap();
            let again = line!() + 1;
            let deadlock = at_once(lock.lock_checked()).await.map(|_| ()).unwrap_err();
            (deadlock, takes, again)
        })
        .await
        .unwrap()
    });
    assert!(deadlock.is_self_deadlock());
    let p = &deadlock.participants[0];
    assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
    assert_eq!(p.holds.lock, "try owned, then again");
    assert_eq!(p.holds.at.as_ref().unwrap().line, takes);
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, again);
    let (_, text) = deadlock_report_naming("try owned, then again");
    assert!(
        text.contains(&at(takes)) && text.contains(&at(again)),
        "{text}"
    );
}

/// `try_read_owned` then `write_checked`, and `try_write_owned` then
/// `read_checked`, in a task.
#[test]
fn checked_waits_after_try_read_owned_and_try_write_owned() {
    kept_dumps();
    let lock = Arc::new(AsyncRwLock::with_name(0, "try rw owned"));
    one_thread().block_on(async move {
        tokio::spawn(async move {
            let reads = line!() + 1;
            let reading = lock.clone().try_read_owned().unwrap();
            let again = line!() + 1;
            let deadlock = at_once(lock.write_checked()).await.map(|_| ()).unwrap_err();
            assert!(deadlock.is_self_deadlock());
            let p = &deadlock.participants[0];
            assert_eq!(p.holds.at.as_ref().unwrap().line, reads);
            assert_eq!(p.waits_for.at.as_ref().unwrap().line, again);
            drop(reading);

            let writes = line!() + 1;
            let writing = lock.clone().try_write_owned().unwrap();
            let again = line!() + 1;
            let deadlock = at_once(lock.read_checked()).await.map(|_| ()).unwrap_err();
            assert!(deadlock.is_self_deadlock());
            let p = &deadlock.participants[0];
            assert_eq!(p.holds.at.as_ref().unwrap().line, writes);
            assert_eq!(p.waits_for.at.as_ref().unwrap().line, again);
            drop(writing);
            nothing_recorded_for_this_task(&lock).await;
        })
        .await
        .unwrap()
    });
}

/// The lock is free, and this task has no record left in it: while
/// another task holds it, a checked wait here is a plain wait (it times
/// out), not a self-deadlock.
async fn nothing_recorded_for_this_task(lock: &Arc<AsyncRwLock<i32>>) {
    drop(lock.try_write().expect("free"));
    let theirs = {
        let lock = lock.clone();
        tokio::spawn(async move { lock.try_write_owned().unwrap() })
            .await
            .unwrap()
    };
    let wait = tokio::time::timeout(Duration::from_millis(20), lock.write_checked()).await;
    match wait {
        Err(_elapsed) => {}
        Ok(Ok(_)) => panic!("taken while another task holds it"),
        Ok(Err(deadlock)) => panic!("a record was left behind: {deadlock}"),
    }
    drop(theirs);
    drop(lock.try_write().expect("free again"));
}

/// A mapped guard holds the lock until it drops, and then nothing is left.
#[test]
fn mapped_guards_hold_the_lock_until_they_drop() {
    one_thread().block_on(async {
        tokio::spawn(async {
            let mutex = Arc::new(AsyncMutex::with_name((1, 2), "mapped mutex"));
            let first = AsyncMutexGuard::map(mutex.lock().await, |pair| &mut pair.0);
            assert!(mutex.try_lock().is_err());
            drop(first);
            let second = OwnedAsyncMutexGuard::map(mutex.clone().lock_owned().await, |p| &mut p.1);
            assert!(mutex.try_lock().is_err());
            drop(second);
            let nothing = AsyncMutexGuard::try_map(mutex.lock().await, |_| None::<&mut ()>);
            let kept = nothing.unwrap_err();
            assert!(mutex.try_lock().is_err());
            drop(kept);
            assert!(mutex.try_lock().is_ok());

            let rw = Arc::new(AsyncRwLock::with_name(0, "mapped rw"));
            let reading = AsyncRwLockReadGuard::map(rw.read().await, |n| n);
            assert!(rw.try_write().is_err());
            drop(reading);
            nothing_recorded_for_this_task(&rw).await;

            let reading = OwnedAsyncRwLockReadGuard::map(rw.clone().read_owned().await, |n| n);
            assert!(rw.try_write().is_err());
            drop(reading);
            nothing_recorded_for_this_task(&rw).await;

            let writing = AsyncRwLockWriteGuard::map(rw.write().await, |n| n);
            assert!(rw.try_read().is_err());
            drop(writing);
            let writing = OwnedAsyncRwLockWriteGuard::map(rw.clone().write_owned().await, |n| n);
            assert!(rw.try_read().is_err());
            drop(writing);
            nothing_recorded_for_this_task(&rw).await;
        })
        .await
        .unwrap()
    });
}

/// Two tasks in a cycle, each through a mapped guard (one borrowed, one
/// owned): the report names where each original guard was taken, not
/// where it was mapped.
#[test]
fn a_cycle_through_mapped_guards_names_where_they_were_taken() {
    kept_dumps();
    let runtime = two_workers();
    let a = Arc::new(AsyncMutex::with_name((0, 'a'), "mapped a"));
    let b = Arc::new(AsyncMutex::with_name((0, 'b'), "mapped b"));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let takes_a = line!() + 5;
    let waits_for_b = line!() + 7;
    let one = runtime.spawn({
        let (a, b, barrier) = (a.clone(), b.clone(), barrier.clone());
        async move {
            let guard = a.lock().await;
            let _number = AsyncMutexGuard::map(guard, |pair| &mut pair.0);
            barrier.wait().await;
            b.lock_checked().await.map(|_| ())
        }
    });
    let takes_b = line!() + 5;
    let waits_for_a = line!() + 7;
    let two = runtime.spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            let guard = b.lock_owned().await;
            let _letter = OwnedAsyncMutexGuard::map(guard, |pair| &mut pair.1);
            barrier.wait().await;
            a.lock_checked().await.map(|_| ())
        }
    });
    let results = runtime.block_on(at_once(async { [one.await.unwrap(), two.await.unwrap()] }));
    let deadlock = results
        .into_iter()
        .find_map(Result::err)
        .expect("one wait closes the cycle");
    assert_eq!(deadlock.participants.len(), 2);
    assert_eq!(held_line(&deadlock, "mapped a"), takes_a);
    assert_eq!(held_line(&deadlock, "mapped b"), takes_b);
    assert_eq!(wait_line(&deadlock, "mapped b"), waits_for_b);
    assert_eq!(wait_line(&deadlock, "mapped a"), waits_for_a);
    let (_, text) = deadlock_report_naming("mapped a");
    assert!(
        text.contains(&at(takes_a)) && text.contains(&at(takes_b)),
        "{text}"
    );
    // The waiter that got the deadlock let go, the other finished.
    assert!(a.try_lock().is_ok() && b.try_lock().is_ok());
}

/// After `downgrade` (or `downgrade_map`), the task holds the lock shared:
/// other readers get in, writers do not, and a write from the same task is
/// a self-deadlock held since the downgrade. Once the read guard drops,
/// nothing is held.
#[test]
fn a_downgraded_guard_holds_the_lock_shared() {
    kept_dumps();
    one_thread().block_on(async {
        tokio::spawn(async {
            let lock = Arc::new(AsyncRwLock::with_name(1, "downgraded"));
            let mut writing = lock.write().await;
            *writing = 2;
            let downgrades = line!() + 1;
            let reading = writing.downgrade();
            assert_eq!(*reading, 2);
            assert_eq!(*lock.try_read().expect("shared"), 2);
            assert!(lock.try_write().is_err());
            let again = line!() + 1;
            let deadlock = at_once(lock.write_checked()).await.map(|_| ()).unwrap_err();
            assert!(deadlock.is_self_deadlock());
            let p = &deadlock.participants[0];
            assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
            assert_eq!(p.holds.lock, "downgraded");
            assert_eq!(p.holds.at.as_ref().unwrap().line, downgrades);
            assert_eq!(p.waits_for.at.as_ref().unwrap().line, again);
            drop(reading);
            nothing_recorded_for_this_task(&lock).await;

            let downgrades = line!() + 1;
            let reading = lock.clone().write_owned().await.downgrade();
            assert!(lock.try_read().is_ok());
            assert!(lock.try_write().is_err());
            let deadlock = at_once(lock.write_checked()).await.map(|_| ()).unwrap_err();
            let p = &deadlock.participants[0];
            assert_eq!(p.holds.at.as_ref().unwrap().line, downgrades);
            drop(reading);
            nothing_recorded_for_this_task(&lock).await;

            let writing = lock.write().await;
            let downgrades = line!() + 1;
            let reading = AsyncRwLockWriteGuard::downgrade_map(writing, |n| n);
            assert!(lock.try_read().is_ok());
            assert!(lock.try_write().is_err());
            let deadlock = at_once(lock.write_checked()).await.map(|_| ()).unwrap_err();
            let p = &deadlock.participants[0];
            assert_eq!(p.holds.at.as_ref().unwrap().line, downgrades);
            drop(reading);
            nothing_recorded_for_this_task(&lock).await;

            // Nothing to map to: still the writer, with no reader record.
            let writing = lock.write().await;
            let writing =
                AsyncRwLockWriteGuard::try_downgrade_map(writing, |_| None::<&i32>).unwrap_err();
            assert!(lock.try_read().is_err());
            drop(writing);
            nothing_recorded_for_this_task(&lock).await;
        })
        .await
        .unwrap()
    });
}
