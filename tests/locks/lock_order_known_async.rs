//! The lock-order check's fast path for tokio locks: an acquisition
//! without a wait whose every pair "held → taken" this thread has seen
//! checks and records in one look at the task's record. A pair it has not
//! seen, held under one it has, is still checked.
#![cfg(not(feature = "plain-locks"))]

use monitor_runtime::sync::{lock_order_inversions, set_lock_order_checking, AsyncMutex};

#[tokio::test]
async fn a_new_pair_under_a_known_one_is_checked_in_a_task() {
    monitor_demo::kept_dumps();
    set_lock_order_checking(true);
    let a = AsyncMutex::with_name((), "known async a");
    let b = AsyncMutex::with_name((), "known async b");
    let x = AsyncMutex::with_name((), "known async x");
    {
        // `x → b`.
        let _x = x.lock().await;
        let _b = b.lock().await;
    }
    {
        // `a → x`, in this thread's cache from now on.
        let _a = a.lock().await;
        let _x = x.lock().await;
    }
    assert!(monitor_demo::inversion_reports_naming("known async ").is_empty());
    {
        // `a → b` is new (no cycle); then `x` under `a` (known) and `b`
        // (new): `b → x` closes `x → b → x`.
        let _a = a.lock().await;
        let _b = b.lock().await;
        let _x = x.lock().await;
    }
    let reports = monitor_demo::inversion_reports_naming("known async ");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let edges: Vec<(&str, &str)> = reports[0]
        .0
        .edges
        .iter()
        .map(|e| (e.held.lock.as_str(), e.taken.lock.as_str()))
        .collect();
    assert!(
        edges.contains(&("known async b", "known async x")),
        "{edges:?}"
    );
    assert!(
        edges.contains(&("known async x", "known async b")),
        "{edges:?}"
    );
    // One cycle among those of these locks (other tests of the binary
    // report their own).
    let mine = lock_order_inversions()
        .into_iter()
        .filter(|i| {
            i.edges
                .iter()
                .any(|e| e.held.lock.starts_with("known async "))
        })
        .count();
    assert_eq!(mine, 1);
}
