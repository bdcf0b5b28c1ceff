//! Model checks of the locks' wait-for graph (`Graph`, `LockState`): the
//! holder words written on acquisition and release, racing the waits that
//! search the graph.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p monitor-runtime --release --test loom_locks`
#![cfg(loom)]

use std::panic::Location;

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use monitor_runtime::{Graph, LockState};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Thread `me` takes `first`, then waits for `second`: true if its wait
/// closed a cycle.
fn take_then_wait(graph: &Graph, me: u64, first: &LockState, second: &LockState) -> bool {
    first.acquired(me, Location::caller());
    graph.wait(me, None, second, Location::caller()).is_some()
}

/// A ring of `n` threads, each holding its lock and waiting for the next
/// one's: however the acquisitions and waits interleave, exactly one wait
/// closes the cycle, and its report has all `n` participants.
fn ring(n: usize) {
    model(move || {
        let graph = Arc::new(Graph::new());
        let locks: Arc<Vec<LockState>> = Arc::new((0..n).map(|_| LockState::new("")).collect());
        let found = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..n)
            .map(|i| {
                let (graph, locks, found) = (graph.clone(), locks.clone(), found.clone());
                thread::spawn(move || {
                    let me = i as u64 + 1;
                    locks[i].acquired(me, Location::caller());
                    if let Some(cycle) =
                        graph.wait(me, None, &locks[(i + 1) % n], Location::caller())
                    {
                        assert_eq!(cycle.len(), n);
                        assert_eq!(cycle[0].holder, me);
                        found.fetch_add(1, Ordering::SeqCst);
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(found.load(Ordering::SeqCst), 1);
        assert_eq!(graph.len(), n);
    });
}

#[test]
fn a_cycle_of_two_is_found_once() {
    ring(2);
}

#[test]
fn a_cycle_of_three_is_found_once() {
    ring(3);
}

/// Thread 2 holds `b` and lets it go before it waits for `a`, which thread
/// 1 holds while it waits for `b`: no deadlock, whatever the interleaving,
/// so no wait may report one.
#[test]
fn a_release_racing_a_wait_is_not_a_deadlock() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let a = Arc::new(LockState::new("a"));
        let b = Arc::new(LockState::new("b"));
        let one = {
            let (graph, a, b) = (graph.clone(), a.clone(), b.clone());
            thread::spawn(move || take_then_wait(&graph, 1, &a, &b))
        };
        b.acquired(2, Location::caller());
        b.released();
        let two = graph.wait(2, None, &a, Location::caller()).is_some();
        assert!(!one.join().unwrap() && !two);
    });
}

/// Waits that end (the waiter took its lock, gave up, or unwound) leave
/// the graph, and two overlapping waits of one cycle are reported once.
#[test]
fn a_wait_that_ends_leaves_the_graph() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let a = Arc::new(LockState::new("a"));
        let b = Arc::new(LockState::new("b"));
        let one = {
            let (graph, a, b) = (graph.clone(), a.clone(), b.clone());
            thread::spawn(move || {
                a.acquired(1, Location::caller());
                // Waits for b, gets it, lets go of both.
                let cycle = graph.wait(1, None, &b, Location::caller()).is_some();
                graph.done(1);
                a.released();
                cycle
            })
        };
        b.acquired(2, Location::caller());
        let two = graph.wait(2, None, &a, Location::caller()).is_some();
        let one = one.join().unwrap();
        assert!(!(one && two), "at most one report");
        graph.done(2);
        assert!(graph.is_empty());
    });
}
