//! The `tracing` span of a monitored call: off unless the monitor asks for
//! it ([`MonitorBuilder::span`](super::MonitorBuilder::span),
//! `#[monitored(span = true)]`) or the process does ([`set_spans`]). Off,
//! a call pays one relaxed load and allocates nothing.

use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};

use tracing::Span;

use super::Monitor;
use crate::error::Error;

/// Whether every monitored call opens a span ([`set_spans`]).
static SPANS: AtomicBool = AtomicBool::new(false);

/// Turns spans on (or off) for the calls of every monitor, whatever their
/// own setting says; a monitor built with
/// [`span(true)`](super::MonitorBuilder::span) has them either way. A
/// call then runs inside a `tracing` span named `monitored`, at level
/// `INFO` under target `monitor_runtime`, with the fields `monitor` (the
/// monitor's name) and `outcome` (`ok`, `busy`, `timeout`, `panic`,
/// `cancelled` or `shutting_down`, recorded when the call ends). The span
/// is entered on every poll of an async call and around a sync call's
/// body, so what the body logs, and the spans it opens, nest under it.
///
/// ```
/// use monitor_runtime::monitor::{set_spans, spans};
///
/// assert!(!spans());
/// set_spans(true);
/// assert!(spans());
/// # set_spans(false);
/// ```
pub fn set_spans(on: bool) {
    SPANS.store(on, Ordering::Relaxed);
}

/// Whether [`set_spans`] turned spans on for every monitor.
///
/// ```
/// assert!(!monitor_runtime::monitor::spans());
/// ```
pub fn spans() -> bool {
    SPANS.load(Ordering::Relaxed)
}

/// Whether a [`CallSpan`]'s outcome is still to be recorded.
const OPEN: u8 = 0;
const DONE: u8 = 1;

/// The span of one call, or nothing when spans are off. The outcome is
/// recorded once: by [`CallSpan::finish`], by a panic in the body
/// ([`CallSpan::enter`]'s guard), or, for a call dropped unfinished, as
/// `cancelled` when this is dropped.
pub(crate) struct CallSpan {
    /// Boxed: a call's future holds one word while spans are off (the
    /// default), and a ready call's future stays small enough to move in
    /// registers rather than with `memcpy`.
    span: Option<Box<Opened>>,
}

/// A call's span and whether its outcome was recorded.
struct Opened {
    span: Span,
    state: AtomicU8,
}

impl CallSpan {
    /// No span: what a call holds until it starts.
    pub(crate) const fn off() -> Self {
        CallSpan { span: None }
    }

    /// The span of a call of `monitor` that starts now, if it wants one.
    #[inline]
    pub(crate) fn open(monitor: &Monitor) -> Self {
        let mut span = CallSpan::off();
        span.start(monitor);
        span
    }

    /// Opens the span of a call of `monitor` that starts now, if it wants
    /// one (a call that began with [`CallSpan::off`]): a call without one
    /// writes nothing.
    #[inline]
    pub(crate) fn start(&mut self, monitor: &Monitor) {
        if monitor.state().config.span || SPANS.load(Ordering::Relaxed) {
            self.span = Some(Box::new(Opened {
                span: new_span(monitor),
                state: AtomicU8::new(OPEN),
            }));
        }
    }

    /// Enters the span (if any) until the guard drops; a panic that
    /// unwinds through the guard is recorded as the outcome `panic`.
    #[inline]
    pub(crate) fn enter(&self) -> Option<Entered<'_>> {
        let opened = self.span.as_ref()?;
        Some(Entered {
            call: self,
            _entered: opened.span.enter(),
        })
    }

    /// A clone of the span, to enter on another thread.
    pub(crate) fn span(&self) -> Option<Span> {
        self.span.as_ref().map(|opened| opened.span.clone())
    }

    /// Records the call's outcome, unless one was recorded already.
    #[inline]
    pub(crate) fn finish(&self, outcome: &'static str) {
        if let Some(opened) = &self.span {
            opened.finish(outcome);
        }
    }

    /// Records the outcome of a call refused with `error`.
    #[inline]
    pub(crate) fn refused(&self, error: &Error) {
        if self.span.is_some() {
            self.finish(outcome_of(error));
        }
    }
}

impl Drop for CallSpan {
    /// Takes the box out, so that the field's own drop is seen to be a
    /// no-op and inlined away while spans are off.
    #[inline]
    fn drop(&mut self) {
        if let Some(opened) = self.span.take() {
            dropped(&opened);
        }
    }
}

/// The outcome of a call whose span is dropped before one was recorded.
#[cold]
fn dropped(opened: &Opened) {
    opened.finish(if std::thread::panicking() {
        "panic"
    } else {
        "cancelled"
    });
}

impl Opened {
    /// Records the call's outcome, unless one was recorded already.
    fn finish(&self, outcome: &'static str) {
        if self.state.swap(DONE, Ordering::Relaxed) == OPEN {
            self.span.record("outcome", outcome);
        }
    }
}

/// [`CallSpan::enter`]'s guard.
pub(crate) struct Entered<'a> {
    call: &'a CallSpan,
    _entered: tracing::span::Entered<'a>,
}

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.call.finish("panic");
        }
    }
}

/// The outcome of a call that ended with `error`.
pub(crate) fn outcome_of(error: &Error) -> &'static str {
    match error {
        Error::Busy { .. } => "busy",
        Error::Timeout { .. } => "timeout",
        Error::ShuttingDown { .. } => "shutting_down",
    }
}

#[cold]
fn new_span(monitor: &Monitor) -> Span {
    tracing::info_span!(
        target: "monitor_runtime",
        "monitored",
        monitor = monitor.name(),
        outcome = tracing::field::Empty,
    )
}
