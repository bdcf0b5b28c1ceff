//! Deadlocks between the locks of `monitor_runtime::sync`: cycles of 2, 3
//! and N threads and of tasks, reader/writer cycles, self-deadlocks, each
//! reported once, with the exact lines, through the dump sink; deadlocks
//! of one kind (the same lock names and lines, other locks) in one dump,
//! each of the others in a warning.
//!
//! Every waiter here uses a `*_checked` acquisition, so the waiter that
//! closes a cycle gets the `Deadlock` back, lets go, and the others finish:
//! the test leaves no thread behind, and the policy (global) stays the
//! default for the other tests.
#![cfg(not(feature = "plain-locks"))]

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use monitor_demo::{deadlock_report_naming, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{AsyncMutex, AsyncRwLock, Deadlock, Mutex, RwLock, Waiter};

fn leak(name: String) -> &'static str {
    Box::leak(name.into_boxed_str())
}

fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// `n` threads, thread `i` holding lock `i` and then waiting for lock
/// `i + 1`: exactly one wait closes the cycle; its report has the `n`
/// participants, each with both lines.
fn ring_of_threads(n: usize, prefix: &str) {
    kept_dumps();
    let locks: Arc<Vec<Mutex<usize>>> = Arc::new(
        (0..n)
            .map(|i| Mutex::with_name(i, leak(format!("{prefix} {i}"))))
            .collect(),
    );
    let barrier = Arc::new(Barrier::new(n));
    let held_line = line!() + 8;
    let wait_line = line!() + 9;
    let threads: Vec<_> = (0..n)
        .map(|i| {
            let (locks, barrier) = (locks.clone(), barrier.clone());
            thread::Builder::new()
                .name(format!("{prefix}-{i}"))
                .spawn(move || {
                    let _mine = locks[i].lock().unwrap();
                    barrier.wait();
                    let next = locks[(i + 1) % n].lock_checked();
                    next.map(|_| ()).map_err(|deadlock| (i, deadlock))
                })
                .unwrap()
        })
        .collect();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    let errors: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert_eq!(errors.len(), 1, "one waiter closes the cycle");
    let (closer, deadlock) = &errors[0];
    assert!(!deadlock.is_self_deadlock());
    assert_eq!(deadlock.participants.len(), n);
    for (k, p) in deadlock.participants.iter().enumerate() {
        let i = (closer + k) % n;
        assert!(
            matches!(&p.waiter, Waiter::Thread { name: Some(name), .. } if *name == format!("{prefix}-{i}")),
            "{p:?}"
        );
        assert_eq!(p.holds.lock, format!("{prefix} {i}"));
        assert_eq!(p.holds.at.as_ref().unwrap().line, held_line);
        assert_eq!(p.waits_for.lock, format!("{prefix} {}", (i + 1) % n));
        assert_eq!(p.waits_for.at.as_ref().unwrap().line, wait_line);
        assert_eq!(p.holds.at.as_ref().unwrap().file, file!());
    }
    let (_, text) = deadlock_report_naming(&format!("{prefix} 0"));
    assert!(
        text.contains(&format!("deadlock: {n} waiters in a cycle")),
        "{text}"
    );
    assert!(text.contains(&at(held_line)), "{text}");
    assert!(text.contains(&at(wait_line)), "{text}");
}

#[test]
fn two_threads() {
    ring_of_threads(2, "two");
}

#[test]
fn three_threads() {
    ring_of_threads(3, "three");
}

#[test]
fn n_threads() {
    ring_of_threads(12, "twelve");
}

/// The cycle is found however the waits interleave: the same ring many
/// times, each closing at a different moment.
#[test]
fn two_threads_again_and_again() {
    for round in 0..50 {
        ring_of_threads(2, leak(format!("again{round}")));
    }
}

#[test]
fn tasks_in_a_cycle() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    for n in [2usize, 3, 5] {
        let prefix = leak(format!("task ring {n}"));
        let locks: Arc<Vec<AsyncMutex<()>>> = Arc::new(
            (0..n)
                .map(|i| AsyncMutex::with_name((), leak(format!("{prefix}/{i}"))))
                .collect(),
        );
        let barrier = Arc::new(tokio::sync::Barrier::new(n));
        let held_line = line!() + 7;
        let wait_line = line!() + 8;
        let results = runtime.block_on(async {
            let tasks: Vec<_> = (0..n)
                .map(|i| {
                    let (locks, barrier) = (locks.clone(), barrier.clone());
                    tokio::spawn(async move {
                        let _mine = locks[i].lock().await;
                        barrier.wait().await;
                        let next = locks[(i + 1) % n].lock_checked().await;
                        next.map(|_| ()).map_err(|deadlock| (i, deadlock))
                    })
                })
                .collect();
            let mut results = Vec::new();
            for task in tasks {
                results.push(task.await.unwrap());
            }
            results
        });
        let errors: Vec<_> = results.into_iter().filter_map(Result::err).collect();
        assert_eq!(errors.len(), 1, "one waiter closes the cycle");
        let (closer, deadlock) = &errors[0];
        assert_eq!(deadlock.participants.len(), n);
        for (k, p) in deadlock.participants.iter().enumerate() {
            let i = (closer + k) % n;
            assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
            assert_eq!(p.holds.lock, format!("{prefix}/{i}"));
            assert_eq!(p.holds.at.as_ref().unwrap().line, held_line);
            assert_eq!(p.waits_for.at.as_ref().unwrap().line, wait_line);
        }
        let (_, text) = deadlock_report_naming(&format!("{prefix}/0"));
        assert!(text.contains(&at(held_line)) && text.contains(&at(wait_line)));
    }
}

/// Two readers that each want to write what the other reads.
#[test]
fn readers_who_want_to_write() {
    kept_dumps();
    let a = Arc::new(RwLock::with_name(0, "rw a"));
    let b = Arc::new(RwLock::with_name(0, "rw b"));
    let barrier = Arc::new(Barrier::new(2));
    let read_line = line!() + 5;
    let write_line = line!() + 6;
    let spawn = |mine: Arc<RwLock<i32>>, theirs: Arc<RwLock<i32>>| {
        let barrier = barrier.clone();
        thread::spawn(move || {
            let _reading = mine.read().unwrap();
            barrier.wait();
            theirs.write_checked().map(|_| ())
        })
    };
    let one = spawn(a.clone(), b.clone());
    let two = spawn(b, a);
    let results = [one.join().unwrap(), two.join().unwrap()];
    let deadlock = results.into_iter().find_map(Result::err).expect("a report");
    assert_eq!(deadlock.participants.len(), 2);
    for p in &deadlock.participants {
        assert_eq!(p.holds.at.as_ref().unwrap().line, read_line);
        assert_eq!(p.waits_for.at.as_ref().unwrap().line, write_line);
    }
}

/// A writer that wants to read what a reader holds, who wants to read
/// what the writer holds.
#[test]
fn a_writer_and_a_reader() {
    kept_dumps();
    let a = Arc::new(RwLock::with_name(0, "wr a"));
    let b = Arc::new(RwLock::with_name(0, "wr b"));
    let barrier = Arc::new(Barrier::new(2));
    let writer = {
        let (a, b, barrier) = (a.clone(), b.clone(), barrier.clone());
        thread::spawn(move || {
            let _writing = a.write().unwrap();
            barrier.wait();
            b.write_checked().map(|_| ())
        })
    };
    let reader = thread::spawn(move || {
        let _reading = b.read().unwrap();
        barrier.wait();
        a.read_checked().map(|_| ())
    });
    let results = [writer.join().unwrap(), reader.join().unwrap()];
    let deadlock = results.into_iter().find_map(Result::err).expect("a report");
    let locks: Vec<_> = deadlock
        .participants
        .iter()
        .map(|p| (p.holds.lock.as_str(), p.waits_for.lock.as_str()))
        .collect();
    assert!(
        locks == [("wr a", "wr b"), ("wr b", "wr a")]
            || locks == [("wr b", "wr a"), ("wr a", "wr b")],
        "{locks:?}"
    );
}

#[test]
fn async_readers_who_want_to_write() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let a = Arc::new(AsyncRwLock::with_name(0, "async rw a"));
    let b = Arc::new(AsyncRwLock::with_name(0, "async rw b"));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let results = runtime.block_on(async {
        let spawn = |mine: Arc<AsyncRwLock<i32>>, theirs: Arc<AsyncRwLock<i32>>| {
            let barrier = barrier.clone();
            tokio::spawn(async move {
                let _reading = mine.read().await;
                barrier.wait().await;
                theirs.write_checked().await.map(|_| ())
            })
        };
        let one = spawn(a.clone(), b.clone());
        let two = spawn(b.clone(), a.clone());
        [one.await.unwrap(), two.await.unwrap()]
    });
    let deadlock = results.into_iter().find_map(Result::err).expect("a report");
    assert_eq!(deadlock.participants.len(), 2);
    deadlock_report_naming("async rw a");
}

#[test]
fn a_thread_that_takes_its_own_lock() {
    kept_dumps();
    let lock = Mutex::with_name((), "mine twice");
    let held_line = line!() + 1;
    let _held = lock.lock().unwrap();
    let again_line = line!() + 1;
    let deadlock = lock.lock_checked().unwrap_err();
    assert!(deadlock.is_self_deadlock());
    let p = &deadlock.participants[0];
    assert_eq!(p.holds.at.as_ref().unwrap().line, held_line);
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, again_line);
    let (_, text) = deadlock_report_naming("mine twice");
    assert!(text.contains("self-deadlock"), "{text}");
    assert!(text.contains(&at(held_line)) && text.contains(&at(again_line)));

    let rw = RwLock::with_name((), "read then write");
    let _reading = rw.read().unwrap();
    assert!(rw.write_checked().unwrap_err().is_self_deadlock());
    // Two reads by one thread are fine.
    assert!(rw.read_checked().is_ok());
}

#[test]
fn a_task_that_takes_its_own_lock() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let deadlock = runtime.block_on(async {
        tokio::spawn(async {
            let lock = AsyncMutex::with_name((), "task twice");
            let _held = lock.lock().await;
            lock.lock_checked().await.map(|_| ()).unwrap_err()
        })
        .await
    });
    let deadlock = deadlock.unwrap();
    assert!(deadlock.is_self_deadlock());
    assert!(matches!(
        deadlock.participants[0].waiter,
        Waiter::Task { .. }
    ));
}

/// Waiting without a cycle is not a deadlock, and a lock released while a
/// waiter looks is not one either.
#[test]
fn plain_contention_is_not_reported() {
    kept_dumps();
    let lock = Arc::new(Mutex::with_name(0u64, "contended"));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let lock = lock.clone();
            thread::spawn(move || {
                for _ in 0..20_000 {
                    *lock.lock_checked().expect("no deadlock").unwrap() += 1;
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert_eq!(*lock.lock().unwrap(), 80_000);
}

/// Poisoning is std's.
#[test]
fn a_panic_poisons_as_std_does() {
    let lock = Arc::new(Mutex::new(1));
    let other = lock.clone();
    let _ = thread::spawn(move || {
        let _held = other.lock().unwrap();
        panic!("poison");
    })
    .join();
    assert!(lock.is_poisoned());
    let guard = lock.lock().unwrap_err().into_inner();
    assert_eq!(*guard, 1);
    drop(guard);
    lock.clear_poison();
    assert!(lock.lock().is_ok());
}

#[monitor_runtime::stack_on_timeout(1h)]
fn transfer(from: &Mutex<u64>, to: &Mutex<u64>, barrier: &Barrier) -> Result<(), Deadlock> {
    let _from = from.lock().unwrap();
    barrier.wait();
    to.lock_checked().map(|_| ())
}

/// Each participant's annotated calls are in the report, innermost first.
#[test]
fn the_report_has_the_logical_stacks() {
    kept_dumps();
    let a = Arc::new(Mutex::with_name(0, "account a"));
    let b = Arc::new(Mutex::with_name(0, "account b"));
    let barrier = Arc::new(Barrier::new(2));
    let spawn = |from: Arc<Mutex<u64>>, to: Arc<Mutex<u64>>| {
        let barrier = barrier.clone();
        thread::spawn(move || transfer(&from, &to, &barrier))
    };
    let one = spawn(a.clone(), b.clone());
    let two = spawn(b, a);
    let results = [one.join().unwrap(), two.join().unwrap()];
    let deadlock = results.into_iter().find_map(Result::err).expect("a report");
    for p in &deadlock.participants {
        assert_eq!(p.stack.len(), 1, "{p:?}");
        assert_eq!(p.stack[0].0, "locks::lock_deadlock::transfer");
    }
    let (_, text) = deadlock_report_naming("account a");
    assert!(
        text.contains("in locks::lock_deadlock::transfer (tests/locks/lock_deadlock.rs:"),
        "{text}"
    );
}

#[monitor_runtime::stack_on_timeout(1h)]
async fn transfer_later(
    from: Arc<AsyncMutex<u64>>,
    to: Arc<AsyncMutex<u64>>,
    barrier: Arc<tokio::sync::Barrier>,
) -> Result<(), Deadlock> {
    let _from = from.lock().await;
    barrier.wait().await;
    to.lock_checked().await.map(|_| ())
}

/// A task's annotated calls are in the report too: those of the task that
/// closes the cycle (running) and those of the task parked in its wait.
#[test]
fn the_report_has_the_logical_stacks_of_tasks() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let a = Arc::new(AsyncMutex::with_name(0, "async account a"));
    let b = Arc::new(AsyncMutex::with_name(0, "async account b"));
    let barrier = Arc::new(tokio::sync::Barrier::new(2));
    let results = runtime.block_on(async {
        let one = tokio::spawn(transfer_later(a.clone(), b.clone(), barrier.clone()));
        let two = tokio::spawn(transfer_later(b.clone(), a.clone(), barrier.clone()));
        [one.await.unwrap(), two.await.unwrap()]
    });
    let deadlock = results.into_iter().find_map(Result::err).expect("a report");
    assert_eq!(deadlock.participants.len(), 2);
    for p in &deadlock.participants {
        assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
        assert_eq!(p.stack.len(), 1, "{p:?}");
        assert_eq!(p.stack[0].0, "locks::lock_deadlock::transfer_later");
    }
}

/// A task whose wait is cancelled (here by a timeout) leaves the graph: a
/// later wait through the lock it still holds is not a deadlock.
#[test]
fn a_cancelled_wait_leaves_the_graph() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let a = Arc::new(AsyncMutex::with_name((), "cancel a"));
    let b = Arc::new(AsyncMutex::with_name((), "cancel b"));
    runtime.block_on(async {
        // Held by this thread (outside any task).
        let _a = a.lock().await;
        let (ready, is_ready) = tokio::sync::oneshot::channel();
        let task = {
            let (a, b) = (a.clone(), b.clone());
            tokio::spawn(async move {
                let _b = b.lock().await;
                let gave_up = tokio::time::timeout(Duration::from_millis(10), a.lock()).await;
                assert!(gave_up.is_err());
                ready.send(()).unwrap();
                tokio::time::sleep(Duration::from_millis(50)).await;
            })
        };
        is_ready.await.unwrap();
        // Waits for b, held by the task, which no longer waits for a.
        let got = b.lock_checked().await;
        assert!(got.is_ok(), "{:?}", got.err());
        task.await.unwrap();
    });
}

/// A thread (through `blocking_lock`) and a task wait for each other's
/// async locks: one cycle across both worlds.
#[test]
fn a_thread_and_a_task_in_a_cycle() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let a = Arc::new(AsyncMutex::with_name((), "mixed a"));
    let b = Arc::new(AsyncMutex::with_name((), "mixed b"));
    let barrier = Arc::new(Barrier::new(2));
    let thread = {
        let (a, b, barrier) = (a.clone(), b.clone(), barrier.clone());
        thread::Builder::new()
            .name("blocking side".into())
            .spawn(move || {
                let _a = a.blocking_lock();
                barrier.wait();
                let _b = b.blocking_lock();
            })
            .unwrap()
    };
    let deadlock = runtime.block_on(async move {
        tokio::spawn(async move {
            let _b = b.lock().await;
            barrier.wait();
            // The thread waits first; this wait closes the cycle.
            tokio::time::sleep(Duration::from_millis(100)).await;
            let closing = tokio::time::timeout(Duration::from_secs(2), a.lock_checked());
            closing
                .await
                .expect("reported at once")
                .map(|_| ())
                .unwrap_err()
        })
        .await
        .unwrap()
    });
    thread.join().unwrap();
    let waiters: Vec<_> = deadlock.participants.iter().map(|p| &p.waiter).collect();
    assert!(matches!(waiters[0], Waiter::Task { .. }), "{waiters:?}");
    assert!(
        matches!(waiters[1], Waiter::Thread { name: Some(name), .. } if name == "blocking side"),
        "{waiters:?}"
    );
}

/// Takes `mine`, waits until the other thread holds its own, then waits
/// for `theirs`: whether this wait closed the cycle, and the warnings
/// this thread logged.
fn hold_then_wait(
    mine: Arc<Mutex<()>>,
    theirs: Arc<Mutex<()>>,
    both_hold: Arc<Barrier>,
) -> (bool, Vec<monitor_demo::RecordedEvent>) {
    let (recorder, recorded) = monitor_demo::Recorder::new();
    let closed = tracing::subscriber::with_default(recorder, || {
        let _mine = mine.lock().unwrap();
        both_hold.wait();
        theirs.lock_checked().is_err()
    });
    (closed, recorded.events())
}

#[test]
fn deadlocks_of_one_kind_make_one_dump_and_a_warning_each() {
    kept_dumps();
    const PAIRS: usize = 20;
    let mut closed = 0;
    let mut warnings = 0;
    for _ in 0..PAIRS {
        let a = Arc::new(Mutex::with_name((), "deadlock/many a"));
        let b = Arc::new(Mutex::with_name((), "deadlock/many b"));
        let both_hold = Arc::new(Barrier::new(2));
        let threads = [(a.clone(), b.clone()), (b, a)].map(|(mine, theirs)| {
            let both_hold = both_hold.clone();
            thread::spawn(move || hold_then_wait(mine, theirs, both_hold))
        });
        for thread in threads {
            let (closer, events) = thread.join().unwrap();
            closed += usize::from(closer);
            warnings += events
                .iter()
                .filter(|e| {
                    e.message()
                        .is_some_and(|m| m.starts_with("deadlock of a kind"))
                })
                .count();
        }
    }
    // Every deadlock is found, and under the policy (`lock_checked`).
    assert_eq!(closed, PAIRS);
    let dumps = || {
        kept_dumps()
            .lock()
            .unwrap()
            .iter()
            .filter(|dump| match &dump.reason {
                DumpReason::Deadlock(deadlock) => deadlock
                    .participants
                    .iter()
                    .any(|p| p.waits_for.lock.starts_with("deadlock/many ")),
                _ => false,
            })
            .count()
    };
    monitor_demo::eventually("the dump", || dumps() > 0);
    assert_eq!((dumps(), warnings), (1, PAIRS - 1));
}
