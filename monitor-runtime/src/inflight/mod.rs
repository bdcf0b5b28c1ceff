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
//! 64: a record finds its arena, and the cell of its timeout (made per
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
mod record;
mod timer;

pub(crate) use read::{
    any_in_flight, any_polling, any_reportable, blocked, count_in_flight, due, ended_between,
    fire_timeouts, for_each_state, next_due, snapshot, Blocked, Snapshot,
};
pub use read::{CallId, Straggler};
pub(crate) use record::pack_at;
use record::{new_chunk, poll_stamp, Chunk, Record, TimerCell, CHUNK, REPORTED};
use timer::disarm;

use std::cell::Cell;
use std::sync::atomic::{fence, AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::sync::Mutex;
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
        // The coarse clock may lag by a tick: never report early. At most
        // 2^62 ns (146 years), so that a call's start (nanoseconds since
        // the process began) plus this never overflows.
        let after = after.as_nanos() + clock::TICK.as_nanos();
        self.report_ns = if after > REPORT_NS_MAX as u128 {
            REPORT_NS_MAX
        } else {
            after as u64
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

/// Moves this thread's call numbers on by `calls`, as if that many calls
/// had run (a test of ids that repeat after 2^31 calls).
#[cfg(test)]
pub(crate) fn skip_calls(calls: u64) {
    with_local(|local| local.seq.set(local.seq.get() + calls));
}

/// [`begin`] then [`enter`]: a sync call, or an async call's first poll.
#[inline(always)]
fn begin_here(site: &'static CallSite, clock: Clockwork) -> Option<SyncCall> {
    let here = Here::find()?;
    let local = here.local();
    let record = begin(local, site, clock);
    // `begin` put the call on this thread already.
    let previous = local.current.replace(record);
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
            self.push_free(record);
        }
        // A record of another thread's arena is found free by its owner.
    }

    /// Back on this thread's free list: `record` is of this thread's arena.
    #[inline(always)]
    fn push_free(&self, record: &'static Record) {
        record
            .outer
            .store(self.free.get() as *mut Record, Ordering::Relaxed);
        self.free.set(record);
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
            .filter_map(Chunk::timers)
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
/// [`enter`]. The two rare cases (no free record, the coarse clock
/// stopped) take [`begin_slow`], out of line, so that the hot path calls
/// nothing and keeps few values in the registers a call would clobber.
#[inline(always)]
fn begin(local: &Local, site: &'static CallSite, clock: Clockwork) -> &'static Record {
    let head = local.free.get();
    let started = clock::coarse_ns();
    if head.is_null() || started == 0 {
        return begin_slow(local, site, clock);
    }
    // SAFETY: the free list holds records of leaked arenas only.
    let record: &'static Record = unsafe { &*head };
    local.free.set(record.outer.load(Ordering::Relaxed));
    fill(local, record, site, started, clock)
}

/// [`begin`] with a record to make free first, or the coarse clock to
/// start (the watchdog does not keep it now).
#[cold]
#[inline(never)]
fn begin_slow(local: &Local, site: &'static CallSite, clock: Clockwork) -> &'static Record {
    let record = local.take();
    let mut started = clock::coarse_ns();
    if started == 0 {
        started = clock.start();
    }
    fill(local, record, site, started, clock)
}

/// Writes a call that started at `started` into `record`, taken off this
/// thread's free list, and publishes it.
#[inline(always)]
fn fill(
    local: &Local,
    record: &'static Record,
    site: &'static CallSite,
    started: u64,
    clock: Clockwork,
) -> &'static Record {
    let parent = local.current.get();
    let seq = local.seq.get();
    local.seq.set(seq + 1);
    let parent_state = if parent.is_null() {
        0
    } else {
        // SAFETY: `current` only ever points at a record of a leaked arena.
        unsafe { &*parent }.state.load(Ordering::Relaxed)
    };
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
    // Running here: a sync call, or an async call about to be polled.
    record.thread.store(local.tid.get(), Ordering::Relaxed);
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
    if due != 0 {
        // After this fence: either the watchdog, which resets the hint
        // before it reads the records (a heavy fence between), sees this
        // call, or this call sees the reset hint and lowers it. (A call
        // without a report deadline reads no hint, and needs no fence.)
        crate::fence::light();
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
        // No overflow: both are below 2^63 (see `CallSite::report_after`).
        after => started.wrapping_add(after),
    }
}

/// The longest report delay a site keeps ([`CallSite::report_after`]).
const REPORT_NS_MAX: u64 = 1 << 62;

#[inline]
fn end(local: &Local, record: &'static Record) {
    mark_free(record);
    local.give_back(record);
}

/// The record is free: its call ended. Readers that read it in use skip
/// it when they read its state again.
#[inline(always)]
fn mark_free(record: &'static Record) {
    let state = record.state.load(Ordering::Relaxed);
    record.state.store(state & !1, Ordering::Release);
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
    /// Ends the call. Its record keeps the thread it ran on (read only
    /// while in use), and goes back to this thread's free list without a
    /// look at its arena: a sync call took it here and ends here.
    #[inline]
    fn drop(&mut self) {
        let local = self.here.local();
        local.current.set(self.previous);
        mark_free(self.record);
        local.push_free(self.record);
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
        let (record, first) = match self.record {
            Some(record) => (record, false),
            None => {
                let record = begin(local, site, clock);
                self.record = Some(record);
                (record, true)
            }
        };
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
            // `begin` put the call on this thread already.
            previous: if first {
                local.current.replace(record)
            } else {
                enter(local, record)
            },
            outer,
            here,
            first,
        })
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
        None => mark_free(record),
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
    /// This poll began the call's record (its first poll).
    first: bool,
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
        call.record = None;
        let record = this.record;
        record.polled_since.store(0, Ordering::Relaxed);
        let local = this.here.local();
        if this.first {
            // Ready on the poll that began it, as a sync call is: no
            // timeout armed yet (one is armed after a `Pending`), and the
            // record is of this thread's arena.
            local.current.set(this.previous);
            if let Some(arena) = local.arena.get() {
                arena.polling.store(this.outer, Ordering::Relaxed);
            }
            mark_free(record);
            local.push_free(record);
        } else {
            disarm(record);
            leave_poll(local, &this);
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
    fn a_report_deadline_is_a_tick_late_never_early_and_never_wraps() {
        static SOON: CallSite =
            CallSite::new("soon", file!(), line!()).report_after(Duration::from_millis(5));
        static NEVER: CallSite =
            CallSite::new("never", file!(), line!()).report_after(Duration::MAX);
        static NONE: CallSite = CallSite::new("none", file!(), line!());
        let tick = clock::TICK.as_nanos() as u64;
        assert_eq!(deadline(&SOON, 1_000), 1_000 + 5_000_000 + tick);
        // A call started a century into the process is still due later.
        let century = 100 * 365 * 24 * 3600 * 1_000_000_000_u64;
        assert_eq!(deadline(&NEVER, century), century + REPORT_NS_MAX);
        assert!(deadline(&NEVER, century) > century);
        assert_eq!(deadline(&NONE, century), 0);
    }
}
