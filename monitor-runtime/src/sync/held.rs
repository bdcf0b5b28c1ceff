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
//! * the tokio locks' guards may drop on any thread, or in another task.
//!   Their entries are in a table of shards keyed by holder (a task, or a
//!   thread outside a task), each a small mutex, touched only by the
//!   acquisitions and releases of that holder's shard.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

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

const SHARDS: usize = 16;

struct Shard {
    /// Entries in `entries`, read without the mutex to skip empty shards.
    len: AtomicUsize,
    entries: Mutex<Vec<(u64, Entry)>>,
}

static TABLE: [Shard; SHARDS] = [const {
    Shard {
        len: AtomicUsize::new(0),
        entries: Mutex::new(Vec::new()),
    }
}; SHARDS];

/// A tokio lock was taken with the check on: from now on, std
/// acquisitions look up their task's entries too.
static ASYNC_USED: AtomicBool = AtomicBool::new(false);

fn shard(holder: u64) -> &'static Shard {
    let mixed = holder.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    &TABLE[(mixed >> 60) as usize % SHARDS]
}

/// Whether any tokio lock was recorded, ever.
#[inline]
pub(crate) fn async_used() -> bool {
    ASYNC_USED.load(Ordering::Relaxed)
}

/// `holder` took the tokio lock `lock` at `at`.
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
    let shard = shard(holder);
    let mut entries = shard.entries.lock().unwrap_or_else(|e| e.into_inner());
    entries.push((holder, entry));
    shard.len.store(entries.len(), Ordering::Relaxed);
}

/// `holder` let go of the tokio lock `lock` (one entry of it).
#[inline]
pub(crate) fn pop_async(lock: &LockState, holder: u64) {
    let id = lock.order_id_if_any();
    if id == 0 || !async_used() {
        return;
    }
    let shard = shard(holder);
    if shard.len.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut entries = shard.entries.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(found) = entries
        .iter()
        .rposition(|(h, e)| *h == holder && e.id == id)
    {
        if entries.remove(found).1.source {
            lock.mark_ordered();
        }
        shard.len.store(entries.len(), Ordering::Relaxed);
    }
}

/// Each tokio lock `holder` holds, oldest first, under its shard's mutex
/// (`f` must not take a lock of this module); `f` may change the entry
/// (it marks it a source).
pub(crate) fn each_of_holder(holder: u64, mut f: impl FnMut(&mut Entry)) {
    let shard = shard(holder);
    if shard.len.load(Ordering::Relaxed) == 0 {
        return;
    }
    let mut entries = shard.entries.lock().unwrap_or_else(|e| e.into_inner());
    for (h, entry) in entries.iter_mut() {
        if *h == holder {
            f(entry);
        }
    }
}
