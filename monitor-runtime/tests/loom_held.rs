//! Model checks of the lock-order check's held records (`sync/held.rs`):
//! one record per holder behind its own spin lock, found through each
//! thread's cache or the sharded table, retired by sweeps when empty, and
//! read by the check without the spin lock (its word is a sequence
//! count). The invariants:
//!
//! * a holder has at most one live record, and a cache's record is either
//!   that one or retired;
//! * no entry is lost or kept: a release on one thread racing an
//!   acquisition on another, or a sweep, leaves exactly the entries held;
//! * a retired record never reads as empty: a cache that still has it
//!   looks again, and finds the entries the holder took elsewhere;
//! * the check's read without the lock never misses an entry held all
//!   along.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p monitor-runtime --release --test loom_held`
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::Arc;
use loom::thread;
use monitor_runtime::{HeldCache, HeldTable};

/// A task's holder id (the top bit marks a task).
const H: u64 = (1 << 63) | 7;

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// `holder` has at most one record in the table, and `cache`'s record of
/// it is that one or retired.
fn audit(table: &HeldTable, cache: &HeldCache, holder: u64) {
    let (live, consistent) = table.audit(cache, holder);
    assert!(live <= 1, "{live} live records of one holder");
    assert!(
        consistent,
        "a cache has a record that is neither live nor retired"
    );
}

fn sorted(mut ids: Vec<u64>) -> Vec<u64> {
    ids.sort_unstable();
    ids
}

/// The task holds lock 1 and takes lock 2 on its worker while a guard of
/// lock 1, sent to another task, drops on another thread (which then
/// sweeps the shard, as a lookup of another holder would): the release
/// and the acquisition both land in the one record, which the sweep
/// leaves alone (it is not empty) or retires (empty, after lock 2's
/// release too), and no entry is lost or kept.
#[test]
fn a_release_elsewhere_races_an_acquisition() {
    model(|| {
        let table = Arc::new(HeldTable::new());
        let worker = HeldCache::new();
        table.push_id(&worker, H, 1);
        let other = {
            let table = table.clone();
            thread::spawn(move || {
                let cache = HeldCache::new();
                assert!(table.pop_id(&cache, H, 1), "lock 1's entry is not found");
                table.sweep(H);
                audit(&table, &cache, H);
            })
        };
        table.push_id(&worker, H, 2);
        let ids = table.ids(&worker, H);
        assert!(ids.contains(&2), "lock 2 taken is not in the set: {ids:?}");
        assert!(table.pop_id(&worker, H, 2), "lock 2's entry is not found");
        audit(&table, &worker, H);
        other.join().unwrap();
        assert!(table.ids(&worker, H).is_empty());
        audit(&table, &worker, H);
    });
}

/// A worker's cache has the task's record, empty; a sweep on another
/// thread retires it, and the task, resumed there, takes lock 1 (a new
/// record). The first worker, taking lock 2 for the task, must not write
/// into the retired record, and once it has seen lock 1 taken (the
/// scheduler's hand-over, here a flag), its check must see it too: the
/// retired record does not read as empty.
#[test]
fn a_sweep_races_a_cached_lookup() {
    model(|| {
        let table = Arc::new(HeldTable::new());
        let worker = HeldCache::new();
        table.push_id(&worker, H, 9);
        assert!(table.pop_id(&worker, H, 9));
        let moved = Arc::new(AtomicBool::new(false));
        let other = {
            let (table, moved) = (table.clone(), moved.clone());
            thread::spawn(move || {
                let cache = HeldCache::new();
                table.sweep(H);
                table.push_id(&cache, H, 1);
                moved.store(true, Ordering::Release);
                audit(&table, &cache, H);
            })
        };
        if moved.load(Ordering::Acquire) {
            assert!(
                !table.all_ids(&worker, H, |id| id != 1),
                "the check missed lock 1, taken on the other worker"
            );
        }
        table.push_id(&worker, H, 2);
        audit(&table, &worker, H);
        other.join().unwrap();
        assert_eq!(sorted(table.ids(&worker, H)), [1, 2]);
        assert!(!table.all_ids(&worker, H, |id| id != 1));
        assert!(!table.all_ids(&worker, H, |id| id != 2));
        audit(&table, &worker, H);
    });
}

/// A worker's cache notes that the task has no record (it never took a
/// tokio lock); the task, resumed on another worker, takes lock 1 there
/// (its record is made), then comes back (the scheduler's hand-over, here
/// a flag): the first worker's check must see lock 1, not the stale note.
#[test]
fn a_note_of_no_record_does_not_outlive_it() {
    model(|| {
        let table = Arc::new(HeldTable::new());
        let worker = HeldCache::new();
        assert!(
            table.all_ids(&worker, H, |_| false),
            "a holder with no record holds a lock"
        );
        let moved = Arc::new(AtomicBool::new(false));
        let other = {
            let (table, moved) = (table.clone(), moved.clone());
            thread::spawn(move || {
                table.push_id(&HeldCache::new(), H, 1);
                moved.store(true, Ordering::Release);
            })
        };
        if moved.load(Ordering::Acquire) {
            assert!(
                !table.all_ids(&worker, H, |id| id != 1),
                "the check missed lock 1, taken on the other worker"
            );
        }
        other.join().unwrap();
        assert!(!table.all_ids(&worker, H, |id| id != 1));
        audit(&table, &worker, H);
    });
}

/// The check reads the task's lock numbers without the record's lock
/// while a guard of another lock drops elsewhere and the entries move
/// down: lock 2, held all along, is always seen.
#[test]
fn the_check_without_the_lock_sees_what_is_held() {
    model(|| {
        let table = Arc::new(HeldTable::new());
        let worker = HeldCache::new();
        for id in [1, 2, 3] {
            table.push_id(&worker, H, id);
        }
        let other = {
            let table = table.clone();
            thread::spawn(move || {
                let cache = HeldCache::new();
                assert!(table.pop_id(&cache, H, 1));
            })
        };
        assert!(
            !table.all_ids(&worker, H, |id| id != 2),
            "the check missed lock 2, held all along"
        );
        other.join().unwrap();
        assert_eq!(table.ids(&worker, H), [2, 3]);
    });
}
