//! The lock-order check of std locks in a process that takes tokio locks
//! too: a thread, or a task, that never took a tokio lock holds none (its
//! thread's cache notes it, so its std pairs take the fast path), and its
//! std pairs are checked as anywhere; a task that takes its first tokio
//! lock later is seen holding it.
#![cfg(not(feature = "plain-locks"))]

use std::sync::Arc;

use monitor_runtime::sync::{set_lock_order_checking, AsyncMutex, Mutex};

/// The edges, as (held, taken) lock names, of each inversion reported
/// with a lock named with `prefix`.
fn reported(prefix: &str) -> Vec<Vec<(String, String)>> {
    monitor_demo::inversion_reports_naming(prefix)
        .into_iter()
        .map(|(inversion, _)| {
            inversion
                .edges
                .iter()
                .map(|e| (e.held.lock.to_string(), e.taken.lock.to_string()))
                .collect()
        })
        .collect()
}

fn pair(held: &str, taken: &str) -> (String, String) {
    (held.to_string(), taken.to_string())
}

#[test]
fn std_pairs_of_a_thread_without_tokio_locks_are_checked() {
    monitor_demo::kept_dumps();
    set_lock_order_checking(true);
    // A tokio lock taken in the process, in a task.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tokio_lock = Arc::new(AsyncMutex::with_name((), "mixed thread tokio"));
    runtime.block_on(async {
        let lock = tokio_lock.clone();
        tokio::spawn(async move { drop(lock.lock().await) })
            .await
            .unwrap()
    });
    std::thread::spawn(|| {
        let a = Mutex::with_name((), "mixed thread a");
        let b = Mutex::with_name((), "mixed thread b");
        for _ in 0..3 {
            let _a = a.lock().unwrap();
            let _b = b.lock().unwrap();
        }
        assert!(reported("mixed thread ").is_empty());
        {
            let _b = b.lock().unwrap();
            let _a = a.lock().unwrap();
        }
        let reports = reported("mixed thread ");
        assert_eq!(reports.len(), 1, "{reports:?}");
        assert!(reports[0].contains(&pair("mixed thread a", "mixed thread b")));
        assert!(reports[0].contains(&pair("mixed thread b", "mixed thread a")));
    })
    .join()
    .unwrap();
}

#[test]
fn a_task_seen_without_tokio_locks_is_seen_with_its_first() {
    monitor_demo::kept_dumps();
    set_lock_order_checking(true);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let tokio_lock = Arc::new(AsyncMutex::with_name((), "mixed task tokio"));
    let std_lock = Arc::new(Mutex::with_name((), "mixed task std"));
    let (t, s) = (tokio_lock.clone(), std_lock.clone());
    runtime.block_on(async {
        tokio::spawn(async move {
            // std pairs while the task holds no tokio lock: the thread's
            // cache notes that the task has none.
            let other = Mutex::with_name((), "mixed task other");
            for _ in 0..3 {
                let _o = other.lock().unwrap();
                let _s = s.lock().unwrap();
            }
            // Its first tokio lock, then the std lock under it.
            let _t = t.lock().await;
            let _s = s.lock().unwrap();
        })
        .await
        .unwrap()
    });
    assert!(reported("mixed task ").is_empty());
    // The other order, on a thread: the cycle closes.
    std::thread::spawn(move || {
        let _s = std_lock.lock().unwrap();
        let _t = tokio_lock.blocking_lock();
    })
    .join()
    .unwrap();
    let reports = reported("mixed task ");
    assert_eq!(reports.len(), 1, "{reports:?}");
    assert!(reports[0].contains(&pair("mixed task tokio", "mixed task std")));
    assert!(reports[0].contains(&pair("mixed task std", "mixed task tokio")));
}
