//! No false report: a million acquisitions over random sets of locks, each
//! set taken in one global order (so no deadlock can form), by threads
//! that contend all the time. Every wait goes through the wait-for graph;
//! none may be reported.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;

use monitor_runtime::dump::{set_dump_sink, Dump, DumpSink};
use monitor_runtime::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

const THREADS: usize = 8;
const LOCKS: usize = 24;
const ACQUISITIONS: usize = 1_000_000;

enum Held<'a> {
    Mutex(#[allow(dead_code)] MutexGuard<'a, u64>),
    Read(#[allow(dead_code)] RwLockReadGuard<'a, u64>),
    Write(#[allow(dead_code)] RwLockWriteGuard<'a, u64>),
}

struct Locks {
    mutexes: Vec<Mutex<u64>>,
    rwlocks: Vec<RwLock<u64>>,
}

/// xorshift64*: reproducible, no dependency.
fn next(state: &mut u64) -> u64 {
    *state ^= *state >> 12;
    *state ^= *state << 25;
    *state ^= *state >> 27;
    state.wrapping_mul(0x2545_f491_4f6c_dd1d)
}

#[test]
fn a_million_ordered_acquisitions_are_never_reported() {
    monitor_demo::own_process!();
    static REPORTS: AtomicUsize = AtomicUsize::new(0);
    set_dump_sink(DumpSink::custom(|dump: &Dump| {
        REPORTS.fetch_add(1, Ordering::SeqCst);
        eprintln!("{dump}");
    }))
    .unwrap();

    let locks = Arc::new(Locks {
        mutexes: (0..LOCKS / 2).map(|_| Mutex::new(0)).collect(),
        rwlocks: (0..LOCKS / 2).map(|_| RwLock::new(0)).collect(),
    });
    let taken = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (locks, taken) = (locks.clone(), taken.clone());
            thread::spawn(move || {
                let mut rng = 0x9e37_79b9_7f4a_7c15_u64 ^ (t as u64 + 1);
                let mut set = Vec::with_capacity(4);
                let mut held = Vec::with_capacity(4);
                while taken.load(Ordering::Relaxed) < ACQUISITIONS {
                    set.clear();
                    let size = 1 + next(&mut rng) as usize % 4;
                    while set.len() < size {
                        let lock = next(&mut rng) as usize % LOCKS;
                        if !set.contains(&lock) {
                            set.push(lock);
                        }
                    }
                    // The global order: by index.
                    set.sort_unstable();
                    for &lock in &set {
                        let guard = if lock % 2 == 0 {
                            let mutex = &locks.mutexes[lock / 2];
                            Held::Mutex(mutex.lock_checked().expect("no deadlock").unwrap())
                        } else if next(&mut rng).is_multiple_of(3) {
                            let rw = &locks.rwlocks[lock / 2];
                            Held::Write(rw.write_checked().expect("no deadlock").unwrap())
                        } else {
                            let rw = &locks.rwlocks[lock / 2];
                            Held::Read(rw.read_checked().expect("no deadlock").unwrap())
                        };
                        held.push(guard);
                    }
                    taken.fetch_add(set.len(), Ordering::Relaxed);
                    // Release in any order: it cannot cause a deadlock.
                    if next(&mut rng).is_multiple_of(2) {
                        held.reverse();
                    }
                    held.clear();
                }
            })
        })
        .collect();
    threads.into_iter().for_each(|t| t.join().unwrap());
    assert!(taken.load(Ordering::Relaxed) >= ACQUISITIONS);
    assert_eq!(REPORTS.load(Ordering::SeqCst), 0, "a false report");
}
