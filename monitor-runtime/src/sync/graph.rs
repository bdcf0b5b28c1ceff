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
//! A thread blocked by one of its tasks: a task that waits for a std-style
//! lock (or in a `blocking_` acquisition) blocks the thread it runs on, and
//! its wait says so (`Wait::thread`). Whatever can only go on on that
//! thread then waits for what that task waits for: the thread itself (a
//! lock it took outside any task, before `block_on`), and a task that holds
//! a std-style lock it took there (the guard is `!Send`: the task is a
//! `LocalSet`'s, parked on that thread, or below the waiter in the
//! thread's stack). So the search, reaching a holder that does not wait
//! itself, goes on from the wait of the task that blocks the holder's
//! thread, if one does, and the link records through whom
//! (`Link::held_by`). A task that holds a tokio lock is not followed that
//! way: its guard may move, and its runtime may run it on another worker.
//! The thread a holder can only let go on is written with the holder word,
//! before it (the holder with release, read with acquire), or, for a std
//! read, is the owner of the table of reads it is in. Such a holder does
//! not wait in the table, so the argument above does not cover it; it
//! needs none: it took the lock on the waiter's thread, before the waiter's
//! wait in that thread's program order.
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

/// The top bit of a holder id marks a task (`sync::holder::TASK`; this
/// file builds alone under loom, without `holder`).
pub(crate) const TASK: u64 = 1 << 63;

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
    /// The thread a std-style lock's exclusive holder took it on (its
    /// guard never leaves that thread, so a task holder can only let go
    /// there); 0 for a tokio lock's holder, which may move.
    thread: AtomicU64,
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
            thread: AtomicU64::new(0),
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
            thread: AtomicU64::new(0),
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

    /// `holder` took the lock exclusively at `at` on thread `thread`, where
    /// it lets go (a std-style lock: its guard never leaves the thread).
    /// The thread is stored first, and the holder with release: whoever
    /// reads the holder with acquire reads its thread.
    #[inline]
    pub fn acquired_on(&self, holder: u64, thread: u64, at: &'static Location<'static>) {
        self.thread.store(thread, Ordering::Relaxed);
        self.at.store(site_ptr(at), Ordering::Relaxed);
        self.owner.store(holder, Ordering::Release);
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
            crate::sync::readers::each_reader(self, |reader, at, _| {
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

    /// The exclusive holder (0 for none), where it took the lock, and the
    /// thread it can only let go on (0: any, or not known).
    fn owner_on(&self) -> (u64, Option<&'static Location<'static>>, u64) {
        let owner = self.owner.load(Ordering::Acquire);
        (
            owner,
            site_of(self.at.load(Ordering::Relaxed)),
            self.thread.load(Ordering::Relaxed),
        )
    }

    /// Every holder (a reader holding it twice, twice), where it took the
    /// lock, and the thread it can only let go on (0: any, or not known).
    fn holders(&self, mut f: impl FnMut(u64, Option<&'static Location<'static>>, u64)) {
        let (owner, at, thread) = self.owner_on();
        if owner != 0 {
            f(owner, at, thread);
        }
        self.reader_slots(|slot| {
            let holder = slot.holder.load(Ordering::Relaxed);
            if holder != 0 && holder != owner {
                f(holder, site_of(slot.at.load(Ordering::Relaxed)), 0);
            }
        });
        // The std locks' reads, in the threads' tables.
        #[cfg(not(loom))]
        crate::sync::readers::each_reader(self, |holder, at, thread| {
            if holder != 0 && holder != owner {
                f(holder, at, thread);
            }
        });
    }

    /// Who a `want`er of this lock waits for: every holder, or, for a
    /// reader of a lock with a cap on readers, the writer holding it.
    fn blockers(
        &self,
        want: Want,
        mut f: impl FnMut(u64, Option<&'static Location<'static>>, u64),
    ) {
        if want == Want::Shared && self.capped {
            let (owner, at, thread) = self.owner_on();
            if owner != 0 {
                f(owner, at, thread);
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
    /// The thread's name: the waiter's, or, for a task that blocks its
    /// thread, that thread's.
    label: Option<Box<str>>,
    since: Instant,
    /// The thread this wait blocks (a thread's own blocking wait, or a
    /// task's that blocks the thread it runs on); 0 for a wait that parks.
    thread: u64,
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
    /// The thread it blocks (it is a task in a blocking wait), if the cycle
    /// goes through that thread; 0 if not.
    pub thread: u64,
    /// What that thread is called (its name).
    pub thread_label: Option<Box<str>>,
    /// Who holds `holds`, if not the participant: the thread it blocks, or
    /// a task that can only run on that thread; 0 for the participant.
    pub held_by: u64,
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
    /// `at`, as `want`s, without blocking a thread (it parks). Returns the
    /// cycle this wait closes, if any, starting with `waiter`. The entry
    /// stays until [`Graph::done`].
    pub fn wait(
        &self,
        waiter: u64,
        label: Option<Box<str>>,
        lock: &LockState,
        want: Want,
        at: &'static Location<'static>,
    ) -> Option<Vec<Link>> {
        self.wait_blocking(waiter, label, lock, want, at, 0)
    }

    /// [`Graph::wait`] that blocks `thread` (the waiter, or the thread a
    /// waiting task runs on, called `label`; 0 for none): whatever can
    /// only go on on that thread waits with it.
    pub fn wait_blocking(
        &self,
        waiter: u64,
        label: Option<Box<str>>,
        lock: &LockState,
        want: Want,
        at: &'static Location<'static>,
        thread: u64,
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
            thread,
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
                    lock.holders(|holder, at, _| {
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

/// Who stands in a cycle for `next`, a holder of a lock (or a writer
/// queued for it) that can only let go on thread `bound` (0: on any, or
/// not known; a thread holder: itself), each with `next` as the holder
/// it stands in for (0: itself): `next`'s own wait, if it waits; and the
/// wait that blocks the thread `next` can only go on on, if one does (a
/// task's in a blocking wait): whatever can only go on on a thread waits
/// with it. Both for a task that waits (it parks) on a blocked thread.
fn stand_ins(waits: &[Wait], next: u64, bound: u64) -> [Option<(&Wait, u64)>; 2] {
    let own = waits.iter().find(|wait| wait.waiter == next);
    let thread = if next & TASK == 0 { next } else { bound };
    let blocking = (thread != 0)
        .then(|| {
            waits
                .iter()
                .find(|wait| wait.thread == thread && wait.waiter != next)
        })
        .flatten();
    [own.map(|wait| (wait, 0)), blocking.map(|wait| (wait, next))]
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
    let link = |holds: &'static str| Link {
        holder: current,
        label: wait.label.clone(),
        holds,
        holds_id: if holds.is_empty() {
            0
        } else {
            lock as *const LockState as usize
        },
        held_at: None,
        queued: false,
        waits_for: lock.name,
        waits_for_id: lock as *const LockState as usize,
        waits_at: wait.at,
        thread: 0,
        thread_label: None,
        held_by: 0,
    };
    let mut found = false;
    let mut step = |next: u64, held_at: Option<&'static Location<'static>>, queued, bound| {
        for (by, held_by) in stand_ins(waits, next, bound).into_iter().flatten() {
            if found {
                return;
            }
            if by.waiter == current {
                // Its own read (a reader waits for the writer queued, not
                // for itself); or its thread holds the lock, or a task that
                // can only run there: a cycle of one, if it is the waiter
                // the search started from (else that cycle is another's).
                let read = wait.want == Want::Shared && lock.owner() != next;
                if held_by != 0 && current == target && !read {
                    path.push(Link {
                        held_at,
                        thread: wait.thread,
                        thread_label: wait.label.clone(),
                        held_by,
                        ..link(lock.name)
                    });
                    found = true;
                }
                continue;
            }
            path.push(link(""));
            let depth = path.len();
            let who = by.waiter;
            if who == target || (!seen.contains(&who) && search(waits, who, target, path, seen)) {
                // The next participant holds this lock (or stands in for
                // its holder), or is queued for it.
                let link = if depth < path.len() { depth } else { 0 };
                path[link].holds = lock.name;
                path[link].holds_id = lock as *const LockState as usize;
                path[link].held_at = held_at;
                path[link].queued = queued;
                if held_by != 0 {
                    path[link].held_by = held_by;
                    path[link].thread = by.thread;
                    path[link].thread_label = by.label.clone();
                }
                found = true;
            } else {
                path.truncate(depth - 1);
            }
        }
    };
    lock.blockers(wait.want, |holder, at, bound| {
        step(holder, at, false, bound)
    });
    if wait.want == Want::Shared && !lock.capped {
        waits
            .iter()
            .filter(|other| other.lock == wait.lock && other.want == Want::Exclusive)
            .for_each(|writer| step(writer.waiter, None, true, 0));
    }
    found
}

/// The process's wait-for graph: every wait for a lock of `crate::sync`
/// is registered here.
#[cfg(not(loom))]
pub(crate) static GRAPH: Graph = Graph::new();
