//! What each thread and each task holds, with where it took it: the held
//! set the lock-order check (`order.rs`) reads at every blocking or
//! awaiting acquisition. Written only while the check is on.
//!
//! Two stores, because the guards of the two lock families travel
//! differently:
//!
//! * the std locks' guards are `!Send`: they drop on the thread that took
//!   them. Their entries are on a stack in that thread's local storage
//!   (no lock, no allocation; [`DEPTH`] deep, deeper ones are not seen).
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

// ---------------------------------------------------------------------
// The std locks: a stack per thread.
// ---------------------------------------------------------------------

/// How many std locks a thread's stack records at once.
#[cfg(not(loom))]
const DEPTH: usize = 16;

/// The entries in columns: a release and the check's fast path read the
/// lock numbers alone.
#[cfg(not(loom))]
struct Stack {
    len: Cell<usize>,
    ids: [Cell<u64>; DEPTH],
    sources: [Cell<bool>; DEPTH],
    sites: [Cell<(&'static str, Option<&'static Location<'static>>)>; DEPTH],
}

#[cfg(not(loom))]
thread_local! {
    static STACK: Stack = const {
        Stack {
            len: Cell::new(0),
            ids: [const { Cell::new(0) }; DEPTH],
            sources: [const { Cell::new(false) }; DEPTH],
            sites: [const { Cell::new(("", None)) }; DEPTH],
        }
    };
}

#[cfg(not(loom))]
impl Stack {
    fn entry(&self, i: usize) -> Entry {
        let (name, at) = self.sites[i].get();
        Entry {
            id: self.ids[i].get(),
            name,
            at: at.unwrap_or(Location::caller()),
            source: self.sources[i].get(),
        }
    }
}

/// This thread took the std lock `lock` at `at`.
#[cfg(not(loom))]
#[inline]
pub(crate) fn push_thread(lock: &LockState, at: &'static Location<'static>) {
    let id = lock.order_id();
    let _ = STACK.try_with(|stack| {
        let len = stack.len.get();
        if len < DEPTH {
            stack.ids[len].set(id);
            stack.sources[len].set(false);
            stack.sites[len].set((lock.name, Some(at)));
            stack.len.set(len + 1);
        }
    });
}

/// This thread let go of the std lock `lock` (in any order; the newest
/// first, in one look).
#[cfg(not(loom))]
#[inline]
pub(crate) fn pop_thread(lock: &LockState) {
    let _ = STACK.try_with(|stack| {
        let len = stack.len.get();
        let id = lock.order_id_if_any();
        let top = len.wrapping_sub(1);
        match stack.ids.get(top) {
            Some(slot) if slot.get() == id => {
                if stack.sources[top].get() {
                    lock.mark_ordered();
                }
                stack.len.set(top);
            }
            Some(_) => pop_thread_below(stack, lock, id),
            None => {}
        }
    });
}

/// [`pop_thread`] of a lock under the top of the stack.
#[cfg(not(loom))]
#[cold]
#[inline(never)]
fn pop_thread_below(stack: &Stack, lock: &LockState, id: u64) {
    let len = stack.len.get().min(DEPTH);
    // The newest first: a lock read twice drops its second read first
    // more often than not.
    let Some(found) = (0..len).rev().find(|&i| stack.ids[i].get() == id) else {
        return;
    };
    if stack.sources[found].get() {
        lock.mark_ordered();
    }
    for i in found..len - 1 {
        stack.ids[i].set(stack.ids[i + 1].get());
        stack.sources[i].set(stack.sources[i + 1].get());
        stack.sites[i].set(stack.sites[i + 1].get());
    }
    stack.len.set(len - 1);
}

/// Whether this thread holds no std lock (on record).
#[cfg(not(loom))]
#[inline]
pub(crate) fn none_on_thread() -> bool {
    STACK.try_with(|stack| stack.len.get() == 0).unwrap_or(true)
}

/// Whether `f` is true for the number of each std lock this thread holds
/// (true if it holds none).
#[cfg(not(loom))]
#[inline]
pub(crate) fn all_of_thread(mut f: impl FnMut(u64) -> bool) -> bool {
    STACK
        .try_with(|stack| {
            let len = stack.len.get().min(DEPTH);
            stack.ids[..len].iter().all(|id| f(id.get()))
        })
        .unwrap_or(true)
}

/// Each std lock this thread holds, oldest first; `f` may change the
/// entry (it marks it a source).
#[cfg(not(loom))]
pub(crate) fn each_of_thread(mut f: impl FnMut(&mut Entry)) {
    let _ = STACK.try_with(|stack| {
        for i in 0..stack.len.get().min(DEPTH) {
            let mut entry = stack.entry(i);
            f(&mut entry);
            stack.sources[i].set(entry.source);
        }
    });
}

// ---------------------------------------------------------------------
// The tokio locks: a record per holder.
// ---------------------------------------------------------------------

/// `std::cell::UnsafeCell` with loom's interface, so that the record
/// builds on either.
#[cfg(not(loom))]
struct UnsafeCell<T>(std::cell::UnsafeCell<T>);

#[cfg(not(loom))]
impl<T> UnsafeCell<T> {
    fn new(value: T) -> Self {
        UnsafeCell(std::cell::UnsafeCell::new(value))
    }

    #[inline]
    fn with_mut<R>(&self, f: impl FnOnce(*mut T) -> R) -> R {
        f(self.0.get())
    }
}

/// How many lock numbers a record keeps where the check reads them
/// without its spin lock; a holder of more takes the spin lock to check.
const SEEN: usize = 4;

/// What one holder (a task, or a thread outside a task) holds of the
/// tokio locks: its entries, behind a spin lock that is also its
/// liveness (see the module's comment).
pub struct Record {
    /// The spin lock and sequence count: even when free, odd while
    /// locked (each write to the record counts two), [`RETIRED`] once
    /// retired.
    state: AtomicU64,
    /// `entries.len()`, read without the lock (`RETIRED_LEN` once
    /// retired: never read as empty).
    len: AtomicUsize,
    /// The first [`SEEN`] entries' lock numbers, for the check's reads
    /// without the lock (written under it).
    ids: [AtomicU64; SEEN],
    entries: UnsafeCell<Vec<Entry>>,
}

/// `Record::state` of a retired record: odd, so never taken as free.
const RETIRED: u64 = u64::MAX;

/// `Record::len` of a retired record.
const RETIRED_LEN: usize = usize::MAX;

// SAFETY: `entries` is touched only through a `Locked`, which exists only
// while `state` is odd by it (taken with `Acquire`, let go with
// `Release`), or by `retire_if_empty` under the same protocol.
unsafe impl Sync for Record {}
// SAFETY: as above; `Entry` is `Send`.
unsafe impl Send for Record {}

/// A locked, live record: the state it was taken at.
struct Locked<'a>(&'a Record, u64);

impl Record {
    fn new() -> Record {
        Record {
            state: AtomicU64::new(0),
            len: AtomicUsize::new(0),
            ids: std::array::from_fn(|_| AtomicU64::new(0)),
            entries: UnsafeCell::new(Vec::new()),
        }
    }

    /// Locks the record, spinning while another thread has it (a guard
    /// dropped in another task than its holder's, or a check adding an
    /// edge); `None` if it is retired.
    #[inline]
    fn lock(&self) -> Option<Locked<'_>> {
        let mut state = self.state.load(Ordering::Relaxed);
        loop {
            if state & 1 == 0 {
                match self.state.compare_exchange_weak(
                    state,
                    state + 1,
                    Ordering::Acquire,
                    Ordering::Relaxed,
                ) {
                    Ok(_) => {
                        // The odd count before the writes: a reader that
                        // sees one of them sees the count moved (its
                        // acquire fence pairs with this one).
                        fence(Ordering::Release);
                        return Some(Locked(self, state + 1));
                    }
                    Err(now) => state = now,
                }
            } else if state == RETIRED {
                return None;
            } else {
                wait_a_little();
                state = self.state.load(Ordering::Relaxed);
            }
        }
    }

    /// Locks the record if no one has it locked (one attempt, for the
    /// fast paths; the slow ones spin).
    #[inline]
    fn try_lock(&self) -> Option<Locked<'_>> {
        let state = self.state.load(Ordering::Relaxed);
        if state & 1 != 0
            || self
                .state
                .compare_exchange(state, state + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return None;
        }
        // As in `lock`.
        fence(Ordering::Release);
        Some(Locked(self, state + 1))
    }

    /// Whether `f` is true for each lock number of the record, read
    /// without its lock; `None` if the read raced a write, or the record
    /// has more than [`SEEN`] entries, or is retired (then the caller
    /// takes the lock, or looks the holder up again).
    #[inline]
    fn all_ids(&self, mut f: impl FnMut(u64) -> bool) -> Option<bool> {
        let before = self.state.load(Ordering::Acquire);
        let len = self.len.load(Ordering::Relaxed);
        if before & 1 != 0 || len > SEEN {
            return None;
        }
        let all = self.ids[..len]
            .iter()
            .all(|id| f(id.load(Ordering::Relaxed)));
        // The loads above before the second read of the count.
        fence(Ordering::Acquire);
        (self.state.load(Ordering::Relaxed) == before).then_some(all)
    }

    /// Retires the record if it is empty and no one has it locked:
    /// whether it did.
    fn retire_if_empty(&self) -> bool {
        let state = self.state.load(Ordering::Relaxed);
        if state & 1 != 0
            || self
                .state
                .compare_exchange(state, state + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        let locked = Locked(self, state + 1);
        if !locked.is_empty() {
            return false;
        }
        std::mem::forget(locked);
        self.len.store(RETIRED_LEN, Ordering::Relaxed);
        self.state.store(RETIRED, Ordering::Release);
        true
    }
}

#[cold]
fn wait_a_little() {
    #[cfg(loom)]
    loom::thread::yield_now();
    #[cfg(not(loom))]
    {
        std::hint::spin_loop();
        std::thread::yield_now();
    }
}

impl Locked<'_> {
    /// `f` on the entries, as they are (the caller keeps `len` and `ids`
    /// up to date).
    #[inline]
    fn with<R>(&self, f: impl FnOnce(&mut Vec<Entry>) -> R) -> R {
        // SAFETY: `self` has the record locked.
        self.0
            .entries
            .with_mut(|entries| f(unsafe { &mut *entries }))
    }

    fn is_empty(&self) -> bool {
        self.with(|entries| entries.is_empty())
    }

    /// A new entry, on top.
    #[inline]
    fn push(&self, entry: Entry) {
        let len = self.with(|entries| {
            entries.push(entry);
            entries.len()
        });
        if let Some(slot) = self.0.ids.get(len - 1) {
            slot.store(entry.id, Ordering::Relaxed);
        }
        self.0.len.store(len, Ordering::Relaxed);
    }

    /// [`Locked::push`] if the entries have room: whether they had.
    #[inline]
    fn push_within(&self, entry: Entry) -> bool {
        let len = self.with(|entries| {
            let len = entries.len();
            (len < entries.capacity()).then(|| {
                entries.push(entry);
                len + 1
            })
        });
        let Some(len) = len else {
            return false;
        };
        if let Some(slot) = self.0.ids.get(len - 1) {
            slot.store(entry.id, Ordering::Relaxed);
        }
        self.0.len.store(len, Ordering::Relaxed);
        true
    }

    /// Takes out the newest entry of lock number `id`: whether it was a
    /// source; `None` if there is none. The top of the stack first.
    #[inline]
    fn pop(&self, id: u64) -> Option<bool> {
        self.pop_top(id).or_else(|| self.remove(id))
    }

    /// [`Locked::pop`] if the newest entry is of lock number `id`.
    #[inline]
    fn pop_top(&self, id: u64) -> Option<bool> {
        let top = self.with(|entries| {
            let last = entries.last_mut()?;
            if last.id != id {
                return None;
            }
            let source = last.source;
            entries.pop();
            Some((source, entries.len()))
        });
        let (source, len) = top?;
        self.0.len.store(len, Ordering::Relaxed);
        Some(source)
    }

    /// [`Locked::pop`] of an entry under the top.
    #[cold]
    #[inline(never)]
    fn remove(&self, id: u64) -> Option<bool> {
        let (source, len) = self.with(|entries| {
            let found = entries.iter().rposition(|e| e.id == id)?;
            let source = entries.remove(found).source;
            for (slot, entry) in self.0.ids.iter().zip(entries.iter()).skip(found) {
                slot.store(entry.id, Ordering::Relaxed);
            }
            Some((source, entries.len()))
        })?;
        self.0.len.store(len, Ordering::Relaxed);
        Some(source)
    }

    /// `f` on each entry, oldest first; `f` may change an entry's
    /// `source`, not its lock number.
    fn each(&self, mut f: impl FnMut(&mut Entry)) {
        self.with(|entries| entries.iter_mut().for_each(&mut f));
    }
}

impl Drop for Locked<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.state.store(self.1 + 1, Ordering::Release);
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

/// The live records, by holder: the truth the caches only find.
pub struct Table {
    shards: [Shard; SHARDS],
}

impl Table {
    #[cfg(not(loom))]
    const fn new() -> Table {
        Table {
            shards: [const {
                Shard {
                    len: AtomicUsize::new(0),
                    records: Mutex::new(Records {
                        live: Vec::new(),
                        sweep_at: SWEEP_MIN,
                    }),
                }
            }; SHARDS],
        }
    }

    fn shard(&self, holder: u64) -> &Shard {
        let mixed = holder.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(mixed >> 60) as usize % SHARDS]
    }

    /// `holder`'s live record, from the table; made if there is none and
    /// `make`.
    #[cold]
    #[inline(never)]
    fn look_up(&self, holder: u64, make: bool) -> Option<Arc<Record>> {
        let shard = self.shard(holder);
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
            sweep(&mut records);
        }
        let record = Arc::new(Record::new());
        records.live.push((holder, record.clone()));
        shard.len.store(records.live.len(), Ordering::Relaxed);
        Some(record)
    }

    /// `f` on `holder`'s record, locked (`f` must not call this module):
    /// from `cache` if it has the live record, else
    /// from the table (the record made there if none and `make`). `None`
    /// if `holder` has no record and `make` is false.
    #[inline]
    fn with_entries<R>(
        &self,
        cache: &Cache,
        holder: u64,
        make: bool,
        f: impl FnOnce(&Locked<'_>) -> R,
    ) -> Option<R> {
        if let Some(record) = cache.cached(holder) {
            // SAFETY: the cache owns a count of the record until
            // `remember` replaces it on this thread, which `f` does not
            // call.
            let record = unsafe { &*record };
            if let Some(locked) = record.lock() {
                return Some(f(&locked));
            }
        }
        self.with_entries_slow(cache, holder, make, f)
    }

    #[cold]
    #[inline(never)]
    fn with_entries_slow<R>(
        &self,
        cache: &Cache,
        holder: u64,
        make: bool,
        f: impl FnOnce(&Locked<'_>) -> R,
    ) -> Option<R> {
        loop {
            let record = self.look_up(holder, make)?;
            let Some(locked) = record.lock() else {
                // Retired since the lookup: look again.
                continue;
            };
            let result = f(&locked);
            drop(locked);
            cache.remember(holder, record);
            return Some(result);
        }
    }

    /// Whether `f` is true for the number of each tokio lock `holder`
    /// holds (and true if it holds none), from `cache` alone; `false` if
    /// `cache` does not have `holder`'s live record. Without the record's
    /// lock, unless it has more than [`SEEN`] entries or a write races.
    #[inline]
    fn all_of(&self, cache: &Cache, holder: u64, mut f: impl FnMut(u64) -> bool) -> bool {
        let Some(record) = cache.cached(holder) else {
            return false;
        };
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        match record.all_ids(&mut f) {
            Some(all) => all,
            None => all_of_locked(record, f),
        }
    }

    /// [`Table::push`] into the record `cache` has, unlocked and with
    /// room: whether it was.
    #[inline]
    fn push_fast(&self, cache: &Cache, holder: u64, entry: &Entry) -> bool {
        let Some(record) = cache.cached(holder) else {
            return false;
        };
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        record
            .try_lock()
            .is_some_and(|locked| locked.push_within(*entry))
    }

    /// [`Table::pop`] of the top entry of the record `cache` has,
    /// unlocked: whether it was a source; `None` if not on this path.
    #[inline]
    fn pop_fast(&self, cache: &Cache, holder: u64, id: u64) -> Option<bool> {
        let record = cache.cached(holder)?;
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        record.try_lock()?.pop_top(id)
    }

    /// [`Table::push_fast`] if `f` is true for each lock number the
    /// record has, in the same look: whether it pushed.
    #[cfg(not(loom))]
    #[inline]
    fn push_fast_if(
        &self,
        cache: &Cache,
        holder: u64,
        entry: &Entry,
        mut f: impl FnMut(u64) -> bool,
    ) -> bool {
        let Some(record) = cache.cached(holder) else {
            return false;
        };
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        let Some(locked) = record.try_lock() else {
            return false;
        };
        locked.with(|entries| entries.iter().all(|e| f(e.id))) && locked.push_within(*entry)
    }

    /// `holder` took a lock: `entry` on its record.
    #[inline]
    fn push(&self, cache: &Cache, holder: u64, entry: Entry) {
        self.with_entries(cache, holder, true, |locked| locked.push(entry));
    }

    /// `holder` let go of lock number `id` (one entry of it, the newest):
    /// whether that entry was a source; `None` if `holder` has none.
    #[inline]
    fn pop(&self, cache: &Cache, holder: u64, id: u64) -> Option<bool> {
        self.with_entries(cache, holder, false, |locked| locked.pop(id))
            .flatten()
    }

    /// Each tokio lock `holder` holds, oldest first, under its record's
    /// lock (`f` must not call this module); `f` may change the entry (it
    /// marks it a source).
    fn each_of(&self, cache: &Cache, holder: u64, mut f: impl FnMut(&mut Entry)) {
        self.with_entries(cache, holder, false, |locked| locked.each(&mut f));
    }
}

/// [`Table::all_of`] under the record's lock (more than [`SEEN`]
/// entries, a write racing the read, or a retired record: `false`).
#[cold]
#[inline(never)]
fn all_of_locked(record: &Record, mut f: impl FnMut(u64) -> bool) -> bool {
    match record.lock() {
        Some(locked) => locked.with(|entries| entries.iter().all(|e| f(e.id))),
        None => false,
    }
}

/// Amortized: the records of tasks that ended, or hold nothing now, leave
/// the table, retired; a cache that still has one finds it retired.
fn sweep(records: &mut Records) {
    records.live.retain(|(_, record)| !record.retire_if_empty());
    records.sweep_at = (records.live.len() * 2).max(SWEEP_MIN);
}

/// How many holders a thread's cache keeps (direct-mapped by holder).
const WAYS: usize = 8;

/// A thread's cache: holder → record, each slot owning one count of its
/// record's `Arc` (null for none).
pub struct Cache {
    slots: [(Cell<u64>, Cell<*const Record>); WAYS],
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Cache {
    /// Lets go of every record.
    fn clear(&self) {
        for (_, record) in &self.slots {
            let record = record.replace(std::ptr::null());
            if !record.is_null() {
                // SAFETY: the slot owned this count (`remember`).
                drop(unsafe { Arc::from_raw(record) });
            }
        }
    }

    #[cfg(not(loom))]
    const fn new() -> Cache {
        Cache {
            slots: [const { (Cell::new(0), Cell::new(std::ptr::null())) }; WAYS],
        }
    }

    #[inline]
    fn way(holder: u64) -> usize {
        (holder.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61) as usize % WAYS
    }

    /// The cached record of `holder`, if any. It stays valid until
    /// `remember` replaces it.
    #[inline]
    fn cached(&self, holder: u64) -> Option<*const Record> {
        let (h, record) = &self.slots[Self::way(holder)];
        (h.get() == holder && !record.get().is_null()).then(|| record.get())
    }

    /// Keeps `record` as `holder`'s.
    fn remember(&self, holder: u64, record: Arc<Record>) {
        let (h, slot) = &self.slots[Self::way(holder)];
        h.set(holder);
        let old = slot.replace(Arc::into_raw(record));
        if !old.is_null() {
            // SAFETY: the slot owned this count.
            drop(unsafe { Arc::from_raw(old) });
        }
    }
}

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
/// (and true if it holds none), from this thread's cache alone (`f` must
/// not call this module); `false` if the cache does not have `holder`'s
/// live record.
#[cfg(not(loom))]
#[inline]
pub(crate) fn all_of_holder(holder: u64, f: impl FnMut(u64) -> bool) -> bool {
    with_cache(|cache| TABLE.all_of(cache, holder, f)).unwrap_or(false)
}

/// Each tokio lock `holder` holds, oldest first, under its record's lock
/// (`f` must not call this module); `f` may change the entry (it marks it
/// a source).
#[cfg(not(loom))]
pub(crate) fn each_of_holder(holder: u64, f: impl FnMut(&mut Entry)) {
    with_cache_slow(|cache| TABLE.each_of(cache, holder, f));
}

// ---------------------------------------------------------------------
// What the loom models drive: the same table and caches, made per model.
// ---------------------------------------------------------------------

#[cfg(loom)]
impl Table {
    /// An empty table.
    pub fn new() -> Table {
        Table {
            shards: std::array::from_fn(|_| Shard {
                len: AtomicUsize::new(0),
                records: Mutex::new(Records {
                    live: Vec::new(),
                    sweep_at: SWEEP_MIN,
                }),
            }),
        }
    }

    /// `holder` took lock number `id`, on this thread (`cache`).
    pub fn push_id(&self, cache: &Cache, holder: u64, id: u64) {
        let entry = Entry {
            id,
            name: "",
            at: Location::caller(),
            source: false,
        };
        if !self.push_fast(cache, holder, &entry) {
            self.push(cache, holder, entry);
        }
    }

    /// `holder` let go of lock number `id`: whether it had it.
    pub fn pop_id(&self, cache: &Cache, holder: u64, id: u64) -> bool {
        self.pop_fast(cache, holder, id)
            .or_else(|| self.pop(cache, holder, id))
            .is_some()
    }

    /// The check's fast path: whether `f` is true for each lock number
    /// `holder` holds, from `cache` alone (`false`: not known there).
    pub fn all_ids(&self, cache: &Cache, holder: u64, f: impl FnMut(u64) -> bool) -> bool {
        self.all_of(cache, holder, f)
    }

    /// The lock numbers `holder` holds, oldest first, from its record.
    pub fn ids(&self, cache: &Cache, holder: u64) -> Vec<u64> {
        let mut ids = Vec::new();
        self.each_of(cache, holder, |e| ids.push(e.id));
        ids
    }

    /// A sweep of `holder`'s shard, as a lookup that makes a record there
    /// does when the shard is full.
    pub fn sweep(&self, holder: u64) {
        let shard = self.shard(holder);
        let mut records = shard.records.lock().unwrap();
        sweep(&mut records);
        shard.len.store(records.live.len(), Ordering::Relaxed);
    }

    /// How many records of `holder` the table has (the invariant: at most
    /// one), and whether `cache`'s record of it, if any, is either that
    /// one or retired (read under the shard's mutex, which a sweep holds
    /// while it retires and removes).
    pub fn audit(&self, cache: &Cache, holder: u64) -> (usize, bool) {
        let records = self.shard(holder).records.lock().unwrap();
        let mut live = records.live.iter().filter(|(h, _)| *h == holder);
        let count = live.clone().count();
        let consistent = match cache.cached(holder) {
            None => true,
            Some(cached) => {
                live.any(|(_, record)| Arc::as_ptr(record) == cached)
                    // SAFETY: the cache owns a count of it.
                    || unsafe { &*cached }.state.load(Ordering::Acquire) == RETIRED
            }
        };
        (count, consistent)
    }
}

#[cfg(loom)]
impl Default for Table {
    fn default() -> Self {
        Table::new()
    }
}

#[cfg(loom)]
impl Cache {
    /// An empty cache, as a thread's.
    pub fn new() -> Cache {
        Cache {
            slots: std::array::from_fn(|_| (Cell::new(0), Cell::new(std::ptr::null()))),
        }
    }
}

#[cfg(loom)]
impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}

#[cfg(all(test, not(loom)))]
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
