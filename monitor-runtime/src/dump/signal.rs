//! `kill -QUIT <pid>`: a dump of every thread, written to the dump sink,
//! and the process runs on (as the JVM does on `kill -3`).
//!
//! The handler does only what is safe in a signal handler: it writes one
//! byte to a socket (`signal-hook`'s self-pipe, non-blocking; a full
//! socket drops the byte, a wake-up is pending then anyway). A thread of
//! its own, `monitor-sigquit`, blocks reading the other end; each time it
//! wakes it reads every byte pending, so the signals that arrived while it
//! took and handed on a dump are answered by one more dump, not one each.

use std::fmt;
use std::io;
use std::sync::{Mutex, PoisonError};

/// Why [`dump_on_signal`] could not install the
/// handler. Nothing is installed then; calling it again tries again.
///
/// ```
/// use monitor_runtime::dump::DumpOnSignalError;
/// let error = DumpOnSignalError::Unsupported;
/// assert!(error.to_string().contains("Unix"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DumpOnSignalError {
    /// The socket pair that the handler writes to could not be created.
    Socket {
        /// What the system said.
        source: io::Error,
    },
    /// The thread that takes the dumps (`monitor-sigquit`) could not be
    /// started.
    Thread {
        /// What the system said.
        source: io::Error,
    },
    /// The `SIGQUIT` handler could not be installed.
    Handler {
        /// What the system said.
        source: io::Error,
    },
    /// Not a Unix system: there is no `SIGQUIT`.
    Unsupported,
}

impl fmt::Display for DumpOnSignalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpOnSignalError::Socket { source } => write!(
                f,
                "cannot create the socket pair that wakes the SIGQUIT dump thread: {source}; \
                 the process may be out of file descriptors (raise `ulimit -n`)"
            ),
            DumpOnSignalError::Thread { source } => write!(
                f,
                "cannot start the thread that writes SIGQUIT dumps: {source}; the process may \
                 be at its thread or memory limit"
            ),
            DumpOnSignalError::Handler { source } => write!(
                f,
                "cannot install the SIGQUIT handler: {source}; dumps are still available with \
                 monitor_runtime::dump()"
            ),
            DumpOnSignalError::Unsupported => f.write_str(
                "dumps on SIGQUIT need a Unix system; take dumps with monitor_runtime::dump() \
                 instead",
            ),
        }
    }
}

impl std::error::Error for DumpOnSignalError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DumpOnSignalError::Socket { source }
            | DumpOnSignalError::Thread { source }
            | DumpOnSignalError::Handler { source } => Some(source),
            DumpOnSignalError::Unsupported => None,
        }
    }
}

/// Whether the handler is installed.
static INSTALLED: Mutex<bool> = Mutex::new(false);

/// Makes `kill -QUIT <pid>` write a dump of every thread of the process
/// (as [`DumpOptions::all_threads`](crate::dump::DumpOptions::all_threads)
/// takes it, with native stacks) to the dump sink
/// ([`set_dump_sink`](crate::dump::set_dump_sink), stderr by default); the
/// process runs on. Go prints every goroutine on `SIGQUIT` and exits; the
/// JVM prints every thread on `kill -3` and runs on: this is the JVM's
/// behaviour.
///
/// Opt-in, since it takes over `SIGQUIT`, whose default is to end the
/// process with a core dump. Calling it again does nothing.
///
/// * **What the handler does**: only async-signal-safe work. It writes one
///   byte to a socket; the thread `monitor-sigquit` wakes, takes the dump
///   and hands it to the sink's thread. Signals that arrive while a dump is
///   taken are coalesced: a burst gives one or two dumps, not one each
///   (20 `kill -QUIT` in a row gave 2). The thread stays for the life of
///   the process, blocked in a read.
/// * **Handlers installed before** (with `sigaction`, or through
///   `signal-hook`, as tokio's `signal` does) still run, before this one;
///   the default action (ending the process) does not. A handler installed
///   later with a bare `sigaction` replaces this one; handlers added
///   through `signal-hook` run alongside.
/// * The kernel runs the handler on one thread of the process: if that
///   thread is blocked in a call that signals interrupt (`poll`, a socket
///   read with a timeout), the call may return `EINTR`, as it would for
///   any signal sent to the process.
///
/// ```no_run
/// fn main() -> Result<(), monitor_runtime::dump::DumpOnSignalError> {
///     monitor_runtime::dump_on_signal()?;
///     // ... serve; `kill -QUIT <pid>` prints every thread to stderr.
///     Ok(())
/// }
/// ```
pub fn dump_on_signal() -> Result<(), DumpOnSignalError> {
    let mut installed = INSTALLED.lock().unwrap_or_else(PoisonError::into_inner);
    if *installed {
        return Ok(());
    }
    install()?;
    *installed = true;
    Ok(())
}

#[cfg(unix)]
fn install() -> Result<(), DumpOnSignalError> {
    use std::io::Read;
    use std::os::unix::net::UnixStream;

    use signal_hook::consts::SIGQUIT;

    let (mut wakes, wake) =
        UnixStream::pair().map_err(|source| DumpOnSignalError::Socket { source })?;
    // The thread first: if the handler cannot be installed, `wake` is
    // dropped and the thread reads the end of the stream and exits.
    std::thread::Builder::new()
        .name("monitor-sigquit".into())
        .spawn(move || {
            // One read takes every byte pending (up to 1024 signals).
            let mut pending = [0u8; 1024];
            loop {
                match wakes.read(&mut pending) {
                    Ok(0) => return,
                    // A panic (in a sink run here, when the sink's thread
                    // cannot start) has been reported by the panic hook; it
                    // ends that dump only.
                    Ok(_) => {
                        let _ = std::panic::catch_unwind(|| dump_every_thread(SIGQUIT));
                    }
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return,
                }
            }
        })
        .map_err(|source| DumpOnSignalError::Thread { source })?;
    signal_hook::low_level::pipe::register(SIGQUIT, wake)
        .map_err(|source| DumpOnSignalError::Handler { source })?;
    Ok(())
}

#[cfg(not(unix))]
fn install() -> Result<(), DumpOnSignalError> {
    Err(DumpOnSignalError::Unsupported)
}

/// Takes the dump of every thread and hands it to the sink's thread
/// (which drops and counts it if the sink is stuck).
#[cfg(unix)]
fn dump_every_thread(signal: i32) {
    let options = super::DumpOptions::new().all_threads(true);
    let dump = super::take(super::DumpReason::Signal { signal }, &options);
    super::sink::write(dump, None);
}
