//! The std locks' held sets: a stack per thread.

use super::*;

// ---------------------------------------------------------------------
// The std locks: a stack per thread.
// ---------------------------------------------------------------------

/// How many std locks a thread's stack records at once.
#[cfg(not(loom))]
pub(super) const DEPTH: usize = 16;

/// The entries in columns: a release and the check's fast path read the
/// lock numbers alone.
#[cfg(not(loom))]
pub(super) struct Stack {
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
    pub(super) fn entry(&self, i: usize) -> Entry {
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
pub(super) fn pop_thread_below(stack: &Stack, lock: &LockState, id: u64) {
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
