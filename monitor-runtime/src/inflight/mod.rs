//! The table of calls in flight: every call of a `#[monitored]` or
//! `#[stack_on_timeout]` function, visible while it runs, to the watchdog,
//! the dump and everything that prints what the process is doing.
//!
//! Cheap by construction. Each thread owns an arena of records, leaked for
//! the life of the process and handed to the next thread when its owner
//! exits. Taking a record is a pop from a thread-local free list and a few
//! relaxed stores into a cache line that only this thread writes: no lock,
//! no allocation once the arena is warm, no shared counter. Readers (the
//! watchdog, the dump) walk every arena and read records through their
//! atomics; a record's `state` word (generation and "in use" bit) is read
//! before and after its fields, so a record reused mid-read is skipped,
//! never misread.
//!
//! A record is one cache line, 64 bytes: records are written by whichever
//! thread polls their call, so no two share a line, and a call in flight
//! costs that line and little more. Records come in chunks of 4 KiB
//! aligned to their size (63 records and a header), carved from blocks of
//! 16: a record finds its arena, and the cell of its timeout (made per
//! chunk, on the first timeout armed in it), by masking its own address.
//!
//! A record tracks one call: its site (function, file, line), when it
//! started on the process's coarse clock, the thread running it now (or 0:
//! an async call waiting to be polled), its parent call (the annotated call
//! being polled or run on this thread when it started: nested calls form a
//! logical stack, across `.await`s), and an optional report deadline.
//!
//! An async call's record also says where it is: while it is polled, since
//! when (the coarse clock at the poll's start, for the watchdog, which
//! reports a poll that blocks its thread); while it waits, at which
//! `.await` of its body (written by the `.await`s the macros rewrite, see
//! [`parked_at`]).

mod read;

pub(crate) use read::{
    any_in_flight, any_polling, any_reportable, blocked, count_in_flight, due, ended_between,
    fire_timeouts, for_each_state, next_due, snapshot, Blocked, Snapshot,
};
pub use read::{CallId, Straggler};

use std::cell::{Cell, UnsafeCell};
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU32, AtomicU64, Ordering};
use std::sync::Mutex;
use std::task::Waker;
use std::time::Duration;

use crate::clock;

/// Where an annotated function is: its name, file and line, and how long a
/// call may run before it is reported (`#[stack_on_timeout]`).
///
/// ```
/// use monitor_runtime::dump::CallSite;
/// use std::time::Duration;
/// static SITE: CallSite = CallSite::new("app::handler", file!(), line!())
///     .report_after(Duration::from_secs(5));
/// assert_eq!(SITE.function, "app::handler");
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct CallSite {
    /// The function's path (`module::function`), or the monitor's name.
    pub function: &'static str,
    /// The source file of the function.
    pub file: &'static str,
    /// The line of the function.
    pub line: u32,
    /// Report a call that runs longer than this.
    pub report_after: Option<Duration>,
    /// `report_after` plus a tick, in nanoseconds (0: never reported),
    /// worked out once for the calls' deadlines.
    report_ns: u64,
    /// The call's timeout (a `#[monitored]` function's): a single poll
    /// longer than this, or than the blocking threshold, blocks its thread.
    pub(crate) timeout: Option<Duration>,
    /// Polls of this site's calls found blocking their thread.
    pub(crate) blocked_polls: AtomicU64,
}

impl CallSite {
    /// A site that is never reported for running long.
    pub const fn new(function: &'static str, file: &'static str, line: u32) -> Self {
        CallSite {
            function,
            file,
            line,
            report_after: None,
            report_ns: 0,
            timeout: None,
            blocked_polls: AtomicU64::new(0),
        }
    }

    /// Report calls of this site that run longer than `after`.
    pub const fn report_after(mut self, after: Duration) -> Self {
        self.report_after = Some(after);
        // The coarse clock may lag by a tick: never report early.
        let after = after.as_nanos();
        self.report_ns = if after >= u64::MAX as u128 {
            u64::MAX
        } else {
            (after as u64).saturating_add(clock::TICK.as_nanos() as u64)
        };
        self
    }

    /// A poll of this site's calls that blocks its thread past this, even
    /// if that is before the blocking threshold, is reported.
    pub(crate) const fn with_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many polls of this site's calls were found blocking their
    /// thread.
    pub(crate) fn blocked_polls(&self) -> u64 {
        self.blocked_polls.load(Ordering::Relaxed)
    }
}

/// One cache line per call in flight. Records of one arena are written by
/// whichever thread polls their call, so no two share a line; what does not
/// fit is found from the record's chunk (its arena, its timeout's cell) or
/// worked out (its report deadline, from its start and its site).
#[repr(C, align(64))]
pub(crate) struct Record {
    /// `generation << 1 | in_use`.
    state: AtomicU32,
    /// Kernel id of the thread running the call now; 0 while it waits.
    thread: AtomicI32,
    site: AtomicPtr<CallSite>,
    /// The parent call's record (and, in `parent_state`, its state word
    /// when this call began).
    parent: AtomicPtr<Record>,
    /// While this async call is polled: the call whose poll was in progress
    /// on the same thread when this poll began, the next link of the
    /// thread's chain of polls that starts at [`Arena::polling`]. While the
    /// record is free: the next record of its owner's free list (a free
    /// record is in no chain).
    outer: AtomicPtr<Record>,
    /// The tokio task of the call: where it began, with task dumps on;
    /// otherwise set when it is first pending (0: not yet, or none).
    task: AtomicU64,
    /// Coarse nanoseconds since the process epoch.
    started: AtomicU64,
    parent_state: AtomicU32,
    /// The call's number in its arena (the low 31 bits), for its id, and
    /// [`REPORTED`] once the watchdog has reported it as overdue.
    seq: AtomicU32,
    /// Where an async call's last poll returned `Pending`: the `.await`
    /// of its body, packed by [`pack_at`]; 0 if unknown (cleared at each
    /// poll's start).
    awaiting: AtomicU32,
    /// During a poll of an async call: `units << 2 | 1`, the coarse clock
    /// at the poll's start in [`POLL_UNIT`]s (30 bits, wrapping), and
    /// [`POLL_REPORTED`] once the watchdog has reported the poll as
    /// blocking; 0 outside a poll.
    polled_since: AtomicU32,
}

const _: () = assert!(std::mem::size_of::<Record>() == 64);

/// The reported bit of [`Record::seq`].
const REPORTED: u32 = 1 << 31;
/// The reported bit of [`Record::polled_since`].
const POLL_REPORTED: u32 = 2;
/// A poll's start is kept in units of 2^20 ns (about a millisecond).
const POLL_UNIT_SHIFT: u32 = 20;

/// The coarse nanoseconds `ns`, as a poll's start: in units, rounded up (a
/// poll's time is never overstated), in 30 bits.
#[inline]
fn poll_stamp(ns: u64) -> u32 {
    let units = ((ns >> POLL_UNIT_SHIFT) + 1) as u32;
    units << 2 | 1
}

/// How long a poll stamped `stamp` has run at `now_ns` (rounded down).
fn poll_ran(stamp: u32, now_ns: u64) -> u64 {
    let now = (now_ns >> POLL_UNIT_SHIFT) as u32;
    let ran = now.wrapping_sub(stamp >> 2) & (u32::MAX >> 2);
    // A stamp rounded up past `now`, read just after it was made.
    if ran > u32::MAX >> 3 {
        return 0;
    }
    u64::from(ran) << POLL_UNIT_SHIFT
}

/// An `.await` at `line:column` in 32 bits: the line in 20 bits, the
/// column in 12 (each at most its largest value).
#[inline]
pub(crate) const fn pack_at(line: u32, column: u32) -> u32 {
    let line = if line > 0xF_FFFF { 0xF_FFFF } else { line };
    let column = if column > 0xFFF { 0xFFF } else { column };
    line << 12 | column
}

/// The `(line, column)` of [`pack_at`].
fn unpack_at(at: u32) -> (u32, u32) {
    (at >> 12, at & 0xFFF)
}

/// The timeout of a pending async call, fired by the watchdog: the
/// deadline and the waker, under a lock bit that the call (to change or
/// take its waker) and the watchdog (to fire it) take for a few
/// instructions. A store into the record's cell, not an entry in a
/// shared timer heap: arming it takes no lock of the watchdog's.
pub(crate) struct TimerCell {
    /// The deadline (precise nanoseconds since the process epoch, even),
    /// `| LOCKED` while its holder uses `waker`; 0: none armed (or fired).
    word: AtomicU64,
    /// Read and written only by the holder of the lock bit, or, while
    /// `word` is 0, by the call that owns the record.
    waker: UnsafeCell<Option<Waker>>,
}

// SAFETY: `waker` is reached only under the protocol above: by whoever set
// the lock bit, or by the record's owner while `word` is 0.
unsafe impl Sync for TimerCell {}

/// The lock bit of [`TimerCell::word`].
const LOCKED: u64 = 1;

impl TimerCell {
    const fn new() -> Self {
        TimerCell {
            word: AtomicU64::new(0),
            waker: UnsafeCell::new(None),
        }
    }
}

impl Record {
    const fn new() -> Self {
        Record {
            state: AtomicU32::new(0),
            thread: AtomicI32::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            parent: AtomicPtr::new(std::ptr::null_mut()),
            outer: AtomicPtr::new(std::ptr::null_mut()),
            task: AtomicU64::new(0),
            started: AtomicU64::new(0),
            parent_state: AtomicU32::new(0),
            seq: AtomicU32::new(0),
            awaiting: AtomicU32::new(0),
            polled_since: AtomicU32::new(0),
        }
    }

    /// The chunk this record is in (every record is in one).
    #[inline]
    fn chunk(&self) -> &'static Chunk {
        let addr = self as *const Record as usize & !(CHUNK_BYTES - 1);
        // SAFETY: records are made only in chunks, which are aligned to
        // `CHUNK_BYTES`, leaked, and had their address exposed when made.
        unsafe { &*std::ptr::with_exposed_provenance::<Chunk>(addr) }
    }

    /// This record's arena.
    #[inline]
    fn arena(&self) -> &'static Arena {
        self.chunk().arena
    }

    /// The record's place in its chunk (the header takes the first
    /// record's room).
    #[inline]
    fn index(&self) -> usize {
        (self as *const Record as usize & (CHUNK_BYTES - 1)) / std::mem::size_of::<Record>() - 1
    }

    /// The cell of this record's timeout, if any record of its chunk has
    /// armed one.
    #[inline]
    fn timer(&self) -> Option<&'static TimerCell> {
        // SAFETY: a chunk's cells are leaked, never freed, and published
        // with Release once made.
        let cells = unsafe { self.chunk().timers.load(Ordering::Acquire).as_ref() }?;
        Some(&cells[self.index()])
    }

    /// [`Record::timer`], made for the chunk's records if none is yet.
    #[cold]
    fn timer_made(&self) -> &'static TimerCell {
        let chunk = self.chunk();
        let fresh = Box::into_raw(Box::new([const { TimerCell::new() }; CHUNK]));
        if let Err(_made) = chunk.timers.compare_exchange(
            std::ptr::null_mut(),
            fresh,
            Ordering::AcqRel,
            Ordering::Acquire,
        ) {
            // Another thread made them first (the records of one chunk can
            // be polled on several threads).
            // SAFETY: ours, never published.
            drop(unsafe { Box::from_raw(fresh) });
        }
        self.timer().expect("the chunk's cells are made")
    }
}

/// Bytes of a chunk of records: aligned to its size, so that a record finds
/// its chunk, and from it its arena and its timeout's cell.
const CHUNK_BYTES: usize = 4096;

/// Records per chunk: one record's room is the chunk's header.
const CHUNK: usize = CHUNK_BYTES / std::mem::size_of::<Record>() - 1;

#[repr(C, align(4096))]
struct Chunk {
    arena: &'static Arena,
    next: AtomicPtr<Chunk>,
    /// The timeout cells of the chunk's records, by index: made when the
    /// first of them arms a timeout, kept for good.
    timers: AtomicPtr<[TimerCell; CHUNK]>,
    records: [Record; CHUNK],
}

const _: () = assert!(std::mem::size_of::<Chunk>() == CHUNK_BYTES);
const _: () = assert!(std::mem::offset_of!(Chunk, records) == std::mem::size_of::<Record>());

/// Chunks are carved out of blocks of this many: an allocation aligned to
/// its size costs the allocator padding around it (a page, touched), once
/// per block rather than once per chunk.
const CHUNKS_PER_BLOCK: usize = 16;

/// The block chunks are carved from: the next chunk's place, and how many
/// are left.
struct Block {
    next: *mut Chunk,
    left: usize,
}

// SAFETY: the pointer is to memory no one else uses until it is handed out
// under the lock.
unsafe impl Send for Block {}

static BLOCK: Mutex<Block> = Mutex::new(Block {
    next: std::ptr::null_mut(),
    left: 0,
});

/// Places `chunk` in memory of its own, aligned to its size, for good.
#[cold]
fn new_chunk(chunk: Chunk) -> &'static Chunk {
    let mut block = BLOCK.lock().unwrap_or_else(|e| e.into_inner());
    if block.left == 0 {
        let layout =
            std::alloc::Layout::from_size_align(CHUNK_BYTES * CHUNKS_PER_BLOCK, CHUNK_BYTES)
                .expect("a valid layout");
        // SAFETY: the layout's size is not zero.
        let memory = unsafe { std::alloc::alloc(layout) };
        if memory.is_null() {
            std::alloc::handle_alloc_error(layout);
        }
        *block = Block {
            next: memory.cast(),
            left: CHUNKS_PER_BLOCK,
        };
    }
    let place = block.next;
    // SAFETY: within the block, which holds `left` more chunks.
    block.next = unsafe { place.add(1) };
    block.left -= 1;
    drop(block);
    // SAFETY: `place` is aligned for a chunk, unused, and never freed; the
    // records find their chunk by address (`Record::chunk`), so its
    // provenance is exposed.
    unsafe {
        place.write(chunk);
        let _ = place.expose_provenance();
        &*place
    }
}

/// The records of one thread (or of threads that came before it), and
/// what that thread publishes so that the watchdog need not read every
/// record on every tick.
pub(crate) struct Arena {
    id: u32,
    head: AtomicPtr<Chunk>,
    /// The innermost async call whose poll is in progress on the owner
    /// thread; the chain goes on through [`Record::outer`]. Written by the
    /// owner only, at a poll's start and end (sync calls do not touch it).
    polling: AtomicPtr<Record>,
    /// No call of this arena that is in flight and not yet reported has a
    /// report deadline before this (coarse nanoseconds; `u64::MAX`: none).
    /// A hint that may be early, never late: the owner lowers it when a
    /// call begins with an earlier deadline, the watchdog raises it when it
    /// has read the arena's records (`read::due`).
    next_due: AtomicU64,
    /// Whether a call of this arena may be in flight with a report
    /// deadline, reported or not (`read::any_reportable`): set by such a
    /// call when it begins, cleared by a reader that found none.
    reportable: AtomicBool,
    /// No armed timeout of this arena's calls comes before this (precise
    /// nanoseconds; `u64::MAX`: none): as `next_due`, early, never late.
    /// Lowered by the call that arms a timeout, raised by the watchdog
    /// once it has read the arena's timers (`read::fire_timeouts`).
    next_timeout: AtomicU64,
}

/// Every arena ever made. Pushed to when a thread first registers a call.
static ARENAS: Mutex<Vec<&'static Arena>> = Mutex::new(Vec::new());
/// Arenas whose thread exited, for the next new thread.
static ORPHANS: Mutex<Vec<&'static Arena>> = Mutex::new(Vec::new());

/// The thread's view: its arena, its free records (a list through
/// `Record::next_free`), the innermost call it is running, its kernel id.
struct Local {
    arena: Cell<Option<&'static Arena>>,
    free: Cell<*const Record>,
    current: Cell<*const Record>,
    tid: Cell<i32>,
    seq: Cell<u64>,
}

impl Drop for Local {
    fn drop(&mut self) {
        if let Some(arena) = self.arena.get() {
            // The next owner starts outside any poll.
            arena.polling.store(std::ptr::null_mut(), Ordering::Relaxed);
            ORPHANS
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(arena);
        }
    }
}

thread_local! {
    static LOCAL: Local = const {
        Local {
            arena: Cell::new(None),
            free: Cell::new(std::ptr::null()),
            current: Cell::new(std::ptr::null()),
            tid: Cell::new(0),
            seq: Cell::new(0),
        }
    };
}

/// This thread's [`Local`], found once by a call or a poll and kept for
/// its end. Only ever on the stack of the code that found it (in a
/// [`SyncCall`], a [`PollScope`]), and `!Send` (a raw pointer): it is used
/// on its thread, by a function that is still running there.
#[derive(Clone, Copy)]
struct Here(*const Local);

impl Here {
    /// `None` while the thread is being torn down and `LOCAL` is gone.
    /// The closure handed to `try_with` only takes the address, so that
    /// `try_with` stays small enough to be inlined: the hot path pays no
    /// function call for it.
    #[inline(always)]
    fn find() -> Option<Here> {
        LOCAL.try_with(|local| Here(local)).ok()
    }

    #[inline(always)]
    fn local(&self) -> &Local {
        // SAFETY: `LOCAL` was alive when this was found, on this thread (see
        // the type), and a thread-local is destroyed only when its thread
        // exits, one destructor after another, never while a function of
        // that thread that found it is still running.
        unsafe { &*self.0 }
    }
}

/// Runs `f` on this thread's [`Local`]; `None` while the thread is being
/// torn down and `LOCAL` is gone. What `LOCAL.try_with(f)` does, with `f`
/// inlined into the call ([`Here::find`]).
#[inline(always)]
fn with_local<R>(f: impl FnOnce(&Local) -> R) -> Option<R> {
    Some(f(Here::find()?.local()))
}

/// [`begin`] then [`enter`]: a sync call, or an async call's first poll.
#[inline(always)]
fn begin_here(site: &'static CallSite, clock: Clockwork) -> Option<SyncCall> {
    let here = Here::find()?;
    let local = here.local();
    let record = begin(local, site, clock);
    let previous = enter(local, record);
    Some(SyncCall {
        record,
        previous,
        here,
    })
}

impl Local {
    /// A free record of this thread's arena.
    #[inline]
    fn take(&self) -> &'static Record {
        let mut head = self.free.get();
        if head.is_null() {
            head = self.refill();
        }
        // SAFETY: the free list holds records of leaked arenas only.
        let record: &'static Record = unsafe { &*head };
        self.free.set(record.outer.load(Ordering::Relaxed));
        record
    }

    #[inline]
    fn give_back(&self, record: &'static Record) {
        if self
            .arena
            .get()
            .is_some_and(|arena| std::ptr::eq(record.arena(), arena))
        {
            record
                .outer
                .store(self.free.get() as *mut Record, Ordering::Relaxed);
            self.free.set(record);
        }
        // A record of another thread's arena is found free by its owner.
    }

    /// This thread's arena, adopted or made on its first annotated call.
    #[inline]
    fn arena(&self) -> &'static Arena {
        match self.arena.get() {
            Some(arena) => arena,
            None => self.adopt(),
        }
    }

    #[cold]
    fn adopt(&self) -> &'static Arena {
        let arena = adopt_arena();
        self.arena.set(Some(arena));
        self.tid.set(crate::native::current_tid().0);
        arena
    }

    /// Rebuilds the free list from the records not in use (freed here or
    /// by other threads), adding a chunk when few are free. Returns its head.
    #[cold]
    fn refill(&self) -> *const Record {
        let arena = self.arena();
        let mut head: *const Record = std::ptr::null();
        let mut free = 0;
        for record in arena.records() {
            if record.state.load(Ordering::Acquire) & 1 == 0 {
                record.outer.store(head as *mut Record, Ordering::Relaxed);
                head = record;
                free += 1;
            }
        }
        if free < CHUNK / 4 {
            let chunk = new_chunk(Chunk {
                arena,
                next: AtomicPtr::new(arena.head.load(Ordering::Relaxed)),
                timers: AtomicPtr::new(std::ptr::null_mut()),
                records: [const { Record::new() }; CHUNK],
            });
            for record in chunk.records.iter().rev() {
                record.outer.store(head as *mut Record, Ordering::Relaxed);
                head = record;
            }
            arena
                .head
                .store(chunk as *const Chunk as *mut Chunk, Ordering::Release);
        }
        head
    }
}

fn adopt_arena() -> &'static Arena {
    let adopted = ORPHANS.lock().unwrap_or_else(|e| e.into_inner()).pop();
    adopted.unwrap_or_else(|| {
        let mut arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
        let arena: &'static Arena = Box::leak(Box::new(Arena {
            id: arenas.len() as u32 + 1,
            head: AtomicPtr::new(std::ptr::null_mut()),
            polling: AtomicPtr::new(std::ptr::null_mut()),
            next_due: AtomicU64::new(u64::MAX),
            reportable: AtomicBool::new(false),
            next_timeout: AtomicU64::new(u64::MAX),
        }));
        arenas.push(arena);
        arena
    })
}

impl Arena {
    fn chunks(&'static self) -> impl Iterator<Item = &'static Chunk> {
        let mut chunk = self.head.load(Ordering::Acquire);
        std::iter::from_fn(move || {
            // SAFETY: chunks are leaked, never freed, and published with
            // Release after they were fully built.
            let current: &'static Chunk = unsafe { chunk.as_ref()? };
            chunk = current.next.load(Ordering::Acquire);
            Some(current)
        })
    }

    fn records(&'static self) -> impl Iterator<Item = &'static Record> {
        self.chunks().flat_map(|chunk| chunk.records.iter())
    }

    /// The timeout cells of the arena's records, where any was made.
    fn timer_cells(&'static self) -> impl Iterator<Item = &'static TimerCell> {
        self.chunks()
            // SAFETY: a chunk's cells are leaked, never freed, and
            // published with Release once made.
            .filter_map(|chunk| unsafe { chunk.timers.load(Ordering::Acquire).as_ref() })
            .flat_map(|cells| cells.iter())
    }
}

/// What keeps the coarse clock current (the watchdog): how to start it
/// when a call begins or is polled while the clock reads 0 (not kept, see
/// [`clock::stop`]). The layers above pass it in, so that this table knows
/// nothing of the watchdog.
#[derive(Clone, Copy)]
pub(crate) struct Clockwork {
    /// Starts the ticks (and the thread, if needed).
    pub(crate) start: fn(),
}

/// What fires the timeouts armed in records (the watchdog): when it looks
/// next, and how to make it look sooner. Passed in by the layers above, as
/// [`Clockwork`].
#[derive(Clone, Copy)]
pub(crate) struct Alarm {
    /// When the watchdog looks next (precise nanoseconds; 0: unknown).
    pub(crate) wakes_at: &'static AtomicU64,
    /// Makes the watchdog look by the given time (precise nanoseconds).
    pub(crate) hurry: fn(u64),
}

impl Clockwork {
    /// Starts the ticks; returns the precise clock, for the one reading
    /// the coarse one could not give.
    #[cold]
    fn start(self) -> u64 {
        (self.start)();
        clock::now_ns().max(1)
    }
}

/// Starts tracking a call on this thread; its parent is the call this
/// thread is inside now. The call is not the thread's current call until
/// [`enter`].
#[inline(always)]
fn begin(local: &Local, site: &'static CallSite, clock: Clockwork) -> &'static Record {
    let record = local.take();
    let parent = local.current.get();
    let seq = local.seq.get();
    local.seq.set(seq + 1);
    let parent_state = if parent.is_null() {
        0
    } else {
        // SAFETY: `current` only ever points at a record of a leaked arena.
        unsafe { &*parent }.state.load(Ordering::Relaxed)
    };
    let mut started = clock::coarse_ns();
    if started == 0 {
        // The watchdog does not keep the coarse clock now: start it.
        started = clock.start();
    }
    // Seqlock writer: the record was marked free (its last `end`) before
    // these stores, and readers that saw it in use re-check its state after
    // reading, so none of the stores below may move above that mark. (A
    // compiler fence on x86.)
    fence(Ordering::Release);
    // Not reported yet.
    record.seq.store(seq as u32 & !REPORTED, Ordering::Relaxed);
    record
        .parent
        .store(parent as *mut Record, Ordering::Relaxed);
    record.parent_state.store(parent_state, Ordering::Relaxed);
    record
        .site
        .store(site as *const CallSite as *mut CallSite, Ordering::Relaxed);
    record.started.store(started, Ordering::Relaxed);
    record.thread.store(0, Ordering::Relaxed);
    let due = deadline(site, started);
    record
        .task
        .store(crate::task::current_task(), Ordering::Relaxed);
    // `awaiting` and `polled_since` need no reset: a poll's start sets
    // both, `polled_since` is 0 whenever a call ends (its poll's end
    // clears it), and `awaiting` is read only while no thread runs the
    // call, which a sync call never is.
    // Publish: a new generation, in use.
    let state = record.state.load(Ordering::Relaxed);
    record
        .state
        .store((state | 1).wrapping_add(2), Ordering::Release);
    crate::fence::light();
    // After the fence above: either the watchdog, which resets the hint
    // before it reads the records (a heavy fence between), sees this call,
    // or this call sees the reset hint and lowers it.
    if due != 0 {
        let arena = local.arena();
        if due < arena.next_due.load(Ordering::Relaxed) {
            lower_next_due(arena, due, clock);
        }
        if !arena.reportable.load(Ordering::Relaxed) {
            arena.reportable.store(true, Ordering::Relaxed);
        }
    }
    record
}

/// A call of `arena` is due before its hint said (rare: the first such
/// call after the watchdog read the arena).
#[cold]
fn lower_next_due(arena: &Arena, due: u64, clock: Clockwork) {
    arena.next_due.fetch_min(due, Ordering::Relaxed);
    // With the watchdog's stop (stop the coarse clock, heavy fence, read
    // the hints to know when to wake) a Dekker pair: either it reads the
    // hint lowered here, or this call sees the clock stopped and starts the
    // ticks, which read the hints again before they stop. (A call that
    // leaves the hint as it is finds it at or before its deadline; a
    // watchdog that raised it meanwhile saw the call, by the fence after
    // its publication.)
    crate::fence::light();
    if !clock::is_kept() {
        clock.start();
    }
}

#[inline]
fn deadline(site: &CallSite, started: u64) -> u64 {
    match site.report_ns {
        0 => 0,
        after => started.saturating_add(after),
    }
}

#[inline]
fn end(local: &Local, record: &'static Record) {
    let state = record.state.load(Ordering::Relaxed);
    record.state.store(state & !1, Ordering::Release);
    local.give_back(record);
}

/// Makes `record` the current call of this thread, running on it.
#[inline]
fn enter(local: &Local, record: &'static Record) -> *const Record {
    record.thread.store(local.tid.get(), Ordering::Relaxed);
    local.current.replace(record)
}

#[inline]
fn leave(local: &Local, record: &'static Record, previous: *const Record) {
    record.thread.store(0, Ordering::Relaxed);
    local.current.set(previous);
}

/// A sync call in flight on this thread. Dropping it ends the call.
pub(crate) struct SyncCall {
    record: &'static Record,
    previous: *const Record,
    /// This thread's `LOCAL`, found when the call began.
    here: Here,
}

impl SyncCall {
    /// `None` while the thread is being torn down.
    #[inline(always)]
    pub(crate) fn begin(site: &'static CallSite, clock: Clockwork) -> Option<Self> {
        begin_here(site, clock)
    }
}

impl Drop for SyncCall {
    #[inline]
    fn drop(&mut self) {
        let local = self.here.local();
        leave(local, self.record, self.previous);
        end(local, self.record);
    }
}

/// An async call in flight: begun on its first poll, current while it is
/// polled, ended when dropped.
#[derive(Default)]
pub(crate) struct AsyncCall {
    record: Option<&'static Record>,
}

// SAFETY: the record is reached only through atomics; the pointer to it is
// to leaked memory.
unsafe impl Send for AsyncCall {}
// SAFETY: as above; `&AsyncCall` gives no access at all.
unsafe impl Sync for AsyncCall {}

impl AsyncCall {
    /// Marks the call as running on this thread until the scope drops.
    #[inline]
    pub(crate) fn poll_scope(
        &mut self,
        site: &'static CallSite,
        clock: Clockwork,
    ) -> Option<PollScope> {
        // Not `with_local`: its closure, with `begin` inlined, was left out
        // of line, a call per poll.
        let here = Here::find()?;
        let local = here.local();
        let record = *self.record.get_or_insert_with(|| begin(local, site, clock));
        // A new poll: not parked at any `.await` yet; the head of this
        // thread's chain of polls; polled since now, as far as the watchdog
        // can tell (0, never looked at, until then).
        record.awaiting.store(0, Ordering::Relaxed);
        let arena = local.arena();
        let outer = arena.polling.load(Ordering::Relaxed);
        record.outer.store(outer, Ordering::Relaxed);
        arena
            .polling
            .store(record as *const Record as *mut Record, Ordering::Relaxed);
        // With the watchdog's stop (stop the coarse clock, heavy fence, look
        // for polls in progress) a Dekker pair: either it sees this poll and
        // keeps the clock, or this poll sees the clock stopped and starts it.
        crate::fence::light();
        let mut since = clock::coarse_ns();
        if since == 0 {
            since = clock.start();
        }
        record
            .polled_since
            .store(poll_stamp(since), Ordering::Relaxed);
        Some(PollScope {
            record,
            previous: enter(local, record),
            outer,
            here,
        })
    }
}

impl AsyncCall {
    /// Arms the call's timeout: once the precise clock reaches `at_ns`
    /// (nanoseconds since the process epoch), the watchdog wakes `waker`.
    /// At most once per call; the call's end disarms it. `false` if the
    /// call is not in the table (polled while its thread is torn down).
    #[inline]
    pub(crate) fn arm_timeout(&self, at_ns: u64, waker: &Waker, alarm: Alarm) -> bool {
        match self.record {
            Some(record) => {
                arm(record, at_ns, waker, alarm);
                true
            }
            None => false,
        }
    }

    /// The task polled the call again with `waker`: the watchdog wakes it
    /// instead, if it is another. `false` once the watchdog has fired the
    /// timeout (its deadline has passed).
    #[inline]
    pub(crate) fn timeout_waker(&self, waker: &Waker) -> bool {
        match self.record {
            Some(record) => match record.timer() {
                Some(cell) => cell.set_waker(waker),
                None => true,
            },
            None => true,
        }
    }
}

/// Stores the timeout into the record's cell, and lowers the arena's hint
/// if it comes before it: a few stores, no lock of the watchdog's.
#[inline(never)]
fn arm(record: &'static Record, at_ns: u64, waker: &Waker, alarm: Alarm) {
    // Even, and never before `at_ns`: the low bit is the lock.
    let at = (at_ns.saturating_add(1) & !LOCKED).max(2);
    let cell = match record.timer() {
        Some(cell) => cell,
        None => record.timer_made(),
    };
    // SAFETY: `word` is 0 (the last call of this record disarmed it, or the
    // watchdog fired it, before the record was freed): no one else reads or
    // writes `waker` until the store below publishes it.
    unsafe { *cell.waker.get() = Some(waker.clone()) };
    cell.word.store(at, Ordering::Release);
    // Pairs with the heavy fence of `read::fire_timeouts` between resetting
    // the hint and reading the cells: either it sees this timeout, or this
    // call sees the reset hint and lowers it.
    crate::fence::light();
    let arena = record.arena();
    if at < arena.next_timeout.load(Ordering::Relaxed) {
        arena.next_timeout.fetch_min(at, Ordering::Relaxed);
    }
    let wakes_at = alarm.wakes_at.load(Ordering::Relaxed);
    if at < wakes_at || (wakes_at == 0 && !clock::is_kept()) {
        // Sooner than the watchdog looks next (a timeout shorter than its
        // tick), or it has not said when and does not tick (a call that
        // starts the ticks starts the thread, which says when it looks
        // once it runs): make sure it looks in time.
        (alarm.hurry)(at);
    }
}

impl TimerCell {
    /// Takes the lock bit of an armed timer; `None` once it is disarmed or
    /// fired. Only the watchdog's firing holds it otherwise, for a few
    /// instructions.
    #[inline]
    fn lock(&self) -> Option<u64> {
        loop {
            let word = self.word.load(Ordering::Relaxed);
            if word == 0 {
                return None;
            }
            if word & LOCKED == 0
                && self
                    .word
                    .compare_exchange_weak(
                        word,
                        word | LOCKED,
                        Ordering::Acquire,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                return Some(word);
            }
            std::hint::spin_loop();
        }
    }

    /// `false` if the timer has fired (or was never armed).
    #[inline(never)]
    fn set_waker(&self, waker: &Waker) -> bool {
        let Some(word) = self.lock() else {
            // Fired: the task is woken already.
            return false;
        };
        // SAFETY: we hold the lock bit.
        let slot = unsafe { &mut *self.waker.get() };
        let old = if slot.as_ref().is_some_and(|w| w.will_wake(waker)) {
            None
        } else {
            slot.replace(waker.clone())
        };
        self.word.store(word, Ordering::Release);
        drop(old);
        true
    }

    /// The watchdog: fires the timer if it is armed for `at` or before and
    /// free; `Err(at)` when it is not due yet (or held: look again).
    pub(crate) fn fire(&self, now_ns: u64) -> Result<Option<Waker>, u64> {
        let word = self.word.load(Ordering::Relaxed);
        if word == 0 {
            return Ok(None);
        }
        let at = word & !LOCKED;
        if at > now_ns
            || word & LOCKED != 0
            || self
                .word
                .compare_exchange(word, word | LOCKED, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return Err(at);
        }
        // SAFETY: we hold the lock bit.
        let waker = unsafe { (*self.waker.get()).take() };
        self.word.store(0, Ordering::Release);
        Ok(waker)
    }
}

/// The call ends: its timeout, if armed, is disarmed before the record is
/// freed, and its waker dropped.
#[inline]
fn disarm(record: &Record) {
    if let Some(cell) = record.timer()
        && cell.word.load(Ordering::Acquire) != 0
    {
        disarm_cell(cell);
    }
}

#[inline(never)]
fn disarm_cell(cell: &TimerCell) {
    if cell.lock().is_some() {
        // SAFETY: we hold the lock bit; once `word` is 0 the waker is ours.
        let waker = unsafe { (*cell.waker.get()).take() };
        cell.word.store(0, Ordering::Release);
        drop(waker);
    }
}

impl Drop for AsyncCall {
    /// A call that finished has no record left ([`PollScope::finish`]
    /// took it): the check is inlined, the end of a call dropped while
    /// pending is not.
    #[inline(always)]
    fn drop(&mut self) {
        if let Some(record) = self.record {
            end_dropped(record);
        }
    }
}

/// The end of a call dropped before it finished (cancelled, timed out).
#[inline(never)]
fn end_dropped(record: &'static Record) {
    disarm(record);
    match with_local(|local| end(local, record)) {
        Some(()) => {}
        // Thread teardown: just mark it free; its owner finds it.
        None => {
            let state = record.state.load(Ordering::Relaxed);
            record.state.store(state & !1, Ordering::Release);
        }
    }
}

/// The stretch of one poll of an async call.
pub(crate) struct PollScope {
    record: &'static Record,
    previous: *const Record,
    /// The poll in progress on this thread before this one.
    outer: *mut Record,
    /// This thread's `LOCAL`, found when the poll began.
    here: Here,
}

/// The end of a poll on this thread: the call no longer runs here.
#[inline]
fn leave_poll(local: &Local, scope: &PollScope) {
    leave(local, scope.record, scope.previous);
    if let Some(arena) = local.arena.get() {
        arena.polling.store(scope.outer, Ordering::Relaxed);
    }
}

impl PollScope {
    /// The poll finished the call: leave it and end it in one step.
    #[inline]
    pub(crate) fn finish(self, call: &mut AsyncCall) {
        let this = std::mem::ManuallyDrop::new(self);
        let record = call.record.take();
        this.record.polled_since.store(0, Ordering::Relaxed);
        if let Some(record) = record {
            disarm(record);
        }
        let local = this.here.local();
        leave_poll(local, &this);
        if let Some(record) = record {
            end(local, record);
        }
    }
}

impl Drop for PollScope {
    /// The poll returned `Pending` (or unwound).
    #[inline]
    fn drop(&mut self) {
        // The call now waits in its task, on no thread: remember the task,
        // so a report (a deadlock's participants) can tell its calls.
        if self.record.task.load(Ordering::Relaxed) == 0 {
            let task = crate::task::task_now();
            self.record.task.store(task, Ordering::Relaxed);
        }
        self.record.polled_since.store(0, Ordering::Relaxed);
        leave_poll(self.here.local(), self);
    }
}

/// The annotated async call being polled on this thread returns `Pending`
/// at the `.await` at `at` ([`pack_at`]) of its body: noted on
/// its record, unless an `.await` nested deeper in the same body (in an
/// `async` block it awaits) noted its own during this poll. Called by the
/// `.await`s the macros rewrite (`__private::awaiting`), only on `Pending`.
///
/// The call being polled is the one the `.await` belongs to: an annotated
/// call sets itself as the thread's current call for the length of each
/// poll, and restores its caller before it returns, so the innermost
/// annotated call whose poll is in progress here is the one whose body (or
/// an `async` block or closure polled as part of it) is parked. A block
/// spawned as a task of its own is polled outside any annotated call, and
/// notes nothing.
#[inline(never)]
pub(crate) fn parked_at(at: u32) {
    let _ = LOCAL.try_with(|local| {
        // SAFETY: `current` only ever points at a record of a leaked arena.
        if let Some(record) = unsafe { local.current.get().as_ref() }
            && record.awaiting.load(Ordering::Relaxed) == 0
        {
            record.awaiting.store(at, Ordering::Relaxed);
        }
    });
}

/// The calls running on this thread now, innermost and its callers as long
/// as they run here too, belong to tokio task `task`: notes it on those
/// that have no task yet. For a task about to wait for a lock, so that a
/// report made by another waiter finds its calls even if none of them has
/// been pending yet.
pub(crate) fn note_task(task: u64) {
    let _ = LOCAL.try_with(|local| {
        let tid = local.tid.get();
        let mut record = local.current.get();
        // SAFETY: records are leaked, never freed; one that is reused
        // meanwhile runs on another thread, and the walk stops there.
        while let Some(this) = unsafe { record.as_ref() } {
            if this.thread.load(Ordering::Relaxed) != tid {
                break;
            }
            if this.task.load(Ordering::Relaxed) == 0 {
                this.task.store(task, Ordering::Relaxed);
            }
            record = this.parent.load(Ordering::Relaxed);
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_await_packs_into_32_bits_and_saturates() {
        assert_eq!(unpack_at(pack_at(1, 1)), (1, 1));
        assert_eq!(unpack_at(pack_at(123_456, 4_095)), (123_456, 4_095));
        assert_eq!(unpack_at(pack_at(u32::MAX, u32::MAX)), (0xF_FFFF, 0xFFF));
        assert_ne!(pack_at(1, 0), 0, "a known place is never 0 (unknown)");
    }

    #[test]
    fn a_poll_stamp_never_overstates_how_long_a_poll_ran() {
        let unit = 1u64 << POLL_UNIT_SHIFT;
        for start in [0, 1, unit - 1, unit, 5 * unit + 7, 1 << 40, (1 << 52) + 3] {
            let stamp = poll_stamp(start);
            assert_eq!(stamp & 1, 1, "a stamp is never 0");
            assert_eq!(stamp & POLL_REPORTED, 0);
            for ran in [0, 1, unit, 10 * unit + 5, 3_000_000_000] {
                let seen = poll_ran(stamp, start + ran);
                assert!(seen <= ran, "{seen} > {ran} from {start}");
                assert!(
                    seen + 2 * unit >= ran,
                    "{seen} far below {ran} from {start}"
                );
            }
        }
        // Read just after the stamp was made, rounded up past now.
        assert_eq!(poll_ran(poll_stamp(10 * unit + 1), 10 * unit + 2), 0);
    }

    #[test]
    fn a_record_finds_its_chunk_arena_and_cell() {
        let arena: &'static Arena = Box::leak(Box::new(Arena {
            id: u32::MAX,
            head: AtomicPtr::new(std::ptr::null_mut()),
            polling: AtomicPtr::new(std::ptr::null_mut()),
            next_due: AtomicU64::new(u64::MAX),
            reportable: AtomicBool::new(false),
            next_timeout: AtomicU64::new(u64::MAX),
        }));
        // Two chunks, carved one after the other from a block.
        let chunks = [(); 2].map(|()| {
            new_chunk(Chunk {
                arena,
                next: AtomicPtr::new(std::ptr::null_mut()),
                timers: AtomicPtr::new(std::ptr::null_mut()),
                records: [const { Record::new() }; CHUNK],
            })
        });
        for chunk in chunks {
            assert_eq!(chunk as *const Chunk as usize % CHUNK_BYTES, 0);
            for (index, record) in chunk.records.iter().enumerate() {
                assert!(std::ptr::eq(record.chunk(), chunk));
                assert!(std::ptr::eq(record.arena(), arena));
                assert_eq!(record.index(), index);
                assert!(record.timer().is_none(), "no cell before a timeout");
            }
        }
        let [first, other] = [&chunks[0].records[0], &chunks[0].records[CHUNK - 1]];
        let cell = first.timer_made();
        assert!(std::ptr::eq(first.timer().unwrap(), cell));
        assert!(
            !std::ptr::eq(other.timer().unwrap(), cell),
            "a cell per record"
        );
        assert!(chunks[1].records[0].timer().is_none(), "cells per chunk");
    }
}
