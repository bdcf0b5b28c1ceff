//! The wait-for graph: who holds each lock (in the lock, as atomics, kept
//! up to date on every acquisition and release) and who waits for which
//! lock (in one table, touched only on the contended path).
//!
//! Kept apart, on the `crate::shim` shims only, so that
//! `monitor-runtime/tests/loom_locks.rs` model-checks exactly this code: a cycle
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
//!
//! The edges: a waiter waits for every holder of its lock. A reader also
//! waits for the writers queued for its lock: the locks wrapped here make
//! a new reader wait behind a queued writer (std's on Linux prefers
//! writers, tokio's queues in order), so a thread that reads a lock again
//! while a writer waits for it deadlocks with that writer. A queued writer
//! waits for every holder, whichever writer the reader is really behind,
//! so the edge to any of them finds the same cycles.
//!
//! One exception: a lock with a cap on readers (tokio's
//! `with_max_readers`). A reader there may wait only until any one reader
//! leaves, and may be ahead of a writer queued after it; its wait has an
//! edge to the writer holding the lock, and no other (a cycle through the
//! cap is not seen, none is made up).

use std::panic::Location;
use std::time::Instant;

use crate::shim::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use crate::shim::Mutex;

/// How many readers of a read-write lock have a slot in the lock itself;
/// more readers at once take slots in chunks allocated on the side.
pub(crate) const READER_SLOTS: usize = 4;

/// Reader slots per chunk beyond the first [`READER_SLOTS`].
const CHUNK: usize = 16;

/// The reader slot of a guard that took none (no bookkeeping).
pub(crate) const UNTRACKED: usize = usize::MAX;

/// How a lock is wanted.
#[doc(hidden)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Want {
    /// Alone: a mutex, or a write.
    Exclusive,
    /// With other readers.
    Shared,
    /// Not a lock: a notification (a wait on a `Condvar`, whose state is
    /// never held). On record for `lock_waits()`; it has no edge, so it
    /// closes no cycle.
    Notify,
}

/// Who holds a lock: holder ids (a thread's kernel id, or a task's id with
/// the top bit set; 0 for none) and where each acquired it.
#[doc(hidden)]
pub struct LockState {
    pub(crate) name: &'static str,
    owner: AtomicU64,
    at: AtomicPtr<Location<'static>>,
    readers: [Slot; READER_SLOTS],
    /// More reader slots, when more than [`READER_SLOTS`] readers held the
    /// lock at once: a list of chunks, only ever appended to, freed when
    /// the lock drops.
    more: AtomicPtr<Chunk>,
    /// The lock lets only so many readers in (tokio's `with_max_readers`):
    /// a reader may then wait for any one reader to leave, not for all, and
    /// may be ahead of a writer that queued after it. Its waits have edges
    /// to the writer holding the lock only.
    capped: bool,
    /// A wait for this lock was registered once: when it drops, its waits
    /// leave the table (a forgotten, never dropped, lock future keeps its
    /// entry).
    waited_for: AtomicBool,
    /// The lock's number in the lock-order graph (`sync/order.rs`): 0
    /// until the order check first sees the lock, then one that no other
    /// lock ever gets, so that the edges of a dropped lock can never be
    /// mistaken for those of a new lock at the same address. Plain std
    /// atomics: the order check is not part of the loom models.
    #[cfg_attr(loom, allow(dead_code))]
    order_id: std::sync::atomic::AtomicU64,
    /// The order graph has edges of this lock: they leave it when it drops.
    #[cfg_attr(loom, allow(dead_code))]
    ordered: std::sync::atomic::AtomicBool,
}

/// The last lock number handed out (see `LockState::order_id`).
#[cfg_attr(loom, allow(dead_code))]
static LAST_ORDER_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

struct Slot {
    holder: AtomicU64,
    at: AtomicPtr<Location<'static>>,
}

impl Slot {
    fn new() -> Self {
        Slot {
            holder: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// Takes the slot for `holder` if it is free.
    #[inline]
    fn claim(&self, holder: u64, at: &'static Location<'static>) -> bool {
        // A load first: a taken slot stays shared in the cache, where a
        // failed compare-and-swap would take it exclusive.
        let free = self.holder.load(Ordering::Relaxed) == 0
            && self
                .holder
                .compare_exchange(0, holder, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok();
        if free {
            self.at.store(site_ptr(at), Ordering::Relaxed);
        }
        free
    }
}

struct Chunk {
    slots: [Slot; CHUNK],
    next: AtomicPtr<Chunk>,
}

fn site_ptr(at: &'static Location<'static>) -> *mut Location<'static> {
    at as *const Location<'static> as *mut Location<'static>
}

fn site_of(ptr: *mut Location<'static>) -> Option<&'static Location<'static>> {
    // SAFETY: only `&'static Location`s are stored.
    unsafe { ptr.cast_const().as_ref() }
}

impl LockState {
    /// A free lock called `name` ("" for none).
    #[cfg(not(loom))]
    pub const fn new(name: &'static str) -> Self {
        Self::with_readers(name, false)
    }

    /// A free lock called `name`, which lets in only so many readers at
    /// once if `capped`.
    #[cfg(not(loom))]
    pub const fn with_readers(name: &'static str, capped: bool) -> Self {
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
            more: AtomicPtr::new(std::ptr::null_mut()),
            capped,
            waited_for: AtomicBool::new(false),
            order_id: std::sync::atomic::AtomicU64::new(0),
            ordered: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// A free lock called `name` ("" for none).
    #[cfg(loom)]
    pub fn new(name: &'static str) -> Self {
        Self::with_readers(name, false)
    }

    /// A free lock called `name`, which lets in only so many readers at
    /// once if `capped`.
    #[cfg(loom)]
    pub fn with_readers(name: &'static str, capped: bool) -> Self {
        LockState {
            name,
            owner: AtomicU64::new(0),
            at: AtomicPtr::new(std::ptr::null_mut()),
            readers: std::array::from_fn(|_| Slot::new()),
            more: AtomicPtr::new(std::ptr::null_mut()),
            capped,
            waited_for: AtomicBool::new(false),
            order_id: std::sync::atomic::AtomicU64::new(0),
            ordered: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// `holder` took the lock exclusively at `at`.
    #[inline]
    pub fn acquired(&self, holder: u64, at: &'static Location<'static>) {
        self.at.store(site_ptr(at), Ordering::Relaxed);
        self.owner.store(holder, Ordering::Relaxed);
    }

    /// The exclusive holder let go.
    #[inline]
    pub fn released(&self) {
        self.owner.store(0, Ordering::Relaxed);
    }

    /// `holder` took the lock shared at `at`: the index of the slot it
    /// took, for [`LockState::read_released`].
    #[inline]
    pub fn read_acquired(&self, holder: u64, at: &'static Location<'static>) -> usize {
        match self.readers.iter().position(|slot| slot.claim(holder, at)) {
            Some(index) => index,
            None => self.read_acquired_beyond(holder, at),
        }
    }

    /// Every slot in the lock is taken: one in the chunks, appending a
    /// chunk if they are full too.
    #[cold]
    #[inline(never)]
    fn read_acquired_beyond(&self, holder: u64, at: &'static Location<'static>) -> usize {
        let mut base = READER_SLOTS;
        let mut link = &self.more;
        loop {
            let mut chunk = link.load(Ordering::Acquire);
            if chunk.is_null() {
                let fresh = Box::into_raw(Box::new(Chunk {
                    slots: std::array::from_fn(|_| Slot::new()),
                    next: AtomicPtr::new(std::ptr::null_mut()),
                }));
                chunk = match link.compare_exchange(
                    std::ptr::null_mut(),
                    fresh,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                ) {
                    Ok(_) => fresh,
                    Err(theirs) => {
                        // SAFETY: `fresh` was never shared.
                        drop(unsafe { Box::from_raw(fresh) });
                        theirs
                    }
                };
            }
            // SAFETY: chunks live until the lock drops, and `&self`
            // borrows it.
            let chunk = unsafe { &*chunk };
            if let Some(index) = chunk.slots.iter().position(|slot| slot.claim(holder, at)) {
                return base + index;
            }
            base += CHUNK;
            link = &chunk.next;
        }
    }

    /// A reader let go of slot `index`.
    #[inline]
    pub fn read_released(&self, index: usize) {
        match self.readers.get(index) {
            Some(slot) => slot.holder.store(0, Ordering::Relaxed),
            None if index == UNTRACKED => {}
            None => self.read_released_beyond(index),
        }
    }

    #[cold]
    #[inline(never)]
    fn read_released_beyond(&self, index: usize) {
        let mut index = index - READER_SLOTS;
        let mut chunk = self.more.load(Ordering::Acquire);
        // SAFETY: as in `read_acquired_beyond`.
        while let Some(this) = unsafe { chunk.as_ref() } {
            if let Some(slot) = this.slots.get(index) {
                slot.holder.store(0, Ordering::Relaxed);
                return;
            }
            index -= CHUNK;
            chunk = this.next.load(Ordering::Acquire);
        }
    }

    /// Every reader slot, in the lock and in the chunks.
    fn reader_slots(&self, mut f: impl FnMut(&Slot)) {
        self.readers.iter().for_each(&mut f);
        let mut chunk = self.more.load(Ordering::Acquire);
        // SAFETY: as in `read_acquired_beyond`.
        while let Some(this) = unsafe { chunk.as_ref() } {
            this.slots.iter().for_each(&mut f);
            chunk = this.next.load(Ordering::Acquire);
        }
    }

    /// The exclusive holder, if any.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn owner(&self) -> u64 {
        self.owner.load(Ordering::Relaxed)
    }

    /// Where `holder` acquired the lock, if it holds it (exclusively or
    /// shared); `None` if it does not.
    pub(crate) fn held_by(&self, holder: u64) -> Option<Option<&'static Location<'static>>> {
        if self.owner.load(Ordering::Relaxed) == holder {
            return Some(site_of(self.at.load(Ordering::Relaxed)));
        }
        let mut held = None;
        self.reader_slots(|slot| {
            if held.is_none() && slot.holder.load(Ordering::Relaxed) == holder {
                held = Some(site_of(slot.at.load(Ordering::Relaxed)));
            }
        });
        // The std locks' reads, in the threads' tables.
        #[cfg(not(loom))]
        if held.is_none() {
            crate::sync::readers::each_reader(self, |reader, at| {
                if held.is_none() && reader == holder {
                    held = Some(at);
                }
            });
        }
        held
    }

    /// The lock's number in the lock-order graph, handed out on first use
    /// and never reused.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn order_id(&self) -> u64 {
        use std::sync::atomic::Ordering as O;
        match self.order_id.load(O::Relaxed) {
            0 => self.new_order_id(),
            id => id,
        }
    }

    #[cfg_attr(loom, allow(dead_code))]
    #[cold]
    fn new_order_id(&self) -> u64 {
        use std::sync::atomic::Ordering as O;
        let fresh = LAST_ORDER_ID.fetch_add(1, O::Relaxed) + 1;
        match self
            .order_id
            .compare_exchange(0, fresh, O::Relaxed, O::Relaxed)
        {
            Ok(_) => fresh,
            Err(theirs) => theirs,
        }
    }

    /// The lock's number if the order check has seen it, else 0.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn order_id_if_any(&self) -> u64 {
        self.order_id.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The order graph has (or may have) edges of this lock.
    #[cfg_attr(loom, allow(dead_code))]
    #[inline]
    pub(crate) fn mark_ordered(&self) {
        use std::sync::atomic::Ordering as O;
        if !self.ordered.load(O::Relaxed) {
            self.ordered.store(true, O::Relaxed);
        }
    }

    /// Whether `holder` holds the lock (for the loom models).
    #[cfg(loom)]
    pub fn is_held_by(&self, holder: u64) -> bool {
        self.held_by(holder).is_some()
    }

    /// Every holder (a reader holding it twice, twice) and where it took
    /// the lock.
    fn holders(&self, mut f: impl FnMut(u64, Option<&'static Location<'static>>)) {
        let owner = self.owner.load(Ordering::Relaxed);
        if owner != 0 {
            f(owner, site_of(self.at.load(Ordering::Relaxed)));
        }
        self.reader_slots(|slot| {
            let holder = slot.holder.load(Ordering::Relaxed);
            if holder != 0 && holder != owner {
                f(holder, site_of(slot.at.load(Ordering::Relaxed)));
            }
        });
        // The std locks' reads, in the threads' tables.
        #[cfg(not(loom))]
        crate::sync::readers::each_reader(self, |holder, at| {
            if holder != 0 && holder != owner {
                f(holder, at);
            }
        });
    }

    /// Who a `want`er of this lock waits for: every holder, or, for a
    /// reader of a lock with a cap on readers, the writer holding it.
    fn blockers(&self, want: Want, mut f: impl FnMut(u64, Option<&'static Location<'static>>)) {
        if want == Want::Shared && self.capped {
            let owner = self.owner.load(Ordering::Relaxed);
            if owner != 0 {
                f(owner, site_of(self.at.load(Ordering::Relaxed)));
            }
        } else {
            self.holders(f);
        }
    }
}

impl Drop for LockState {
    fn drop(&mut self) {
        // A lock future that was forgotten while it waited left its entry,
        // which points here: take it out before this memory is reused.
        #[cfg(not(loom))]
        if self.waited_for.load(Ordering::Relaxed) {
            crate::sync::lock_dropped(self);
        }
        #[cfg(not(loom))]
        if *self.ordered.get_mut() {
            crate::sync::order_forget(*self.order_id.get_mut());
        }
        let mut chunk = self.more.load(Ordering::Acquire);
        while !chunk.is_null() {
            // SAFETY: the chunks were leaked from boxes by
            // `read_acquired_beyond`, and `&mut self` ends every borrow.
            let this = unsafe { Box::from_raw(chunk) };
            chunk = this.next.load(Ordering::Acquire);
        }
    }
}

/// One wait in the table.
struct Wait {
    waiter: u64,
    lock: *const LockState,
    want: Want,
    at: &'static Location<'static>,
    label: Option<Box<str>>,
    since: Instant,
}

/// A wait in progress, as [`Graph::waits`] reads it.
#[cfg_attr(loom, allow(dead_code))]
pub(crate) struct WaitView {
    pub(crate) waiter: u64,
    pub(crate) label: Option<Box<str>>,
    pub(crate) lock: &'static str,
    pub(crate) lock_id: usize,
    pub(crate) want: Want,
    pub(crate) at: &'static Location<'static>,
    pub(crate) since: Instant,
    pub(crate) holders: Vec<HolderView>,
}

/// A holder of a lock waited for: who, where it took the lock, and its
/// label if it waits too.
pub(crate) type HolderView = (u64, Option<&'static Location<'static>>, Option<Box<str>>);

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
    pub held_at: Option<&'static Location<'static>>,
    /// It does not hold that lock: it is a writer queued for it, ahead of
    /// the previous participant, a reader.
    pub queued: bool,
    /// The lock it waits for.
    pub waits_for: &'static str,
    /// The address of that lock.
    pub waits_for_id: usize,
    /// Where it waits.
    pub waits_at: &'static Location<'static>,
}

/// The waits in progress. Entries point at locks that outlive them: a
/// waiter's entry is removed before its borrow of the lock ends, or, if
/// the waiting future was forgotten (`mem::forget`), when the lock drops.
/// (A lock forgotten too, whose memory is reused without a drop, is the
/// one case left.)
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
    /// `at`, as `want`s. Returns the cycle this wait closes, if any,
    /// starting with `waiter`. The entry stays until [`Graph::done`].
    pub fn wait(
        &self,
        waiter: u64,
        label: Option<Box<str>>,
        lock: &LockState,
        want: Want,
        at: &'static Location<'static>,
    ) -> Option<Vec<Link>> {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        waits.retain(|wait| wait.waiter != waiter);
        lock.waited_for.store(true, Ordering::Relaxed);
        waits.push(Wait {
            waiter,
            lock,
            want,
            at,
            label,
            since: Instant::now(),
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

    /// `lock` drops: no wait may point at it any more.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn forget_lock(&self, lock: &LockState) {
        let mut waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
        waits.retain(|wait| !std::ptr::eq(wait.lock, lock));
    }

    /// The waits in progress, oldest first, with the holders of their
    /// locks.
    #[cfg_attr(loom, allow(dead_code))]
    pub(crate) fn waits(&self) -> Vec<WaitView> {
        // Under the table's lock, only copies; labels are matched after.
        let mut views: Vec<WaitView> = {
            let waits = self.waits.lock().unwrap_or_else(|e| e.into_inner());
            waits
                .iter()
                .map(|wait| {
                    // SAFETY: see `Graph`: the waiter of a registered wait
                    // borrows its lock.
                    let lock = unsafe { &*wait.lock };
                    let mut holders = Vec::new();
                    lock.holders(|holder, at| {
                        if holder != wait.waiter {
                            holders.push((holder, at, None));
                        }
                    });
                    WaitView {
                        waiter: wait.waiter,
                        label: wait.label.clone(),
                        lock: lock.name,
                        lock_id: wait.lock as usize,
                        want: wait.want,
                        at: wait.at,
                        since: wait.since,
                        holders,
                    }
                })
                .collect()
        };
        let labels: Vec<(u64, Option<Box<str>>)> = views
            .iter()
            .map(|view| (view.waiter, view.label.clone()))
            .collect();
        for view in &mut views {
            for (holder, _, label) in &mut view.holders {
                *label = labels
                    .iter()
                    .find(|(waiter, _)| waiter == holder)
                    .and_then(|(_, label)| label.clone());
            }
        }
        views.sort_by_key(|view| view.since);
        views
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

/// Depth-first from `current`'s wait: is there a path of "waits for"
/// edges back to `target`? `path` gets the participants in order.
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
    let mut step = |next: u64, held_at: Option<&'static Location<'static>>, queued: bool| {
        if found || next == current {
            return;
        }
        path.push(Link {
            holder: current,
            label: wait.label.clone(),
            holds: "",
            holds_id: 0,
            held_at: None,
            queued: false,
            waits_for: lock.name,
            waits_for_id: lock as *const LockState as usize,
            waits_at: wait.at,
        });
        let depth = path.len();
        if next == target || (!seen.contains(&next) && search(waits, next, target, path, seen)) {
            // The next participant holds this lock, or is queued for it.
            let link = if depth < path.len() { depth } else { 0 };
            path[link].holds = lock.name;
            path[link].holds_id = lock as *const LockState as usize;
            path[link].held_at = held_at;
            path[link].queued = queued;
            found = true;
        } else {
            path.truncate(depth - 1);
        }
    };
    lock.blockers(wait.want, |holder, at| step(holder, at, false));
    if wait.want == Want::Shared && !lock.capped {
        waits
            .iter()
            .filter(|other| other.lock == wait.lock && other.want == Want::Exclusive)
            .for_each(|writer| step(writer.waiter, None, true));
    }
    found
}

/// The process's wait-for graph: every wait for a lock of `crate::sync`
/// is registered here.
#[cfg(not(loom))]
pub(crate) static GRAPH: Graph = Graph::new();
