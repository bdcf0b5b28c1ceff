//! Deadlocks through a thread that one of its tasks blocks (issue 14): a
//! task that waits for a std-style lock blocks the thread it runs on, and
//! with it everything that can only go on there: a task parked on that
//! thread (a `LocalSet`'s, whose futures may hold a std lock's guard, which
//! never leaves its thread) and the locks the thread itself took outside
//! any task (before `block_on`).
//!
//! The waiter that closes each cycle uses a `*_checked` acquisition and
//! lets go when it gets the [`Deadlock`]. If a cycle were missed, its
//! parties would stay blocked forever: each test then fails after a
//! bounded wait for the closer's result and leaves them (and their
//! runtime) behind for the process exit, instead of hanging.
#![cfg(not(feature = "plain-locks"))]

use std::cell::RefCell;
use std::fmt::Debug;
use std::rc::Rc;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex as StdMutex};
use std::thread;
use std::time::Duration;

use monitor_demo::{deadlock_report_naming, eventually, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{lock_waits, AsyncMutex, Deadlock, Mutex, RwLock, Waiter};

fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

/// The line of this file that ends with the comment `// {mark}`.
fn line_of(mark: &str) -> u32 {
    monitor_demo::marked_line(include_str!("lock_deadlock_blocked_thread.rs"), mark)
}

/// The result a party of the cycle sends, within 10 s. Past that the
/// cycle was missed: fail, leaving the blocked parties behind.
#[track_caller]
fn within<T>(results: &Receiver<T>, what: &str) -> T {
    results
        .recv_timeout(Duration::from_secs(10))
        .unwrap_or_else(|_| panic!("no deadlock report: {what} is still blocked after 10 s"))
}

/// Whether someone waits for the lock called `lock` now.
fn waited_for(lock: &str) -> bool {
    lock_waits().iter().any(|wait| wait.lock.lock == lock)
}

/// The running task, as reports name it.
fn this_task() -> Waiter {
    Waiter::Task {
        id: tokio::task::id().to_string().parse().unwrap(),
    }
}

/// Whether a deadlock report names a lock whose name starts with `prefix`.
fn reported(prefix: &str) -> bool {
    kept_dumps().lock().unwrap().iter().any(|dump| {
        matches!(&dump.reason, DumpReason::Deadlock(d)
            if d.participants.iter().any(|p| p.waits_for.lock.starts_with(prefix)
                || p.holds.lock.starts_with(prefix)))
    })
}

/// On a thread of its own, called `thread`: a current-thread runtime and a
/// `LocalSet` on it, where `holder` takes the lock and stays parked while
/// `waiter` (a task spawned after it, run once the lock is held) blocks the
/// thread on it. The waiter's result (the one participant that closes the
/// cycle), the tasks (holder, waiter) and the thread.
type Parked = (Result<(), Deadlock>, Waiter, Waiter, u32);

fn parked_holder_on_one_thread<L: Send + 'static>(
    thread: &str,
    lock: L,
    holder: fn(&L) -> Box<dyn Debug + '_>,
    waiter: fn(&L) -> Result<(), Deadlock>,
) -> Receiver<Parked> {
    let (results, closer) = channel();
    let _detached = thread::Builder::new()
        .name(thread.into())
        .spawn(move || {
            let tid = unsafe { libc::gettid() } as u32;
            let runtime = tokio::runtime::Builder::new_current_thread()
                .build()
                .unwrap();
            let local = tokio::task::LocalSet::new();
            local.block_on(&runtime, async move {
                let lock = Rc::new(lock);
                let held = Rc::new(RefCell::new(None));
                let (release, released) = tokio::sync::oneshot::channel::<()>();
                let holding = tokio::task::spawn_local({
                    let (lock, held) = (lock.clone(), held.clone());
                    async move {
                        let _guard = holder(&lock);
                        *held.borrow_mut() = Some(this_task());
                        // Parked: only this thread can run it again.
                        let _ = released.await;
                    }
                });
                let waiting = tokio::task::spawn_local(async move {
                    while held.borrow().is_none() {
                        tokio::task::yield_now().await;
                    }
                    let closing = waiter(&lock);
                    let _ = release.send(());
                    let holder = held.borrow_mut().take().unwrap();
                    (closing, holder, this_task())
                });
                let (closing, holder, waiter) = waiting.await.unwrap();
                holding.await.unwrap();
                let _ = results.send((closing, holder, waiter, tid));
            });
        })
        .unwrap();
    closer
}

/// Item 1 of the gaps: a task blocks its thread on a `Mutex` that a
/// task parked on the same `LocalSet` holds. The parked one can never run
/// again: reported the moment the wait starts, naming both tasks, the lock,
/// where each took or waits for it, and the thread.
#[test]
fn a_task_waits_for_a_mutex_a_parked_task_of_its_thread_holds() {
    kept_dumps();
    let closer = parked_holder_on_one_thread(
        "one local set",
        Mutex::with_name((), "parked mutex"),
        |lock| Box::new(lock.lock().unwrap()), // p1 holder takes
        |lock| lock.lock_checked().map(|_| ()), // p1 waiter waits
    );
    let (closing, holder, waiter, tid) = within(&closer, "the waiting task");
    let deadlock = closing.unwrap_err();
    let (take_line, wait_line) = (line_of("p1 holder takes"), line_of("p1 waiter waits"));

    // One thread waits for itself: its task for a lock that its other task,
    // which only it can run, holds.
    assert_eq!(deadlock.participants.len(), 1, "{deadlock}");
    let p = &deadlock.participants[0];
    assert_eq!(p.waiter, waiter, "{deadlock}");
    assert!(
        matches!(&p.thread, Some(Waiter::Thread { tid: t, name: Some(name) })
            if *t == tid && name == "one local set"),
        "{deadlock}"
    );
    assert_eq!(p.held_by.as_ref(), Some(&holder), "{deadlock}");
    assert_ne!(holder, waiter);
    assert_eq!(p.holds.lock, "parked mutex");
    assert_eq!(p.holds.at.as_ref().unwrap().line, take_line);
    assert_eq!(p.waits_for.lock, "parked mutex");
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, wait_line);

    // The dump's text names them all.
    let (_, text) = deadlock_report_naming("parked mutex");
    for name in [
        holder.to_string(),
        waiter.to_string(),
        format!("thread {tid} 'one local set'"),
        at(take_line),
        at(wait_line),
    ] {
        assert!(text.contains(&name), "{name} in {text}");
    }
}

/// The same with a read: a parked task reads an `RwLock` (on record in its
/// thread's table of reads), and a task of the same thread blocks on a
/// write.
#[test]
fn a_task_waits_to_write_what_a_parked_task_of_its_thread_reads() {
    kept_dumps();
    let closer = parked_holder_on_one_thread(
        "one reading set",
        RwLock::with_name((), "parked read"),
        |lock| Box::new(lock.read().unwrap()), // p2 holder reads
        |lock| lock.write_checked().map(|_| ()), // p2 waiter writes
    );
    let (closing, holder, waiter, _) = within(&closer, "the writing task");
    let deadlock = closing.unwrap_err();
    assert_eq!(deadlock.participants.len(), 1, "{deadlock}");
    let p = &deadlock.participants[0];
    assert_eq!(p.waiter, waiter, "{deadlock}");
    assert_eq!(p.held_by.as_ref(), Some(&holder), "{deadlock}");
    assert_eq!(
        p.holds.at.as_ref().unwrap().line,
        line_of("p2 holder reads")
    );
    assert_eq!(
        p.waits_for.at.as_ref().unwrap().line,
        line_of("p2 waiter writes")
    );
}

/// Item 2: thread T takes `Mutex` "t's" outside any task, then in
/// `block_on` (a current-thread runtime on T) a task waits, blocking T, for
/// "u's", which thread U holds while it waits for "t's". The closer is
/// U's wait when `u_closes`, else the task's.
fn a_cycle_through_a_thread_blocked_by_its_task(u_closes: bool, names: [&'static str; 2]) {
    kept_dumps();
    let [t_lock, u_lock] = names;
    let t_lock = Arc::new(Mutex::with_name((), t_lock));
    let u_lock = Arc::new(Mutex::with_name((), u_lock));
    let (results, closer) = channel();
    let u_holds = Arc::new(std::sync::Barrier::new(2));
    let task = Arc::new(StdMutex::new(None));
    let t_tid = Arc::new(StdMutex::new(None));
    let _t = {
        let (t_lock, u_lock, u_holds, task, t_tid) = (
            t_lock.clone(),
            u_lock.clone(),
            u_holds.clone(),
            task.clone(),
            t_tid.clone(),
        );
        let results = results.clone();
        thread::Builder::new()
            .name("t, blocked by its task".into())
            .spawn(move || {
                *t_tid.lock().unwrap() = Some(unsafe { libc::gettid() } as u32);
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let _t = t_lock.lock().unwrap(); // c2 t takes
                u_holds.wait();
                let t_name = t_lock.name();
                let closing = runtime.block_on(async move {
                    tokio::spawn(async move {
                        *task.lock().unwrap() = Some(this_task());
                        if u_closes {
                            drop(u_lock.lock().unwrap()); // c2 task waits
                            None
                        } else {
                            eventually("u waits", || waited_for(t_name));
                            Some(u_lock.lock_checked().map(|_| ())) // c2 task closes
                        }
                    })
                    .await
                    .unwrap()
                });
                if let Some(closing) = closing {
                    let _ = results.send(closing);
                }
            })
            .unwrap()
    };
    let _u = {
        let (t_lock, u_lock) = (t_lock.clone(), u_lock.clone());
        thread::Builder::new()
            .name("u, the other".into())
            .spawn(move || {
                let _u = u_lock.lock().unwrap(); // c2 u takes
                u_holds.wait();
                if u_closes {
                    eventually("the task waits", || waited_for(u_lock.name()));
                    let closing = t_lock.lock_checked().map(|_| ()); // c2 u closes
                    let _ = results.send(closing);
                } else {
                    drop(t_lock.lock().unwrap()); // c2 u waits
                }
            })
            .unwrap()
    };
    let deadlock = within(&closer, "the waiter that closes the cycle").unwrap_err();
    let t_tid = t_tid.lock().unwrap().unwrap();
    let task = task.lock().unwrap().clone().unwrap();

    assert_eq!(deadlock.participants.len(), 2, "{deadlock}");
    let (mut u, mut t) = (&deadlock.participants[0], &deadlock.participants[1]);
    if !u_closes {
        std::mem::swap(&mut u, &mut t);
    }
    // U: holds its lock, waits for T's.
    assert!(
        matches!(&u.waiter, Waiter::Thread { name: Some(name), .. } if name == "u, the other"),
        "{deadlock}"
    );
    assert_eq!(u.holds.lock, u_lock.name());
    assert_eq!(u.holds.at.as_ref().unwrap().line, line_of("c2 u takes"));
    assert_eq!(u.waits_for.lock, t_lock.name());
    let u_wait = if u_closes {
        "c2 u closes"
    } else {
        "c2 u waits"
    };
    assert_eq!(u.waits_for.at.as_ref().unwrap().line, line_of(u_wait));
    assert_eq!(u.thread, None);
    assert_eq!(u.held_by, None);
    // T's task: waits for U's lock, blocking T, which holds T's lock.
    assert_eq!(t.waiter, task, "{deadlock}");
    assert!(
        matches!(&t.thread, Some(Waiter::Thread { tid, name: Some(name) })
            if *tid == t_tid && name == "t, blocked by its task"),
        "{deadlock}"
    );
    assert_eq!(t.held_by.as_ref(), t.thread.as_ref(), "{deadlock}");
    assert_eq!(t.holds.lock, t_lock.name());
    assert_eq!(t.holds.at.as_ref().unwrap().line, line_of("c2 t takes"));
    assert_eq!(t.waits_for.lock, u_lock.name());
    let t_wait = if u_closes {
        "c2 task waits"
    } else {
        "c2 task closes"
    };
    assert_eq!(t.waits_for.at.as_ref().unwrap().line, line_of(t_wait));

    let (_, text) = deadlock_report_naming(t_lock.name());
    for name in [
        task.to_string(),
        format!("thread {t_tid} 't, blocked by its task'"),
        "'u, the other'".to_owned(),
    ] {
        assert!(text.contains(&name), "{name} in {text}");
    }
}

#[test]
fn a_cycle_through_a_thread_blocked_by_its_task_closed_by_the_other_thread() {
    a_cycle_through_a_thread_blocked_by_its_task(true, ["t's (u closes)", "u's (u closes)"]);
}

#[test]
fn a_cycle_through_a_thread_blocked_by_its_task_closed_by_the_task() {
    a_cycle_through_a_thread_blocked_by_its_task(false, ["t's (task closes)", "u's (task closes)"]);
}

/// No false positive: on a multi-thread runtime, a task that holds an
/// `AsyncMutex` parks (its guard, unlike a std lock's, may go to another
/// thread), and a task run next on the same worker waits for it, blocking
/// that worker (`block_in_place`). The holder resumes on another worker and
/// lets go: no report.
#[test]
fn a_parked_holder_resumes_on_another_worker() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let lock = Arc::new(AsyncMutex::with_name((), "resumes elsewhere"));
    let (took_on, waited_on) = runtime.block_on(async move {
        tokio::spawn(async move {
            let guard = lock.clone().lock_owned().await;
            let took_on = thread::current().id();
            // Spawned from this worker, into its slot for the next task: it
            // runs here once this task parks.
            let waiter = tokio::spawn({
                let lock = lock.clone();
                async move {
                    let waited_on = thread::current().id();
                    tokio::task::block_in_place(|| drop(lock.blocking_lock()));
                    waited_on
                }
            });
            // Parked (a blocking wait here would keep the waiter from running).
            while !waited_for("resumes elsewhere") {
                tokio::time::sleep(Duration::from_millis(1)).await;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
            drop(guard);
            (took_on, waiter.await.unwrap())
        })
        .await
        .unwrap()
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    assert_eq!(took_on, waited_on, "the waiter blocked the holder's worker");
    assert!(!reported("resumes elsewhere"));
}

/// No false positive: a task blocks on a `Mutex` held by a task that runs
/// on another worker (a std lock's holder never parks with it there: its
/// guard cannot cross an `.await` of a `Send` future), and by a thread
/// that holds a lock the blocked thread took: both let go.
#[test]
fn holders_on_other_threads_let_go() {
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let lock = Arc::new(Mutex::with_name((), "other worker's"));
    let held = Arc::new(std::sync::Barrier::new(2));
    let holder = runtime.spawn({
        let (lock, held) = (lock.clone(), held.clone());
        async move {
            let _guard = lock.lock().unwrap();
            tokio::task::block_in_place(|| {
                held.wait();
                eventually("the waiter waits", || waited_for("other worker's"));
                thread::sleep(Duration::from_millis(20));
            });
        }
    });
    let waiter = runtime.spawn(async move {
        held.wait();
        drop(lock.lock().unwrap());
    });
    runtime.block_on(async {
        holder.await.unwrap();
        waiter.await.unwrap();
    });

    // A thread's task waits for a lock of another thread that holds it
    // for a while and lets go, waiting for nothing.
    let mine = Arc::new(Mutex::with_name((), "other thread's mine"));
    let theirs = Arc::new(Mutex::with_name((), "other thread's theirs"));
    let held = Arc::new(std::sync::Barrier::new(2));
    let other = thread::spawn({
        let (theirs, held) = (theirs.clone(), held.clone());
        move || {
            let _theirs = theirs.lock().unwrap();
            held.wait();
            eventually("the task waits", || waited_for("other thread's theirs"));
            thread::sleep(Duration::from_millis(20));
        }
    });
    let _mine = mine.lock().unwrap();
    held.wait();
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(async move { tokio::spawn(async move { drop(theirs.lock().unwrap()) }).await })
        .unwrap();
    other.join().unwrap();
    runtime.shutdown_timeout(Duration::from_secs(5));
    assert!(!reported("other "));
}
