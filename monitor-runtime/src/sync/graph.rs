//! The wait-for graph: who holds each lock (in the lock, as atomics, kept
//! up to date on every acquisition and release) and who waits for which
//! lock (in one table, touched only on the contended path).
//!
//! Kept apart, on the `crate::shim` shims only, so that
//! `monitor-runtime/tests/loom.rs` model-checks exactly this code: a cycle
//! closed by concurrent waits is always found by the last waiter, and a
//! release racing a wait never yields a false report.
//!
//! Why a report can be trusted: a waiter registers its wait under the
//! table's mutex, after it stored itself as the holder of what it holds
//! (program order). The waiter that closes a cycle registers last, so the
//! mutex orders every other participant's holder words and wait entries
//! before its search. Every participant it finds is blocked (its lock is
//! held by the next participant, who is blocked too), so none of them can
//! have released what the search read.

use std::panic::Location;

use crate::shim::atomic::{AtomicPtr, AtomicU64, Ordering};
use crate::shim::Mutex;

/// How many readers of a read-write lock are tracked by name; more readers
/// hold the lock anonymously (a cycle through them is not seen).
pub(crate) const READER_SLOTS: usize = 4;

/// A reader slot's index when every slot was taken.
pub(crate) const UNTRACKED: usize = usize::MAX;

type Site = Location<'static>;

/// Who holds a lock: holder ids (a thread's kernel id, or a task's id with
/// the top bit set; 0 for none) and where each acquired it.
#[doc(hidden)]
pub struct LockState {
    pub(crate) name: &'static str,
    owner: AtomicU64,
    at: AtomicPtr<Site>,
    readers: [Slot; READER_SLOTS],
}

struct Slot {
    holder: AtomicU64,
    at: AtomicPtr<Site>,
}

fn site_ptr(at: &'static Site) -> *mut Site {
    at as *const Site as *mut Site
}

fn site_of(ptr: *mut Site) -> Option<&'static Site> {
    // SAFETY: only `&'static Location`s are stored.
    unsafe { ptr.cast_const().as_ref() }
}

impl LockState {
    /// A free lock called `name` ("" for none).
    #[cfg(not(loom))]
    pub const fn new(name: &'static str) -> Self {
        // A fresh slot per element: the array repeat copies the constant,
        // it never shares it.
        #[allow(clippy::declare_interior_mutable_const)]
        const FREE: Slot = Slot {
            holder: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
        };
        LockState {
            name,
            owner: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
            readers: [FREE; READER_SLOTS],
        }
    }

    /// A free lock called `name` ("" for none).
    #[cfg(loom)]
    pub fn new(name: &'static str) -> Self {
        LockState {
            name,
            owner: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
            readers: std::array::from_fn(|_| Slot {
                holder: AtomicU64::new(0),
                at: AtomicPtr::new(std::ptr::null_mut()),
            }),
        }
    }

    /// `holder` took the lock exclusively at `at`.
    #[inline]
    pub fn acquired(&self, holder: u64, at: &'static Site) {
        self.at.store(site_ptr(at), Ordering::Relaxed);
        self.owner.store(holder, Ordering::Relaxed);
    }

    /// The exclusive holder let go.
    #[inline]
    pub fn released(&self) {
        self.owner.store(0, Ordering::Relaxed);
    }

    /// `holder` took the lock shared at `at`: the slot it took, or
    /// [`UNTRACKED`].
    #[inline]
    pub fn read_acquired(&self, holder: u64, at: &'static Site) -> usize {
        for (i, slot) in self.readers.iter().enumerate() {
            if slot
                .holder
                .compare_exchange(0, holder, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
            {
                slot.at.store(site_ptr(at), Ordering::Relaxed);
                return i;
            }
        }
        UNTRACKED
    }

    /// A reader let go of `slot`.
    #[inline]
    pub fn read_released(&self, slot: usize) {
        if let Some(slot) = self.readers.get(slot) {
            slot.holder.store(0, Ordering::Relaxed);
        }
    }

    /// The exclusive holder, if any.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn owner(&self) -> u64 {
        self.owner.load(Ordering::Relaxed)
    }

    /// Where `holder` acquired the lock, if it holds it (exclusively or
    /// shared); `None` if it does not.
    pub(crate) fn held_by(&self, holder: u64) -> Option<Option<&'static Site>> {
        if self.owner.load(Ordering::Relaxed) == holder {
            return Some(site_of(self.at.load(Ordering::Relaxed)));
        }
        self.readers
            .iter()
            .find(|slot| slot.holder.load(Ordering::Relaxed) == holder)
            .map(|slot| site_of(slot.at.load(Ordering::Relaxed)))
    }

    fn holders(&self, mut f: impl FnMut(u64)) {
        let owner = self.owner.load(Ordering::Relaxed);
        if owner != 0 {
            f(owner);
        }
        for slot in &self.readers {
            let holder = slot.holder.load(Ordering::Relaxed);
            if holder != 0 && holder != owner {
                f(holder);
            }
        }
    }
}

/// One wait in the table.
struct Wait {
    waiter: u64,
    lock: *const LockState,
    at: &'static Site,
    label: Option<Box<str>>,
}

/// One participant of a cycle, as the search found it.
#[doc(hidden)]
#[derive(Clone, Debug)]
pub struct Link {
    /// The participant.
    pub holder: u64,
    /// What the participant said it is (a thread's name).
    pub label: Option<Box<str>>,
    /// The lock it holds in the cycle, and where it took it.
    pub holds: &'static str,
    /// The address of that lock.
    pub holds_id: usize,
    /// Where it took it, if known.
    pub held_at: Option<&'static Site>,
    /// The lock it waits for.
    pub waits_for: &'static str,
    /// The address of that lock.
    pub waits_for_id: usize,
    /// Where it waits.
    pub waits_at: &'static Site,
}

/// The waits in progress. Entries point at locks that outlive them: a
/// waiter's entry is removed before its borrow of the lock ends.
#[doc(hidden)]
pub struct Graph {
    waits: Mutex<Vec<Wait>>,
}

// SAFETY: the raw lock pointers are read only under the mutex, while
// their waiters (who borrow the locks) are still registered.
unsafe impl Send for Graph {}
unsafe impl Sync for Graph {}

impl Default for Graph {
    fn default() -> Self {
        Self::new()
    }
}

impl Graph {
    /// An empty table.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Graph {
            waits: Mutex::new(Vec::new()),
        }
    }

    /// An empty table.
    #[cfg(loom)]
    pub fn new() -> Self {
        Graph {
            waits: Mutex::new(Vec::new()),
        }
    }

    /// `waiter` (called `label` in reports) starts to wait for `lock` at
    /// `at`. Returns the cycle this wait closes, if any, starting with
    /// `waiter`. The entry stays until [`Graph::done`].
    pub fn wait(
        &self,
        waiter: u64,
        label: Option<Box<str>>,
        lock: &LockState,
        at: &'static Site,
    ) -> Option<Vec<Link>> {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        waits.retain(|wait| wait.waiter != waiter);
        waits.push(Wait {
            waiter,
            lock,
            at,
            label,
        });
        let mut path = Vec::new();
        let mut seen = Vec::new();
        search(&waits, waiter, waiter, &mut path, &mut seen).then_some(path)
    }

    /// `waiter` no longer waits (it took the lock, gave up, or panicked).
    pub fn done(&self, waiter: u64) {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        waits.retain(|wait| wait.waiter != waiter);
    }

    /// How many waits are registered.
    #[cfg(loom)]
    pub fn len(&self) -> usize {
        self.waits.lock().unwrap_or_else(|e| e.into_inner()).len()
    }

    /// Whether no wait is registered.
    #[cfg(loom)]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Depth-first from `current`'s wait: is there a path of "waits for a lock
/// held by" edges back to `target`? `path` gets the participants in order.
fn search(
    waits: &[Wait],
    current: u64,
    target: u64,
    path: &mut Vec<Link>,
    seen: &mut Vec<u64>,
) -> bool {
    let Some(wait) = waits.iter().find(|wait| wait.waiter == current) else {
        return false;
    };
    seen.push(current);
    // SAFETY: see `Graph`: the waiter of a registered wait borrows its lock.
    let lock = unsafe { &*wait.lock };
    let mut found = false;
    lock.holders(|holder| {
        if found || holder == current {
            return;
        }
        let held_at = lock.held_by(holder).flatten();
        path.push(Link {
            holder: current,
            label: wait.label.clone(),
            holds: "",
            holds_id: 0,
            held_at: None,
            waits_for: lock.name,
            waits_for_id: lock as *const LockState as usize,
            waits_at: wait.at,
        });
        let depth = path.len();
        if holder == target
            || (!seen.contains(&holder) && search(waits, holder, target, path, seen))
        {
            // The next participant holds this lock.
            let next = if depth < path.len() { depth } else { 0 };
            path[next].holds = lock.name;
            path[next].holds_id = lock as *const LockState as usize;
            path[next].held_at = held_at;
            found = true;
        } else {
            path.truncate(depth - 1);
        }
    });
    found
}
