//! The lock-order check follows a task, not a thread: the held set of a
//! task that holds a tokio lock across an `.await` moves with it to
//! another worker; tasks that interleave on one worker keep their own
//! held sets (no edge from one task's lock to another's); a guard dropped
//! in another task leaves its holder's set. Each thread caches the held
//! records it used last (`sync/held.rs`); these are the cases where a
//! stale or shared cache would add a wrong edge or miss a right one.
//!
//! The reports are kept by `kept_dumps` (the process-wide sink); each test
//! looks only at reports that name its own locks.
#![cfg(not(feature = "plain-locks"))]

use std::sync::{mpsc, Arc};
use std::thread;
use std::time::Duration;

use monitor_demo::kept_dumps;
use monitor_runtime::sync::{set_lock_order_checking, AsyncMutex, LockOrderInversion, Waiter};

/// The inversions the sink got that name a lock whose name starts with
/// `prefix`.
fn reports_naming(prefix: &str) -> Vec<LockOrderInversion> {
    monitor_demo::inversion_reports_naming(prefix)
        .into_iter()
        .map(|(inversion, _)| inversion)
        .collect()
}

fn start() {
    kept_dumps();
    set_lock_order_checking(true);
}

/// Takes `second` then `first` on this thread (outside the runtime): the
/// probe for an edge `first → second`, which this closes into a cycle.
fn probe(first: &AsyncMutex<()>, second: &AsyncMutex<()>) {
    let _second = second.blocking_lock();
    let _first = first.blocking_lock();
}

#[test]
fn a_guard_held_across_an_await_that_resumes_on_another_worker() {
    start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let first = Arc::new(AsyncMutex::with_name((), "order/moved first"));
    let second = Arc::new(AsyncMutex::with_name((), "order/moved second"));
    let (f, s) = (first.clone(), second.clone());
    let taken = runtime.block_on(async move {
        tokio::spawn(async move {
            let _first = f.lock().await;
            // Until the task resumes on the other worker: it waits for a
            // wake from outside the runtime while the task spawned next
            // (this worker's next task) blocks this worker.
            for _ in 0..100 {
                let before = thread::current().id();
                let (wake, woken) = tokio::sync::oneshot::channel::<()>();
                let (release, released) = mpsc::channel::<()>();
                tokio::spawn(async move {
                    thread::spawn(move || wake.send(()));
                    let _ = released.recv_timeout(Duration::from_secs(10));
                });
                woken.await.unwrap();
                if thread::current().id() != before {
                    let line = line!() + 1;
                    let _second = s.lock().await;
                    drop(release);
                    return Some(line);
                }
            }
            None
        })
        .await
        .unwrap()
    });
    let line = taken.expect("the task never resumed on the other worker");
    assert!(reports_naming("order/moved ").is_empty());
    probe(&first, &second);
    let reports = reports_naming("order/moved ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    // The edge the task added, on the worker it moved to, from the lock
    // it took on the first.
    let earlier = &reports[0].edges[1];
    assert_eq!(earlier.held.lock, "order/moved first");
    assert_eq!(earlier.taken.lock, "order/moved second");
    assert_eq!(earlier.taken.at.as_ref().unwrap().line, line);
    assert!(matches!(earlier.by, Waiter::Task { .. }), "{}", earlier.by);
}

/// `TASKS` tasks on one worker, each holding its `first` while the others
/// run, then taking its `second`: the only edges are `first i → second
/// i`. Probes `first i → second j` for `j > i` (`lower`: `j < i`; the
/// probes of one run all point one way, so they close no cycle among
/// themselves), then `first i → second i`.
fn interleaved(prefix: &str, lower: bool) {
    /// More than a thread's cache has ways (8): records collide there.
    const TASKS: usize = 12;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let name = |kind: &str, i: usize| -> &'static str {
        Box::leak(format!("{prefix}{kind} {i}").into_boxed_str())
    };
    let locks: Vec<_> = (0..TASKS)
        .map(|i| {
            (
                Arc::new(AsyncMutex::with_name((), name("first", i))),
                Arc::new(AsyncMutex::with_name((), name("second", i))),
            )
        })
        .collect();
    let all_hold = Arc::new(tokio::sync::Barrier::new(TASKS));
    runtime.block_on(async {
        let tasks: Vec<_> = locks
            .iter()
            .map(|(first, second)| {
                let (first, second, all_hold) = (first.clone(), second.clone(), all_hold.clone());
                tokio::spawn(async move {
                    let _first = first.lock().await;
                    all_hold.wait().await;
                    tokio::task::yield_now().await;
                    let _second = second.lock().await;
                    tokio::task::yield_now().await;
                    all_hold.wait().await;
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    assert!(reports_naming(prefix).is_empty());
    for (i, (first, _)) in locks.iter().enumerate() {
        for (j, (_, second)) in locks.iter().enumerate() {
            if (j > i && !lower) || (j < i && lower) {
                probe(first, second);
            }
        }
    }
    let reports = reports_naming(prefix);
    assert!(reports.is_empty(), "edges between tasks: {reports:#?}");
    for (first, second) in &locks {
        probe(first, second);
    }
    let reports = reports_naming(prefix);
    assert_eq!(reports.len(), TASKS, "{reports:#?}");
    for inversion in &reports {
        let edge = &inversion.edges[1];
        let index = |lock: &str| lock.rsplit(' ').next().unwrap().to_owned();
        assert_eq!(
            index(&edge.held.lock),
            index(&edge.taken.lock),
            "{inversion}"
        );
    }
}

#[test]
fn tasks_interleaving_on_one_worker_keep_their_own_held_sets() {
    start();
    interleaved("interleaved up ", false);
    interleaved("interleaved down ", true);
}

#[test]
fn an_owned_guard_dropped_in_another_task_leaves_its_holders_set() {
    start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let kept = Arc::new(AsyncMutex::with_name((), "order/handed kept"));
    let given = Arc::new(AsyncMutex::with_name((), "order/handed given"));
    let later = Arc::new(AsyncMutex::with_name((), "order/handed later"));
    let (k, g, l) = (kept.clone(), given.clone(), later.clone());
    runtime.block_on(async move {
        tokio::spawn(async move {
            let _kept = k.lock().await;
            let given = g.lock_owned().await;
            // Another task hands it to a thread of the blocking pool,
            // which drops it, and says so.
            let (done, dropped) = tokio::sync::oneshot::channel();
            tokio::spawn(async move {
                tokio::task::spawn_blocking(move || drop(given))
                    .await
                    .unwrap();
                done.send(()).unwrap();
            });
            dropped.await.unwrap();
            let _later = l.lock().await;
        })
        .await
        .unwrap()
    });
    assert!(reports_naming("order/handed ").is_empty());
    // No edge from the lock the other task let go of ...
    probe(&given, &later);
    assert!(reports_naming("order/handed ").is_empty());
    // ... and one from the lock still held.
    probe(&kept, &later);
    let reports = reports_naming("order/handed ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0].edges[1].held.lock, "order/handed kept");
}

/// Hundreds of tasks come and go (their records are swept out of the
/// table, a cache's among them) while one task holds nothing; then it
/// takes two locks: the edge is there.
#[test]
fn a_task_outliving_many_others_keeps_its_edges() {
    start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let first = Arc::new(AsyncMutex::with_name((), "order/outliving first"));
    let second = Arc::new(AsyncMutex::with_name((), "order/outliving second"));
    let (f, s) = (first.clone(), second.clone());
    runtime.block_on(async move {
        tokio::spawn(async move {
            drop(f.lock().await);
            for _ in 0..2000 {
                tokio::spawn(async {
                    let lock = AsyncMutex::new(());
                    let _held = lock.lock().await;
                })
                .await
                .unwrap();
            }
            let _first = f.lock().await;
            let _second = s.lock().await;
        })
        .await
        .unwrap()
    });
    probe(&first, &second);
    assert_eq!(reports_naming("order/outliving ").len(), 1);
}
