//! Dumps of the calls in flight, in the spirit of Go's goroutine dump: one
//! block per call, its logical stack (the annotated calls it runs inside),
//! then the native stack of the thread running it, user code first.
//!
//! Who takes dumps:
//!
//! * you, with [`dump()`] or [`DumpOptions::take`];
//! * the dump worker, a thread of its own (`monitor-dump`), when the
//!   watchdog finds a `#[stack_on_timeout]` call past its deadline
//!   ([`DumpReason::Overdue`]), and, if you asked for it with
//!   [`detect_stalls`], when it finds that no call has returned for a while
//!   ([`DumpReason::Stall`]); also for a [`Supervisor`](crate::Supervisor)
//!   whose worker stopped beating;
//! * the panic hook of [`install_panic_hook`] ([`DumpReason::Panic`]).
//!
//! The watchdog only looks (cheap reads of the registry) and queues the
//! work: taking a dump waits for the threads it captures, and the sink may
//! be your code, while the watchdog's deadlines and alerts must fire on
//! time. The dump worker's and the panic hook's dumps go to the sink set
//! with [`set_dump_sink`]: stderr by default.
//!
//! Layout of the module: the data and how it is taken here; `render` for
//! the text; `sink` for where dumps go; `fatal` for the panic hook and the
//! stall detector; `worker` for the thread that takes and writes the dumps
//! the watchdog asks for.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Once;
use std::time::{Duration, Instant, SystemTime};

use serde::{Serialize, Serializer};

use crate::clock;
use crate::format::{display, opt_seconds, seconds, unix_seconds};
use crate::inflight::{self, CallId, Snapshot};
use crate::native::{self, CaptureError, Tid};

mod fatal;
pub(crate) mod render;
mod sink;
mod tasks;
mod worker;

pub use fatal::{detect_stalls, install_panic_hook, stop_detecting_stalls};
pub use sink::{set_dump_sink, DumpSink, DumpSinkError};
pub(crate) use worker::{submit, Job};

/// How long a thread gets to answer the capture signal, by default.
const ANSWER_WITHIN: Duration = Duration::from_millis(100);

/// Takes a dump of every call in flight, with the native stacks of the
/// threads running them. Blocks while the stacks are captured: a few
/// milliseconds, up to about 100 ms per 16 threads that do not answer, and
/// about a second the first time a process captures (debug info is
/// loaded).
///
/// The dump is returned, not written: print it (`Display`), serialize it
/// (`serde`), or send it to the configured sink with [`Dump::emit`].
///
/// ```
/// use monitor_runtime::__private::{stack_sync, CallSite};
/// static SITE: CallSite = CallSite::new("app::handler", file!(), line!());
///
/// stack_sync(&SITE, || {
///     let dump = monitor_runtime::dump();
///     let call = dump.calls.iter().find(|c| c.function == "app::handler").unwrap();
///     assert!(call.state.is_running());
///     println!("{dump}");
/// });
/// ```
pub fn dump() -> Dump {
    DumpOptions::new().take()
}

/// What a dump includes, for [`DumpOptions::take`].
///
/// ```
/// use monitor_runtime::DumpOptions;
/// // Logical stacks only: fast (10,000 calls in about 15 ms), no signal
/// // sent to any thread.
/// let dump = DumpOptions::new().native_stacks(false).take();
/// assert!(dump.calls.iter().all(|call| call.native.is_none()));
/// ```
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct DumpOptions {
    /// Capture the native stack of each thread that runs a call (default
    /// `true`).
    pub native_stacks: bool,
    /// How long a thread gets to answer the capture signal before it is
    /// reported as not answering (default 100 ms).
    pub answer_within: Duration,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            native_stacks: true,
            answer_within: ANSWER_WITHIN,
        }
    }
}

impl DumpOptions {
    /// Native stacks, 100 ms to answer.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether to capture native stacks.
    pub fn native_stacks(mut self, native_stacks: bool) -> Self {
        self.native_stacks = native_stacks;
        self
    }

    /// How long a thread gets to answer the capture signal.
    pub fn answer_within(mut self, answer_within: Duration) -> Self {
        self.answer_within = answer_within;
        self
    }

    /// Takes the dump.
    pub fn take(&self) -> Dump {
        take(DumpReason::Requested, self)
    }
}

/// The calls in flight at one instant.
///
/// `Display` writes the text of Go's goroutine dump; `Serialize` gives the
/// same as data (durations in seconds, `taken_at` in seconds since the UNIX
/// epoch, call ids as `"arena.seq"` strings):
///
/// ```text
/// {"reason": {"kind": "overdue", "calls": [{"id": "1.0", "function": "app::handler", ...}]},
///  "taken_at": 1790000000.123, "took": 0.004, "in_flight": 2,
///  "calls": [{"id": "1.0", "function": "app::handler", "file": "src/main.rs", "line": 21,
///             "elapsed": 1.004, "state": {"kind": "running", "thread": 4242, "name": "worker-1"},
///             "triggered": true,
///             "stack": [{"id": "1.0", "function": "app::handler", "file": "src/main.rs",
///                        "line": 21, "elapsed": 1.004, "report_after": 1.0, "overdue": true}],
///             "native": {"captured": {"frames": [{"function": "app::handler::{{closure}}",
///                        "file": "/src/app/src/main.rs", "line": 24, "origin": "user"}, ...],
///                        "truncated": false}}}],
///  "lock_waits": [{"waiter": {"kind": "thread", "tid": 4243, "name": "worker-2"},
///                  "lock": {"lock": "db", "at": {"file": "src/db.rs", "line": 9, "column": 20}},
///                  "exclusive": true, "waited": 1.2,
///                  "held_by": [{"holder": {"kind": "thread", "tid": 4242, "name": null},
///                               "at": {"file": "src/main.rs", "line": 22, "column": 14}}]}]}
/// ```
///
/// `native` is `null` for a waiting call (or without native stacks), and
/// `{"unavailable": {"error": "..."}}` when the thread could not be
/// captured.
///
/// ```
/// let dump = monitor_runtime::DumpOptions::new().native_stacks(false).take();
/// assert_eq!(dump.calls.len() <= dump.in_flight, true);
/// let text = dump.to_string();
/// assert!(text.starts_with("monitor dump at "));
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Dump {
    /// Why the dump was taken.
    pub reason: DumpReason,
    /// When.
    #[serde(serialize_with = "unix_seconds")]
    pub taken_at: SystemTime,
    /// How long taking it took (stacks captured, not formatting).
    #[serde(serialize_with = "seconds")]
    pub took: Duration,
    /// How many calls were in flight, counting the callers of other calls.
    pub in_flight: usize,
    /// One entry per innermost call (a call in flight that is no other
    /// call's caller), with its callers. Calls that made the dump be taken
    /// come first; then the oldest stacks first (by when their outermost
    /// call began), then by id.
    pub calls: Vec<CallDump>,
    /// The threads and tasks waiting for a lock of
    /// [`monitor_runtime::sync`](crate::sync), oldest first, with who holds
    /// each lock.
    pub lock_waits: Vec<crate::sync::LockWait>,
}

impl Dump {
    /// Writes the dump to the sink set with [`set_dump_sink`] (stderr by
    /// default).
    ///
    /// ```
    /// monitor_runtime::DumpOptions::new().native_stacks(false).take().emit();
    /// ```
    pub fn emit(&self) {
        let _in_dump = InDump::enter();
        sink::emit(self);
    }
}

/// Why a dump was taken.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DumpReason {
    /// By [`dump()`] or [`DumpOptions::take`].
    Requested,
    /// These `#[stack_on_timeout]` calls overran their deadline.
    Overdue {
        /// The calls, as the watchdog saw them go overdue.
        calls: Vec<OverdueCall>,
    },
    /// No call returned for this long while calls were in flight
    /// ([`detect_stalls`]).
    Stall {
        /// How long no call has returned.
        #[serde(serialize_with = "seconds")]
        stalled_for: Duration,
    },
    /// A supervised worker stopped beating (see [`Supervisor`](crate::Supervisor)).
    StalledWorker {
        /// The supervisor's name.
        worker: String,
        /// How long no beat was seen.
        #[serde(serialize_with = "seconds")]
        silent_for: Duration,
        /// The worker's thread, for a thread worker.
        thread: Option<Tid>,
        /// That thread's native stack, if native stacks were asked for and
        /// no call in flight on the thread shows it already (in
        /// [`Dump::calls`], first).
        native: Option<NativeStack>,
    },
    /// Threads or tasks wait for each other's locks in a cycle, or one
    /// takes a lock it holds ([`sync`](crate::sync)).
    Deadlock(crate::sync::Deadlock),
    /// A thread panicked ([`install_panic_hook`]).
    Panic {
        /// The panic's message, if it is a string.
        message: Option<String>,
        /// Where: `file:line:column`.
        location: Option<String>,
        /// The panicking thread's name.
        thread: Option<String>,
    },
}

/// A call that overran its `#[stack_on_timeout]` deadline.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct OverdueCall {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// Its deadline (`#[stack_on_timeout(5s)]`: 5 s).
    #[serde(serialize_with = "seconds")]
    pub limit: Duration,
    /// How long it had run when it was found overdue.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
}

/// One innermost call in flight, its callers, and the native stack of the
/// thread running it.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct CallDump {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// How long it has run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Running on a thread, or waiting to be polled.
    pub state: CallState,
    /// Whether this stack holds a call that made the dump be taken: an
    /// overdue call, or a call of the panicking thread.
    pub triggered: bool,
    /// The logical stack: this call first, then its callers (annotated
    /// calls only). Adjacent calls of the same function, file and line (a
    /// function with both `#[monitored]` and `#[stack_on_timeout]`) are
    /// one frame.
    pub stack: Vec<LogicalFrame>,
    /// The native stack of the thread running the call; `None` when the
    /// call waits, or when native stacks were not asked for.
    pub native: Option<NativeStack>,
    /// Where a waiting async call waits: its tokio task's await points,
    /// innermost last (feature `tokio-taskdump` with `--cfg
    /// tokio_unstable`; otherwise always `None`).
    pub await_points: Option<String>,
}

/// Whether a call is on a thread now.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CallState {
    /// A thread is running (or polling) the call, or is blocked in it.
    Running {
        /// The thread's kernel id.
        thread: Tid,
        /// The thread's name, if it has one.
        name: Option<String>,
    },
    /// An async call that returned `Pending` and waits to be polled again.
    Waiting,
}

impl CallState {
    /// Whether a thread runs the call.
    pub fn is_running(&self) -> bool {
        matches!(self, CallState::Running { .. })
    }

    /// The thread that runs the call.
    pub fn thread(&self) -> Option<Tid> {
        match self {
            CallState::Running { thread, .. } => Some(*thread),
            CallState::Waiting => None,
        }
    }
}

/// One call of a logical stack.
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LogicalFrame {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// How long it has run.
    #[serde(serialize_with = "seconds")]
    pub elapsed: Duration,
    /// Its `#[stack_on_timeout]` deadline, if any.
    #[serde(serialize_with = "opt_seconds")]
    pub report_after: Option<Duration>,
    /// Whether it has run past that deadline.
    pub overdue: bool,
}

/// The native stack of the thread running a call.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum NativeStack {
    /// The thread's frames, innermost first.
    Captured {
        /// The frames, innermost first; inlined functions have frames of
        /// their own.
        frames: Vec<NativeFrame>,
        /// Outer frames are missing (the stack is deeper than the capture
        /// copies).
        truncated: bool,
    },
    /// The stack could not be captured.
    Unavailable {
        /// Why (serialized as its text).
        #[serde(serialize_with = "display")]
        error: CaptureError,
    },
}

/// One frame of a native stack.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct NativeFrame {
    /// The demangled function name.
    pub function: Option<String>,
    /// The source file, as the debug info has it.
    pub file: Option<String>,
    /// The line in `file`: of the call, for all but the innermost frame.
    pub line: Option<u32>,
    /// Whose code it is.
    pub origin: Origin,
}

/// Whose code a native frame runs: the dump shows user frames and folds
/// the others.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Origin {
    /// The program's own code: a Rust file outside the toolchain, the
    /// Cargo registry and this runtime. Without debug info (no file), a
    /// function of the crate of an annotated function in flight.
    User,
    /// The Rust standard library (`std`, `core`, `alloc`).
    Std,
    /// A dependency from the Cargo registry or a git checkout (tokio,
    /// parking_lot, ...); without debug info, any other Rust crate.
    Dependency,
    /// This runtime (`monitor-runtime`).
    Runtime,
    /// Code without Rust debug info: the C library, the kernel's vDSO.
    System,
}

impl Serialize for CallId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl Serialize for Tid {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_i32(self.0)
    }
}

thread_local! {
    static IN_DUMP: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as taking or writing a dump, so that a panic meanwhile
/// (in a sink, say) does not start another dump from the panic hook.
struct InDump(bool);

impl InDump {
    fn enter() -> Self {
        InDump(IN_DUMP.with(|d| d.replace(true)))
    }

    fn active() -> bool {
        IN_DUMP.with(Cell::get)
    }
}

impl Drop for InDump {
    fn drop(&mut self) {
        IN_DUMP.with(|d| d.set(self.0));
    }
}

/// The await points of waiting calls, where tokio task dumps are on.
fn add_await_points(calls: &mut [CallDump], snapshot: &[Snapshot], answer_within: Duration) {
    let task_of: HashMap<CallId, u64> = snapshot
        .iter()
        .filter(|call| call.task != 0)
        .map(|call| (call.id, call.task))
        .collect();
    if task_of.is_empty() {
        return;
    }
    let wanted: Vec<u64> = calls
        .iter()
        .filter(|call| !call.state.is_running())
        .filter_map(|call| task_of.get(&call.id).copied())
        .collect();
    let mut found = tasks::await_points(&wanted, answer_within);
    for call in calls.iter_mut().filter(|call| !call.state.is_running()) {
        if let Some(task) = task_of.get(&call.id) {
            call.await_points = found.remove(task);
        }
    }
}

/// Takes a dump: a snapshot of the registry, the innermost calls with
/// their callers, and, if asked, one native capture of each thread that
/// runs one of them.
pub(crate) fn take(reason: DumpReason, options: &DumpOptions) -> Dump {
    let _in_dump = InDump::enter();
    let began = Instant::now();
    let taken_at = SystemTime::now();
    let snapshot = inflight::snapshot();
    let now_ns = clock::now_ns();
    let triggers: HashSet<CallId> = match &reason {
        DumpReason::Overdue { calls } => calls.iter().map(|c| c.id).collect(),
        _ => HashSet::new(),
    };
    // A panic: the panicking thread's calls.
    let trigger_thread = match &reason {
        DumpReason::Panic { .. } => Some(native::current_tid().0),
        DumpReason::StalledWorker {
            thread: Some(tid), ..
        } => Some(tid.0),
        _ => None,
    };

    // Each call's parent, as an index into `snapshot` (NONE: no parent in
    // flight).
    const NONE: u32 = u32::MAX;
    let index: HashMap<CallId, u32, IdHash> = snapshot
        .iter()
        .enumerate()
        .map(|(i, call)| (call.id, i as u32))
        .collect();
    let parents: Vec<u32> = snapshot
        .iter()
        .map(|call| {
            call.parent
                .and_then(|id| index.get(&id).copied())
                .unwrap_or(NONE)
        })
        .collect();
    drop(index);
    let mut is_caller = vec![false; snapshot.len()];
    for &parent in &parents {
        if parent != NONE {
            is_caller[parent as usize] = true;
        }
    }
    // Walks a chain from an innermost call out to its outermost caller.
    // Parents began before their children, so chains end; the bound only
    // guards against a registry bug looping the dump forever.
    let (calls_in_flight, parents) = (&snapshot[..], &parents[..]);
    let chain = move |innermost: usize| {
        let mut at = innermost as u32;
        let mut steps = 0;
        std::iter::from_fn(move || {
            if at == NONE || steps > calls_in_flight.len() {
                return None;
            }
            let call = &calls_in_flight[at as usize];
            at = parents[at as usize];
            steps += 1;
            Some(call)
        })
    };

    // Sort first, build after: (not triggered, outermost start, innermost
    // start, id, depth, index).
    let mut order: Vec<(bool, u64, u64, CallId, u32, u32)> = Vec::new();
    for (i, call) in snapshot.iter().enumerate() {
        if is_caller[i] {
            continue;
        }
        let (mut triggered, mut outermost, mut depth) = (false, call.started_ns, 0);
        for frame in chain(i) {
            triggered |= (!triggers.is_empty() && triggers.contains(&frame.id))
                || (frame.thread != 0 && Some(frame.thread) == trigger_thread);
            outermost = frame.started_ns;
            depth += 1;
        }
        order.push((
            !triggered,
            outermost,
            call.started_ns,
            call.id,
            depth,
            i as u32,
        ));
    }
    order.sort_unstable();

    let mut names = ThreadNames::default();
    let mut calls: Vec<CallDump> = order
        .into_iter()
        .map(|(not_triggered, _, _, _, depth, i)| {
            let call = &snapshot[i as usize];
            let mut stack = Vec::with_capacity(depth as usize);
            for frame in chain(i as usize) {
                push_frame(&mut stack, logical_frame(frame, now_ns));
            }
            let state = match call.thread {
                0 => CallState::Waiting,
                tid => CallState::Running {
                    thread: Tid(tid),
                    name: names.get(tid),
                },
            };
            CallDump {
                id: call.id,
                function: call.site.function,
                file: call.site.file,
                line: call.site.line,
                elapsed: elapsed(call, now_ns),
                state,
                triggered: !not_triggered,
                stack,
                native: None,
                await_points: None,
            }
        })
        .collect();

    if options.native_stacks {
        capture_native(&mut calls, options.answer_within);
        add_await_points(&mut calls, &snapshot, options.answer_within);
    }

    Dump {
        reason,
        taken_at,
        took: began.elapsed(),
        in_flight: snapshot.len(),
        calls,
        lock_waits: crate::sync::lock_waits(),
    }
}

/// A fast hash for call ids (FxHash's step): the dump hashes every call
/// in flight, and SipHash's resistance to chosen keys is not needed for
/// ids the registry hands out.
type IdHash = std::hash::BuildHasherDefault<IdHasher>;

#[derive(Default)]
struct IdHasher(u64);

impl std::hash::Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

fn elapsed(call: &Snapshot, now_ns: u64) -> Duration {
    Duration::from_nanos(now_ns.saturating_sub(call.started_ns))
}

fn logical_frame(call: &Snapshot, now_ns: u64) -> LogicalFrame {
    LogicalFrame {
        id: call.id,
        function: call.site.function,
        file: call.site.file,
        line: call.site.line,
        elapsed: elapsed(call, now_ns),
        report_after: call.site.report_after,
        overdue: call.reported || (call.deadline_ns != 0 && call.deadline_ns <= now_ns),
    }
}

/// Appends `frame` (the caller of the frames so far), merging it into the
/// last frame when both are the same function at the same place: one
/// function with `#[monitored]` and `#[stack_on_timeout]` registers twice.
fn push_frame(stack: &mut Vec<LogicalFrame>, frame: LogicalFrame) {
    if let Some(last) = stack.last_mut() {
        if (last.function, last.file, last.line) == (frame.function, frame.file, frame.line) {
            if last.report_after.is_none() {
                last.id = frame.id;
                last.report_after = frame.report_after;
            }
            last.overdue |= frame.overdue;
            last.elapsed = last.elapsed.max(frame.elapsed);
            return;
        }
    }
    stack.push(frame);
}

/// The dump of a supervised worker that stopped beating: the calls in
/// flight (those on the worker's thread first) and the native stack of the
/// worker's thread, if it has one.
pub(crate) fn stalled_worker(
    worker: String,
    silent_for: Duration,
    thread: Option<Tid>,
    options: &DumpOptions,
) -> Dump {
    let mut dump = take(
        DumpReason::StalledWorker {
            worker,
            silent_for,
            thread,
            native: None,
        },
        options,
    );
    let (Some(tid), true) = (thread, options.native_stacks) else {
        return dump;
    };
    // A call in flight on the thread shows its stack already.
    if dump
        .calls
        .iter()
        .any(|call| call.state.thread() == Some(tid) && call.native.is_some())
    {
        return dump;
    }
    prepare_once();
    let user_crates = match &dump.reason {
        DumpReason::StalledWorker { worker, .. } => [render::crate_of_function(worker)],
        _ => [""],
    };
    let stack = native::capture(&[tid], options.answer_within)
        .pop()
        .map(|result| match result {
            Ok(stack) => NativeStack::Captured {
                frames: stack
                    .frames
                    .into_iter()
                    .map(|frame| render::native_frame(frame, &user_crates))
                    .collect(),
                truncated: stack.truncated,
            },
            Err(error) => NativeStack::Unavailable { error },
        });
    if let DumpReason::StalledWorker { native, .. } = &mut dump.reason {
        *native = stack;
    }
    dump
}

/// Thread names, read once per thread per dump.
#[derive(Default)]
struct ThreadNames(HashMap<i32, Option<String>>);

impl ThreadNames {
    fn get(&mut self, tid: i32) -> Option<String> {
        self.0
            .entry(tid)
            .or_insert_with(|| native::thread_name(tid))
            .clone()
    }
}

/// Captures each thread that runs a call once, and gives every call on it
/// that thread's stack.
fn capture_native(calls: &mut [CallDump], answer_within: Duration) {
    let mut tids: Vec<Tid> = calls.iter().filter_map(|c| c.state.thread()).collect();
    tids.sort_unstable();
    tids.dedup();
    if tids.is_empty() {
        return;
    }
    prepare_once();
    // For frames without debug info: the crates of the annotated functions.
    let mut user_crates: Vec<&str> = calls
        .iter()
        .flat_map(|c| c.stack.iter())
        .map(|frame| render::crate_of_function(frame.function))
        .collect();
    user_crates.sort_unstable();
    user_crates.dedup();
    let stacks: HashMap<Tid, NativeStack> = tids
        .iter()
        .copied()
        .zip(native::capture(&tids, answer_within))
        .map(|(tid, result)| {
            let stack = match result {
                Ok(stack) => NativeStack::Captured {
                    frames: stack
                        .frames
                        .into_iter()
                        .map(|frame| render::native_frame(frame, &user_crates))
                        .collect(),
                    truncated: stack.truncated,
                },
                Err(error) => NativeStack::Unavailable { error },
            };
            (tid, stack)
        })
        .collect();
    for call in calls {
        if let Some(tid) = call.state.thread() {
            call.native = stacks.get(&tid).cloned();
        }
    }
}

/// Whether symbol loading was started (by [`prepare_once`] or on a
/// `monitor-prepare` thread).
static PREPARING: AtomicBool = AtomicBool::new(false);

/// Loads what native capture needs, once, on this thread.
fn prepare_once() {
    static PREPARED: Once = Once::new();
    PREPARING.store(true, Ordering::Relaxed);
    PREPARED.call_once(|| {
        // Errors (unsupported platform, no free signal) show in the
        // capture's results.
        let _ = native::prepare();
    });
}

/// Loads what native capture needs on a short-lived thread
/// (`monitor-prepare`), unless that was done or started already: for a
/// supervisor of a thread worker, whose first stall dump would otherwise
/// be late by the loading (about a second for a large binary).
pub(crate) fn prepare_soon() {
    if PREPARING.swap(true, Ordering::Relaxed) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("monitor-prepare".into())
        .spawn(prepare_once);
    if spawned.is_err() {
        // The first capture will load the debug info itself.
        PREPARING.store(false, Ordering::Relaxed);
    }
}

/// Coarse nanoseconds of the watchdog's last look for calls that may go
/// overdue.
static LAST_LOOK_NS: AtomicU64 = AtomicU64::new(0);

/// Once a `#[stack_on_timeout]` call is in flight, loads the debug info on
/// a short-lived thread (`monitor-prepare`), so that the first overdue
/// report is not late by the loading (about a second for a large binary).
/// Looks every 100 ms, and never again once started.
fn prepare_ahead(now_ns: u64) {
    const EVERY: u64 = 100_000_000;
    if PREPARING.load(Ordering::Relaxed)
        || now_ns.saturating_sub(LAST_LOOK_NS.load(Ordering::Relaxed)) < EVERY
    {
        return;
    }
    LAST_LOOK_NS.store(now_ns, Ordering::Relaxed);
    if !inflight::any_reportable() {
        return;
    }
    PREPARING.store(true, Ordering::Relaxed);
    let spawned = std::thread::Builder::new()
        .name("monitor-prepare".into())
        .spawn(prepare_once);
    if spawned.is_err() {
        // The first capture will load the debug info itself.
        PREPARING.store(false, Ordering::Relaxed);
        LAST_LOOK_NS.store(u64::MAX, Ordering::Relaxed);
    }
}

/// Called by the watchdog on each tick while calls are in flight, with the
/// calls that just overran their `#[stack_on_timeout]` deadline. Queues
/// dumps for the dump worker; never takes one.
pub(crate) fn on_tick(now_ns: u64, overdue: &[Snapshot]) {
    prepare_ahead(now_ns);
    if !overdue.is_empty() {
        report_overdue(overdue, now_ns);
    }
    fatal::look_for_stall(now_ns);
}

/// Reports calls that overran their deadline: a `tracing` warning for each
/// now, and one dump of the whole process naming them all, taken and
/// written to the sink on the dump worker.
fn report_overdue(calls: &[Snapshot], now_ns: u64) {
    let calls: Vec<OverdueCall> = calls
        .iter()
        .map(|call| OverdueCall {
            id: call.id,
            function: call.site.function,
            file: call.site.file,
            line: call.site.line,
            limit: call.site.report_after.unwrap_or_default(),
            elapsed: elapsed(call, now_ns),
        })
        .collect();
    for call in &calls {
        tracing::warn!(
            target: "monitor_runtime",
            call_id = %call.id,
            function = call.function,
            file = call.file,
            line = call.line,
            elapsed_ms = call.elapsed.as_millis() as u64,
            limit_ms = call.limit.as_millis() as u64,
            "call {} of {} has not returned after {}",
            call.id,
            call.function,
            crate::format::human(call.limit),
        );
    }
    submit(Job::Overdue(calls));
}
