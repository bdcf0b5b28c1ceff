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

use std::cell::Cell;
use std::cmp::Reverse;
use std::sync::atomic::{fence, AtomicBool, AtomicI32, AtomicPtr, AtomicU64, Ordering};
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
            timeout: None,
            blocked_polls: AtomicU64::new(0),
        }
    }

    /// Report calls of this site that run longer than `after`.
    pub const fn report_after(mut self, after: Duration) -> Self {
        self.report_after = Some(after);
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

/// Records per chunk of an arena.
const CHUNK: usize = 64;

#[repr(align(64))]
pub(crate) struct Record {
    /// `generation << 1 | in_use`.
    state: AtomicU64,
    site: AtomicPtr<CallSite>,
    /// Coarse nanoseconds since the process epoch.
    started: AtomicU64,
    /// Kernel id of the thread running the call now; 0 while it waits.
    thread: AtomicI32,
    /// The parent call's record and its state word when this call began.
    parent: AtomicPtr<Record>,
    parent_state: AtomicU64,
    /// Coarse nanoseconds after which the call is reported; 0 for never.
    deadline: AtomicU64,
    /// Whether the watchdog has reported this call.
    reported: AtomicBool,
    /// Per-arena sequence number of the call, for its id.
    seq: AtomicU64,
    arena: AtomicPtr<Arena>,
    /// The owner thread's free list runs through its free records.
    next_free: AtomicPtr<Record>,
    /// The tokio task of the call: where it began, with task dumps on;
    /// otherwise set when it is first pending (0: not yet, or none).
    task: AtomicU64,
    /// Where an async call's last poll returned `Pending`: the `.await`
    /// of its body, as `line << 32 | column`; 0 if unknown (cleared at each
    /// poll's start).
    awaiting: AtomicU64,
    /// The coarse clock when the async call's poll in progress began; 0
    /// outside a poll.
    polled_since: AtomicU64,
    /// The `polled_since` of the last poll reported as blocking.
    blocked_reported: AtomicU64,
}

impl Record {
    const fn new() -> Self {
        Record {
            state: AtomicU64::new(0),
            site: AtomicPtr::new(std::ptr::null_mut()),
            started: AtomicU64::new(0),
            thread: AtomicI32::new(0),
            parent: AtomicPtr::new(std::ptr::null_mut()),
            parent_state: AtomicU64::new(0),
            deadline: AtomicU64::new(0),
            reported: AtomicBool::new(false),
            seq: AtomicU64::new(0),
            arena: AtomicPtr::new(std::ptr::null_mut()),
            next_free: AtomicPtr::new(std::ptr::null_mut()),
            task: AtomicU64::new(0),
            awaiting: AtomicU64::new(0),
            polled_since: AtomicU64::new(0),
            blocked_reported: AtomicU64::new(0),
        }
    }
}

struct Chunk {
    records: [Record; CHUNK],
    next: AtomicPtr<Chunk>,
}

/// The records of one thread (or of threads that came before it).
pub(crate) struct Arena {
    id: u32,
    head: AtomicPtr<Chunk>,
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
        self.free.set(record.next_free.load(Ordering::Relaxed));
        record
    }

    #[inline]
    fn give_back(&self, record: &'static Record) {
        if self
            .arena
            .get()
            .is_some_and(|arena| std::ptr::eq(record.arena.load(Ordering::Relaxed), arena))
        {
            record
                .next_free
                .store(self.free.get() as *mut Record, Ordering::Relaxed);
            self.free.set(record);
        }
        // A record of another thread's arena is found free by its owner.
    }

    /// Rebuilds the free list from the records not in use (freed here or
    /// by other threads), adding a chunk when few are free. Returns its head.
    #[cold]
    fn refill(&self) -> *const Record {
        let arena = match self.arena.get() {
            Some(arena) => arena,
            None => {
                let arena = adopt_arena();
                self.arena.set(Some(arena));
                self.tid.set(crate::native::current_tid().0);
                arena
            }
        };
        let mut head: *const Record = std::ptr::null();
        let mut free = 0;
        for record in arena.records() {
            if record.state.load(Ordering::Acquire) & 1 == 0 {
                record
                    .next_free
                    .store(head as *mut Record, Ordering::Relaxed);
                head = record;
                free += 1;
            }
        }
        if free < CHUNK / 4 {
            let chunk: &'static Chunk = Box::leak(Box::new(Chunk {
                records: [const { Record::new() }; CHUNK],
                next: AtomicPtr::new(arena.head.load(Ordering::Relaxed)),
            }));
            for record in chunk.records.iter().rev() {
                record
                    .arena
                    .store(arena as *const Arena as *mut Arena, Ordering::Relaxed);
                record
                    .next_free
                    .store(head as *mut Record, Ordering::Relaxed);
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
        }));
        arenas.push(arena);
        arena
    })
}

impl Arena {
    fn records(&'static self) -> impl Iterator<Item = &'static Record> {
        let mut chunk = self.head.load(Ordering::Acquire);
        std::iter::from_fn(move || {
            // SAFETY: chunks are leaked, never freed, and published with
            // Release after they were fully built.
            let current: &'static Chunk = unsafe { chunk.as_ref()? };
            chunk = current.next.load(Ordering::Acquire);
            Some(current)
        })
        .flat_map(|chunk| chunk.records.iter())
    }
}

/// What keeps the coarse clock current while calls are in flight (the
/// watchdog): whether it ticks, and how to start it. The layers above pass
/// it in, so that this table knows nothing of the watchdog.
#[derive(Clone, Copy)]
pub(crate) struct Clockwork {
    /// Whether the coarse clock is being kept current.
    pub(crate) ticking: fn() -> bool,
    /// Starts the ticks (and the thread, if needed).
    pub(crate) start: fn(),
}

impl Clockwork {
    #[inline]
    fn ticking(self) -> bool {
        (self.ticking)()
    }

    #[cold]
    fn start(self) {
        (self.start)()
    }
}

/// Starts tracking a call on this thread; its parent is the call this
/// thread is inside now. The call is not the thread's current call until
/// [`enter`].
#[inline]
fn begin(local: &Local, site: &'static CallSite, clock: Clockwork) -> &'static Record {
    if !clock.ticking() {
        // The coarse clock is stale until the watchdog ticks again.
        clock.start();
    }
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
    let started = clock::coarse_ns();
    // Seqlock writer: the record was marked free (its last `end`) before
    // these stores, and readers that saw it in use re-check its state after
    // reading, so none of the stores below may move above that mark. (A
    // compiler fence on x86.)
    fence(Ordering::Release);
    record.seq.store(seq, Ordering::Relaxed);
    record
        .parent
        .store(parent as *mut Record, Ordering::Relaxed);
    record.parent_state.store(parent_state, Ordering::Relaxed);
    record
        .site
        .store(site as *const CallSite as *mut CallSite, Ordering::Relaxed);
    record.started.store(started, Ordering::Relaxed);
    record.thread.store(0, Ordering::Relaxed);
    record.reported.store(false, Ordering::Relaxed);
    record
        .deadline
        .store(deadline(site, started), Ordering::Relaxed);
    record
        .task
        .store(crate::task::current_task(), Ordering::Relaxed);
    // `awaiting` and `polled_since` need no reset: a poll's start sets
    // both, `polled_since` is 0 whenever a call ends (its poll's end
    // clears it), and `awaiting` is read only while no thread runs the
    // call, which a sync call never is.
    // Publish: a new generation, in use. Then check that the watchdog still
    // ticks; with the watchdog's stop (clear `TICKING`, heavy fence, look
    // for calls in flight) this is a Dekker pair: either the watchdog sees
    // this call, or this call sees that the watchdog stopped and starts it.
    let state = record.state.load(Ordering::Relaxed);
    record.state.store((state | 1) + 2, Ordering::Release);
    crate::fence::light();
    if !clock.ticking() {
        clock.start();
        // Restart this call's clock from the fresh tick.
        record.deadline.store(0, Ordering::Relaxed);
        let started = clock::coarse_ns();
        record.started.store(started, Ordering::Relaxed);
        record
            .deadline
            .store(deadline(site, started), Ordering::Relaxed);
    }
    record
}

#[inline]
fn deadline(site: &CallSite, started: u64) -> u64 {
    match site.report_after {
        // The coarse clock may lag by a tick: never report early.
        Some(after) => started
            .saturating_add(after.as_nanos() as u64)
            .saturating_add(clock::TICK.as_nanos() as u64),
        None => 0,
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
}

impl SyncCall {
    /// `None` while the thread is being torn down.
    #[inline]
    pub(crate) fn begin(site: &'static CallSite, clock: Clockwork) -> Option<Self> {
        LOCAL
            .try_with(|local| {
                let record = begin(local, site, clock);
                let previous = enter(local, record);
                SyncCall { record, previous }
            })
            .ok()
    }
}

impl Drop for SyncCall {
    #[inline]
    fn drop(&mut self) {
        let _ = LOCAL.try_with(|local| {
            leave(local, self.record, self.previous);
            end(local, self.record);
        });
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
        LOCAL
            .try_with(|local| {
                let record = *self.record.get_or_insert_with(|| begin(local, site, clock));
                // A new poll: not parked at any `.await` yet; polled since
                // now, as far as the watchdog can tell.
                record.awaiting.store(0, Ordering::Relaxed);
                record
                    .polled_since
                    .store(clock::coarse_ns() | 1, Ordering::Relaxed);
                PollScope {
                    record,
                    previous: enter(local, record),
                }
            })
            .ok()
    }
}

impl Drop for AsyncCall {
    #[inline]
    fn drop(&mut self) {
        if let Some(record) = self.record {
            match LOCAL.try_with(|local| end(local, record)) {
                Ok(()) => {}
                // Thread teardown: just mark it free; its owner finds it.
                Err(_) => {
                    let state = record.state.load(Ordering::Relaxed);
                    record.state.store(state & !1, Ordering::Release);
                }
            }
        }
    }
}

/// The stretch of one poll of an async call.
pub(crate) struct PollScope {
    record: &'static Record,
    previous: *const Record,
}

impl PollScope {
    /// The poll finished the call: leave it and end it in one step.
    #[inline]
    pub(crate) fn finish(self, call: &mut AsyncCall) {
        let this = std::mem::ManuallyDrop::new(self);
        let record = call.record.take();
        this.record.polled_since.store(0, Ordering::Relaxed);
        let _ = LOCAL.try_with(|local| {
            leave(local, this.record, this.previous);
            if let Some(record) = record {
                end(local, record);
            }
        });
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
        let _ = LOCAL.try_with(|local| leave(local, self.record, self.previous));
    }
}

/// The annotated async call being polled on this thread returns `Pending`
/// at the `.await` at `at` (`line << 32 | column`) of its body: noted on
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
pub(crate) fn parked_at(at: u64) {
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

/// A consistent copy of one record.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) id: CallId,
    pub(crate) site: &'static CallSite,
    pub(crate) started_ns: u64,
    pub(crate) thread: i32,
    pub(crate) parent: Option<CallId>,
    pub(crate) deadline_ns: u64,
    pub(crate) reported: bool,
    /// The tokio task of the call, if known (see `Record::task`).
    pub(crate) task: u64,
    /// The `.await` it is parked at: `(line, column)` in its site's file.
    pub(crate) awaiting: Option<(u32, u32)>,
    /// The coarse clock when its poll in progress began; 0 outside a poll.
    pub(crate) polled_since_ns: u64,
    key: (usize, u64),
    parent_key: Option<(usize, u64)>,
}

/// A call still in flight when a drain ends, or is about to
/// ([`DrainReport::left`](crate::DrainReport::left)); also one of the
/// oldest calls of a leaking function ([`Leak::oldest`](crate::leak::Leak::oldest)).
///
/// ```
/// let report = monitor_runtime::drain::DrainReport::default();
/// assert!(report.left.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Straggler {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// How long it had run.
    #[serde(serialize_with = "crate::format::seconds")]
    pub elapsed: Duration,
}

impl Straggler {
    pub(crate) fn of(call: &Snapshot, now_ns: u64) -> Self {
        Straggler {
            id: call.id,
            function: call.site.function,
            file: call.site.file,
            line: call.site.line,
            elapsed: Duration::from_nanos(now_ns.saturating_sub(call.started_ns)),
        }
    }
}

impl std::fmt::Display for Straggler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "call {} of {} ({}:{}), running for {}",
            self.id,
            self.function,
            self.file,
            self.line,
            crate::format::human(self.elapsed)
        )
    }
}

/// A call's id: its thread arena and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId {
    /// The arena (one per thread that has made annotated calls).
    pub arena: u32,
    /// The call's number in that arena.
    pub seq: u64,
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.arena, self.seq)
    }
}

fn read(record: &'static Record) -> Option<Snapshot> {
    let state = record.state.load(Ordering::Acquire);
    if state & 1 == 0 {
        return None;
    }
    let site = record.site.load(Ordering::Relaxed);
    let started_ns = record.started.load(Ordering::Relaxed);
    let thread = record.thread.load(Ordering::Relaxed);
    let parent = record.parent.load(Ordering::Relaxed);
    let parent_state = record.parent_state.load(Ordering::Relaxed);
    let deadline_ns = record.deadline.load(Ordering::Relaxed);
    let reported = record.reported.load(Ordering::Relaxed);
    let task = record.task.load(Ordering::Relaxed);
    let awaiting = record.awaiting.load(Ordering::Relaxed);
    let polled_since_ns = record.polled_since.load(Ordering::Relaxed);
    let seq = record.seq.load(Ordering::Relaxed);
    let arena = record.arena.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if record.state.load(Ordering::Relaxed) != state || site.is_null() || arena.is_null() {
        return None;
    }
    // SAFETY: sites are statics; arenas are leaked.
    let (site, arena) = unsafe { (&*site, &*arena) };
    Some(Snapshot {
        id: CallId {
            arena: arena.id,
            seq,
        },
        site,
        started_ns,
        thread,
        parent: None,
        deadline_ns,
        reported,
        task,
        // A call being polled is not parked anywhere.
        awaiting: (awaiting != 0 && thread == 0)
            .then_some(((awaiting >> 32) as u32, awaiting as u32)),
        polled_since_ns,
        key: (record as *const Record as usize, state),
        parent_key: (!parent.is_null()).then_some((parent as usize, parent_state)),
    })
}

/// Calls `f` on every record of every arena. Holds the arena list's lock
/// (which only a thread's first annotated call takes) and allocates
/// nothing.
fn for_each_record(mut f: impl FnMut(&'static Record)) {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    for arena in arenas.iter() {
        arena.records().for_each(&mut f);
    }
}

/// Every call in flight now, parents resolved, oldest first.
pub(crate) fn snapshot() -> Vec<Snapshot> {
    let mut calls = Vec::new();
    for_each_record(|record| calls.extend(read(record)));
    let ids: std::collections::HashMap<(usize, u64), CallId> =
        calls.iter().map(|c| (c.key, c.id)).collect();
    for call in &mut calls {
        call.parent = call.parent_key.and_then(|key| ids.get(&key).copied());
    }
    calls.sort_by_key(|c| (c.started_ns, c.id));
    calls
}

/// Calls whose report deadline passed at `now_ns` and that are not yet
/// reported; each is marked reported, so it is returned once.
pub(crate) fn due(now_ns: u64) -> Vec<Snapshot> {
    let mut due = Vec::new();
    for_each_record(|record| {
        let deadline = record.deadline.load(Ordering::Relaxed);
        if deadline == 0 || deadline > now_ns || record.reported.load(Ordering::Relaxed) {
            return;
        }
        if let Some(call) = read(record)
            && call.deadline_ns != 0
            && call.deadline_ns <= now_ns
            && !call.reported
        {
            record.reported.store(true, Ordering::Relaxed);
            due.push(call);
        }
    });
    due
}

/// A poll found blocking its thread: the call, and the threshold its
/// poll ran past.
pub(crate) struct Blocked {
    pub(crate) call: Snapshot,
    pub(crate) threshold: Duration,
}

/// Async calls whose poll in progress has run longer than its threshold
/// (`block_after`, or the call's timeout if that is shorter), as of
/// `now_ns`; of the nested polls on one thread, only the innermost that
/// ran past its threshold (the others are blocked by it). Each poll is
/// returned once. Read-only but for that mark.
pub(crate) fn blocked(now_ns: u64, block_after: Duration) -> Vec<Blocked> {
    // The coarse clock at a poll's start may lag by a tick: never early.
    let tick = clock::TICK.as_nanos() as u64;
    let mut found: Vec<(&'static Record, Blocked)> = Vec::new();
    for_each_record(|record| {
        let since = record.polled_since.load(Ordering::Relaxed);
        if since == 0 || now_ns.saturating_sub(since) <= tick {
            return;
        }
        let Some(call) = read(record) else { return };
        let threshold = call
            .site
            .timeout
            .map_or(block_after, |t| t.min(block_after));
        let ran = now_ns.saturating_sub(call.polled_since_ns);
        if call.polled_since_ns != 0 && call.thread != 0 && ran > threshold.as_nanos() as u64 + tick
        {
            found.push((record, Blocked { call, threshold }));
        }
    });
    // The innermost of each thread: not the caller of another one found,
    // and of what remains on one thread (a caller whose callee in between
    // has a larger threshold), the poll that began last.
    let callers: std::collections::HashSet<(usize, u64)> = found
        .iter()
        .filter_map(|(_, blocked)| blocked.call.parent_key)
        .collect();
    found.retain(|(_, blocked)| !callers.contains(&blocked.call.key));
    found.sort_by_key(|(_, b)| {
        (
            b.call.thread,
            Reverse((b.call.polled_since_ns, b.call.started_ns)),
        )
    });
    found.dedup_by_key(|(_, b)| b.call.thread);
    found
        .into_iter()
        .filter(|(record, blocked)| {
            let since = blocked.call.polled_since_ns;
            record.blocked_reported.swap(since, Ordering::Relaxed) != since
        })
        .map(|(_, blocked)| blocked)
        .collect()
}

/// Calls `f` with the address and state word (`generation << 1 | in_use`)
/// of every record, free or not. Read-only: the stall detector compares
/// two walks to learn whether any call ended in between, without a shared
/// write on the calls' path.
pub(crate) fn for_each_state(mut f: impl FnMut(usize, u64)) {
    for_each_record(|record| {
        f(
            record as *const Record as usize,
            record.state.load(Ordering::Acquire),
        )
    });
}

/// Whether, between two reads of a record's state word that saw `old` and
/// then `new`, some call on that record ended: `begin` turns a free `s`
/// into `s + 3` (in use, next generation) and `end` turns that into
/// `s + 2`. For the stall detector, which compares [`for_each_state`]
/// walks.
pub(crate) fn ended_between(old: u64, new: u64) -> bool {
    if old & 1 == 1 {
        new != old
    } else {
        new != old && new != old + 3
    }
}

/// Whether a call with a report deadline (`#[stack_on_timeout]`) is in
/// flight. Read-only.
pub(crate) fn any_reportable() -> bool {
    let mut any = false;
    for_each_record(|record| {
        any |= record.deadline.load(Ordering::Relaxed) != 0
            && record.state.load(Ordering::Relaxed) & 1 == 1
    });
    any
}

/// How many calls are in flight now. Read-only.
pub(crate) fn count_in_flight() -> usize {
    let mut n = 0;
    for_each_record(|record| n += (record.state.load(Ordering::Acquire) & 1) as usize);
    n
}

/// Whether any call is in flight. Pairs with the swap in `begin`: call
/// after the watchdog has said it stops ticking.
pub(crate) fn any_in_flight() -> bool {
    crate::fence::heavy();
    let mut any = false;
    for_each_record(|record| any |= record.state.load(Ordering::Relaxed) & 1 == 1);
    any
}
