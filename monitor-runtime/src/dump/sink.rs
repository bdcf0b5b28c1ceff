//! Where the dumps of the dump worker and of the panic hook go.

use std::collections::VecDeque;
use std::fmt;
use std::fs::File;
use std::io::{self, Write};
use std::panic::{self, AssertUnwindSafe};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{render, Dump, DumpReason, Omitted};
use crate::background::Background;
use crate::user_code;

/// Where dumps go: set with [`set_dump_sink`].
///
/// ```
/// use monitor_runtime::dump::{set_dump_sink, DumpSink};
///
/// // Collect them: the closure runs on the sink's own thread
/// // (`monitor-sink`), or on yours for `Dump::emit`.
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
    /// Your function. The runtime's dumps run it on a thread of its own
    /// (`monitor-sink`; `monitor-panic` for the panic hook's dump, since a
    /// panic in a sink called from inside a panic hook would abort the
    /// process); [`Dump::emit`](crate::dump::Dump::emit) runs it on yours.
    /// It never holds up a timeout, an alert or a supervisor's restart.
    /// While it writes, the next reports wait (gathering the calls that go
    /// overdue meanwhile); once it has taken 5 s over one dump, dumps are
    /// dropped and counted ([`Omitted`]) until it
    /// returns. A sink that panics ends that one dump; the panic hook's
    /// dump then goes to stderr.
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
/// use monitor_runtime::dump::{set_dump_sink, DumpSink, DumpSinkError};
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
/// use monitor_runtime::dump::{set_dump_sink, DumpSink};
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

/// How long the sink may take over one dump before it counts as stuck:
/// the dumps that come meanwhile are dropped (and counted) until it
/// returns. Generous: a sink that writes a dump of ten thousand calls to
/// a slow disk is not stuck.
pub(super) const SINK_LIMIT: Duration = Duration::from_secs(5);

/// At most this many dumps wait for the sink; more are dropped and
/// counted.
const MAX_WAITING: usize = 4;

/// The dumps for the sink, and since when the one being written is.
struct Writer {
    waiting: VecDeque<(Dump, Option<oneshot::Sender<()>>)>,
    writing_since: Option<Instant>,
}

/// The sink's own thread (`monitor-sink`), started on demand: the dump
/// worker hands it the dumps and goes on, so a sink that blocks holds up
/// neither the next job (an alert, a supervisor's capture) nor memory. It
/// exits as soon as no dump waits (dumps are seconds apart: a thread per
/// burst costs nothing next to a dump), so it never outlives the worker.
static WRITER: Background<Writer> = Background::new(
    "monitor-sink",
    Duration::ZERO,
    Writer {
        waiting: VecDeque::new(),
        writing_since: None,
    },
);

/// What the sink is doing, for the dump worker.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum SinkState {
    /// Nothing to write.
    Idle,
    /// Writing a dump, or dumps wait: a report can wait too, and gather
    /// the calls that go overdue meanwhile, rather than be taken now and
    /// held in memory.
    Busy,
    /// Writing one dump for longer than [`SINK_LIMIT`]: no dump is worth
    /// taking.
    Stuck,
}

pub(super) fn sink_state() -> SinkState {
    let writer = WRITER.lock();
    match writer.writing_since {
        Some(since) if since.elapsed() >= SINK_LIMIT => SinkState::Stuck,
        Some(_) => SinkState::Busy,
        None if !writer.waiting.is_empty() => SinkState::Busy,
        None => SinkState::Idle,
    }
}

/// Hands `dump` to the sink's thread, never waiting for the sink; says so
/// on `written` once the sink returned. Dropped (and counted) if the sink
/// is stuck or [`MAX_WAITING`] dumps wait; written here if the thread
/// cannot be started.
pub(super) fn write(dump: Dump, written: Option<oneshot::Sender<()>>) {
    let mut writer = WRITER.lock();
    if writer
        .writing_since
        .is_some_and(|since| since.elapsed() >= SINK_LIMIT)
    {
        drop(writer);
        return omit_written(&dump, "the dump sink has not returned from an earlier dump");
    }
    if writer.waiting.len() >= MAX_WAITING {
        drop(writer);
        return omit_written(&dump, "dumps wait for a slow dump sink");
    }
    if WRITER.start(&mut writer, write_waiting).is_err() {
        drop(writer);
        deliver(dump, written);
        return;
    }
    writer.waiting.push_back((dump, written));
    drop(writer);
    WRITER.notify();
}

/// Hands `dump` to the sink's thread and waits, on this thread (not a
/// tokio one), until the sink returned; then runs `then` (not at all if
/// the dump was dropped).
pub(crate) fn write_then(dump: Dump, then: impl FnOnce()) {
    let (written, done) = oneshot::channel();
    write(dump, Some(written));
    if done.blocking_recv().is_ok() {
        then();
    }
}

fn omit_written(dump: &Dump, why: &'static str) {
    if let DumpReason::Overdue { calls } = &dump.reason {
        omit_calls(calls.len() as u64);
    }
    omit_dump(why);
}

/// The sink's thread.
fn write_waiting() {
    let mut idle_since = Instant::now();
    let mut writer = WRITER.lock();
    loop {
        match writer.waiting.pop_front() {
            Some((dump, written)) => {
                writer.writing_since = Some(Instant::now());
                drop(writer);
                deliver(dump, written);
                writer = WRITER.lock();
                writer.writing_since = None;
                idle_since = Instant::now();
            }
            None => match WRITER.idle(writer, idle_since.elapsed()) {
                Some(again) => writer = again,
                None => return,
            },
        }
    }
}

/// Writes `dump` with the counts of what was left out since the last one.
/// A panic in the sink has been reported by the panic hook; it ends this
/// dump only.
fn deliver(mut dump: Dump, written: Option<oneshot::Sender<()>>) {
    let omitted = take_omitted();
    dump.omitted.overdue_calls += omitted.overdue_calls;
    dump.omitted.dumps += omitted.dumps;
    let _ = panic::catch_unwind(AssertUnwindSafe(|| dump.emit()));
    if let Some(written) = written {
        let _ = written.send(());
    }
}

/// Overdue calls that no report names, since the last dump written.
static OMITTED_CALLS: AtomicU64 = AtomicU64::new(0);
/// Dumps dropped since the last dump written.
static OMITTED_DUMPS: AtomicU64 = AtomicU64::new(0);

/// Counts `calls` overdue calls that no report will name; the first of a
/// run is said as a `tracing` warning (on the events' thread: this runs on
/// the watchdog), the count in the next dump.
pub(super) fn omit_calls(calls: u64) {
    if calls > 0 && OMITTED_CALLS.fetch_add(calls, Ordering::Relaxed) == 0 {
        user_code::EVENTS.run(move || {
            tracing::warn!(
                target: "monitor_runtime",
                calls,
                "overdue calls left out of the dump reports (the dump worker or the sink is \
                 behind); the next dump says how many"
            );
        });
    }
}

/// Counts a dump dropped; the first of a run is said as a `tracing`
/// warning (on the events' thread), the count in the next dump.
pub(super) fn omit_dump(why: &'static str) {
    if OMITTED_DUMPS.fetch_add(1, Ordering::Relaxed) == 0 {
        user_code::EVENTS.run(move || {
            tracing::warn!(
                target: "monitor_runtime",
                reason = why,
                "a dump was dropped ({why}); the next dump says how many"
            );
        });
    }
}

/// The counts of what was left out since the last dump written, reset.
pub(super) fn take_omitted() -> Omitted {
    Omitted {
        overdue_calls: OMITTED_CALLS.swap(0, Ordering::Relaxed),
        dumps: OMITTED_DUMPS.swap(0, Ordering::Relaxed),
        ..Omitted::default()
    }
}
