//! What each thread and each task holds, with where it took it: the held
//! set the lock-order check (`order.rs`) reads at every blocking or
//! awaiting acquisition. Written only while the check is on.
//!
//! Two stores, because the guards of the two lock families travel
//! differently:
//!
//! * the std locks' guards are `!Send`: they drop on the thread that took
//!   them. Their entries are on a stack in that thread's local storage
//!   (no lock, no allocation; [`DEPTH`](thread::DEPTH) deep, deeper ones are not seen).
//!   Guards drop in reverse order more often than not: a release looks at
//!   the top of the stack first;
//! * the tokio locks' guards may drop on any thread, or in another task,
//!   and a task holding one may resume on another worker. Each holder (a
//!   task, or a thread outside a task) has one [`Record`] of its entries,
//!   shared: a [`Table`] of shards keyed by holder finds it, and each
//!   thread keeps the records it used last in a small [`Cache`] of its
//!   own, so that the acquisitions and releases of the task running there
//!   cost no lookup and no mutex, only the record's own spin lock
//!   (contended only when a guard drops in another task while its holder
//!   runs). The check reads a record's lock numbers without the spin lock,
//!   as a sequence lock's reader: the spin lock's word counts its writes.
//!
//! The record, not the cache, is the truth: a task that moves to another
//! worker finds the same record there (through the table, then that
//! thread's cache). A record leaves the table only when empty, and is
//! then marked retired under its lock; a cache that still points at it
//! finds it retired when it locks it (or reads it), and looks the holder
//! up again. So at any time a holder has at most one live record.
//!
//! The record's protocol builds under `--cfg loom` on the crate's shims
//! (`monitor-runtime/tests/loom_held.rs` model-checks it); the std stack
//! and the process-wide table and caches are left out there.

use std::cell::Cell;
use std::panic::Location;

use crate::shim::atomic::{fence, AtomicU64, AtomicUsize, Ordering};
use crate::shim::Mutex;

#[cfg(loom)]
use loom::cell::UnsafeCell;
#[cfg(loom)]
use loom::sync::Arc;
#[cfg(not(loom))]
use std::sync::Arc;

#[cfg(not(loom))]
use super::graph::LockState;

/// One lock held.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The lock's number (`LockState::order_id`).
    pub(crate) id: u64,
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) name: &'static str,
    /// Where it was taken.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) at: &'static Location<'static>,
    /// An edge from this lock was added to the order graph while it was
    /// held (see `LockState::mark_ordered`): its release marks the lock.
    pub(crate) source: bool,
}

mod record;
mod table;
#[cfg(not(loom))]
mod thread;

pub use record::Record;
pub use table::{Cache, Table};
#[cfg(not(loom))]
pub(crate) use thread::{all_of_thread, each_of_thread, none_on_thread, pop_thread, push_thread};

// ---------------------------------------------------------------------
// The process's table and the threads' caches.
// ---------------------------------------------------------------------

#[cfg(not(loom))]
static TABLE: Table = Table::new();

// A thread's cache, and what lets go of its records when the thread
// exits. Apart, so that the cache needs no destructor: the fast paths
// find it without asking whether it was initialized or destroyed. Only
// `with_cache_slow`, which may keep a record, registers the owner.
#[cfg(not(loom))]
thread_local! {
    static CACHE: std::mem::ManuallyDrop<Cache> =
        const { std::mem::ManuallyDrop::new(Cache::new()) };
    static CACHE_OWNER: CacheOwner = const { CacheOwner };
}

#[cfg(not(loom))]
struct CacheOwner;

#[cfg(not(loom))]
impl Drop for CacheOwner {
    fn drop(&mut self) {
        let _ = CACHE.try_with(|cache| cache.clear());
    }
}

/// `f` on this thread's cache, for the fast paths (which keep nothing).
#[cfg(not(loom))]
#[inline]
fn with_cache<R>(f: impl FnOnce(&Cache) -> R) -> Option<R> {
    CACHE.try_with(|cache| f(cache)).ok()
}

/// `f` on this thread's cache, which it may add a record to: its owner
/// registered first. While the thread exits (the owner gone), on a cache
/// of its own, let go of after `f`.
#[cfg(not(loom))]
fn with_cache_slow<R>(f: impl FnOnce(&Cache) -> R) -> Option<R> {
    if CACHE_OWNER.try_with(|_| ()).is_ok() {
        return with_cache(f);
    }
    let cache = Cache::new();
    Some(f(&cache))
}

/// A tokio lock was taken with the check on: from now on, std
/// acquisitions look up their task's entries too.
#[cfg(not(loom))]
static ASYNC_USED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Whether any tokio lock was recorded, ever.
#[cfg(not(loom))]
#[inline]
pub(crate) fn async_used() -> bool {
    ASYNC_USED.load(std::sync::atomic::Ordering::Relaxed)
}

/// `holder` took the tokio lock `lock` at `at`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn push_async(lock: &LockState, holder: u64, at: &'static Location<'static>) {
    if !async_used() {
        ASYNC_USED.store(true, std::sync::atomic::Ordering::Relaxed);
    }
    let entry = Entry {
        id: lock.order_id(),
        name: lock.name,
        at,
        source: false,
    };
    if !push_fast(holder, &entry) {
        push_slow(holder, entry);
    }
}

/// [`push_async`] if `f` is true for each tokio lock `holder` holds, in
/// one look at the record this thread's cache has (unlocked, with room):
/// whether it pushed (`false`: nothing done).
#[cfg(not(loom))]
#[inline]
pub(crate) fn push_async_if(
    lock: &LockState,
    holder: u64,
    at: &'static Location<'static>,
    f: impl FnMut(u64) -> bool,
) -> bool {
    if !async_used() {
        // The first tokio lock recorded: the slow path sets the flag.
        return false;
    }
    let entry = Entry {
        id: lock.order_id(),
        name: lock.name,
        at,
        source: false,
    };
    with_cache(|cache| TABLE.push_fast_if(cache, holder, &entry, f)).unwrap_or(false)
}

/// [`push_async`] into the record this thread's cache has, unlocked and
/// with room: whether it was. A leaf, so that it saves no registers.
#[cfg(not(loom))]
#[inline(never)]
fn push_fast(holder: u64, entry: &Entry) -> bool {
    with_cache(|cache| TABLE.push_fast(cache, holder, entry)).unwrap_or(false)
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn push_slow(holder: u64, entry: Entry) {
    with_cache_slow(|cache| TABLE.push(cache, holder, entry));
}

/// `holder` let go of the tokio lock `lock` (one entry of it). A lock
/// the order check never numbered is on no record: then nothing but a
/// load.
#[cfg(not(loom))]
#[inline]
pub(crate) fn pop_async(lock: &LockState, holder: u64) {
    let id = lock.order_id_if_any();
    if id != 0 && !pop_fast(lock, holder, id) {
        pop_slow(lock, holder, id);
    }
}

/// [`pop_async`] of the top entry of the record this thread's cache has,
/// unlocked: whether it was (or there is no record to look at). A leaf,
/// so that it saves no registers.
#[cfg(not(loom))]
#[inline(never)]
fn pop_fast(lock: &LockState, holder: u64, id: u64) -> bool {
    if !async_used() {
        return true;
    }
    match with_cache(|cache| TABLE.pop_fast(cache, holder, id)) {
        Some(Some(source)) => {
            if source {
                lock.mark_ordered();
            }
            true
        }
        _ => false,
    }
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn pop_slow(lock: &LockState, holder: u64, id: u64) {
    let source = with_cache_slow(|cache| TABLE.pop(cache, holder, id));
    if let Some(Some(true)) = source {
        lock.mark_ordered();
    }
}

/// Whether `f` is true for the number of each tokio lock `holder` holds
/// (and true if it holds none; `f` must not call this module): from this
/// thread's cache, else from the table (then kept in the cache, as is a
/// holder's having no record); `false` if the cache's record of `holder`
/// is retired (the caller looks again). The caller is `holder`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn all_of_holder(holder: u64, mut f: impl FnMut(u64) -> bool) -> bool {
    match with_cache(|cache| TABLE.all_of(cache, holder, &mut f)) {
        Some(Some(all)) => all,
        Some(None) => all_of_uncached(holder, f),
        None => false,
    }
}

#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn all_of_uncached(holder: u64, f: impl FnMut(u64) -> bool) -> bool {
    with_cache_slow(|cache| TABLE.all_of_uncached(cache, holder, f)).unwrap_or(false)
}

/// Each tokio lock `holder` holds, oldest first, under its record's lock
/// (`f` must not call this module); `f` may change the entry (it marks it
/// a source).
#[cfg(not(loom))]
pub(crate) fn each_of_holder(holder: u64, f: impl FnMut(&mut Entry)) {
    with_cache_slow(|cache| TABLE.each_of(cache, holder, f));
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::record::{RETIRED_LEN, SEEN};
    use super::table::WAYS;
    use super::*;

    fn ids(holder: u64) -> Vec<u64> {
        let mut ids = Vec::new();
        each_of_holder(holder, |e| ids.push(e.id));
        ids
    }

    /// A holder no thread has seen: its own shard entry, its own way.
    fn holder(n: u64) -> u64 {
        super::super::holder::TASK | (0x5eed_0000 + n)
    }

    fn cached_len(holder: u64) -> Option<usize> {
        CACHE
            .with(|cache| cache.cached(holder))
            // SAFETY: this thread's cache owns a count of it.
            .map(|record| unsafe { &*record }.len.load(Ordering::Relaxed))
    }

    #[test]
    fn a_holder_seen_on_another_thread_has_the_same_entries() {
        let (a, b) = (LockState::new("a"), LockState::new("b"));
        let h = holder(1);
        push_async(&a, h, Location::caller());
        std::thread::scope(|s| {
            s.spawn(|| {
                // Not in this thread's cache: found in the table.
                assert_eq!(ids(h), [a.order_id()]);
                push_async(&b, h, Location::caller());
            });
        });
        // In this thread's cache, and the same record.
        assert_eq!(ids(h), [a.order_id(), b.order_id()]);
        std::thread::scope(|s| {
            s.spawn(|| pop_async(&a, h));
        });
        assert_eq!(ids(h), [b.order_id()]);
        pop_async(&b, h);
        assert!(ids(h).is_empty());
    }

    #[test]
    fn holders_keep_their_own_entries() {
        let locks: Vec<LockState> = (0..3 * WAYS).map(|_| LockState::new("")).collect();
        let holders: Vec<u64> = (0..3 * WAYS as u64).map(|n| holder(100 + n)).collect();
        for (lock, &h) in locks.iter().zip(&holders) {
            push_async(lock, h, Location::caller());
        }
        for (lock, &h) in locks.iter().zip(&holders) {
            assert_eq!(ids(h), [lock.order_id()]);
            pop_async(lock, h);
            assert!(ids(h).is_empty());
        }
    }

    /// A holder that never took a tokio lock (a thread, or a task, taking
    /// std locks in a process where tokio locks are used) holds none:
    /// the check's fast path says so, and, after one look at the table,
    /// from this thread's cache, until its shard makes a record.
    #[test]
    fn a_holder_without_a_record_holds_nothing() {
        let a = LockState::new("a");
        let other = holder(500);
        push_async(&a, other, Location::caller());
        pop_async(&a, other);
        std::thread::spawn(move || {
            let me = crate::sync::holder::task_holder();
            let noted = || CACHE.with(|cache| cache.holds_none(me, TABLE.shard(me)));
            assert!(!noted());
            assert!(
                all_of_holder(me, |_| false),
                "a holder with no record holds a lock"
            );
            assert!(
                noted(),
                "the cache did not note that the holder has no record"
            );
            assert!(all_of_holder(me, |_| false));
            // Its first tokio lock makes its record: the note goes.
            push_async(&a, me, Location::caller());
            assert!(!noted());
            assert!(!all_of_holder(me, |id| id != a.order_id()));
            pop_async(&a, me);
            assert!(all_of_holder(me, |_| false));
        })
        .join()
        .unwrap();
    }

    /// Past `SEEN` entries the check's fast path takes the record's lock:
    /// it still sees them all, and the numbers read without the lock
    /// follow releases out of order.
    #[test]
    fn the_fast_path_sees_every_entry() {
        let h = holder(400);
        let locks: Vec<LockState> = (0..SEEN + 2).map(|_| LockState::new("")).collect();
        for (n, lock) in locks.iter().enumerate() {
            push_async(lock, h, Location::caller());
            let mut seen = Vec::new();
            assert!(all_of_holder(h, |id| {
                seen.push(id);
                true
            }));
            let want: Vec<u64> = locks[..=n].iter().map(|l| l.order_id()).collect();
            assert_eq!(seen, want);
        }
        // Out of order: the first one goes, the others move down.
        pop_async(&locks[0], h);
        pop_async(&locks[1], h);
        let mut seen = Vec::new();
        assert!(all_of_holder(h, |id| {
            seen.push(id);
            true
        }));
        let want: Vec<u64> = locks[2..].iter().map(|l| l.order_id()).collect();
        assert_eq!(seen, want);
        let last = locks[SEEN + 1].order_id();
        assert!(!all_of_holder(h, |id| id != last));
        for lock in &locks[2..] {
            pop_async(lock, h);
        }
        assert!(all_of_holder(h, |_| false));
    }

    /// Threads pushing and popping entries of one holder (guards taken
    /// and dropped in several places) while another makes and empties
    /// records by the thousand (sweeps retire the holder's record when it
    /// is empty, under the others' caches): no entry is lost, none stays.
    #[test]
    fn no_entry_is_lost_to_a_sweep() {
        let h = holder(300);
        let locks: Vec<LockState> = (0..2).map(|_| LockState::new("")).collect();
        std::thread::scope(|s| {
            for lock in &locks {
                s.spawn(move || {
                    for _ in 0..2000 {
                        push_async(lock, h, Location::caller());
                        let mut seen = false;
                        each_of_holder(h, |e| seen |= e.id == lock.order_id());
                        assert!(seen, "an entry pushed is not in the holder's set");
                        // In the record the table has, not only in a
                        // record this thread's cache has.
                        let live = TABLE.look_up(h, false).expect("no record in the table");
                        let locked = live.lock().expect("the table's record is retired");
                        assert!(locked.with(|e| e.iter().any(|e| e.id == lock.order_id())));
                        drop(locked);
                        pop_async(lock, h);
                        // Empty for a while: a sweep may retire the record.
                        std::thread::yield_now();
                    }
                });
            }
            s.spawn(|| {
                let lock = LockState::new("");
                for n in 0..20_000 {
                    let other = holder(1_000_000 + n);
                    push_async(&lock, other, Location::caller());
                    pop_async(&lock, other);
                }
            });
        });
        assert!(ids(h).is_empty());
    }

    /// A record swept out of the table while a thread's cache has it:
    /// the holder's next entry goes to a new record, which every thread
    /// finds.
    #[test]
    fn a_retired_record_in_a_cache_is_looked_up_again() {
        let a = LockState::new("a");
        let h = holder(200);
        push_async(&a, h, Location::caller());
        pop_async(&a, h);
        let shard = TABLE.shard(h);
        {
            let mut records = shard.records.lock().unwrap();
            records
                .live
                .retain(|(holder, record)| *holder != h || !record.retire_if_empty());
        }
        // The cache's record is retired: not taken for an empty one.
        assert_eq!(cached_len(h), Some(RETIRED_LEN));
        // The holder takes `a` elsewhere (a task resumed on another
        // worker): a new record, which this thread's stale cache must
        // not hide.
        std::thread::scope(|s| {
            s.spawn(|| push_async(&a, h, Location::caller()));
        });
        assert!(!all_of_holder(h, |_| true));
        assert_eq!(ids(h), [a.order_id()]);
        assert!(all_of_holder(h, |id| id == a.order_id()));
        pop_async(&a, h);
        assert!(all_of_holder(h, |_| false));
        assert!(ids(h).is_empty());
    }
}
