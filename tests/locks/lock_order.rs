//! Lock-order inversions: locks of `monitor_runtime::sync` taken in orders
//! that form a cycle are reported when the acquisition that closes the
//! cycle is made, though the acquisitions never overlap in time (nothing
//! hangs here), with the four places of every pair and who took them;
//! once per cycle, and one dump for the cycles through the same places;
//! `try_lock` adds no order; locks always taken in one order are never
//! reported.
//!
//! The reports are kept by `kept_dumps` (the process-wide sink); each test
//! looks only at reports that name its own locks.
#![cfg(not(feature = "plain-locks"))]

use std::sync::{Arc, Barrier, PoisonError};
use std::thread;

use monitor_demo::kept_dumps;
use monitor_runtime::sync::{
    lock_order_inversion_count, lock_order_inversions, set_lock_order_checking, AsyncMutex,
    AsyncRwLock, LockOrderInversion, Mutex, RwLock, Waiter,
};

/// The inversions the sink got that name a lock whose name starts with
/// `prefix`, with the dump's text.
fn reports_naming(prefix: &str) -> Vec<(LockOrderInversion, String)> {
    monitor_demo::inversion_reports_naming(prefix)
}

fn start() {
    kept_dumps();
    set_lock_order_checking(true);
}

fn at(line: u32) -> String {
    format!("{}:{line}:", file!())
}

fn thread_named(waiter: &Waiter, name: &str) -> bool {
    matches!(waiter, Waiter::Thread { name: Some(n), .. } if n == name)
}

struct Bank {
    checking: Mutex<u64>,
    savings: Mutex<u64>,
}

/// Takes `checking`, then `savings`: the lines of the two acquisitions.
fn checking_then_savings(bank: &Bank) -> [u32; 2] {
    let first = line!() + 1;
    let mut checking = bank.checking.lock().unwrap();
    let second = line!() + 1;
    let mut savings = bank.savings.lock().unwrap();
    *checking -= 10;
    *savings += 10;
    [first, second]
}

/// Takes `savings`, then `checking`.
fn savings_then_checking(bank: &Bank) -> [u32; 2] {
    let first = line!() + 1;
    let mut savings = bank.savings.lock().unwrap();
    let second = line!() + 1;
    let mut checking = bank.checking.lock().unwrap();
    *savings -= 5;
    *checking += 5;
    [first, second]
}

fn on_thread<R: Send + 'static>(name: &str, f: impl FnOnce() -> R + Send + 'static) -> R {
    thread::Builder::new()
        .name(name.into())
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn two_locks_taken_in_two_orders_name_all_four_places() {
    start();
    let bank = Arc::new(Bank {
        checking: Mutex::with_name(100, "order/bank checking"),
        savings: Mutex::with_name(100, "order/bank savings"),
    });
    let b = bank.clone();
    let [c1, s1] = on_thread("teller-1", move || checking_then_savings(&b));
    assert!(
        reports_naming("order/bank ").is_empty(),
        "one order is fine"
    );
    let b = bank.clone();
    let [s2, c2] = on_thread("teller-2", move || savings_then_checking(&b));

    let reports = reports_naming("order/bank ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let (inversion, text) = &reports[0];
    assert_eq!(inversion.edges.len(), 2, "{text}");
    // The edge just taken first: teller-2 took checking holding savings.
    let [closing, earlier] = [&inversion.edges[0], &inversion.edges[1]];
    assert!(thread_named(&closing.by, "teller-2"), "{text}");
    assert_eq!(closing.held.lock, "order/bank savings");
    assert_eq!(closing.held.at.as_ref().unwrap().line, s2);
    assert_eq!(closing.taken.lock, "order/bank checking");
    assert_eq!(closing.taken.at.as_ref().unwrap().line, c2);
    assert!(thread_named(&earlier.by, "teller-1"), "{text}");
    assert_eq!(earlier.held.lock, "order/bank checking");
    assert_eq!(earlier.held.at.as_ref().unwrap().line, c1);
    assert_eq!(earlier.taken.lock, "order/bank savings");
    assert_eq!(earlier.taken.at.as_ref().unwrap().line, s1);
    assert_eq!(earlier.held.at.as_ref().unwrap().file, file!());
    for line in [c1, s1, s2, c2] {
        assert!(text.contains(&at(line)), "line {line} in:\n{text}");
    }
    assert!(text.contains("lock-order inversion: 2 locks"), "{text}");
    assert!(
        text.contains("'teller-1'") && text.contains("'teller-2'"),
        "{text}"
    );
    assert!(
        lock_order_inversions()
            .iter()
            .any(|i| i.edges.iter().any(|e| e.held.lock == "order/bank savings")),
        "kept for the debug page"
    );
}

#[test]
fn a_cycle_of_three_locks_over_three_threads() {
    start();
    let locks = Arc::new([
        Mutex::with_name((), "order/ring a"),
        Mutex::with_name((), "order/ring b"),
        Mutex::with_name((), "order/ring c"),
    ]);
    let held_line = line!() + 6;
    let taken_line = line!() + 6;
    let mut lines = Vec::new();
    for i in 0..3 {
        let locks = locks.clone();
        on_thread(&format!("ring-{i}"), move || {
            let _mine = locks[i].lock().unwrap();
            let _next = locks[(i + 1) % 3].lock().unwrap();
        });
        lines.push(reports_naming("order/ring ").len());
    }
    assert_eq!(lines, [0, 0, 1], "the third thread closes the cycle");
    let (inversion, text) = &reports_naming("order/ring ")[0];
    assert_eq!(inversion.edges.len(), 3, "{text}");
    for (k, edge) in inversion.edges.iter().enumerate() {
        let i = (2 + k) % 3;
        let name = |i: usize| format!("order/ring {}", ["a", "b", "c"][i]);
        assert!(thread_named(&edge.by, &format!("ring-{i}")), "{text}");
        assert_eq!(edge.held.lock, name(i));
        assert_eq!(edge.taken.lock, name((i + 1) % 3));
        assert_eq!(edge.held.at.as_ref().unwrap().line, held_line);
        assert_eq!(edge.taken.at.as_ref().unwrap().line, taken_line);
    }
    assert!(text.contains("lock-order inversion: 3 locks"), "{text}");
}

#[test]
fn async_locks_across_tasks() {
    start();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let jobs = Arc::new(AsyncMutex::with_name(0, "order/async jobs"));
    let table = Arc::new(AsyncRwLock::with_name(0, "order/async table"));
    let (j, t) = (jobs.clone(), table.clone());
    let first = runtime.block_on(async move {
        tokio::spawn(async move {
            let first = line!() + 1;
            let _jobs = j.lock().await;
            tokio::task::yield_now().await;
            let second = line!() + 1;
            let _table = t.write().await;
            (tokio::task::id(), first, second)
        })
        .await
        .unwrap()
    });
    assert!(reports_naming("order/async ").is_empty());
    let (j, t) = (jobs.clone(), table.clone());
    let second = runtime.block_on(async move {
        tokio::spawn(async move {
            let first = line!() + 1;
            let _table = t.clone().read_owned().await;
            tokio::task::yield_now().await;
            let second = line!() + 1;
            let _jobs = j.lock().await;
            (tokio::task::id(), first, second)
        })
        .await
        .unwrap()
    });
    let reports = reports_naming("order/async ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    let (inversion, text) = &reports[0];
    let [closing, earlier] = [&inversion.edges[0], &inversion.edges[1]];
    let task = |waiter: &Waiter| match waiter {
        Waiter::Task { id } => *id,
        other => panic!("not a task: {other}"),
    };
    assert_ne!(task(&closing.by), task(&earlier.by), "{text}");
    assert!(
        text.contains(&format!("task {}", task(&closing.by))),
        "{text}"
    );
    assert_eq!(closing.held.lock, "order/async table");
    assert_eq!(closing.held.at.as_ref().unwrap().line, second.1);
    assert_eq!(closing.taken.lock, "order/async jobs");
    assert_eq!(closing.taken.at.as_ref().unwrap().line, second.2);
    assert_eq!(earlier.held.at.as_ref().unwrap().line, first.1);
    assert_eq!(earlier.taken.at.as_ref().unwrap().line, first.2);
    assert_ne!(first.0, second.0);
}

#[test]
fn a_task_holding_an_async_lock_then_taking_a_std_lock_is_an_edge() {
    start();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let cache = Arc::new(AsyncMutex::with_name((), "order/mixed cache"));
    let stats = Arc::new(Mutex::with_name((), "order/mixed stats"));
    let (c, s) = (cache.clone(), stats.clone());
    runtime.block_on(async move {
        let _cache = c.lock().await;
        let _stats = s.lock().unwrap();
    });
    assert!(reports_naming("order/mixed ").is_empty());
    let _stats = stats.lock().unwrap();
    let _cache = cache.blocking_lock();
    let reports = reports_naming("order/mixed ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

#[test]
fn try_lock_adds_no_order() {
    start();
    let a = Mutex::with_name((), "order/try a");
    let b = RwLock::with_name((), "order/try b");
    {
        let _a = a.lock().unwrap();
        let _b = b.try_write().unwrap();
    }
    {
        let _b = b.read().unwrap();
        let _a = a.lock().unwrap();
    }
    assert!(
        reports_naming("order/try ").is_empty(),
        "a try_lock cannot wait: it makes no order"
    );
    // The check is on: taking them both ways with waiting acquisitions is
    // reported.
    {
        let _a = a.lock().unwrap();
        let _b = b.write().unwrap();
    }
    let reports = reports_naming("order/try ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
    assert_eq!(reports[0].0.edges[0].held.lock, "order/try a");
}

#[test]
fn a_cycle_is_reported_once() {
    start();
    let pair = Arc::new([
        Mutex::with_name((), "order/once x"),
        Mutex::with_name((), "order/once y"),
    ]);
    let barrier = Arc::new(Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let (pair, barrier) = (pair.clone(), barrier.clone());
            thread::spawn(move || {
                barrier.wait();
                for i in 0..200 {
                    // Each thread alternates, never both at once: no hang.
                    let (first, second) = if (i + t) % 2 == 0 { (0, 1) } else { (1, 0) };
                    let _all = GATE.lock().unwrap_or_else(PoisonError::into_inner);
                    let _first = pair[first].lock().unwrap();
                    let _second = pair[second].lock().unwrap();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    let reports = reports_naming("order/once ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

/// Two accounts' locks, taken in the order of a transfer.
fn transfer(from: &Mutex<u64>, to: &Mutex<u64>) {
    let mut from = from.lock().unwrap();
    let mut to = to.lock().unwrap();
    *from -= 1;
    *to += 1;
}

#[test]
fn the_same_inversion_on_many_locks_is_dumped_once() {
    start();
    let before = lock_order_inversion_count();
    // Every pair of accounts is inverted once, at the same two places
    // (one bug): 100 cycles, one dump.
    for _ in 0..100 {
        let a = Mutex::with_name(10, "order/many a");
        let b = Mutex::with_name(10, "order/many b");
        transfer(&a, &b);
        transfer(&b, &a);
    }
    assert!(lock_order_inversion_count() - before >= 100);
    let reports = reports_naming("order/many ");
    assert_eq!(reports.len(), 1, "{reports:#?}");
}

/// One at a time for `a_cycle_is_reported_once`: a std mutex, not
/// checked, so the cycle between the pair cannot form a deadlock.
static GATE: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn locks_always_taken_in_one_order_are_never_reported() {
    start();
    const LOCKS: usize = 12;
    let mutexes: Arc<Vec<Mutex<u64>>> = Arc::new(
        (0..LOCKS)
            .map(|i| Mutex::with_name(0, Box::leak(format!("order/ordered {i}").into_boxed_str())))
            .collect(),
    );
    let rwlocks: Arc<Vec<RwLock<u64>>> = Arc::new(
        (0..LOCKS)
            .map(|i| {
                RwLock::with_name(
                    0,
                    Box::leak(format!("order/ordered rw {i}").into_boxed_str()),
                )
            })
            .collect(),
    );
    let threads: Vec<_> = (0..6u64)
        .map(|t| {
            let (mutexes, rwlocks) = (mutexes.clone(), rwlocks.clone());
            thread::spawn(move || {
                let mut rng = 0x2545_f491_4f6c_dd1d_u64 ^ (t + 1);
                for _ in 0..6_000 {
                    rng ^= rng << 13;
                    rng ^= rng >> 7;
                    rng ^= rng << 17;
                    // A random subset, always in index order: mutex i,
                    // then read-write lock i, then i + 1...
                    let mut mutex_guards = Vec::new();
                    let mut rw_guards = Vec::new();
                    for i in 0..LOCKS {
                        if rng >> i & 1 == 1 {
                            mutex_guards.push(mutexes[i].lock().unwrap());
                        }
                        if rng >> (i + 16) & 1 == 1 {
                            rw_guards.push(rwlocks[i].read().unwrap());
                        }
                    }
                    // Released in any order.
                    if rng & 1 == 0 {
                        mutex_guards.reverse();
                    }
                    drop(mutex_guards);
                    drop(rw_guards);
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(reports_naming("order/ordered ").is_empty());
}

/// Locks dropped and made again (the allocator hands out the same
/// addresses): the new locks are new to the order graph.
#[test]
fn new_locks_at_old_addresses_inherit_no_order() {
    start();
    for round in 0..50 {
        let first = Box::new(Mutex::with_name((), "order/reborn first"));
        let second = Box::new(Mutex::with_name((), "order/reborn second"));
        if round % 2 == 0 {
            let _f = first.lock().unwrap();
            let _s = second.lock().unwrap();
        } else {
            let _s = second.lock().unwrap();
            let _f = first.lock().unwrap();
        }
    }
    assert!(reports_naming("order/reborn ").is_empty());
}
