//! The data of a dump: what it holds, how it serializes, and how a native
//! capture becomes a [`NativeStack`] (each frame told user code or not).
//! How a dump is taken is in `take`, its text in `render`.

use std::time::{Duration, SystemTime};

use serde::{Serialize, Serializer};

use crate::format::{display, opt_seconds, seconds, unix_seconds};
use crate::inflight::{CallId, Straggler};
use crate::native::{CaptureError, Frame, Stack, Tid};

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
///                        "line": 21, "elapsed": 1.004, "report_after": 1.0, "overdue": true,
///                        "awaiting": null}],
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
/// let dump = monitor_runtime::dump::DumpOptions::new().native_stacks(false).take();
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
    pub lock_waits: Vec<crate::sync::report::LockWait>,
    /// What the runtime left out to keep its reports bounded (all zero in
    /// a dump you take yourself).
    pub omitted: Omitted,
    /// Every thread of the process, by id, when the dump was asked for
    /// them ([`DumpOptions::all_threads`](super::DumpOptions::all_threads));
    /// empty otherwise (and then left out of the JSON).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub threads: Vec<super::ThreadDump>,
}

/// What the runtime left out of its reports, so that a storm of overdue
/// calls, or a sink that is slow or stuck, costs bounded memory and
/// output. Every overdue call is still announced by its `tracing`
/// warning.
///
/// ```
/// use monitor_runtime::dump::Omitted;
/// let omitted = Omitted::default();
/// assert!(omitted.is_empty());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct Omitted {
    /// Overdue calls, since the last report written, that no report names:
    /// more went overdue than one report holds while the dump worker or
    /// the sink was busy, or the report was dropped.
    pub overdue_calls: u64,
    /// Dumps, since the last one written, that were dropped: the queue was
    /// full, or the sink had not returned from an earlier dump for
    /// seconds.
    pub dumps: u64,
    /// Stacks in flight that this report does not show because a report
    /// of its kind shortly before showed them (only the stacks of the
    /// calls it is about are shown then: newly overdue calls, or the calls
    /// whose poll blocks).
    pub stacks_shown_before: usize,
    /// Reports of this kind (overdue calls, or blocked polls) held back by
    /// the rate limit (one report a second of each kind) and merged into
    /// this one.
    pub reports_merged: u64,
}

impl CallDump {
    /// How many calls this block stands for: 1, plus the calls folded
    /// into it.
    ///
    /// ```
    /// let dump = monitor_runtime::dump::DumpOptions::new().native_stacks(false).take();
    /// assert!(dump.calls.iter().all(|call| call.count() == 1));
    /// ```
    pub fn count(&self) -> usize {
        1 + self.folded.len()
    }
}

impl Omitted {
    /// Whether nothing was left out.
    pub fn is_empty(&self) -> bool {
        *self == Omitted::default()
    }
}

/// Why a dump was taken.
#[derive(Clone, Debug, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum DumpReason {
    /// By [`dump()`](super::dump()) or [`DumpOptions::take`](super::DumpOptions::take).
    Requested,
    /// These `#[stack_on_timeout]` calls overran their deadline.
    Overdue {
        /// The calls, as the watchdog saw them go overdue.
        calls: Vec<OverdueCall>,
    },
    /// No call returned for this long while calls were in flight
    /// ([`detect_stalls`](super::detect_stalls)).
    Stall {
        /// How long no call has returned.
        #[serde(serialize_with = "seconds")]
        stalled_for: Duration,
    },
    /// A supervised worker stopped beating (see [`Supervisor`](crate::supervisor::Supervisor)).
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
    Deadlock(crate::sync::report::Deadlock),
    /// Async calls whose single poll ran longer than the blocking
    /// threshold (or their timeout): each blocks its worker thread, and
    /// with it every task queued there. The native stacks of the calls
    /// show the blocking line.
    BlockedPoll {
        /// The polls, as the watchdog found them.
        polls: Vec<BlockedPoll>,
    },
    /// Locks were taken in orders that form a cycle: a deadlock waiting
    /// to happen, reported before anything hangs
    /// ([`set_lock_order_checking`](crate::sync::set_lock_order_checking)).
    LockOrder(crate::sync::LockOrderInversion),
    /// A [`drain`](crate::drain()) is about to end with these calls still
    /// in flight: taken shortly before its deadline (at most 250 ms, a
    /// fifth of the grace period), so that it is written by the time
    /// `drain` returns.
    Drain {
        /// The grace period.
        #[serde(serialize_with = "seconds")]
        grace: Duration,
        /// How long before the deadline the dump was taken.
        #[serde(serialize_with = "seconds")]
        before_deadline: Duration,
        /// The calls still in flight then, oldest first.
        calls: Vec<Straggler>,
    },
    /// A function's calls in flight, or the process's threads, keep rising
    /// ([`watch_leaks`](crate::leak::watch_leaks)).
    Leak(crate::alert::Leak),
    /// The process received this signal after
    /// [`dump_on_signal`](crate::dump_on_signal) (`kill -QUIT`: signal 3).
    Signal {
        /// The signal's number.
        signal: i32,
    },
    /// A thread panicked ([`install_panic_hook`](super::install_panic_hook)).
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

/// A poll of an async call that blocked its thread: async code that calls
/// blocking code (`std::thread::sleep`, a synchronous lock or socket, a
/// long computation) holds its worker thread, and no timeout can
/// interrupt it.
///
/// ```
/// use monitor_runtime::dump::{DumpReason, BlockedPoll};
/// fn blocking_lines(reason: &DumpReason) -> Vec<&BlockedPoll> {
///     match reason {
///         DumpReason::BlockedPoll { polls } => polls.iter().collect(),
///         _ => Vec::new(),
///     }
/// }
/// assert!(blocking_lines(&DumpReason::Requested).is_empty());
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct BlockedPoll {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// The thread the poll blocks.
    pub thread: Tid,
    /// How long the poll had run when it was found (at least).
    #[serde(serialize_with = "seconds")]
    pub blocked_for: Duration,
    /// The threshold it ran past: the blocking threshold, or the call's
    /// timeout if that is shorter.
    #[serde(serialize_with = "seconds")]
    pub threshold: Duration,
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
    /// Other calls stuck at the same place, folded into this block as Go's
    /// `debug=1` goroutine profile folds identical stacks: the same
    /// logical stack (function, file and line of each frame) and the same
    /// native frames. Only in the runtime's overdue, drain and leak
    /// reports, and only for
    /// three calls or more (two are shown both: a deadlock of two is read
    /// from both stacks); empty otherwise.
    pub folded: Vec<CallId>,
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
    /// The `.await` of its body it is parked at, if it waits there (an
    /// async call of `#[monitored]` or `#[stack_on_timeout]` that returned
    /// `Pending`); `None` while a thread runs it, or when it waits where the
    /// macros cannot see (an `.await` inside a macro such as
    /// `tokio::select!`).
    pub awaiting: Option<AwaitPoint>,
}

/// Where in its function's file an async call is parked: the `.await`
/// that returned `Pending` (its `await` keyword).
///
/// ```
/// let dump = monitor_runtime::dump::DumpOptions::new().native_stacks(false).take();
/// for frame in dump.calls.iter().flat_map(|call| &call.stack) {
///     if let Some(at) = &frame.awaiting {
///         println!("{} waits at {}:{}:{}", frame.function, frame.file, at.line, at.column);
///     }
/// }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize)]
#[non_exhaustive]
pub struct AwaitPoint {
    /// The line of the `.await`.
    pub line: u32,
    /// Its column (1-based, of the `await` keyword).
    pub column: u32,
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

impl NativeStack {
    /// A thread's native capture, as the dump holds it: the one conversion
    /// from [`native::capture`](crate::native::capture)'s result.
    /// `user_crates`: the crates of the annotated functions in flight, for
    /// frames without debug info.
    pub(super) fn from_capture(capture: Result<Stack, CaptureError>, user_crates: &[&str]) -> Self {
        match capture {
            Ok(stack) => NativeStack::Captured {
                frames: stack
                    .frames
                    .into_iter()
                    .map(|frame| NativeFrame::from_frame(frame, user_crates))
                    .collect(),
                truncated: stack.truncated,
            },
            Err(error) => NativeStack::Unavailable { error },
        }
    }
}

impl NativeFrame {
    /// A captured frame, with whose code it is. `user_crates`: the crates
    /// of the annotated functions in flight, for frames without debug info.
    pub(super) fn from_frame(frame: Frame, user_crates: &[&str]) -> Self {
        let file = frame.file.map(|f| f.to_string_lossy().into_owned());
        let origin = origin(frame.function.as_deref(), file.as_deref(), user_crates);
        NativeFrame {
            function: frame.function,
            file,
            line: frame.line,
            origin,
        }
    }
}

/// The crate of a function, from its path: `app::handler` -> `app`,
/// `<app::Db as Trait>::get` -> `app`.
pub(super) fn crate_of_function(name: &str) -> &str {
    let name = name.trim_start_matches('<');
    name.split("::").next().unwrap_or(name)
}

/// For frames without debug info: the crates of the annotated functions
/// in flight.
pub(super) fn user_crates(calls: &[CallDump]) -> Vec<&'static str> {
    let mut user_crates: Vec<&str> = calls
        .iter()
        .flat_map(|c| c.stack.iter())
        .map(|frame| crate_of_function(frame.function))
        .collect();
    user_crates.sort_unstable();
    user_crates.dedup();
    user_crates
}

/// This runtime's sources, when it is built from a path (a workspace) and
/// not from the registry.
const RUNTIME_SRC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/");

fn origin(function: Option<&str>, file: Option<&str>, user_crates: &[&str]) -> Origin {
    let Some(file) = file.filter(|f| f.ends_with(".rs")) else {
        // No Rust source: the C library, the vDSO, or Rust code without
        // debug info (a release build), told apart by its path.
        let Some(name) = function.filter(|name| name.contains("::")) else {
            return Origin::System;
        };
        return match crate_of_function(name) {
            "std" | "core" | "alloc" => Origin::Std,
            "monitor_runtime" => Origin::Runtime,
            krate if user_crates.contains(&krate) => Origin::User,
            _ => Origin::Dependency,
        };
    };
    let file = file.replace('\\', "/");
    if file.starts_with("/rustc/")
        || [
            "std",
            "core",
            "alloc",
            "panic_unwind",
            "panic_abort",
            "proc_macro",
        ]
        .iter()
        .any(|krate| file.contains(&format!("/library/{krate}/src/")))
    {
        Origin::Std
    } else if file.starts_with(RUNTIME_SRC)
        || file.starts_with("monitor-runtime/src/")
        || file.contains("/monitor-runtime/src/")
    {
        Origin::Runtime
    } else if file.contains("/.cargo/registry/")
        || file.contains("/.cargo/git/")
        || file.contains("/registry/src/")
    {
        Origin::Dependency
    } else {
        Origin::User
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &str, file: Option<&str>) -> NativeFrame {
        NativeFrame::from_frame(
            Frame {
                ip: 0,
                function: Some(function.into()),
                file: file.map(Into::into),
                line: Some(1),
            },
            &["app"],
        )
    }

    #[test]
    fn origins() {
        let std = frame(
            "std::sys::sync::mutex::futex::Mutex::lock_contended",
            Some("/rustc/abc/library/std/src/sys/sync/mutex/futex.rs"),
        );
        assert_eq!(std.origin, Origin::Std);
        let tokio = frame(
            "tokio::runtime::park::Inner::park",
            Some("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.38.0/src/runtime/park.rs"),
        );
        assert_eq!(tokio.origin, Origin::Dependency);
        assert_eq!(frame("syscall", None).origin, Origin::System);
        assert_eq!(
            frame("start_thread", Some("./nptl/pthread_create.c")).origin,
            Origin::System
        );
        // Without debug info: by the function's crate.
        assert_eq!(frame("app::handler", None).origin, Origin::User);
        assert_eq!(
            frame("<app::Db as app::Store>::get", None).origin,
            Origin::User
        );
        assert_eq!(frame("std::thread::park", None).origin, Origin::Std);
        let tokio = frame("tokio::runtime::park::Inner::park", None);
        assert_eq!(tokio.origin, Origin::Dependency);
        assert_eq!(
            frame("app::main", Some("/home/u/app/src/main.rs")).origin,
            Origin::User
        );
        assert_eq!(
            frame(
                "monitor_runtime::__private::stack_sync",
                Some(&format!("{RUNTIME_SRC}lib.rs"))
            )
            .origin,
            Origin::Runtime
        );
    }
}
