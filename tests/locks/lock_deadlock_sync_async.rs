//! Deadlocks across the sync/async line: a std-style lock ([`Mutex`])
//! taken inside a tokio task is held, and waited for, by that task, so a
//! cycle through a task that waits on a sync lock closes (issue 14, item
//! 6); and no cycle is made up from a worker thread that ran a task.
//!
//! The waiter that closes each cycle uses a `*_checked` acquisition and
//! lets go when it gets the [`Deadlock`]. If a cycle were missed, its
//! parties would stay blocked forever: each test then fails after a
//! bounded wait for the closer's result and leaves them (and their
//! runtime) behind for the process exit, instead of hanging.
#![cfg(not(feature = "plain-locks"))]

use std::cell::Cell;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::Duration;

use monitor_demo::{deadlock_report_naming, eventually, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{lock_waits, AsyncMutex, Mutex, Waiter};

fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// The line of this file that ends with the comment `// {mark}`.
fn line_of(mark: &str) -> u32 {
    monitor_demo::marked_line(include_str!("lock_deadlock_sync_async.rs"), mark)
}

/// The result a party of the cycle sends, within 10 s. Past that the
/// cycle was missed: fail, leaving the blocked parties behind.
#[track_caller]
fn within<T>(results: &Receiver<T>, what: &str) -> T {
    results
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no deadlock report: {what} is still blocked after 10 s"))
}

/// A runtime that is shut down when the test passes and left running
/// (forgotten) when it fails: its workers may be blocked for good.
struct Runtime(Option<tokio::runtime::Runtime>);

impl Runtime {
    fn multi_thread(workers: usize) -> Self {
        Runtime(Some(
            tokio::runtime::Builder::new_multi_thread()
                .worker_threads(workers)
                .enable_time()
                .build()
                .unwrap(),
        ))
    }
}

impl std::ops::Deref for Runtime {
    type Target = tokio::runtime::Runtime;
    fn deref(&self) -> &Self::Target {
        self.0.as_ref().unwrap()
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        let runtime = self.0.take().unwrap();
        if thread::panicking() {
            std::mem::forget(runtime);
        } else {
            runtime.shutdown_timeout(Duration::from_secs(5));
        }
    }
}

/// Whether someone waits for the lock called `lock` now.
fn waited_for(lock: &str) -> bool {
    lock_waits().iter().any(|wait| wait.lock.lock == lock)
}

/// The case: a thread holds `Mutex` A and waits on `AsyncMutex` B
/// with `blocking_lock()`, while a task holds B and waits on A.
#[test]
fn a_thread_on_an_async_lock_and_a_task_on_a_sync_lock() {
    kept_dumps();
    let runtime = Runtime::multi_thread(2);
    let a = Arc::new(Mutex::with_name((), "line a (sync)"));
    let b = Arc::new(AsyncMutex::with_name((), "line b (async)"));
    let barrier = Arc::new(Barrier::new(2));
    let thread = {
        let (a, b, barrier) = (a.clone(), b.clone(), barrier.clone());
        thread::Builder::new()
            .name("sync side".into())
            .spawn(move || {
                let _a = a.lock().unwrap(); // t1 holds a
                barrier.wait();
                let _b = b.blocking_lock(); // t1 waits b
            })
            .unwrap()
    };
    let (results, closer) = channel();
    runtime.spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            let _b = b.lock().await; // t1 task holds b
            barrier.wait();
            // The thread waits first; the task's wait closes the cycle.
            eventually("the thread waits for b", || waited_for("line b (async)"));
            let closing = a.lock_checked().map(|_| ()); // t1 task waits a
            let _ = results.send(closing);
        }
    });
    let deadlock = within(&closer, "the task waiting on the sync lock").unwrap_err();
    thread.join().unwrap();
    let (a_line, b_wait_line) = (line_of("t1 holds a"), line_of("t1 waits b"));
    let (b_line, a_wait_line) = (line_of("t1 task holds b"), line_of("t1 task waits a"));

    assert_eq!(deadlock.participants.len(), 2, "{deadlock}");
    let (task, thread) = (&deadlock.participants[0], &deadlock.participants[1]);
    assert!(matches!(task.waiter, Waiter::Task { .. }), "{deadlock}");
    assert_eq!(task.holds.lock, "line b (async)");
    assert_eq!(task.holds.at.as_ref().unwrap().line, b_line);
    assert_eq!(task.waits_for.lock, "line a (sync)");
    assert_eq!(task.waits_for.at.as_ref().unwrap().line, a_wait_line);
    assert!(
        matches!(&thread.waiter, Waiter::Thread { name: Some(name), .. } if name == "sync side"),
        "{deadlock}"
    );
    assert_eq!(thread.holds.lock, "line a (sync)");
    assert_eq!(thread.holds.at.as_ref().unwrap().line, a_line);
    assert_eq!(thread.waits_for.at.as_ref().unwrap().line, b_wait_line);
    let (_, text) = deadlock_report_naming("line a (sync)");
    for line in [a_line, b_line, a_wait_line, b_wait_line] {
        assert!(text.contains(&at(line)), "{text}");
    }
}

/// The mirror case, two tasks on one current-thread runtime: one holds
/// the `Mutex` across an await on the `AsyncMutex` (a `!Send` future, on
/// a `LocalSet`), the other holds that and waits, blocking, on the
/// `Mutex`. The report names both tasks, not their one thread.
#[test]
fn two_tasks_on_one_thread() {
    kept_dumps();
    let a = Arc::new(Mutex::with_name((), "local a (sync)"));
    let b = Arc::new(AsyncMutex::with_name((), "local b (async)"));
    let (results, closer) = channel();
    let _detached = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let holder = {
                let (a, b) = (a.clone(), b.clone());
                tokio::task::spawn_local(async move {
                    let _b = b.lock().await; // t2 holds b
                    while !waited_for("local b (async)") {
                        tokio::task::yield_now().await;
                    }
                    a.lock_checked().map(|_| ()) // t2 waits a
                })
            };
            let waiter = tokio::task::spawn_local(async move {
                let _a = a.lock().unwrap(); // t2 holds a
                let _b = b.lock().await; // t2 waits b
            });
            let closing = holder.await.unwrap();
            waiter.await.unwrap();
            let _ = results.send(closing);
        });
    });
    let deadlock = within(&closer, "the task waiting on the sync lock").unwrap_err();
    let (a_line, b_wait_line) = (line_of("t2 holds a"), line_of("t2 waits b"));
    let (b_line, a_wait_line) = (line_of("t2 holds b"), line_of("t2 waits a"));

    assert_eq!(deadlock.participants.len(), 2, "{deadlock}");
    let (closing, other) = (&deadlock.participants[0], &deadlock.participants[1]);
    for p in [closing, other] {
        assert!(matches!(p.waiter, Waiter::Task { .. }), "{deadlock}");
    }
    assert_ne!(format!("{}", closing.waiter), format!("{}", other.waiter));
    assert_eq!(closing.holds.lock, "local b (async)");
    assert_eq!(closing.holds.at.as_ref().unwrap().line, b_line);
    assert_eq!(closing.waits_for.at.as_ref().unwrap().line, a_wait_line);
    assert_eq!(other.holds.lock, "local a (sync)");
    assert_eq!(other.holds.at.as_ref().unwrap().line, a_line);
    assert_eq!(other.waits_for.at.as_ref().unwrap().line, b_wait_line);
}

/// Two tasks on a multi-thread runtime: one holds the `Mutex` and waits,
/// blocking (`block_in_place`), on the `AsyncMutex` that the other holds
/// while it waits on the `Mutex`.
#[test]
fn two_tasks_on_two_workers() {
    kept_dumps();
    let runtime = Runtime::multi_thread(2);
    let a = Arc::new(Mutex::with_name((), "worker a (sync)"));
    let b = Arc::new(AsyncMutex::with_name((), "worker b (async)"));
    let (results, closer) = channel();
    let holder = runtime.spawn({
        let (a, b) = (a.clone(), b.clone());
        async move {
            let _a = a.lock().unwrap();
            eventually("the other task holds b", || b.try_lock().is_err());
            tokio::task::block_in_place(|| drop(b.blocking_lock()));
        }
    });
    runtime.spawn(async move {
        let _b = b.lock().await;
        eventually("the first task waits for b", || {
            waited_for("worker b (async)")
        });
        let closing = a.lock_checked().map(|_| ());
        let _ = results.send(closing);
    });
    let deadlock = within(&closer, "the task waiting on the sync lock").unwrap_err();
    runtime.block_on(holder).unwrap();

    assert_eq!(deadlock.participants.len(), 2, "{deadlock}");
    for p in &deadlock.participants {
        assert!(matches!(p.waiter, Waiter::Task { .. }), "{deadlock}");
    }
    assert_eq!(deadlock.participants[0].holds.lock, "worker b (async)");
    assert_eq!(deadlock.participants[1].holds.lock, "worker a (sync)");
    deadlock_report_naming("worker a (sync)");
}

/// A thread holds a `Mutex` and, inside `block_on` of a current-thread
/// runtime, a task that runs on that same thread takes it: the task
/// blocks its own holder, a self-deadlock of the thread.
#[test]
fn a_task_that_takes_its_threads_lock() {
    kept_dumps();
    let (results, closer) = channel();
    let _detached = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let lock = Arc::new(Mutex::with_name((), "the thread's"));
        let _held = lock.lock().unwrap();
        let theirs = lock.clone();
        let closing = runtime.block_on(async move {
            tokio::spawn(async move { theirs.lock_checked().map(|_| ()) })
                .await
                .unwrap()
        });
        let _ = results.send(closing);
    });
    let deadlock = within(&closer, "the task").unwrap_err();
    assert!(deadlock.is_self_deadlock(), "{deadlock}");
    assert_eq!(deadlock.participants[0].holds.lock, "the thread's");
}

/// Tasks on one worker thread that take a `Mutex` in turn, and one that
/// holds one across an await while a task on another runtime waits for
/// it: no report. (Were a sync lock held by its worker thread rather than
/// its task, the `block_on` future below, which runs on that thread and
/// waits for the other task's lock, would close a false cycle.)
#[test]
fn tasks_on_one_thread_make_no_false_cycle() {
    let dumps = kept_dumps();
    let a = Arc::new(Mutex::with_name(0u64, "turns a (sync)"));
    let b = Arc::new(AsyncMutex::with_name((), "turns b (async)"));
    let holding = Arc::new(AtomicBool::new(false));
    let other = Runtime::multi_thread(1);
    let (results, done) = channel();
    let _detached = {
        let (a, b, holding) = (a.clone(), b.clone(), holding.clone());
        thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            let result = local.block_on(&runtime, async move {
                // In turn: each task takes the lock on this one thread.
                let turns: Vec<_> = (0..4)
                    .map(|_| {
                        let a = a.clone();
                        tokio::task::spawn_local(async move {
                            for _ in 0..100 {
                                *a.lock().unwrap() += 1;
                                tokio::task::yield_now().await;
                            }
                        })
                    })
                    .collect();
                for turn in turns {
                    turn.await.unwrap();
                }
                // A task holds the lock across an await, until the
                // `block_on` future waits for `b`.
                let asked = Rc::new(Cell::new(false));
                let held = tokio::task::spawn_local({
                    let (a, asked) = (a.clone(), asked.clone());
                    async move {
                        let _a = a.lock().unwrap();
                        holding.store(true, Ordering::SeqCst);
                        while !waited_for("turns b (async)") && !asked.get() {
                            tokio::time::sleep(Duration::from_millis(1)).await;
                        }
                    }
                });
                while !waited_for("turns a (sync)") {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
                let result = b.lock_checked().await.map(|_| ());
                asked.set(true);
                held.await.unwrap();
                result
            });
            let _ = results.send(result);
        })
    };
    other.spawn(async move {
        let _b = b.lock().await;
        eventually("a task holds a", || holding.load(Ordering::SeqCst));
        let _a = a.lock().unwrap();
    });
    within(&done, "the block_on future").expect("no deadlock");
    assert!(
        !dumps.lock().unwrap().iter().any(|dump| matches!(
            &dump.reason,
            DumpReason::Deadlock(d) if d.participants.iter().any(|p| p.waits_for.lock.starts_with("turns"))
        )),
        "no report"
    );
}
