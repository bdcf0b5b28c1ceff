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
use monitor_runtime::{Graph, LockState, Want};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Thread `me` takes `first`, then waits for `second`: true if its wait
/// closed a cycle.
fn take_then_wait(graph: &Graph, me: u64, first: &LockState, second: &LockState) -> bool {
    first.acquired(me, Location::caller());
    graph
        .wait(me, None, second, Want::Exclusive, Location::caller())
        .is_some()
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
                    if let Some(cycle) = graph.wait(
                        me,
                        None,
                        &locks[(i + 1) % n],
                        Want::Exclusive,
                        Location::caller(),
                    ) {
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

/// A task's id: the top bit set (`sync::holder::TASK`).
const TASK: u64 = 1 << 63;

/// Thread 10 takes `t` (outside any task), then its task 1 waits for `u`,
/// blocking thread 10; thread 20 takes `u` and waits for `t`. The thread
/// waits through its task: exactly one wait closes the cycle, and its
/// report goes through the thread (held by it, for the task).
#[test]
fn a_cycle_through_a_thread_blocked_by_its_task_is_found_once() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let t = Arc::new(LockState::new("t"));
        let u = Arc::new(LockState::new("u"));
        let blocked = {
            let (graph, t, u) = (graph.clone(), t.clone(), u.clone());
            thread::spawn(move || {
                t.acquired_on(10, 10, Location::caller());
                let cycle = graph.wait_blocking(
                    TASK | 1,
                    None,
                    &u,
                    Want::Exclusive,
                    Location::caller(),
                    10,
                );
                if let Some(cycle) = &cycle {
                    assert_eq!(cycle.len(), 2);
                    assert_eq!((cycle[0].holder, cycle[0].held_by), (TASK | 1, 10));
                    assert_eq!(cycle[0].thread, 10);
                }
                cycle.is_some()
            })
        };
        u.acquired(20, Location::caller());
        let other = graph.wait(20, None, &t, Want::Exclusive, Location::caller());
        if let Some(cycle) = &other {
            assert_eq!(cycle.len(), 2);
            assert_eq!((cycle[1].holder, cycle[1].held_by), (TASK | 1, 10));
        }
        let blocked = blocked.join().unwrap();
        assert!(blocked != other.is_some(), "found exactly once");
    });
}

/// Task 2 took `l` on thread 10 (a std lock: it lets go there) and is
/// parked; task 1, on thread 10, waits for `l`, blocking it: a cycle of
/// one, through the thread. Meanwhile a task on thread 30 takes and lets
/// go `m`, which a task blocking thread 10 never waits for: no report.
#[test]
fn a_task_parked_on_the_thread_its_neighbour_blocks_is_found() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let l = Arc::new(LockState::new("l"));
        let m = Arc::new(LockState::new("m"));
        let elsewhere = {
            let m = m.clone();
            thread::spawn(move || {
                m.acquired_on(TASK | 3, 30, Location::caller());
                m.released();
            })
        };
        l.acquired_on(TASK | 2, 10, Location::caller());
        let cycle = graph
            .wait_blocking(TASK | 1, None, &l, Want::Exclusive, Location::caller(), 10)
            .expect("a cycle of one");
        assert_eq!(cycle.len(), 1);
        assert_eq!((cycle[0].holder, cycle[0].held_by), (TASK | 1, TASK | 2));
        elsewhere.join().unwrap();
    });
}

/// Task 2 took `l` on thread 30 (another worker, where it can run); task
/// 1 waits for it, blocking thread 10: no cycle, whatever the order.
#[test]
fn a_holder_on_another_thread_is_not_a_deadlock() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let l = Arc::new(LockState::new("l"));
        let holder = {
            let l = l.clone();
            thread::spawn(move || l.acquired_on(TASK | 2, 30, Location::caller()))
        };
        let cycle =
            graph.wait_blocking(TASK | 1, None, &l, Want::Exclusive, Location::caller(), 10);
        holder.join().unwrap();
        assert!(cycle.is_none());
    });
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
        let two = graph
            .wait(2, None, &a, Want::Exclusive, Location::caller())
            .is_some();
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
                let cycle = graph
                    .wait(1, None, &b, Want::Exclusive, Location::caller())
                    .is_some();
                graph.done(1);
                a.released();
                cycle
            })
        };
        b.acquired(2, Location::caller());
        let two = graph
            .wait(2, None, &a, Want::Exclusive, Location::caller())
            .is_some();
        let one = one.join().unwrap();
        assert!(!(one && two), "at most one report");
        graph.done(2);
        assert!(graph.is_empty());
    });
}

/// Thread 1 reads `l` and reads it again while thread 2 waits to write it:
/// the second read waits behind the writer, which waits for the first
/// read. Found exactly once, by whichever wait registers last, with the
/// writer marked as queued, not holding.
#[test]
fn reading_again_while_a_writer_waits_is_found_once() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let l = Arc::new(LockState::new("l"));
        let one = {
            let (graph, l) = (graph.clone(), l.clone());
            thread::spawn(move || {
                l.read_acquired(1, Location::caller());
                graph.wait(1, None, &l, Want::Shared, Location::caller())
            })
        };
        let two = graph.wait(2, None, &l, Want::Exclusive, Location::caller());
        let one = one.join().unwrap();
        match (one, two) {
            (Some(cycle), None) => {
                assert_eq!(cycle.len(), 2);
                assert!(cycle[1].queued && !cycle[0].queued);
            }
            (None, Some(cycle)) => {
                assert_eq!(cycle.len(), 2);
                assert!(cycle[0].queued && !cycle[1].queued);
            }
            (one, two) => panic!("found {} times", one.is_some() as u8 + two.is_some() as u8),
        }
    });
}

/// A reader waiting behind a queued writer whose readers are not waiting
/// for the reader: no cycle, whatever the interleaving.
#[test]
fn a_reader_behind_a_writer_alone_is_not_a_deadlock() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let l = Arc::new(LockState::new("l"));
        let m = Arc::new(LockState::new("m"));
        // Thread 3 reads `l` (and waits for nothing).
        l.read_acquired(3, Location::caller());
        let one = {
            let (graph, l, m) = (graph.clone(), l.clone(), m.clone());
            thread::spawn(move || {
                m.acquired(1, Location::caller());
                graph
                    .wait(1, None, &l, Want::Shared, Location::caller())
                    .is_some()
            })
        };
        let two = graph
            .wait(2, None, &l, Want::Exclusive, Location::caller())
            .is_some();
        assert!(!one.join().unwrap() && !two);
    });
}

/// More readers than the lock has slots: two threads that both need a
/// slot beyond them race to append the chunk; each gets its own slot, both
/// are seen as holders, and releasing them frees them.
#[test]
fn readers_beyond_the_slots_in_the_lock_are_all_seen() {
    model(|| {
        let l = Arc::new(LockState::new("l"));
        for reader in 10..14 {
            l.read_acquired(reader, Location::caller());
        }
        let other = {
            let l = l.clone();
            thread::spawn(move || l.read_acquired(21, Location::caller()))
        };
        let mine = l.read_acquired(22, Location::caller());
        let theirs = other.join().unwrap();
        assert_ne!(mine, theirs);
        assert!(mine >= 4 && theirs >= 4);
        assert!(l.is_held_by(21) && l.is_held_by(22));
        l.read_released(mine);
        l.read_released(theirs);
        assert!(!l.is_held_by(21) && !l.is_held_by(22));
    });
}

/// The same waits on a lock with a cap on readers (tokio's
/// `with_max_readers`): the second read may wait for the cap only, ahead
/// of the writer, so no wait may report a cycle.
#[test]
fn a_reader_of_a_capped_lock_is_not_behind_the_writer() {
    model(|| {
        let graph = Arc::new(Graph::new());
        let l = Arc::new(LockState::with_readers("l", true));
        let one = {
            let (graph, l) = (graph.clone(), l.clone());
            thread::spawn(move || {
                l.read_acquired(1, Location::caller());
                graph
                    .wait(1, None, &l, Want::Shared, Location::caller())
                    .is_some()
            })
        };
        let two = graph
            .wait(2, None, &l, Want::Exclusive, Location::caller())
            .is_some();
        assert!(!one.join().unwrap() && !two);
    });
}
