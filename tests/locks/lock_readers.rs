//! Read-write locks and their readers: a thread or task that reads a lock
//! again while a writer waits for it (the new read waits behind the writer,
//! which waits for the first read), and a cycle through a reader beyond
//! the slots a lock keeps in itself.
//!
//! Every waiter that can close a cycle uses a `*_checked` acquisition, so
//! it gets the `Deadlock` back, lets go, and the others finish. The report
//! is also written to the dump sink: each test that can provoke one keeps
//! the dumps (`kept_dumps`), so that nothing reaches stderr.
#![cfg(not(feature = "plain-locks"))]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::{deadlock_report_naming, eventually, kept_dumps};
use monitor_runtime::sync::{lock_waits, AsyncMutex, AsyncRwLock, Mutex, RwLock, Waiter};

#[test]
fn reading_again_while_a_writer_waits() {
    kept_dumps();
    let lock = Arc::new(RwLock::with_name(0, "read twice"));
    let first_line = line!() + 1;
    let first = lock.read().unwrap();
    let write_line = line!() + 5;
    let writer = {
        let lock = lock.clone();
        thread::Builder::new()
            .name("writer".into())
            .spawn(move || *lock.write().unwrap() += 1)
            .unwrap()
    };
    // Once the writer waits, no new reader gets in.
    eventually("the writer waits", || lock.try_read().is_err());
    let again_line = line!() + 1;
    let deadlock = lock.read_checked().unwrap_err();
    drop(first);
    writer.join().unwrap();
    assert_eq!(*lock.read().unwrap(), 1);

    let [me, writer] = &deadlock.participants[..] else {
        panic!("two participants: {deadlock}");
    };
    assert!(!me.queued);
    assert_eq!(me.holds.lock, "read twice");
    assert_eq!(me.holds.at.as_ref().unwrap().line, first_line);
    assert_eq!(me.waits_for.at.as_ref().unwrap().line, again_line);
    assert!(writer.queued);
    assert!(
        matches!(&writer.waiter, Waiter::Thread { name: Some(name), .. } if name == "writer"),
        "{:?}",
        writer.waiter
    );
    assert_eq!(writer.holds.lock, "read twice");
    assert_eq!(writer.holds.at, None);
    assert_eq!(writer.waits_for.at.as_ref().unwrap().line, write_line);
    let text = deadlock.to_string();
    assert!(
        text.contains("is queued ahead for lock \"read twice\""),
        "{text}"
    );
    let (kept, _) = deadlock_report_naming("read twice");
    assert_eq!(kept.participants.len(), 2, "{kept}");
}

#[test]
fn a_task_that_reads_again_while_a_writer_waits() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let lock = Arc::new(AsyncRwLock::with_name(0, "async read twice"));
    let (deadlock, first_line, again_line, write_line) = runtime.block_on(async {
        let lock = lock.clone();
        tokio::spawn(async move {
            let first_line = line!() + 1;
            let first = lock.read().await;
            let write_line = line!() + 3;
            let writer = {
                let lock = lock.clone();
                tokio::spawn(async move { *lock.write().await += 1 })
            };
            let deadline = Instant::now() + Duration::from_secs(10);
            while lock.try_read().is_ok() {
                assert!(Instant::now() < deadline, "the writer never waits");
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            let again_line = line!() + 1;
            let deadlock = lock.read_checked().await.unwrap_err();
            drop(first);
            writer.await.unwrap();
            (deadlock, first_line, again_line, write_line)
        })
        .await
        .unwrap()
    });
    assert_eq!(*lock.try_read().unwrap(), 1);

    let [me, writer] = &deadlock.participants[..] else {
        panic!("two participants: {deadlock}");
    };
    assert!(matches!(me.waiter, Waiter::Task { .. }), "{:?}", me.waiter);
    assert!(matches!(writer.waiter, Waiter::Task { .. }));
    assert_ne!(me.waiter, writer.waiter);
    assert_eq!(me.holds.at.as_ref().unwrap().line, first_line);
    assert_eq!(me.waits_for.at.as_ref().unwrap().line, again_line);
    assert!(writer.queued && !me.queued);
    assert_eq!(writer.waits_for.at.as_ref().unwrap().line, write_line);
    let (kept, _) = deadlock_report_naming("async read twice");
    assert_eq!(kept.participants.len(), 2, "{kept}");
}

/// Five readers hold `table` and do nothing else; a sixth, beyond the
/// slots in the lock, holds it too and waits for `index`, which the
/// writer holds while it waits to write `table`: a cycle through the sixth
/// reader, reported by whichever of the two registers last.
#[test]
fn a_cycle_through_a_sixth_reader() {
    kept_dumps();
    let table = Arc::new(RwLock::with_name(0, "table"));
    let index = Arc::new(Mutex::with_name(0, "index"));
    let five_read = Arc::new(Barrier::new(6));
    let done = Arc::new(Barrier::new(6));
    let readers: Vec<_> = (0..5)
        .map(|_| {
            let (table, five_read, done) = (table.clone(), five_read.clone(), done.clone());
            thread::spawn(move || {
                let _reading = table.read().unwrap();
                five_read.wait();
                done.wait();
            })
        })
        .collect();
    five_read.wait();

    let sixth_read_line = line!() + 1;
    let sixth = table.read().unwrap();
    let writer = {
        let (table, index) = (table.clone(), index.clone());
        thread::Builder::new()
            .name("index writer".into())
            .spawn(move || {
                let _index = index.lock().unwrap();
                table.write_checked().map(|_| ()).err()
            })
            .unwrap()
    };
    eventually("the writer holds the index and waits", || {
        index.try_lock().is_err() && table.try_read().is_err()
    });
    let wait_line = line!() + 1;
    let mine = index.lock_checked().map(|_| ()).err();
    drop(sixth);
    done.wait();
    readers.into_iter().for_each(|r| r.join().unwrap());
    let theirs = writer.join().unwrap();
    assert!(table.try_write().is_ok(), "every reader let go");

    let deadlock = match (mine, theirs) {
        (Some(deadlock), None) | (None, Some(deadlock)) => deadlock,
        (mine, theirs) => panic!("one report, not {mine:?} and {theirs:?}"),
    };
    assert_eq!(deadlock.participants.len(), 2, "{deadlock}");
    let sixth = deadlock
        .participants
        .iter()
        .find(|p| p.holds.lock == "table")
        .expect("the sixth reader holds the table");
    assert_eq!(sixth.holds.at.as_ref().unwrap().line, sixth_read_line);
    assert_eq!(sixth.waits_for.lock, "index");
    assert_eq!(sixth.waits_for.at.as_ref().unwrap().line, wait_line);
    let (kept, _) = deadlock_report_naming("index");
    assert_eq!(kept.participants.len(), 2, "{kept}");
}

/// Many readers at once, then none: every slot they took, in the lock and
/// beyond, is given back. A leftover slot would make the thread's next
/// contended write a self-deadlock.
#[test]
fn many_readers_give_back_every_slot() {
    let lock = Arc::new(RwLock::with_name(0, "many readers"));
    for round in 0..3 {
        let guards: Vec<_> = (0..40).map(|_| lock.read().unwrap()).collect();
        assert!(lock.try_write().is_err());
        drop(guards);
        // Another thread writes until this write waits (the contended
        // path, where the own slots are checked).
        let held = Arc::new(Barrier::new(2));
        let other = {
            let (lock, held) = (lock.clone(), held.clone());
            thread::spawn(move || {
                let _writing = lock.write().unwrap();
                held.wait();
                eventually("the other write waits", || {
                    lock_waits().iter().any(|w| w.lock.lock == "many readers")
                });
            })
        };
        held.wait();
        let writing = lock.write_checked().map(|_| ());
        other.join().unwrap();
        assert!(writing.is_ok(), "round {round}: {writing:?}");
    }
}

/// A lock that lets in two readers at once: two read it, and one of them
/// reads again (it waits for the cap, not for a writer); then a writer
/// queues behind it. Not a deadlock: when the other reader leaves, the
/// second read gets in, and then the writer. Nothing may be reported.
#[test]
fn a_reader_waiting_for_the_cap_is_no_deadlock() {
    kept_dumps();
    let lock = Arc::new(AsyncRwLock::with_max_readers(0, 2));
    let (first_read, let_go) = (Arc::new(Barrier::new(3)), Arc::new(Barrier::new(2)));
    let other = {
        let (lock, first_read, let_go) = (lock.clone(), first_read.clone(), let_go.clone());
        thread::spawn(move || {
            let _reading = lock.blocking_read();
            first_read.wait();
            let_go.wait();
        })
    };
    let twice = {
        let (lock, first_read) = (lock.clone(), first_read.clone());
        thread::Builder::new()
            .name("capped reader".into())
            .spawn(move || {
                let _first = lock.blocking_read();
                first_read.wait();
                let _again = lock.blocking_read();
            })
            .unwrap()
    };
    first_read.wait();
    let waits_of = |name: &str| {
        lock_waits()
            .iter()
            .filter(|w| matches!(&w.waiter, Waiter::Thread { name: Some(n), .. } if n == name))
            .count()
    };
    eventually("the second read waits", || waits_of("capped reader") == 1);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let writer = {
        let lock = lock.clone();
        thread::Builder::new()
            .name("capped writer".into())
            .spawn(move || runtime.block_on(async { lock.write_checked().await.map(|_| ()) }))
            .unwrap()
    };
    eventually("the writer waits too", || waits_of("capped writer") == 1);
    let_go.wait();
    other.join().unwrap();
    twice.join().unwrap();
    let written = writer.join().unwrap();
    assert!(written.is_ok(), "a made-up deadlock: {written:?}");
}

/// A lock future polled once (so it waits), then forgotten, and its lock
/// dropped: the wait leaves with the lock (nothing points at freed memory,
/// which every dump would read).
#[test]
fn a_forgotten_wait_leaves_with_its_lock() {
    use std::future::Future;
    use std::task::Context;

    let lock = Box::new(AsyncMutex::with_name((), "forgotten"));
    let held = lock.try_lock().unwrap();
    // Another thread waits (this one would be a self-deadlock).
    thread::scope(|scope| {
        scope.spawn(|| {
            let mut waiting = Box::pin(lock.lock());
            let waker = futures::task::noop_waker();
            let pending = waiting
                .as_mut()
                .poll(&mut Context::from_waker(&waker))
                .is_pending();
            assert!(pending);
            std::mem::forget(waiting);
        });
    });
    assert!(lock_waits().iter().any(|w| w.lock.lock == "forgotten"));
    drop(held);
    drop(lock);
    assert!(!lock_waits().iter().any(|w| w.lock.lock == "forgotten"));
}
