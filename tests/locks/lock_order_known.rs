//! The lock-order check's fast path: an acquisition whose every pair
//! "held → taken" this thread has seen before adds nothing to the graph
//! and skips it (`Mutex::lock` then takes its inline path). A pair it has
//! not seen, held under one it has, is still checked. Only std locks in
//! these tests (other tests of the binary take tokio locks: a thread
//! that never took one holds none, which its cache notes; see
//! `lock_order_mixed.rs`).
#![cfg(not(feature = "plain-locks"))]

use monitor_runtime::sync::{lock_order_inversions, set_lock_order_checking, Mutex};

#[test]
fn a_new_pair_under_a_known_one_is_checked() {
    monitor_demo::kept_dumps();
    set_lock_order_checking(true);
    let a = Mutex::with_name((), "known std a");
    let b = Mutex::with_name((), "known std b");
    let x = Mutex::with_name((), "known std x");
    {
        // `x → b`.
        let _x = x.lock().unwrap();
        let _b = b.lock().unwrap();
    }
    {
        // `a → x`, in this thread's cache from now on.
        let _a = a.lock().unwrap();
        let _x = x.lock().unwrap();
    }
    assert!(monitor_demo::inversion_reports_naming("known std ").is_empty());
    {
        // `a → b` is new (no cycle); then `x` under `a` (known) and `b`
        // (new): `b → x` closes `x → b → x`.
        let _a = a.lock().unwrap();
        let _b = b.lock().unwrap();
        let _x = x.lock().unwrap();
    }
    let reports = monitor_demo::inversion_reports_naming("known std ");
    assert_eq!(reports.len(), 1, "{reports:?}");
    let edges: Vec<(&str, &str)> = reports[0]
        .0
        .edges
        .iter()
        .map(|e| (e.held.lock.as_str(), e.taken.lock.as_str()))
        .collect();
    assert!(edges.contains(&("known std b", "known std x")), "{edges:?}");
    assert!(edges.contains(&("known std x", "known std b")), "{edges:?}");
    // One cycle among those of these locks (other tests of the binary
    // report their own).
    let mine = lock_order_inversions()
        .into_iter()
        .filter(|i| {
            i.edges
                .iter()
                .any(|e| e.held.lock.starts_with("known std "))
        })
        .count();
    assert_eq!(mine, 1);
}
