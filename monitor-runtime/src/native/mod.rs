//! Native stacks of other threads, captured from the thread that takes a
//! dump (the capturer): the dump worker (`monitor-dump`) for the dumps the
//! runtime takes on its own, never the watchdog, or your thread for
//! [`dump()`](crate::dump()).
//!
//! How a capture works on Linux (x86_64 and aarch64):
//!
//! 1. A thread that the kernel shows blocked in a system call (x86_64 only)
//!    is read without a signal, which could end that call with `EINTR`
//!    (`blocked.rs`): its stack pointer and program counter come from
//!    `/proc/self/task/TID/syscall`, its stack is copied with
//!    `process_vm_readv`. Capturing never changes what such a thread sees.
//! 2. Any other thread (it runs user code, where a signal interrupts
//!    nothing): [`capture`] arms a preallocated slot for it and sends it a
//!    real-time signal with `tgkill` (`signal.rs`). The signal handler, on
//!    the target thread, does only async-signal-safe work: it copies the
//!    registers and the top [`STACK_COPY`] bytes of its stack into the
//!    slot, publishes it with an atomic store, wakes the capturer with a
//!    futex and restores `errno`. It allocates nothing, takes no lock and
//!    resolves no symbol. `SA_RESTART` keeps restartable calls going.
//! 3. The capturer unwinds the copy with `framehop` and the loaded modules'
//!    `.eh_frame` (`unwind.rs`), the way `perf record --call-graph dwarf`
//!    does, then symbolizes with `backtrace` (`symbolize.rs`).
//!
//! A running thread that does not run the handler within the caller's
//! bound (it blocks the signal, or is stopped) is reported as
//! [`CaptureError::NoAnswer`]; the capturer never waits longer.
//!
//! Limits:
//!
//! * Only the first [`STACK_COPY`] bytes (64 KiB) of a stack are copied;
//!   outer frames whose data lies beyond are left out and the stack is
//!   marked [`Stack::truncated`]. Deep async stacks (large futures on the
//!   stack) may hit this.
//! * Frames without unwind information (`.eh_frame`), such as hand-written
//!   assembly or JIT code, are unwound with frame pointers, or end the stack.
//! * The capture signal (the highest free real-time signal) is not chained:
//!   a handler installed on it later disables capture.
//! * A thread blocked in a system call is unwound without its frame
//!   pointer, which the kernel does not show: code that finds its caller
//!   through `rbp` alone (built with `-C force-frame-pointers`, or using
//!   `alloca`) ends the stack there. On aarch64 blocked threads are
//!   signalled too: the innermost return address (`x30`) is not shown
//!   either.
//! * Threads are signalled 16 at a time: a call takes up to
//!   `ceil(threads / 16) * answer_within` when none of them answers.
//! * The first capture, or [`prepare`], loads the debug info: about a second
//!   for a large binary. After that, 100 threads take a few milliseconds.
//!
//! This module reaches nothing else in the crate (no `crate::` paths), so
//! that `tests/native_capture.rs` can compile it on its own and reach what is not
//! public (`capture`, `prepare`, `current_tid`).

// Those tests use only part of it.
#![cfg_attr(test, allow(dead_code))]

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// Items for the platforms where capture works: Linux on x86_64 and aarch64.
macro_rules! supported {
    ($($item:item)*) => {
        $(
            #[cfg(all(target_os = "linux", any(target_arch = "x86_64", target_arch = "aarch64")))]
            $item
        )*
    };
}

pub(crate) mod threads;

supported! {
    mod blocked;
    mod frame_record;
    mod linux;
    mod signal;
    mod symbolize;
    mod unwind;
}

/// How many bytes of a thread's stack a capture copies, from its stack
/// pointer up. Frames whose data lies beyond are not unwound: the stack is
/// then marked [`Stack::truncated`].
pub const STACK_COPY: usize = 64 * 1024;

/// At most this many frames (before inlined frames are expanded) per stack.
pub const MAX_FRAMES: usize = 256;

/// A thread's id as the kernel knows it: what `gettid()` returns, what
/// `top -H`, `/proc/<pid>/task/` and debuggers show.
///
/// ```
/// let tid = monitor_runtime::dump::Tid(4242);
/// assert_eq!(tid.to_string(), "4242");
/// ```
///
/// (Outside Linux it is a number unique to each thread of the process, not
/// the kernel's.)
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tid(pub i32);

impl fmt::Display for Tid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// The kernel thread id of the calling thread, cached in a thread-local.
///
/// After `fork`, the thread that forked keeps its parent's id in the child
/// (as `glibc` did before 2.25); the runtime does not run in forked
/// children.
#[inline]
pub(crate) fn current_tid() -> Tid {
    use std::cell::Cell;
    thread_local! {
        // No destructor: reading it works even while the thread exits.
        static TID: Cell<i32> = const { Cell::new(0) };
    }
    // The read inlines (a lock records its holder with it); the first
    // call on a thread asks the kernel, out of line.
    match TID.with(Cell::get) {
        0 => first_tid(&TID),
        tid => Tid(tid),
    }
}

#[cold]
#[inline(never)]
fn first_tid(key: &'static std::thread::LocalKey<std::cell::Cell<i32>>) -> Tid {
    let tid = gettid();
    key.with(|cell| cell.set(tid));
    Tid(tid)
}

#[cfg(target_os = "linux")]
fn gettid() -> i32 {
    // SAFETY: `gettid` takes no argument and cannot fail.
    unsafe { libc::syscall(libc::SYS_gettid) as i32 }
}

#[cfg(not(target_os = "linux"))]
fn gettid() -> i32 {
    use std::sync::atomic::{AtomicI32, Ordering};
    static NEXT: AtomicI32 = AtomicI32::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// A thread's native stack at one instant, innermost frame first.
///
/// ```
/// use monitor_runtime::dump::{Frame, Stack};
/// let stack = Stack {
///     frames: vec![Frame {
///         ip: 0x5555_5555_1234,
///         function: Some("my_crate::handler".into()),
///         file: Some("src/handler.rs".into()),
///         line: Some(42),
///     }],
///     truncated: false,
/// };
/// for frame in &stack.frames {
///     println!("{frame}"); // "my_crate::handler\n\tsrc/handler.rs:42"
/// }
/// if stack.truncated {
///     println!("...more frames not shown");
/// }
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stack {
    /// The frames, innermost first. A function inlined into its caller has
    /// a frame of its own, before its caller's, with the same `ip`.
    pub frames: Vec<Frame>,
    /// Outer frames are missing: they lie beyond the first 64 KiB of the
    /// stack (what a capture copies), or past 256 frames.
    pub truncated: bool,
}

impl fmt::Display for Stack {
    /// Go's layout: the function, then a tab and `file:line`, per frame.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for frame in &self.frames {
            writeln!(f, "{frame}")?;
        }
        if self.truncated {
            writeln!(f, "...additional frames elided...")?;
        }
        Ok(())
    }
}

/// One frame of a [`Stack`].
///
/// ```
/// use monitor_runtime::dump::Frame;
/// let frame = Frame {
///     ip: 0x5555_5555_1234,
///     function: Some("app::work".into()),
///     file: Some("src/main.rs".into()),
///     line: Some(7),
/// };
/// assert_eq!(frame.to_string(), "app::work\n\tsrc/main.rs:7");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Frame {
    /// The instruction pointer: where the innermost frame was interrupted,
    /// or where an outer frame returns to.
    pub ip: usize,
    /// The demangled function name, without Rust's hash suffix.
    pub function: Option<String>,
    /// The source file, as the debug info records it.
    pub file: Option<PathBuf>,
    /// The line in `file`: of the call, for all frames but the innermost.
    pub line: Option<u32>,
}

impl fmt::Display for Frame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.function {
            Some(function) => f.write_str(function)?,
            None => write!(f, "{:#x}", self.ip)?,
        }
        match (&self.file, self.line) {
            (Some(file), Some(line)) => write!(f, "\n\t{}:{line}", file.display()),
            (Some(file), None) => write!(f, "\n\t{}", file.display()),
            _ => write!(f, "\n\t?"),
        }
    }
}

/// Why a thread's stack could not be captured.
///
/// ```
/// use monitor_runtime::dump::CaptureError;
/// assert_eq!(CaptureError::Gone.to_string(), "the thread has exited");
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CaptureError {
    /// The thread did not run the capture signal's handler in time: it
    /// blocks the signal (`pthread_sigmask`), or it is stopped.
    NoAnswer {
        /// The signal it was sent.
        signal: i32,
    },
    /// The thread has exited (or the id is not a thread of this process).
    Gone,
    /// Not supported on this platform: only Linux on x86_64 and aarch64.
    Unsupported,
    /// Every real-time signal already has a handler, so none is free for
    /// stack capture.
    NoFreeSignal,
    /// Something replaced the capture signal's handler after it was
    /// installed.
    HandlerReplaced {
        /// The signal whose handler was replaced.
        signal: i32,
    },
    /// Sending the signal failed with this `errno`.
    Signal {
        /// The `errno` of `tgkill`.
        errno: i32,
    },
}

impl fmt::Display for CaptureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CaptureError::NoAnswer { signal } => write!(
                f,
                "the thread did not answer signal {signal} in time: it blocks the signal \
                 (pthread_sigmask) or is stopped; unblock signal {signal} on it to see its stack"
            ),
            CaptureError::Gone => f.write_str("the thread has exited"),
            CaptureError::Unsupported => {
                f.write_str("native stack capture is supported on Linux x86_64 and aarch64 only")
            }
            CaptureError::NoFreeSignal => f.write_str(
                "no real-time signal is free for stack capture: every one from SIGRTMIN to \
                 SIGRTMAX has a handler; leave one at its default to capture stacks",
            ),
            CaptureError::HandlerReplaced { signal } => write!(
                f,
                "the stack capture handler of signal {signal} was replaced by another handler; \
                 do not install a handler for signal {signal}"
            ),
            CaptureError::Signal { errno } => write!(
                f,
                "sending the capture signal failed: {}",
                std::io::Error::from_raw_os_error(*errno)
            ),
        }
    }
}

impl std::error::Error for CaptureError {}

/// Captures the native stacks of the given threads of this process, one
/// result per tid, in order.
///
/// Calls are serialized internally. Each thread gets `answer_within` to run
/// the signal handler; threads are signalled in batches of 16, so the call
/// returns within about `ceil(tids.len() / 16) * answer_within` plus the time
/// to unwind and symbolize.
///
/// The calling thread may capture itself.
pub(crate) fn capture(tids: &[Tid], answer_within: Duration) -> Vec<Result<Stack, CaptureError>> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        linux::capture(tids, answer_within)
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        let _ = answer_within;
        tids.iter()
            .map(|_| Err(CaptureError::Unsupported))
            .collect()
    }
}

/// Does ahead of time the one-time work of the first [`capture`]: installs
/// the signal handler, reads the loaded modules' unwind information, and
/// loads the executable's debug info (the slow part: about a second for a
/// large binary with full debug info). Optional; call it ahead, on a thread
/// that may block (`monitor-prepare`), so that the first dump is fast.
pub(crate) fn prepare() -> Result<(), CaptureError> {
    #[cfg(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    ))]
    {
        linux::prepare()
    }
    #[cfg(not(all(
        target_os = "linux",
        any(target_arch = "x86_64", target_arch = "aarch64")
    )))]
    {
        Err(CaptureError::Unsupported)
    }
}

/// The thread's name: from `std` for this thread (in full), from the
/// kernel for others (at most 15 bytes; Linux only).
pub(crate) fn thread_name(tid: i32) -> Option<String> {
    if current_tid() == Tid(tid)
        && let Some(name) = std::thread::current().name()
    {
        return Some(name.to_owned());
    }
    let comm = std::fs::read_to_string(format!("/proc/self/task/{tid}/comm")).ok()?;
    let name = comm.trim_end_matches('\n');
    (!name.is_empty()).then(|| name.to_owned())
}
