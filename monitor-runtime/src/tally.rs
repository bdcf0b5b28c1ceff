//! Counters that only statistics read, counted per thread and summed when
//! read: a count costs its thread a load and a store into a slot only it
//! writes, not a read-modify-write of a word every thread shares (which
//! costs as much as the rest of a refused call, and more when threads
//! contend for it).
//!
//! Each thread has a table of [`SLOTS`] slots, leaked for the life of the
//! process and handed to the next thread when its owner exits, as the
//! arenas of the calls in flight are. A [`Tally`] takes the slot its key
//! names in each thread's table; where another tally holds that slot, or
//! while the thread is torn down, it counts in its shared word instead.
//! Keys are never reused, so a slot of a tally that is gone stays taken.

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Slots per thread.
const SLOTS: usize = 16;

struct Table {
    /// The key of the tally that owns each slot; 0: free.
    keys: [AtomicU64; SLOTS],
    counts: [AtomicU64; SLOTS],
}

/// Every table ever made, for readers.
static TABLES: Mutex<Vec<&'static Table>> = Mutex::new(Vec::new());
/// Tables whose thread exited, for the next new thread.
static SPARE: Mutex<Vec<&'static Table>> = Mutex::new(Vec::new());
/// The next key to hand out (0 means "none yet").
static NEXT_KEY: AtomicU64 = AtomicU64::new(1);

struct Local(Cell<Option<&'static Table>>);

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(table) = self.0.get() {
            SPARE.lock().unwrap_or_else(|e| e.into_inner()).push(table);
        }
    }
}

thread_local! {
    static LOCAL: Local = const { Local(Cell::new(None)) };
}

impl Local {
    #[inline]
    fn table(&self) -> &'static Table {
        match self.0.get() {
            Some(table) => table,
            None => self.adopt(),
        }
    }

    #[cold]
    fn adopt(&self) -> &'static Table {
        let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).pop();
        let table = spare.unwrap_or_else(|| {
            let table: &'static Table = Box::leak(Box::new(Table {
                keys: [const { AtomicU64::new(0) }; SLOTS],
                counts: [const { AtomicU64::new(0) }; SLOTS],
            }));
            TABLES.lock().unwrap_or_else(|e| e.into_inner()).push(table);
            table
        });
        self.0.set(Some(table));
        table
    }
}

/// A counter summed over threads when read: `add_one` on any thread,
/// `get` for the sum (the unit tests below show both).
pub(crate) struct Tally {
    key: AtomicU64,
    /// Counts that found no slot of their own.
    shared: AtomicU64,
}

impl Tally {
    pub(crate) const fn new() -> Self {
        Tally {
            key: AtomicU64::new(0),
            shared: AtomicU64::new(0),
        }
    }

    /// Counts one.
    #[inline]
    pub(crate) fn add_one(&self) {
        let key = match self.key.load(Ordering::Relaxed) {
            0 => self.assign_key(),
            key => key,
        };
        let counted = LOCAL.try_with(|local| {
            let table = local.table();
            let slot = slot_of(key);
            let owner = table.keys[slot].load(Ordering::Relaxed);
            let count = &table.counts[slot];
            if owner == key {
                // Only this thread writes this slot.
                count.store(count.load(Ordering::Relaxed) + 1, Ordering::Relaxed);
                true
            } else if owner == 0 {
                // A free slot counts 0; the key is published after the
                // count, so a reader that sees the key sees the count.
                count.store(1, Ordering::Relaxed);
                table.keys[slot].store(key, Ordering::Release);
                true
            } else {
                false
            }
        });
        if !matches!(counted, Ok(true)) {
            self.shared.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// The count over every thread: exact once the threads that count are
    /// at rest, within a count or two per thread while they run.
    pub(crate) fn get(&self) -> u64 {
        let key = self.key.load(Ordering::Relaxed);
        let mut sum = self.shared.load(Ordering::Relaxed);
        if key != 0 {
            let slot = slot_of(key);
            let tables = TABLES.lock().unwrap_or_else(|e| e.into_inner());
            for table in tables.iter() {
                if table.keys[slot].load(Ordering::Acquire) == key {
                    sum += table.counts[slot].load(Ordering::Relaxed);
                }
            }
        }
        sum
    }

    #[cold]
    fn assign_key(&self) -> u64 {
        let new = NEXT_KEY.fetch_add(1, Ordering::Relaxed);
        match self
            .key
            .compare_exchange(0, new, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => new,
            Err(existing) => existing,
        }
    }
}

/// The slot a key takes in every table.
#[inline]
fn slot_of(key: u64) -> usize {
    (key as usize) % SLOTS
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_on_every_thread_add_up() {
        static COUNT: Tally = Tally::new();
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| (0..1000).for_each(|_| COUNT.add_one()));
            }
        });
        COUNT.add_one();
        assert_eq!(COUNT.get(), 4001);
    }

    #[test]
    fn tallies_that_share_a_slot_both_count() {
        let tallies: Vec<Tally> = (0..2 * SLOTS).map(|_| Tally::new()).collect();
        for (i, tally) in tallies.iter().enumerate() {
            (0..=i).for_each(|_| tally.add_one());
        }
        for (i, tally) in tallies.iter().enumerate() {
            assert_eq!(tally.get(), i as u64 + 1);
        }
    }
}
