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
//!   ([`DumpReason::Stall`]), and when an async call's poll blocks its
//!   thread ([`DumpReason::BlockedPoll`]); also for a [`Supervisor`](crate::supervisor::Supervisor)
//!   whose worker stopped beating;
//! * the panic hook of [`install_panic_hook`] ([`DumpReason::Panic`]).
//!
//! The watchdog only looks (cheap reads of the table of calls in flight) and queues the
//! work: taking a dump waits for the threads it captures, and the sink may
//! be your code, while the watchdog's deadlines and alerts must fire on
//! time. The dump worker's and the panic hook's dumps go to the sink set
//! with [`set_dump_sink`]: stderr by default.
//!
//! Layout of the module, one concept per file:
//!
//! * here, the entry points: [`dump()`], [`DumpOptions`], [`Dump::emit`];
//! * `model`: the data of a dump ([`Dump`], [`CallDump`], [`NativeStack`],
//!   ...), how it serializes, and how a native capture becomes a
//!   [`NativeStack`];
//! * `take`: taking a dump (the snapshot of the calls in flight, the native capture of
//!   the threads, await points);
//! * `prepare`: loading what native capture needs ahead of the first dump;
//! * `overdue`: what the watchdog's tick does for overdue calls;
//! * `render`: the text; `sink`: where dumps go; `fatal`: the panic hook
//!   and the stall detector; `worker`: the thread that takes and writes the
//!   dumps the watchdog asks for; `tasks`: the await points of tokio tasks.

use std::time::Duration;

mod fatal;
mod model;
mod overdue;
#[cfg(feature = "pprof")]
mod pprof;
mod prepare;
#[cfg(feature = "pprof")]
mod profile_proto;
pub(crate) mod render;
mod signal;
mod sink;
mod take;
mod tasks;
mod threads;
mod worker;

pub(crate) use fatal::stall_look_every;
pub use fatal::{detect_stalls, install_panic_hook, stop_detecting_stalls};
pub use model::{
    AwaitPoint, BlockedPoll, CallDump, CallState, Dump, DumpReason, LogicalFrame, NativeFrame,
    NativeStack, Omitted, Origin, OverdueCall,
};
pub(crate) use overdue::{on_blocked, on_tick};

/// Folds three or more stacks stuck at the same place into one block
/// (`CallDump::folded`), as overdue reports do: for the runtime's reports
/// of many calls (a drain's stragglers, a leak).
pub(crate) fn fold_same_places(dump: &mut Dump) {
    overdue::fold(&mut dump.calls);
}
pub(crate) use prepare::prepare_soon;
pub use signal::{dump_on_signal, DumpOnSignalError};
pub(crate) use sink::write_then;
pub use sink::{set_dump_sink, DumpSink, DumpSinkError};
use take::InDump;
pub(crate) use take::{stalled_worker, take};
pub(crate) use worker::{submit, Job};

pub use crate::inflight::{CallId, CallSite, Straggler};
pub use crate::native::threads::ThreadState;
pub use crate::native::{CaptureError, Frame, Stack, Tid};
pub use threads::ThreadDump;

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
/// use monitor_runtime::dump::DumpOptions;
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
    /// Every thread of the process, not only those that run calls
    /// (default `false`): see [`all_threads`](Self::all_threads).
    pub all_threads: bool,
}

impl Default for DumpOptions {
    fn default() -> Self {
        DumpOptions {
            native_stacks: true,
            answer_within: ANSWER_WITHIN,
            all_threads: false,
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

    /// Whether to list every thread of the process ([`Dump::threads`]),
    /// as Go's goroutine dump lists every goroutine: each thread once,
    /// with its name, id, scheduler state and (with
    /// [`native_stacks`](Self::native_stacks)) its native stack, linked to
    /// the calls in flight it runs. Threads blocked in a system call are
    /// read without a signal; a thread that cannot be captured is listed
    /// with the reason. Linux only (elsewhere the list is empty).
    ///
    /// ```
    /// use monitor_runtime::dump::DumpOptions;
    ///
    /// let (tx, rx) = std::sync::mpsc::channel::<()>();
    /// let parked = std::thread::Builder::new()
    ///     .name("parked".into())
    ///     .spawn(move || rx.recv())
    ///     .unwrap();
    /// # std::thread::sleep(std::time::Duration::from_millis(20));
    /// let dump = DumpOptions::new().all_threads(true).take();
    /// # #[cfg(target_os = "linux")]
    /// assert!(dump.threads.iter().any(|t| t.name.as_deref() == Some("parked")));
    /// println!("{dump}"); // ... "thread 'parked' (tid 4243) [sleeping]:" and its stack
    /// drop(tx);
    /// parked.join().unwrap().unwrap_err();
    /// ```
    pub fn all_threads(mut self, all_threads: bool) -> Self {
        self.all_threads = all_threads;
        self
    }

    /// Takes the dump.
    pub fn take(&self) -> Dump {
        take(DumpReason::Requested, self)
    }
}

impl Dump {
    /// Writes the dump to the sink set with [`set_dump_sink`] (stderr by
    /// default).
    ///
    /// ```
    /// monitor_runtime::dump::DumpOptions::new().native_stacks(false).take().emit();
    /// ```
    pub fn emit(&self) {
        let _in_dump = InDump::enter();
        sink::emit(self);
    }
}
