//! The live records by holder (a sharded table) and the threads' caches
//! of the records they used last.

use super::record::Locked;
#[cfg(loom)]
use super::record::RETIRED;
use super::*;

pub(super) const SHARDS: usize = 16;

/// A shard keeps at least this many records before it sweeps out the
/// empty ones.
pub(super) const SWEEP_MIN: usize = 32;

pub(super) struct Shard {
    /// Records in `records`, read without the mutex to skip empty shards.
    pub(super) len: AtomicUsize,
    /// Records ever made in the shard (written under the mutex): a
    /// cache's note that a holder had none holds while this has not moved.
    pub(super) made: AtomicU64,
    pub(super) records: Mutex<Records>,
}

pub(super) struct Records {
    pub(super) live: Vec<(u64, Arc<Record>)>,
    /// Sweep when `live` is this long (twice what the last sweep kept).
    pub(super) sweep_at: usize,
}

/// The live records, by holder: the truth the caches only find.
pub struct Table {
    pub(super) shards: [Shard; SHARDS],
}

impl Table {
    #[cfg(not(loom))]
    pub(super) const fn new() -> Table {
        Table {
            shards: [const {
                Shard {
                    len: AtomicUsize::new(0),
                    made: AtomicU64::new(0),
                    records: Mutex::new(Records {
                        live: Vec::new(),
                        sweep_at: SWEEP_MIN,
                    }),
                }
            }; SHARDS],
        }
    }

    pub(super) fn shard(&self, holder: u64) -> &Shard {
        let mixed = holder.wrapping_mul(0x9e37_79b9_7f4a_7c15);
        &self.shards[(mixed >> 60) as usize % SHARDS]
    }

    /// `holder`'s live record, from the table; made if there is none and
    /// `make`.
    #[cold]
    #[inline(never)]
    pub(super) fn look_up(&self, holder: u64, make: bool) -> Option<Arc<Record>> {
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
        let made = shard.made.load(Ordering::Relaxed);
        shard.made.store(made + 1, Ordering::Release);
        Some(record)
    }

    /// [`Table::all_of`] of a holder `cache` has no record of: from the
    /// table, the record then kept in `cache`; a holder without a record
    /// holds nothing, which `cache` notes until its shard makes a record.
    /// The caller is `holder` (no one else makes its record).
    #[cold]
    #[inline(never)]
    pub(super) fn all_of_uncached(
        &self,
        cache: &Cache,
        holder: u64,
        f: impl FnMut(u64) -> bool,
    ) -> bool {
        // Before the lookup: a record made after it moves the count past
        // this, and one made before it is found.
        let made = self.shard(holder).made.load(Ordering::Acquire);
        match self.look_up(holder, false) {
            Some(record) => {
                let all = all_of_locked(&record, f);
                cache.remember(holder, record);
                all
            }
            None => {
                cache.remember_none(holder, made);
                true
            }
        }
    }

    /// `f` on `holder`'s record, locked (`f` must not call this module):
    /// from `cache` if it has the live record, else
    /// from the table (the record made there if none and `make`). `None`
    /// if `holder` has no record and `make` is false.
    #[inline]
    pub(super) fn with_entries<R>(
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
    pub(super) fn with_entries_slow<R>(
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
    /// holds (and true if it holds none), from `cache` (`false` if its
    /// record is retired: the caller looks again); `None` if `cache` has
    /// no record of `holder` (nor a note that it has none): then
    /// [`Table::all_of_uncached`] asks the table. Without the record's
    /// lock, unless it has more than [`SEEN`](super::record::SEEN) entries or a write races.
    #[inline]
    pub(super) fn all_of(
        &self,
        cache: &Cache,
        holder: u64,
        mut f: impl FnMut(u64) -> bool,
    ) -> Option<bool> {
        let Some(record) = cache.cached(holder) else {
            // `None`: the caller asks the table (`all_of_uncached`).
            return cache.holds_none(holder, self.shard(holder)).then_some(true);
        };
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        Some(match record.all_ids(&mut f) {
            Some(all) => all,
            None => all_of_locked(record, f),
        })
    }

    /// [`Table::push`] into the record `cache` has, unlocked and with
    /// room: whether it was.
    #[inline]
    pub(super) fn push_fast(&self, cache: &Cache, holder: u64, entry: &Entry) -> bool {
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
    pub(super) fn pop_fast(&self, cache: &Cache, holder: u64, id: u64) -> Option<bool> {
        let record = cache.cached(holder)?;
        // SAFETY: as in `with_entries`.
        let record = unsafe { &*record };
        record.try_lock()?.pop_top(id)
    }

    /// [`Table::push_fast`] if `f` is true for each lock number the
    /// record has, in the same look: whether it pushed.
    #[cfg(not(loom))]
    #[inline]
    pub(super) fn push_fast_if(
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
    pub(super) fn push(&self, cache: &Cache, holder: u64, entry: Entry) {
        self.with_entries(cache, holder, true, |locked| locked.push(entry));
    }

    /// `holder` let go of lock number `id` (one entry of it, the newest):
    /// whether that entry was a source; `None` if `holder` has none.
    #[inline]
    pub(super) fn pop(&self, cache: &Cache, holder: u64, id: u64) -> Option<bool> {
        self.with_entries(cache, holder, false, |locked| locked.pop(id))
            .flatten()
    }

    /// Each tokio lock `holder` holds, oldest first, under its record's
    /// lock (`f` must not call this module); `f` may change the entry (it
    /// marks it a source).
    pub(super) fn each_of(&self, cache: &Cache, holder: u64, mut f: impl FnMut(&mut Entry)) {
        self.with_entries(cache, holder, false, |locked| locked.each(&mut f));
    }
}

/// [`Table::all_of`] under the record's lock (more than [`SEEN`](super::record::SEEN)
/// entries, a write racing the read, or a retired record: `false`).
#[cold]
#[inline(never)]
pub(super) fn all_of_locked(record: &Record, mut f: impl FnMut(u64) -> bool) -> bool {
    match record.lock() {
        Some(locked) => locked.with(|entries| entries.iter().all(|e| f(e.id))),
        None => false,
    }
}

/// Amortized: the records of tasks that ended, or hold nothing now, leave
/// the table, retired; a cache that still has one finds it retired.
pub(super) fn sweep(records: &mut Records) {
    records.live.retain(|(_, record)| !record.retire_if_empty());
    records.sweep_at = (records.live.len() * 2).max(SWEEP_MIN);
}

/// How many holders a thread's cache keeps (direct-mapped by holder).
pub(super) const WAYS: usize = 8;

/// A thread's cache: holder → record, each slot owning one count of its
/// record's `Arc` (null for none).
pub struct Cache {
    pub(super) slots: [(Cell<u64>, Cell<*const Record>); WAYS],
    /// Per slot, for a holder without a record: its shard's `made` when
    /// that was seen, plus one (0: no such note).
    pub(super) none_at: [Cell<u64>; WAYS],
}

impl Drop for Cache {
    fn drop(&mut self) {
        self.clear();
    }
}

impl Cache {
    /// Lets go of every record.
    pub(super) fn clear(&self) {
        for (_, record) in &self.slots {
            let record = record.replace(std::ptr::null());
            if !record.is_null() {
                // SAFETY: the slot owned this count (`remember`).
                drop(unsafe { Arc::from_raw(record) });
            }
        }
    }

    #[cfg(not(loom))]
    pub(super) const fn new() -> Cache {
        Cache {
            slots: [const { (Cell::new(0), Cell::new(std::ptr::null())) }; WAYS],
            none_at: [const { Cell::new(0) }; WAYS],
        }
    }

    #[inline]
    pub(super) fn way(holder: u64) -> usize {
        (holder.wrapping_mul(0x9e37_79b9_7f4a_7c15) >> 61) as usize % WAYS
    }

    /// The cached record of `holder`, if any. It stays valid until
    /// `remember` replaces it.
    #[inline]
    pub(super) fn cached(&self, holder: u64) -> Option<*const Record> {
        let (h, record) = &self.slots[Self::way(holder)];
        (h.get() == holder && !record.get().is_null()).then(|| record.get())
    }

    /// Keeps `record` as `holder`'s.
    pub(super) fn remember(&self, holder: u64, record: Arc<Record>) {
        self.keep(holder, Arc::into_raw(record), 0);
    }

    /// Notes that `holder` had no record when its shard had made `made`.
    pub(super) fn remember_none(&self, holder: u64, made: u64) {
        self.keep(holder, std::ptr::null(), made + 1);
    }

    /// `holder`'s slot: `record` (a count it owns, or null) and `none_at`.
    fn keep(&self, holder: u64, record: *const Record, none_at: u64) {
        let way = Self::way(holder);
        let (h, slot) = &self.slots[way];
        h.set(holder);
        self.none_at[way].set(none_at);
        let old = slot.replace(record);
        if !old.is_null() {
            // SAFETY: the slot owned this count.
            drop(unsafe { Arc::from_raw(old) });
        }
    }

    /// Whether `holder` has no record, by a note of [`Cache::remember_none`]
    /// that still holds: its shard made none since. A holder's record is
    /// made by the holder; one that ran elsewhere since comes back here
    /// after it (the scheduler's hand-over), so the count it moved is seen.
    #[inline]
    pub(super) fn holds_none(&self, holder: u64, shard: &Shard) -> bool {
        let way = Self::way(holder);
        self.slots[way].0.get() == holder
            && self.none_at[way].get() == shard.made.load(Ordering::Acquire) + 1
    }
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
                made: AtomicU64::new(0),
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
    /// `holder` holds, from `cache`, else from the table (`false`: the
    /// cache's record is retired).
    pub fn all_ids(&self, cache: &Cache, holder: u64, mut f: impl FnMut(u64) -> bool) -> bool {
        match self.all_of(cache, holder, &mut f) {
            Some(all) => all,
            None => self.all_of_uncached(cache, holder, f),
        }
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
            none_at: std::array::from_fn(|_| Cell::new(0)),
        }
    }
}

#[cfg(loom)]
impl Default for Cache {
    fn default() -> Self {
        Cache::new()
    }
}
