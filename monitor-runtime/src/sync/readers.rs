//! The reads of std-style [`RwLock`](crate::sync::RwLock)s each thread
//! holds: a few slots in a table of the thread's own, written only by
//! that thread with plain (relaxed) stores, read by the wait-for graph
//! under its mutex, on the contended path only.
//!
//! Why not the reader slots in the lock: claiming one of those takes a
//! compare-and-swap (other readers race for it), a second atomic
//! read-modify-write beside std's own, which made an uncontended read
//! 1.7x std's. A std read guard is `!Send`, so it is let go on the thread
//! that took it: its record can live with that thread. A thread that holds
//! more reads at once than it has slots, or that reads while its
//! thread-local storage is gone, uses the slots in the lock.
//!
//! The graph's argument (see `graph.rs`) holds as for the slots in the
//! lock: a reader that waits stored its record before it registered its
//! wait under the graph's mutex, so a search under that mutex sees it.
//! Tables are never freed: a thread that exits hands its table on to the
//! next new thread.

use std::cell::Cell;
use std::panic::Location;
use std::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;

/// Reads one thread records in its table at once.
const SLOTS: usize = 8;

/// The low bits of a slot's address, always clear (a slot is aligned as
/// its `u64`): a read guard may tag its record with them.
pub(crate) const ALIGNED: usize = std::mem::align_of::<Slot>() - 1;

struct Slot {
    /// The lock read, null when free; stored last (release), so that a
    /// search that sees it sees the other two.
    lock: AtomicPtr<()>,
    /// The reader (a holder id): the thread, or a task running on it.
    holder: AtomicU64,
    at: AtomicPtr<Location<'static>>,
}

struct Table {
    slots: [Slot; SLOTS],
    /// The thread that owns the table (a holder id), where its reads are
    /// let go: a task among its readers can only let go on it. Written
    /// when a thread takes the table, before any read of it is on record.
    thread: AtomicU64,
}

/// Every table ever made (a thread's, or free).
static TABLES: Mutex<Vec<&'static Table>> = Mutex::new(Vec::new());
/// The tables of threads that exited.
static FREE: Mutex<Vec<&'static Table>> = Mutex::new(Vec::new());

/// Hands the thread's table on when the thread exits.
struct Mine(&'static Table);

impl Drop for Mine {
    fn drop(&mut self) {
        MINE.with(|mine| mine.set(std::ptr::null()));
        for slot in &self.0.slots {
            slot.lock.store(std::ptr::null_mut(), Ordering::Relaxed);
        }
        FREE.lock().unwrap_or_else(|e| e.into_inner()).push(self.0);
    }
}

thread_local! {
    /// The thread's table (null until its first read): no destructor, so
    /// reading it costs no state check.
    static MINE: Cell<*const Table> = const { Cell::new(std::ptr::null()) };
    /// Owns the table, to hand it on at exit.
    static OWNER: Cell<Option<Mine>> = const { Cell::new(None) };
}

/// A lock as this table knows it: its address. Generic over the lock's
/// record, so that this leaf does not import the wait-for graph that reads
/// it (`graph::LockState`).
fn lock_ptr<L>(lock: &L) -> *mut () {
    lock as *const L as *mut ()
}

/// `holder` took a read of `lock` at `at` on this thread: its record's
/// slot (its address, whose [`ALIGNED`] bits are clear: letting go needs
/// no thread-local look-up), or `None` if the table is full. `thread`
/// names this thread as a holder, once, when it gets its table (passed in
/// so that this table knows nothing of how holders are named).
#[inline]
pub(crate) fn took<L>(
    lock: &L,
    holder: u64,
    at: &'static Location<'static>,
    thread: fn() -> u64,
) -> Option<usize> {
    let mine = MINE.with(Cell::get);
    // SAFETY: tables are never freed.
    let table = match unsafe { mine.as_ref() } {
        Some(table) => table,
        None => first_table(thread)?,
    };
    let slot = table
        .slots
        .iter()
        .find(|slot| slot.lock.load(Ordering::Relaxed).is_null())?;
    slot.holder.store(holder, Ordering::Relaxed);
    slot.at.store(
        at as *const Location<'static> as *mut Location<'static>,
        Ordering::Relaxed,
    );
    slot.lock.store(lock_ptr(lock), Ordering::Release);
    Some(slot as *const Slot as usize)
}

/// The read recorded in `slot` (from [`took`]) was let go.
#[inline]
pub(crate) fn let_go(slot: usize) {
    let slot = slot as *const Slot;
    // SAFETY: `took` made it from a slot of a table, and tables are never
    // freed.
    unsafe { &*slot }
        .lock
        .store(std::ptr::null_mut(), Ordering::Relaxed);
}

/// The thread's first read: a table, handed on or new.
#[cold]
#[inline(never)]
fn first_table(thread: fn() -> u64) -> Option<&'static Table> {
    let reused = FREE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    let table = match reused {
        Some(table) => table,
        None => {
            let table: &'static Table = Box::leak(Box::new(Table {
                slots: std::array::from_fn(|_| Slot {
                    lock: AtomicPtr::new(std::ptr::null_mut()),
                    holder: AtomicU64::new(0),
                    at: AtomicPtr::new(std::ptr::null_mut()),
                }),
                thread: AtomicU64::new(0),
            }));
            TABLES.lock().unwrap_or_else(|e| e.into_inner()).push(table);
            table
        }
    };
    // Storage already torn down (a read in another thread-local's
    // destructor): give the table back, use the lock's slots.
    if OWNER
        .try_with(|owner| owner.set(Some(Mine(table))))
        .is_err()
    {
        FREE.lock().unwrap_or_else(|e| e.into_inner()).push(table);
        return None;
    }
    table.thread.store(thread(), Ordering::Relaxed);
    MINE.with(|mine| mine.set(table));
    Some(table)
}

/// Every reader of `lock` recorded in the threads' tables, where it took
/// the read, and the thread it took it on (where it lets go). Contended
/// path only (it takes a mutex).
#[cfg_attr(loom, allow(dead_code))]
pub(crate) fn each_reader<L>(
    lock: &L,
    mut f: impl FnMut(u64, Option<&'static Location<'static>>, u64),
) {
    let target = lock_ptr(lock);
    // A copy of the list: `f` may look at other locks (the graph's search
    // recurses), which takes this mutex again.
    let tables: Vec<&'static Table> = TABLES.lock().unwrap_or_else(|e| e.into_inner()).clone();
    for table in tables {
        for slot in &table.slots {
            if slot.lock.load(Ordering::Acquire) == target {
                let at = slot.at.load(Ordering::Relaxed);
                // SAFETY: only `&'static Location`s are stored.
                let at = unsafe { at.cast_const().as_ref() };
                let thread = table.thread.load(Ordering::Relaxed);
                f(slot.holder.load(Ordering::Relaxed), at, thread);
            }
        }
    }
}
