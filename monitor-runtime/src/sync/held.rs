//! What each thread and each task holds, with where it took it: the held
//! set the lock-order check (`order.rs`) reads at every blocking or
//! awaiting acquisition. Written only while the check is on.
//!
//! Two stores, because the guards of the two lock families travel
//! differently:
//!
//! * the std locks' guards are `!Send`: they drop on the thread that took
//!   them. Their entries are on a stack in that thread's local storage
//!   (no lock, no allocation; [`DEPTH`] deep, deeper ones are not seen);
//! * the tokio locks' guards may drop on any thread, or in another task,
//!   and a task holding one may resume on another worker. Each holder (a
//!   task, or a thread outside a task) has one [`Record`] of its entries,
//!   shared: a table of shards keyed by holder finds it, and each thread
//!   keeps the records it used last in a small cache of its own, so that
//!   the acquisitions and releases of the task running there cost no
//!   lookup and no mutex, only the record's own spin lock (contended only
//!   when a guard drops in another task while its holder runs).
//!
//! The record, not the cache, is the truth: a task that moves to another
//! worker finds the same record there (through the table, then that
//! thread's cache). A record leaves the table only when empty, and is
//! then marked retired under its lock; a cache that still points at it
//! finds it retired when it locks it, and looks the holder up again. So
//! at any time a holder has at most one live record.

use std::cell::{Cell, UnsafeCell};
use std::ops::{Deref, DerefMut};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use super::graph::LockState;

/// One lock held.
#[derive(Clone, Copy)]
pub(crate) struct Entry {
    /// The lock's number (`LockState::order_id`).
    pub(crate) id: u64,
    pub(crate) name: &'static str,
    /// Where it was taken.
    pub(crate) at: &'static Location<'static>,
    /// An acquisition was checked while this lock was held: the order
    /// graph may have an edge from it (see `LockState::mark_ordered`).
    pub(crate) source: bool,
}

/// How many std locks a thread's stack records at once.
const DEPTH: usize = 16;

struct Stack {
    len: Cell<usize>,
    entries: [Cell<Option<Entry>>; DEPTH],
}

thread_local! {
    static STACK: Stack = const {
        Stack {
            len: Cell::new(0),
            entries: [const { Cell::new(None) }; DEPTH],
        }
    };
}

/// This thread took the std lock `lock` at `at`.
#[inline]
pub(crate) fn push_thread(lock: &LockState, at: &'static Location<'static>) {
    let entry = Entry {
        id: lock.order_id(),
        name: lock.name,
        at,
        source: false,
    };
    let _ = STACK.try_with(|stack| {
        let len = stack.len.get();
        if let Some(slot) = stack.entries.get(len) {
            slot.set(Some(entry));
            stack.len.set(len + 1);
        }
    });
}

/// This thread let go of the std lock `lock` (in any order).
#[inline]
pub(crate) fn pop_thread(lock: &LockState) {
    let _ = STACK.try_with(|stack| {
        let len = stack.len.get();
        if len == 0 {
            return;
        }
        let id = lock.order_id_if_any();
        // The newest first: a lock read twice drops its second read first
        // more often than not.
        let Some(found) = (0..len)
            .rev()
            .find(|&i| stack.entries[i].get().is_some_and(|e| e.id == id))
        else {
            return;
        };
        if stack.entries[found].get().is_some_and(|e| e.source) {
            lock.mark_ordered();
        }
        for i in found..len - 1 {
            stack.entries[i].set(stack.entries[i + 1].get());
        }
        stack.entries[len - 1].set(None);
        stack.len.set(len - 1);
    });
}

/// Whether this thread holds no std lock (on record).
#[inline]
pub(crate) fn none_on_thread() -> bool {
    STACK.try_with(|stack| stack.len.get() == 0).unwrap_or(true)
}

/// Each std lock this thread holds, oldest first; `f` may change the
/// entry (it marks it a source).
#[inline]
pub(crate) fn each_of_thread(mut f: impl FnMut(&mut Entry)) {
    let _ = STACK.try_with(|stack| {
        for slot in &stack.entries[..stack.len.get()] {
            if let Some(mut entry) = slot.get() {
                let source = entry.source;
                f(&mut entry);
                if entry.source != source {
                    slot.set(Some(entry));
                }
            }
        }
    });
}

/// What one holder (a task, or a thread outside a task) holds of the
/// tokio locks: its entries, behind a spin lock that is also its
/// liveness (see the module's comment).
struct Record {
    /// `FREE`, `LOCKED` or `RETIRED`.
    state: AtomicU8,
    /// `entries.len()`, read without the lock to skip an empty record
    /// (`usize::MAX` once retired: never skipped, so a retired record is
    /// never taken for an empty one).
    len: AtomicUsize,
    entries: UnsafeCell<Vec<Entry>>,
}

const FREE: u8 = 0;
const LOCKED: u8 = 1;
const RETIRED: u8 = 2;

// SAFETY: `entries` is touched only through a `Locked`, which exists only
// while `state` is `LOCKED` by it (acquired with `Acquire`, let go with
// `Release`), or by `retire_if_empty` under the same protocol.
unsafe impl Sync for Record {}
// SAFETY: as above; `Entry` is `Send`.
unsafe impl Send for Record {}

/// A locked, live record.
struct Locked<'a>(&'a Record);

impl Record {
    fn new() -> Record {
        Record {
            state: AtomicU8::new(FREE),
            len: AtomicUsize::new(0),
            entries: UnsafeCell::new(Vec::new()),
        }
    }

    /// Locks the record, spinning while another thread has it (a guard
    /// dropped in another task than its holder's, or a check adding an
    /// edge); `None` if it is retired.
    #[inline]
    fn lock(&self) -> Option<Locked<'_>> {
        loop {
            match self.state.compare_exchange_weak(
                FREE,
                LOCKED,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(Locked(self)),
                Err(RETIRED) => return None,
                Err(_) => wait_a_little(),
            }
        }
    }

    /// Retires the record if it is empty and no one has it locked:
    /// whether it did.
    fn retire_if_empty(&self) -> bool {
        if self
            .state
            .compare_exchange(FREE, LOCKED, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            return false;
        }
        // SAFETY: locked above.
        let empty = unsafe { (*self.entries.get()).is_empty() };
        if empty {
            self.len.store(usize::MAX, Ordering::Relaxed);
        }
        let next = if empty { RETIRED } else { FREE };
        self.state.store(next, Ordering::Release);
        empty
    }
}

#[cold]
fn wait_a_little() {
    std::hint::spin_loop();
    std::thread::yield_now();
}

impl Deref for Locked<'_> {
    type Target = Vec<Entry>;
    fn deref(&self) -> &Vec<Entry> {
        // SAFETY: `self` has the record locked.
        unsafe { &*self.0.entries.get() }
    }
}

impl DerefMut for Locked<'_> {
    fn deref_mut(&mut self) -> &mut Vec<Entry> {
        // SAFETY: `self` has the record locked.
        unsafe { &mut *self.0.entries.get() }
    }
}

impl Drop for Locked<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.len.store(self.len(), Ordering::Relaxed);
        self.0.state.store(FREE, Ordering::Release);
    }
}

const SHARDS: usize = 16;

/// A shard keeps at least this many records before it sweeps out the
/// empty ones.
const SWEEP_MIN: usize = 32;

struct Shard {
    /// Records in `records`, read without the mutex to skip empty shards.
    len: AtomicUsize,
    records: Mutex<Records>,
}

struct Records {
    live: Vec<(u64, Arc<Record>)>,
    /// Sweep when `live` is this long (twice what the last sweep kept).
    sweep_at: usize,
}

static TABLE: [Shard; SHARDS] = [const {
    Shard {
        len: AtomicUsize::new(0),
        records: Mutex::new(Records {
            live: Vec::new(),
            sweep_at: SWEEP_MIN,
        }),
    }
}; SHARDS];

fn shard(holder: u64) -> &'static Shard {
    let mixed = holder.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &TABLE[(mixed >> 60) as usize % SHARDS]
}

/// `holder`'s live record, from the table; made if there is none and
/// `make`.
#[cold]
#[inline(never)]
fn look_up(holder: u64, make: bool) -> Option<Arc<Record>> {
    let shard = shard(holder);
    if !make && shard.len.load(Ordering::Relaxed) == 0 {
        return None;
    }
    let mut records = shard.records.lock().unwrap_or_else(|e| e.into_inner());
    if let Some((_, record)) = records.live.iter().find(|(h, _)| *h == holder) {
        return Some(record.clone());
    }
    if !make {
        return None;
    }
    if records.live.len() >= records.sweep_at {
        // Amortized: the records of tasks that ended, or hold nothing
        // now, leave; a cache that still has one finds it retired.
        records.live.retain(|(_, record)| !record.retire_if_empty());
        records.sweep_at = (records.live.len() * 2).max(SWEEP_MIN);
    }
    let record = Arc::new(Record::new());
    records.live.push((holder, record.clone()));
    shard.len.store(records.live.len(), Ordering::Relaxed);
    Some(record)
}

/// How many holders a thread's cache keeps (direct-mapped by holder).
const WAYS: usize = 8;

/// A thread's cache: holder → record, each slot owning one count of its
/// record's `Arc` (null for none).
struct Cache {
    slots: [(Cell<u64>, Cell<*const Record>); WAYS],
}

impl Drop for Cache {
    fn drop(&mut self) {
        for (_, record) in &self.slots {
            let record = record.replace(std::ptr::null());
            if !record.is_null() {
                // SAFETY: the slot owned this count (`remember`).
                drop(unsafe { Arc::from_raw(record) });
            }
        }
    }
}

thread_local! {
    static CACHE: Cache = const {
        Cache {
            slots: [const { (Cell::new(0), Cell::new(std::ptr::null())) }; WAYS],
        }
    };
}

#[inline]
fn way(holder: u64) -> usize {
    (holder.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61) as usize % WAYS
}

/// This thread's cached record of `holder`, if any. It stays valid until
/// `remember` replaces it, on this thread.
#[inline]
fn cached(holder: u64) -> Option<*const Record> {
    CACHE
        .try_with(|cache| {
            let (h, record) = &cache.slots[way(holder)];
            (h.get() == holder).then(|| record.get())
        })
        .ok()
        .flatten()
}

/// Keeps `record` as `holder`'s in this thread's cache.
fn remember(holder: u64, record: Arc<Record>) {
    let old = CACHE.try_with(|cache| {
        let (h, slot) = &cache.slots[way(holder)];
        h.set(holder);
        slot.replace(Arc::into_raw(record))
    });
    if let Ok(old) = old
        && !old.is_null()
    {
        // SAFETY: the slot owned this count.
        drop(unsafe { Arc::from_raw(old) });
    }
}

/// `f` on `holder`'s entries, under its record's lock (`f` must not call
/// this module): from this thread's cache if it has the live record,
/// else from the table (the record made there if none and `make`).
/// `None` if `holder` has no record and `make` is false.
#[inline]
fn with_entries<R>(holder: u64, make: bool, f: impl FnOnce(&mut Vec<Entry>) -> R) -> Option<R> {
    if let Some(record) = cached(holder) {
        // SAFETY: the cache owns a count of the record until `remember`
        // replaces it on this thread, which `f` does not call.
        let record = unsafe { &*record };
        if let Some(mut entries) = record.lock() {
            return Some(f(&mut entries));
        }
    }
    with_entries_slow(holder, make, f)
}

#[cold]
#[inline(never)]
fn with_entries_slow<R>(
    holder: u64,
    make: bool,
    f: impl FnOnce(&mut Vec<Entry>) -> R,
) -> Option<R> {
    loop {
        let record = look_up(holder, make)?;
        let Some(mut entries) = record.lock() else {
            // Retired since the lookup: look again.
            continue;
        };
        let result = f(&mut entries);
        drop(entries);
        remember(holder, record);
        return Some(result);
    }
}

/// Whether `holder` has no entry, from this thread's cache; `None` if the
/// cache does not know (a retired record reads as not empty).
#[inline]
fn cached_empty(holder: u64) -> Option<bool> {
    let record = cached(holder)?;
    // SAFETY: as in `with_entries`.
    Some(unsafe { &*record }.len.load(Ordering::Relaxed) == 0)
}

/// Whether `f` is true for each tokio lock `holder` holds (and true if
/// it holds none), from this thread's cache alone, under the record's
/// lock (`f` must not call this module); `false` if the cache does not
/// have `holder`'s live record. `f` may change the entry (it marks it a
/// source).
#[inline]
pub(crate) fn all_of_holder(holder: u64, f: impl FnMut(&mut Entry) -> bool) -> bool {
    let Some(record) = cached(holder) else {
        return false;
    };
    // SAFETY: as in `with_entries`.
    let record = unsafe { &*record };
    if record.len.load(Ordering::Relaxed) == 0 {
        return true;
    }
    match record.lock() {
        Some(mut entries) => entries.iter_mut().all(f),
        None => false,
    }
}

/// A tokio lock was taken with the check on: from now on, std
/// acquisitions look up their task's entries too.
static ASYNC_USED: AtomicBool = AtomicBool::new(false);

/// Whether any tokio lock was recorded, ever.
#[inline]
pub(crate) fn async_used() -> bool {
    ASYNC_USED.load(Ordering::Relaxed)
}

/// `holder` took the tokio lock `lock` at `at`.
#[inline]
pub(crate) fn push_async(lock: &LockState, holder: u64, at: &'static Location<'static>) {
    if !async_used() {
        ASYNC_USED.store(true, Ordering::Relaxed);
    }
    let entry = Entry {
        id: lock.order_id(),
        name: lock.name,
        at,
        source: false,
    };
    with_entries(holder, true, |entries| entries.push(entry));
}

/// `holder` let go of the tokio lock `lock` (one entry of it).
#[inline]
pub(crate) fn pop_async(lock: &LockState, holder: u64) {
    let id = lock.order_id_if_any();
    if id == 0 || !async_used() {
        return;
    }
    let source = with_entries(holder, false, |entries| {
        let found = entries.iter().rposition(|e| e.id == id)?;
        let entry = if found + 1 == entries.len() {
            entries.pop()
        } else {
            Some(entries.remove(found))
        };
        entry.map(|e| e.source)
    });
    if source.flatten() == Some(true) {
        lock.mark_ordered();
    }
}

/// Each tokio lock `holder` holds, oldest first, under its record's lock
/// (`f` must not call this module); `f` may change the entry (it marks it
/// a source).
#[inline]
pub(crate) fn each_of_holder(holder: u64, mut f: impl FnMut(&mut Entry)) {
    if cached_empty(holder) == Some(true) {
        return;
    }
    with_entries(holder, false, |entries| {
        for entry in entries.iter_mut() {
            f(entry);
        }
    });
}

#[cfg(test)]
mod tests {
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
                        let live = look_up(h, false).expect("no record in the table");
                        let entries = live.lock().expect("the table's record is retired");
                        assert!(entries.iter().any(|e| e.id == lock.order_id()));
                        drop(entries);
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
        let shard = shard(h);
        {
            let mut records = shard.records.lock().unwrap();
            records
                .live
                .retain(|(holder, record)| *holder != h || !record.retire_if_empty());
        }
        // The cache's record is retired: not taken for an empty one.
        assert_eq!(cached_empty(h), Some(false));
        // The holder takes `a` elsewhere (a task resumed on another
        // worker): a new record, which this thread's stale cache must
        // not hide.
        std::thread::scope(|s| {
            s.spawn(|| push_async(&a, h, Location::caller()));
        });
        assert!(!all_of_holder(h, |_| true));
        assert_eq!(ids(h), [a.order_id()]);
        assert!(all_of_holder(h, |e| e.id == a.order_id()));
        pop_async(&a, h);
        assert!(all_of_holder(h, |_| false));
        assert!(ids(h).is_empty());
    }
}
