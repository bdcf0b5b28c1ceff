//! Where the dumps of the dump worker and of the panic hook go.

use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::{mpsc, Arc, RwLock};
use std::time::Duration;

use super::{render, Dump, DumpReason};

/// Where dumps go: set with [`set_dump_sink`].
///
/// ```
/// use monitor_runtime::{dump::{set_dump_sink, DumpSink}};
///
/// // Collect them: the closure runs on the thread that took the dump
/// // (the dump worker, or a panicking thread).
/// set_dump_sink(DumpSink::custom(|dump| eprintln!("{} stacks", dump.calls.len()))).unwrap();
/// // Or as `tracing` events, one per stack, target `monitor_runtime`.
/// set_dump_sink(DumpSink::Tracing).unwrap();
/// // Back to the default.
/// set_dump_sink(DumpSink::Stderr).unwrap();
/// ```
#[derive(Clone)]
#[non_exhaustive]
pub enum DumpSink {
    /// The text, to stderr (the default).
    Stderr,
    /// One `tracing` event per stack (per [`CallDump`](crate::dump::CallDump)),
    /// target `monitor_runtime`, level WARN (INFO for a dump you asked
    /// for), with fields `call_id`, `function`, `file`, `line`,
    /// `elapsed_ms`, `state` and `reason`; the message is the block's text.
    /// A dump without calls is one event.
    Tracing,
    /// The text, appended to this file (created if missing). The file is
    /// opened by [`set_dump_sink`].
    File(PathBuf),
    /// Your function. It runs on the dump worker (`monitor-dump`, one
    /// thread for the process), on a thread of its own for the panic hook's
    /// dump (`monitor-panic`: a panic in a sink called from inside a panic
    /// hook would abort the process), or on yours for
    /// [`Dump::emit`](crate::dump::Dump::emit). It never holds up a timeout
    /// or an alert, but the next dump waits for it: hand the dump to a
    /// channel if the work is long. A sink that panics ends that one dump;
    /// the panic hook's dump then goes to stderr.
    Custom(Arc<dyn Fn(&Dump) + Send + Sync>),
}

impl DumpSink {
    /// [`DumpSink::Custom`] from a closure.
    pub fn custom(sink: impl Fn(&Dump) + Send + Sync + 'static) -> Self {
        DumpSink::Custom(Arc::new(sink))
    }

    /// [`DumpSink::File`] from a path.
    pub fn file(path: impl Into<PathBuf>) -> Self {
        DumpSink::File(path.into())
    }
}

impl fmt::Debug for DumpSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpSink::Stderr => f.write_str("Stderr"),
            DumpSink::Tracing => f.write_str("Tracing"),
            DumpSink::File(path) => f.debug_tuple("File").field(path).finish(),
            DumpSink::Custom(_) => f.write_str("Custom(..)"),
        }
    }
}

/// Why [`set_dump_sink`] failed. The sink in place is kept.
///
/// ```
/// use monitor_runtime::{dump::{set_dump_sink, DumpSink, DumpSinkError}};
/// let error = set_dump_sink(DumpSink::file("/no/such/dir/dumps.txt")).unwrap_err();
/// assert!(matches!(error, DumpSinkError::Open { .. }));
/// assert!(error.to_string().starts_with("cannot open /no/such/dir/dumps.txt"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub enum DumpSinkError {
    /// The file could not be opened for appending.
    Open {
        /// The file.
        path: PathBuf,
        /// What the system said.
        source: io::Error,
    },
}

impl fmt::Display for DumpSinkError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DumpSinkError::Open { path, source } => write!(
                f,
                "cannot open {} to append dumps to it: {source}; check that its directory exists \
                 and is writable",
                path.display()
            ),
        }
    }
}

impl std::error::Error for DumpSinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DumpSinkError::Open { source, .. } => Some(source),
        }
    }
}

/// The sink in use; cheap to clone out of the lock, so that no lock is
/// held while a sink runs (a sink may set another sink).
#[derive(Clone)]
enum Active {
    Stderr,
    Tracing,
    File(Arc<PathBuf>, Arc<File>),
    Custom(Arc<dyn Fn(&Dump) + Send + Sync>),
}

static SINK: RwLock<Option<Active>> = RwLock::new(None);

/// Sends the dumps that the runtime takes on its own
/// ([`DumpReason::Overdue`], [`DumpReason::Stall`],
/// [`DumpReason::StalledWorker`], and the panic hook's) to `sink`, and
/// [`Dump::emit`] too. Replaces the sink in place; a file is opened (for
/// appending, created if missing) now, and an error leaves the sink in
/// place unchanged.
///
/// ```
/// use monitor_runtime::{dump::{set_dump_sink, DumpSink}};
/// let path = std::env::temp_dir().join("monitor-dumps-doc.txt");
/// set_dump_sink(DumpSink::file(&path)).unwrap();
/// monitor_runtime::dump().emit();
/// assert!(std::fs::read_to_string(&path).unwrap().contains("monitor dump at "));
/// set_dump_sink(DumpSink::Stderr).unwrap();
/// ```
pub fn set_dump_sink(sink: DumpSink) -> Result<(), DumpSinkError> {
    let active = match sink {
        DumpSink::Stderr => Active::Stderr,
        DumpSink::Tracing => Active::Tracing,
        DumpSink::File(path) => {
            let file = File::options()
                .append(true)
                .create(true)
                .open(&path)
                .map_err(|source| DumpSinkError::Open {
                    path: path.clone(),
                    source,
                })?;
            Active::File(Arc::new(path), Arc::new(file))
        }
        DumpSink::Custom(sink) => Active::Custom(sink),
    };
    *SINK.write().unwrap_or_else(|e| e.into_inner()) = Some(active);
    Ok(())
}

pub(super) fn emit(dump: &Dump) {
    let active = SINK
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or(Active::Stderr);
    match active {
        Active::Stderr => to_stderr(dump),
        Active::Tracing => to_tracing(dump),
        Active::File(path, file) => {
            // One write of the whole text: dumps of two threads do not
            // interleave in an append-only file.
            let text = render::text(&format_args!("{dump}\n"));
            if let Err(error) = (&*file).write_all(text.as_bytes()) {
                tracing::error!(
                    target: "monitor_runtime",
                    path = %path.display(),
                    %error,
                    "cannot append a dump to its file; it goes to stderr instead"
                );
                to_stderr(dump);
            }
        }
        Active::Custom(sink) => sink(dump),
    }
}

/// How long the panic hook waits for the sink before it writes the dump
/// to stderr itself.
const PANIC_SINK_LIMIT: Duration = Duration::from_secs(2);

/// Writes the panic hook's dump. A sink that is user code (yours, or the
/// `tracing` subscriber) runs on a thread of its own: std aborts the
/// process on any panic raised while a panic hook runs, even one caught
/// by `catch_unwind` right there, so the sink must not run inside the
/// hook. If it panics, cannot be started, or does not return within
/// [`PANIC_SINK_LIMIT`], the dump goes to stderr.
pub(super) fn emit_in_panic(dump: Dump) {
    let active = SINK
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .clone()
        .unwrap_or(Active::Stderr);
    if matches!(active, Active::Stderr | Active::File(..)) {
        // Plain writes: no user code that could panic.
        dump.emit();
        return;
    }
    let dump = Arc::new(dump);
    let (returned, outcome) = mpsc::channel();
    let written = dump.clone();
    let spawned = std::thread::Builder::new()
        .name("monitor-panic".into())
        .spawn(move || {
            let ok = panic::catch_unwind(AssertUnwindSafe(|| written.emit())).is_ok();
            let _ = returned.send(ok);
        });
    let why = match spawned.map(|_| outcome.recv_timeout(PANIC_SINK_LIMIT)) {
        Ok(Ok(true)) => return,
        Ok(Ok(false)) => "the dump sink panicked".to_owned(),
        Ok(Err(_)) => format!(
            "the dump sink did not return within {}",
            crate::format::human(PANIC_SINK_LIMIT)
        ),
        Err(error) => format!("cannot start a thread for the dump sink ({error})"),
    };
    let text = render::text(&format_args!(
        "monitor_runtime: {why}; the dump goes to stderr\n{dump}\n"
    ));
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

fn to_stderr(dump: &Dump) {
    let text = render::text(&format_args!("{dump}\n"));
    let _ = io::stderr().lock().write_all(text.as_bytes());
}

fn to_tracing(dump: &Dump) {
    let header = dump.header();
    let requested = matches!(dump.reason, DumpReason::Requested);
    if dump.calls.is_empty() {
        if requested {
            tracing::info!(target: "monitor_runtime", reason = %header, "no calls in flight");
        } else {
            tracing::warn!(target: "monitor_runtime", reason = %header, "no calls in flight");
        }
        return;
    }
    for call in &dump.calls {
        let block = render::text(call);
        macro_rules! event {
            ($level:ident) => {
                tracing::$level!(
                    target: "monitor_runtime",
                    call_id = %call.id,
                    function = call.function,
                    file = call.file,
                    line = call.line,
                    elapsed_ms = call.elapsed.as_millis() as u64,
                    state = %call.state,
                    reason = %header,
                    "{}",
                    block.trim_end()
                )
            };
        }
        if requested {
            event!(info);
        } else {
            event!(warn);
        }
    }
}
