//! A `tracing` subscriber that keeps every event and span, for tests that
//! assert on what the runtime logs.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::fmt::Debug;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

/// A [`Subscriber`] that records every event (all targets, all levels) as
/// a [`RecordedEvent`], and every span as a [`RecordedSpan`]: its fields,
/// those recorded later included, and its parent; an event knows the span
/// it happened in.
///
/// Install it with `tracing::subscriber::with_default` for what one thread
/// logs, or with `tracing::subscriber::set_global_default` (once per test
/// binary) for what the runtime's own threads log.
///
/// ```
/// use monitor_demo::Recorder;
/// use tracing::Level;
///
/// let (recorder, recorded) = Recorder::new();
/// tracing::subscriber::with_default(recorder, || {
///     tracing::warn!(target: "demo", monitor = %"db", limit_ms = 50, "call overdue");
/// });
/// let events = recorded.events();
/// assert_eq!(events.len(), 1);
/// assert_eq!((events[0].target.as_str(), events[0].level), ("demo", Level::WARN));
/// assert_eq!(events[0].message(), Some("call overdue"));
/// assert_eq!(events[0].field("monitor"), Some("db"));
/// assert_eq!(events[0].fields["limit_ms"], "50");
/// ```
#[derive(Debug)]
pub struct Recorder {
    recorded: Recorded,
    next_span: AtomicU64,
}

impl Recorder {
    /// A recorder, and the handle through which the test reads what it
    /// records (the recorder itself moves into `tracing`).
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || tracing::info!("hello"));
    /// assert_eq!(recorded.events()[0].message(), Some("hello"));
    /// ```
    pub fn new() -> (Recorder, Recorded) {
        let recorded = Recorded::default();
        let recorder = Recorder {
            recorded: recorded.clone(),
            next_span: AtomicU64::new(1),
        };
        (recorder, recorded)
    }
}

/// The events a [`Recorder`] has recorded so far, shared with it: clones
/// see the same events.
///
/// ```
/// let (recorder, recorded) = monitor_demo::Recorder::new();
/// assert!(recorded.events().is_empty());
/// tracing::subscriber::with_default(recorder, || tracing::debug!(n = 1));
/// assert_eq!(recorded.events()[0].field("n"), Some("1"));
/// ```
#[derive(Clone, Debug, Default)]
pub struct Recorded(Arc<Mutex<Log>>);

#[derive(Debug, Default)]
struct Log {
    events: Vec<RecordedEvent>,
    spans: Vec<RecordedSpan>,
}

impl Recorded {
    fn log(&self) -> std::sync::MutexGuard<'_, Log> {
        // A test that panicked while reading must not hide later records.
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A copy of the spans opened so far, oldest first, with the fields
    /// recorded on them until now.
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || {
    ///     let span = tracing::info_span!("call", n = 1, outcome = tracing::field::Empty);
    ///     span.in_scope(|| tracing::info!("inside"));
    ///     span.record("outcome", "ok");
    /// });
    /// let spans = recorded.spans();
    /// assert_eq!(spans[0].name, "call");
    /// assert_eq!(spans[0].field("n"), Some("1"));
    /// assert_eq!(spans[0].field("outcome"), Some("ok"));
    /// assert_eq!(recorded.events()[0].span, Some(spans[0].id));
    /// ```
    pub fn spans(&self) -> Vec<RecordedSpan> {
        self.log().spans.clone()
    }
}

/// One span as a [`Recorder`] saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedSpan {
    /// The span's id, as [`RecordedEvent::span`] and [`RecordedSpan::parent`] name it.
    pub id: u64,
    /// The span's name.
    pub name: String,
    /// The span's target.
    pub target: String,
    /// The span's level.
    pub level: Level,
    /// The span it was opened in, if any.
    pub parent: Option<u64>,
    /// Every field by name, as text (as in [`RecordedEvent::fields`]);
    /// a field declared `Empty` appears once recorded.
    pub fields: BTreeMap<String, String>,
}

impl RecordedSpan {
    /// The field `name` as text, if the span has it.
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || drop(tracing::info_span!("s", k = "v")));
    /// assert_eq!(recorded.spans()[0].field("k"), Some("v"));
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }
}

thread_local! {
    /// The spans entered on this thread, innermost last.
    static ENTERED: RefCell<Vec<u64>> = const { RefCell::new(Vec::new()) };
}

/// The innermost span entered on this thread.
fn current() -> Option<u64> {
    ENTERED.with(|entered| entered.borrow().last().copied())
}

impl Recorded {
    /// A copy of the events recorded so far, oldest first.
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || {
    ///     tracing::info!("first");
    ///     tracing::info!("second");
    /// });
    /// let messages: Vec<_> = recorded.events().iter().map(|e| e.message().unwrap().to_owned()).collect();
    /// assert_eq!(messages, ["first", "second"]);
    /// ```
    pub fn events(&self) -> Vec<RecordedEvent> {
        self.log().events.clone()
    }
}

/// One event as a [`Recorder`] saw it.
///
/// Every field is kept as text: a `&str` or `String` as it is (no quotes),
/// anything else as `tracing` formats it (`%value` with `Display`, the
/// rest with `Debug`). The event's message is the field `message`.
///
/// ```
/// let (recorder, recorded) = monitor_demo::Recorder::new();
/// tracing::subscriber::with_default(recorder, || {
///     tracing::info!(name = "a", took = ?std::time::Duration::from_millis(20), "done")
/// });
/// let event = &recorded.events()[0];
/// assert_eq!(event.field("name"), Some("a"));
/// assert_eq!(event.field("took"), Some("20ms"));
/// assert_eq!(event.message(), Some("done"));
/// assert_eq!(event.field("missing"), None);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordedEvent {
    /// The event's target (the module path that logged it, unless set).
    pub target: String,
    /// The event's level.
    pub level: Level,
    /// Every field by name, the message under `message`.
    pub fields: BTreeMap<String, String>,
    /// The span the event happened in (its [`RecordedSpan::id`]), if any.
    pub span: Option<u64>,
}

impl RecordedEvent {
    /// The field `name` as text, if the event has it.
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || tracing::info!(limit_ms = 50));
    /// assert_eq!(recorded.events()[0].field("limit_ms"), Some("50"));
    /// ```
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).map(String::as_str)
    }

    /// The event's message (its field `message`), if it has one.
    ///
    /// ```
    /// let (recorder, recorded) = monitor_demo::Recorder::new();
    /// tracing::subscriber::with_default(recorder, || {
    ///     tracing::info!("call {} of {}", 1, 2);
    ///     tracing::info!(n = 1);
    /// });
    /// assert_eq!(recorded.events()[0].message(), Some("call 1 of 2"));
    /// assert_eq!(recorded.events()[1].message(), None);
    /// ```
    pub fn message(&self) -> Option<&str> {
        self.field("message")
    }
}

struct Fields<'a>(&'a mut BTreeMap<String, String>);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
}

impl Subscriber for Recorder {
    fn enabled(&self, _: &Metadata<'_>) -> bool {
        true
    }

    fn new_span(&self, attributes: &Attributes<'_>) -> Id {
        let id = self.next_span.fetch_add(1, Ordering::Relaxed);
        let mut fields = BTreeMap::new();
        attributes.record(&mut Fields(&mut fields));
        let parent = match attributes.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if attributes.is_contextual() => current(),
            None => None,
        };
        let metadata = attributes.metadata();
        self.recorded.log().spans.push(RecordedSpan {
            id,
            name: metadata.name().into(),
            target: metadata.target().into(),
            level: *metadata.level(),
            parent,
            fields,
        });
        Id::from_u64(id)
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        let mut log = self.recorded.log();
        if let Some(span) = log.spans.iter_mut().find(|s| s.id == span.into_u64()) {
            values.record(&mut Fields(&mut span.fields));
        }
    }

    fn record_follows_from(&self, _: &Id, _: &Id) {}

    fn event(&self, event: &Event<'_>) {
        let mut fields = BTreeMap::new();
        event.record(&mut Fields(&mut fields));
        let span = match event.parent() {
            Some(parent) => Some(parent.into_u64()),
            None if event.is_contextual() => current(),
            None => None,
        };
        let event = RecordedEvent {
            target: event.metadata().target().into(),
            level: *event.metadata().level(),
            fields,
            span,
        };
        self.recorded.log().events.push(event);
    }

    fn enter(&self, span: &Id) {
        ENTERED.with(|entered| entered.borrow_mut().push(span.into_u64()));
    }

    fn exit(&self, span: &Id) {
        ENTERED.with(|entered| {
            let mut entered = entered.borrow_mut();
            if let Some(at) = entered.iter().rposition(|&id| id == span.into_u64()) {
                entered.remove(at);
            }
        });
    }
}
