//! The monitor: a cap on calls in flight, a timeout, stall alerts, and the
//! counters behind [`Monitor::stats`].

pub(crate) mod admission;
mod builder;
mod call;
mod output;
mod span;
mod stall;

pub use crate::alert::{clear_alert_hook, set_alert_hook, Alert, AlertKind, Alerts};
pub use builder::MonitorBuilder;
pub(crate) use call::Framed;
pub use call::{Call, Detach};
pub use output::{Merge, Output, Wrap};
pub(crate) use span::CallSpan;
pub use span::{set_spans, spans};

use std::borrow::Borrow;
use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, LazyLock, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use crate::alert::AlertChannel;
use crate::clock;
use crate::error::{Error, Name};
use crate::gate::{Entered, Gate};
use crate::histogram::Histogram;
use crate::inflight::{CallSite, SyncCall};
use crate::registry::{Registry, Upgrade};
use crate::tally::Tally;
use crate::watchdog::CLOCKWORK;

/// The site under which the calls of a monitor named at run time are in
/// the table of calls in flight (and so in dumps). Sites are `'static`:
/// this one is leaked, once per distinct name and place, so that building
/// monitors of the same name again and again does not grow memory.
fn named_site(
    name: &str,
    at: (&'static str, u32),
    report_after: Option<Duration>,
) -> &'static CallSite {
    type Sites = HashMap<(String, &'static str, u32, Option<Duration>), &'static CallSite>;
    static SITES: LazyLock<Mutex<Sites>> = LazyLock::new(Mutex::default);
    let mut sites = SITES.lock().unwrap_or_else(PoisonError::into_inner);
    sites
        .entry((name.to_owned(), at.0, at.1, report_after))
        .or_insert_with(|| {
            let function: &'static str = Box::leak(name.into());
            let mut site = CallSite::new(function, at.0, at.1);
            if let Some(after) = report_after {
                site = site.report_after(after);
            }
            Box::leak(Box::new(site))
        })
}

/// Receives the latency of every measured call of a monitor.
pub(crate) type LatencyObserver = Box<dyn Fn(Duration) + Send + Sync>;

/// Shared state of one monitor. `const`-constructible so that
/// `#[monitored]` can keep it in a `static`.
pub(crate) struct MonitorState {
    pub(crate) config: MonitorBuilder,
    /// The function, for the table of calls in flight (static monitors).
    site: CallSite,
    gate: Gate,
    cap: usize,
    /// Per thread: a refusal writes no shared word (`tally.rs`).
    busy: Tally,
    timeouts: AtomicU64,
    panics: AtomicU64,
    cancelled: AtomicU64,
    pub(crate) alerts: AtomicU64,
    /// Calls refused with [`Error::ShuttingDown`].
    pub(crate) shutting_down: AtomicU64,
    /// Whether this monitor alone drains ([`Monitor::drain`]).
    pub(crate) draining: AtomicBool,
    latency: Histogram,
    /// Told every measured latency once set: the `metrics` integration's
    /// histogram. Only measured calls (see [`sample_start`]) read it.
    latency_observer: OnceLock<LatencyObserver>,
    /// The site of a monitor named at run time ([`Monitor::new`]), for the
    /// table of calls in flight, which keeps `'static` sites.
    named_site: OnceLock<&'static CallSite>,
    registered: AtomicBool,
    pub(crate) stopped: AtomicBool,
    pub(crate) channel: Mutex<AlertChannel>,
}

impl MonitorState {
    const fn new(config: MonitorBuilder) -> Self {
        let cap = match config.max_active {
            Some(cap) if cap > crate::gate::MAX_CAP => crate::gate::MAX_CAP,
            Some(cap) => cap,
            None => usize::MAX,
        };
        let function = match &config.name.0 {
            crate::error::NameRepr::Static(name) => name,
            crate::error::NameRepr::Shared(_) => "",
        };
        let mut site =
            CallSite::new(function, config.at.0, config.at.1).with_timeout(config.timeout);
        if let Some(after) = config.report_after() {
            site = site.report_after(after);
        }
        MonitorState {
            site,
            config,
            gate: Gate::new(),
            cap,
            busy: Tally::new(),
            timeouts: AtomicU64::new(0),
            panics: AtomicU64::new(0),
            cancelled: AtomicU64::new(0),
            alerts: AtomicU64::new(0),
            shutting_down: AtomicU64::new(0),
            draining: AtomicBool::new(false),
            latency: Histogram::new(),
            latency_observer: OnceLock::new(),
            named_site: OnceLock::new(),
            registered: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            channel: Mutex::new(AlertChannel::new()),
        }
    }

    pub(crate) fn gate(&self) -> &Gate {
        &self.gate
    }
}

/// The state behind a `#[monitored]` function: one `static` per function
/// item. Not for direct use.
#[doc(hidden)]
pub struct StaticMonitor(MonitorState);

impl StaticMonitor {
    pub const fn new(config: MonitorBuilder) -> Self {
        StaticMonitor(MonitorState::new(config))
    }

    #[inline]
    pub fn monitor(&'static self) -> Monitor {
        if !self.0.registered.load(Ordering::Relaxed) {
            self.register();
        }
        Monitor {
            state: Handle::Static(&self.0),
        }
    }

    #[cold]
    fn register(&'static self) {
        if !self.0.registered.swap(true, Ordering::AcqRel) {
            MONITORS.add(Weak::Static(&self.0));
        }
    }
}

#[derive(Clone)]
enum Handle {
    Static(&'static MonitorState),
    Shared(Arc<MonitorState>),
}

/// A handle on a monitor; cheap to clone, all clones watch the same calls.
///
/// Use it directly to guard any call, or get the one behind a
/// `#[monitored]` function with [`monitor`](crate::monitor()) by name.
///
/// ```
/// use monitor_runtime::{Error, Monitor};
///
/// let monitor = Monitor::builder("cache").max_active(2).build();
/// assert_eq!(monitor.call(|| 1 + 1), Ok(2));
/// assert_eq!(monitor.stats().completed, 1);
/// ```
#[derive(Clone)]
pub struct Monitor {
    state: Handle,
}

impl fmt::Debug for Monitor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Monitor")
            .field("config", &self.state().config)
            .field("in_flight", &self.state().gate.active())
            .finish()
    }
}

/// What a monitor has counted since it started. Read with
/// [`Monitor::stats`]; exact once calls are at rest, and within a call or
/// two of the truth while they run.
///
/// Every admitted call ends exactly once as `completed` (its body
/// returned), `panics`, or `cancelled` (its body was dropped, by a timeout
/// or by the caller). `timeouts` counts callers that got
/// [`Error::Timeout`], whether their body was cancelled or still runs.
///
/// ```
/// use monitor_runtime::Monitor;
/// let monitor = Monitor::builder("s").build();
/// monitor.call(|| ()).unwrap();
/// let stats = monitor.stats();
/// assert_eq!((stats.calls, stats.completed, stats.in_flight), (1, 1, 0));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stats {
    /// Calls whose body is running now.
    pub in_flight: usize,
    /// All calls, refused ones included.
    pub calls: u64,
    /// Calls whose body returned.
    pub completed: u64,
    /// Calls refused because the cap was reached.
    pub busy: u64,
    /// Callers that got [`Error::Timeout`].
    pub timeouts: u64,
    /// Bodies that panicked.
    pub panics: u64,
    /// Bodies dropped before they finished (timeout with `cancel`, or the
    /// caller dropped the future).
    pub cancelled: u64,
    /// Stall alerts raised.
    pub alerts: u64,
    /// Polls of an async call that blocked their worker thread longer than
    /// the blocking threshold ([`set_blocking_threshold`], 10 ms unless set)
    /// or the timeout: each is also reported with the native stack of the
    /// thread, which names the blocking line.
    pub blocked_polls: u64,
    /// Calls refused with [`Error::ShuttingDown`]: they came after a
    /// [`drain`](crate::drain()) began.
    pub shutting_down: u64,
    /// Latency of bodies that returned.
    pub latency: Latency,
}

/// Latency of completed calls: every call of the first 64, then a sample of
/// one call in 32 of the monitor's (reading the clock on every call would
/// cost more than the rest of the monitor). Quantiles are within 25 % of the
/// true sample value.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Latency {
    /// How many calls were measured.
    pub samples: u64,
    /// Median.
    pub p50: Duration,
    /// 99th percentile.
    pub p99: Duration,
    /// The slowest measured call.
    pub max: Duration,
}

impl Monitor {
    /// Starts building a monitor named `name`.
    ///
    /// ```
    /// let monitor = monitor_runtime::Monitor::builder("db").max_active(4).build();
    /// assert_eq!(monitor.max_active(), Some(4));
    /// ```
    pub fn builder(name: impl Into<Name>) -> MonitorBuilder {
        MonitorBuilder::with_name(name)
    }

    /// Starts a monitor and lists it in the process-wide registry
    /// ([`monitors`](crate::monitors())) until it is stopped or dropped.
    ///
    /// ```
    /// use monitor_runtime::{monitor::MonitorBuilder, Monitor};
    /// let monitor = Monitor::new(MonitorBuilder::new("db"));
    /// assert!(monitor_runtime::monitor("db").is_some());
    /// ```
    pub fn new(config: MonitorBuilder) -> Self {
        let site = named_site(&config.name, config.at, config.report_after());
        let monitor = Monitor {
            state: Handle::Shared(Arc::new(MonitorState::new(config))),
        };
        let _ = monitor.state().named_site.set(site);
        monitor.state().registered.store(true, Ordering::Relaxed);
        MONITORS.add(monitor.downgrade());
        monitor
    }

    /// Sets, once, what every later measured latency of this monitor is also
    /// handed to (the `metrics` integration's histogram).
    #[cfg_attr(not(feature = "metrics"), allow(dead_code))]
    pub(crate) fn observe_latency(&self, observer: impl FnOnce() -> LatencyObserver) {
        self.state().latency_observer.get_or_init(observer);
    }

    #[inline]
    pub(crate) fn state(&self) -> &MonitorState {
        match &self.state {
            Handle::Static(s) => s,
            Handle::Shared(s) => s,
        }
    }

    /// The monitor's name.
    pub fn name(&self) -> &str {
        &self.state().config.name
    }

    /// The call timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.state().config.timeout
    }

    /// The cap on calls in flight, if any.
    pub fn max_active(&self) -> Option<usize> {
        self.state().config.max_active
    }

    /// How long a stall lasts before it raises an alert, if alerts are on.
    pub fn alert_after(&self) -> Option<Duration> {
        self.state().config.alert
    }

    /// Whether `self` and `other` are handles on the same monitor.
    ///
    /// ```
    /// let a = monitor_runtime::Monitor::builder("x").build();
    /// assert!(a.same(&a.clone()));
    /// assert!(!a.same(&monitor_runtime::Monitor::builder("x").build()));
    /// ```
    pub fn same(&self, other: &Monitor) -> bool {
        std::ptr::eq(self.state(), other.state())
    }

    pub(crate) fn downgrade(&self) -> Weak {
        match &self.state {
            Handle::Static(s) => Weak::Static(s),
            Handle::Shared(s) => Weak::Shared(Arc::downgrade(s)),
        }
    }

    /// A snapshot of the counters.
    ///
    /// ```
    /// # use monitor_runtime::Monitor;
    /// let monitor = Monitor::builder("s").max_active(0).build();
    /// assert!(monitor.call(|| ()).is_err());
    /// assert_eq!(monitor.stats().busy, 1);
    /// ```
    pub fn stats(&self) -> Stats {
        let s = self.state();
        let (samples, [p50, p99], max) = s.latency.summary([0.5, 0.99]);
        let completed = s.gate.completed();
        let busy = s.busy.get();
        let panics = s.panics.load(Ordering::Relaxed);
        let cancelled = s.cancelled.load(Ordering::Relaxed);
        let in_flight = s.gate.active();
        let shutting_down = s.shutting_down.load(Ordering::Relaxed);
        Stats {
            in_flight,
            calls: in_flight as u64 + completed + busy + panics + cancelled + shutting_down,
            completed,
            busy,
            timeouts: s.timeouts.load(Ordering::Relaxed),
            panics,
            cancelled,
            alerts: s.alerts.load(Ordering::Acquire),
            blocked_polls: self.site().map_or(0, CallSite::blocked_polls),
            shutting_down,
            latency: Latency {
                samples,
                p50,
                p99,
                max,
            },
        }
    }

    /// Runs `body` on this thread, now, if the cap allows; the timeout does
    /// not apply (a sync body cannot be interrupted where it stands: use
    /// [`Monitor::call_blocking`] for a deadline). A panic in `body` releases
    /// the slot, is counted, and goes on to the caller.
    ///
    /// ```
    /// # use monitor_runtime::Monitor;
    /// let monitor = Monitor::builder("parse").max_active(8).build();
    /// let n: Result<i32, _> = monitor.call(|| "42".parse::<i32>().unwrap());
    /// assert_eq!(n, Ok(42));
    /// ```
    pub fn call<T>(&self, body: impl FnOnce() -> T) -> Result<T, Error> {
        self.run::<T, Wrap>(body)
    }

    /// [`Monitor::call`], with the result delivered through `O`.
    #[inline]
    pub(crate) fn run<T, O: Output<T>>(&self, body: impl FnOnce() -> T) -> O::Out {
        let slot = match self.admit() {
            Ok(slot) => slot,
            Err(why) => return self.refused::<T, O>(why),
        };
        let span = CallSpan::open(self);
        let call = self
            .site()
            .and_then(|site| SyncCall::begin(site, CLOCKWORK));
        let entered = span.enter();
        let out = body();
        drop(entered);
        drop(call);
        slot.complete();
        span.finish("ok");
        O::ok(out)
    }

    /// A sync call refused: its error, counted, its span if it wants one.
    #[cold]
    #[inline(never)]
    fn refused<T, O: Output<T>>(&self, why: Refused) -> O::Out {
        let error = self.refusal_here(why);
        CallSpan::open(self).refused(&error);
        O::err(error)
    }

    /// Where the monitor's calls are in the table of calls in flight: the
    /// function of a `#[monitored]` monitor, the name of a run-time one.
    #[inline]
    pub(crate) fn site(&self) -> Option<&'static CallSite> {
        match &self.state {
            Handle::Static(s) => Some(&s.site),
            Handle::Shared(s) => s.named_site.get().copied(),
        }
    }

    /// Tries to take a slot for a call now. The slot is given back when the
    /// returned guard is dropped.
    #[inline]
    pub(crate) fn enter(&self) -> Result<Permit<&Monitor>, Error> {
        self.admit().map_err(|why| self.refusal(why))
    }

    /// Takes a slot for a call now, or says why not: the hot path of
    /// [`Monitor::enter`], the refusal's error left to [`Monitor::refusal`],
    /// out of line. The permit borrows this handle: a call that the handle
    /// outlives costs no clone of it (for a run-time monitor, a shared
    /// count's two read-modify-writes).
    #[inline(always)]
    fn admit(&self) -> Result<Permit<&Monitor>, Refused> {
        let s = self.state();
        let entered = if s.cap == usize::MAX {
            s.gate.enter()
        } else {
            s.gate.try_enter(s.cap).ok_or(Refused::Full)?
        };
        // The one load that drains cost a call (see `admission.rs`): after
        // the gate's read-modify-write, so that a drain that looks at the
        // gates after closing admission sees every call that got past here.
        if admission::closing() && self.is_draining() {
            s.gate.exit();
            return Err(Refused::Draining);
        }
        Ok(Permit {
            monitor: self,
            started: sample_start(entered),
        })
    }

    /// The error of a call refused just now, counted; the rest (a stall
    /// alert to arm, a `tracing` event) out of line, so that a burst of
    /// refusals costs a few loads and a per-thread count each.
    #[cold]
    #[inline(never)]
    fn refusal(&self, why: Refused) -> Error {
        self.refusal_here(why)
    }

    /// [`Monitor::refusal`], inlined into [`Monitor::refused`].
    #[inline(always)]
    fn refusal_here(&self, why: Refused) -> Error {
        // A full monitor that drains says so, rather than "busy".
        if why == Refused::Draining || admission::closing() && self.is_draining() {
            return self.shutting_down();
        }
        let s = self.state();
        s.busy.add_one();
        if s.config.alert.is_some() {
            self.on_busy_alert();
        }
        // `debug`: a burst refuses thousands of calls a second; the counts
        // are in `stats()` and the metrics.
        if tracing::enabled!(target: "monitor_runtime", tracing::Level::DEBUG) {
            self.busy_event();
        }
        Error::Busy {
            monitor: s.config.name.clone(),
            max_active: s.cap,
        }
    }

    /// A refusal of a monitor with stall alerts: the stall's start, and
    /// its alert armed, if it is the first refusal since calls completed.
    #[inline(never)]
    fn on_busy_alert(&self) {
        let s = self.state();
        if let Some(alert) = s.config.alert
            && let Some(since) = s.gate.on_busy(clock::now_ms)
            && !s.stopped.load(Ordering::Acquire)
        {
            self.arm_stall(since, alert);
        }
    }

    #[cold]
    #[inline(never)]
    fn busy_event(&self) {
        let s = self.state();
        tracing::debug!(
            target: "monitor_runtime",
            monitor = %s.config.name,
            max_active = s.cap,
            in_flight = self.stats().in_flight,
            "call refused: monitor busy"
        );
    }

    pub(crate) fn timeout_error(&self, after: Duration) -> Error {
        self.state().timeouts.fetch_add(1, Ordering::Relaxed);
        tracing::info!(
            target: "monitor_runtime",
            monitor = %self.state().config.name,
            limit = ?after,
            in_flight = self.stats().in_flight,
            "call timed out"
        );
        Error::Timeout {
            monitor: self.state().config.name.clone(),
            after,
        }
    }

    /// Stops the monitor's alert machinery: a pending stall alert will not
    /// fire, [`alerts`](Monitor::alerts) streams end, the monitor leaves the
    /// registry, and the process watchdog thread exits once nothing else
    /// needs it. Calls still run, with their cap and timeout.
    ///
    /// ```
    /// # use monitor_runtime::Monitor;
    /// let monitor = Monitor::builder("stopping").build();
    /// monitor.stop();
    /// assert!(monitor_runtime::monitors().iter().all(|m| !m.same(&monitor)));
    /// assert_eq!(monitor.call(|| 1), Ok(1));
    /// ```
    pub fn stop(&self) {
        let s = self.state();
        if s.stopped.swap(true, Ordering::AcqRel) {
            return;
        }
        self.close_alerts();
        MONITORS.remove(|m| m.same(self));
    }

    /// Whether [`Monitor::stop`] was called.
    pub fn is_stopped(&self) -> bool {
        self.state().stopped.load(Ordering::Acquire)
    }
}

/// Sets how long a single poll of an annotated async call (`#[monitored]`
/// or `#[stack_on_timeout]`) may run before it counts as blocking its
/// thread: 10 ms unless set; `None` stops the watch. A poll longer than
/// the call's timeout counts too, whatever this says.
///
/// An async function that calls blocking code (`std::thread::sleep`, a
/// synchronous lock or socket, a long computation) holds its worker
/// thread, and every task queued on it, until that code returns. No
/// timeout can interrupt it: the timeout is a future that has to be polled,
/// on a thread that is busy. The watchdog sees it, though: such a poll is
/// counted ([`Stats::blocked_polls`]), warned about (`tracing`), and
/// reported once in a dump ([`DumpReason::BlockedPoll`](crate::dump::DumpReason::BlockedPoll))
/// with the native stack of the thread, which names the blocking line.
/// Move such code to `tokio::task::spawn_blocking`, or into a sync
/// `#[monitored(timeout = ..)]` function, which runs on a worker of its own
/// and returns at its deadline.
///
/// ```
/// use monitor_runtime::monitor::{blocking_threshold, set_blocking_threshold};
/// use std::time::Duration;
///
/// assert_eq!(blocking_threshold(), Some(Duration::from_millis(10)));
/// set_blocking_threshold(Some(Duration::from_millis(50)));
/// assert_eq!(blocking_threshold(), Some(Duration::from_millis(50)));
/// set_blocking_threshold(None); // not watched
/// # set_blocking_threshold(Some(Duration::from_millis(10)));
/// ```
pub fn set_blocking_threshold(threshold: Option<Duration>) {
    crate::watchdog::set_block_after(threshold);
}

/// The blocking threshold set with [`set_blocking_threshold`]: 10 ms
/// unless set; `None` if polls are not watched.
///
/// ```
/// assert!(monitor_runtime::monitor::blocking_threshold().is_some());
/// ```
pub fn blocking_threshold() -> Option<Duration> {
    crate::watchdog::block_after()
}

/// The running monitors, weakly.
static MONITORS: Registry<Weak> = Registry::new();

/// Every monitor of the process that is running: those of `#[monitored]`
/// functions that have been called at least once, and those built with
/// [`Monitor::new`] and not yet stopped or dropped; in the order they
/// started.
///
/// ```
/// let db = monitor_runtime::Monitor::builder("registry-doc").build();
/// let names: Vec<String> = monitor_runtime::monitors()
///     .iter()
///     .map(|m| m.name().to_owned())
///     .collect();
/// assert!(names.contains(&"registry-doc".to_owned()));
/// ```
pub fn monitors() -> Vec<Monitor> {
    MONITORS.live()
}
/// The running monitor named `name` (the first one, if several share it).
/// A `#[monitored]` function's monitor is named after its module path and
/// function, unless its `name` key says otherwise.
///
/// ```
/// #[monitor_runtime::monitored(max_active = 4)]
/// fn lookup(key: u32) -> Result<u32, monitor_runtime::Error> {
///     Ok(key * 2)
/// }
///
/// lookup(21).unwrap();
/// let name = format!("{}::lookup", module_path!());
/// let monitor = monitor_runtime::monitor(&name).expect("listed once called");
/// assert_eq!(monitor.stats().completed, 1);
/// ```
pub fn monitor(name: &str) -> Option<Monitor> {
    monitors().into_iter().find(|m| m.name() == name)
}

/// A monitor reference that does not keep a run-time monitor alive.
pub(crate) enum Weak {
    Static(&'static MonitorState),
    Shared(std::sync::Weak<MonitorState>),
}

impl Upgrade for Weak {
    type Strong = Monitor;
    fn upgrade(&self) -> Option<Monitor> {
        match self {
            Weak::Static(s) => Some(Monitor {
                state: Handle::Static(s),
            }),
            Weak::Shared(w) => w.upgrade().map(|s| Monitor {
                state: Handle::Shared(s),
            }),
        }
    }
}

/// One call in this many of a monitor is timed once the monitor is older
/// than [`ALWAYS_MEASURED`] calls: two precise clock reads cost more than
/// the rest of the monitor.
const SAMPLE_EVERY: u32 = 32;

/// Calls measured while a monitor is young, so that rarely called
/// functions still show a latency.
const ALWAYS_MEASURED: u64 = 64;

/// A monitor's first calls, then one call in [`SAMPLE_EVERY`] of its own
/// (counted by its gate, whichever threads call it), have their latency
/// measured.
#[inline]
fn sample_start(entered: Entered) -> u64 {
    if entered.one_in(SAMPLE_EVERY) || entered.young(ALWAYS_MEASURED) {
        clock::now_ns().max(1)
    } else {
        0
    }
}

/// Why [`Monitor::admit`] refused a call.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Refused {
    /// `max_active` calls are in flight.
    Full,
    /// The monitor, or the process, drains.
    Draining,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Completed,
    Panicked,
    Cancelled,
}

/// The latency of a sampled call that completed: out of line, as one call
/// in [`SAMPLE_EVERY`] has it.
#[inline(never)]
fn record_latency(s: &MonitorState, started: u64) {
    let took = Duration::from_nanos(clock::now_ns().saturating_sub(started));
    s.latency.record(took);
    if let Some(observe) = s.latency_observer.get() {
        observe(took);
    }
}

/// A slot held by one call, through `M`: a borrowed handle on its monitor
/// (`&Monitor`, a call its caller's handle outlives) or one of its own
/// (`Monitor`, a body that outlives it: on a pooled worker, detached).
/// [`Permit::complete`] and [`Permit::panicked`] give it back and count the
/// outcome; a slot dropped without either counts as a panic if the thread
/// is unwinding, else as cancelled.
pub(crate) struct Permit<M: Borrow<Monitor> = Monitor> {
    monitor: M,
    /// When a timed call started (nanoseconds since the process epoch), or
    /// 0 for a call that is not timed.
    started: u64,
}

impl Permit<&Monitor> {
    /// The same slot, with a handle of its own on the monitor.
    pub(crate) fn owned(self) -> Permit {
        let this = std::mem::ManuallyDrop::new(self);
        Permit {
            monitor: this.monitor.clone(),
            started: this.started,
        }
    }

    /// Lets go of the guard, not of the slot: for a call whose future
    /// holds the handle and gives the slot back itself ([`Slot`]).
    #[inline]
    pub(crate) fn into_slot(self) -> Slot {
        let this = std::mem::ManuallyDrop::new(self);
        Slot::Taken {
            started: this.started,
        }
    }
}

impl<M: Borrow<Monitor>> Permit<M> {
    /// The body returned.
    #[inline]
    pub(crate) fn complete(self) {
        self.finish(Outcome::Completed);
    }

    /// The body panicked (caught, to be resumed elsewhere, or about to be
    /// caught by an executor that drops the future later).
    pub(crate) fn panicked(self) {
        self.finish(Outcome::Panicked);
    }

    #[inline(always)]
    fn finish(self, outcome: Outcome) {
        let this = std::mem::ManuallyDrop::new(self);
        // SAFETY: `this` is never dropped or used again; the handle is moved
        // out of it exactly once.
        let monitor = unsafe { std::ptr::read(&this.monitor) };
        release(monitor.borrow(), this.started, outcome);
    }
}

impl<M: Borrow<Monitor>> Drop for Permit<M> {
    fn drop(&mut self) {
        release(self.monitor.borrow(), self.started, Outcome::dropped());
    }
}

/// Whether an async call holds a slot of its monitor's cap, kept in the
/// call's future beside its handle on the monitor (`Call`, `Detach`): the future
/// gives the slot back ([`Slot::complete`], [`Slot::panicked`],
/// [`Slot::drop_with`]), and no permit holds a second handle. Not `Copy`:
/// a slot is given back once.
pub(crate) enum Slot {
    /// Not admitted yet, or the slot is given back.
    Empty,
    /// A slot taken at admission.
    Taken {
        /// As [`Permit`]'s.
        started: u64,
    },
}

impl Slot {
    /// The body returned.
    #[inline]
    pub(crate) fn complete(&mut self, monitor: &Monitor) {
        self.give_back(monitor, Outcome::Completed);
    }

    /// The body panicked.
    pub(crate) fn panicked(&mut self, monitor: &Monitor) {
        self.give_back(monitor, Outcome::Panicked);
    }

    /// The call is dropped (or timed out) with its slot: counted as a
    /// [`Permit`] dropped without an outcome.
    pub(crate) fn drop_with(&mut self, monitor: &Monitor) {
        self.give_back(monitor, Outcome::dropped());
    }

    /// The slot as a [`Permit`] with a handle of its own, for a body that
    /// runs on without the call's future (detached).
    pub(crate) fn take_permit(&mut self, monitor: &Monitor) -> Option<Permit> {
        match std::mem::replace(self, Slot::Empty) {
            Slot::Empty => None,
            Slot::Taken { started } => Some(Permit {
                monitor: monitor.clone(),
                started,
            }),
        }
    }

    #[inline(always)]
    fn give_back(&mut self, monitor: &Monitor, outcome: Outcome) {
        if let Slot::Taken { started } = std::mem::replace(self, Slot::Empty) {
            release(monitor, started, outcome);
        }
    }
}

impl Outcome {
    /// A slot given back without an outcome: a panic if the thread
    /// unwinds, else a cancellation.
    fn dropped() -> Self {
        if std::thread::panicking() {
            Outcome::Panicked
        } else {
            Outcome::Cancelled
        }
    }
}

#[inline(always)]
fn release(monitor: &Monitor, started: u64, outcome: Outcome) {
    let s = monitor.state();
    match outcome {
        Outcome::Completed => {
            if started != 0 {
                record_latency(s, started);
            }
            s.gate.on_progress();
            s.gate.exit_completed();
        }
        Outcome::Panicked => {
            s.panics.fetch_add(1, Ordering::Relaxed);
            s.gate.on_progress();
            s.gate.exit();
        }
        Outcome::Cancelled => {
            s.cancelled.fetch_add(1, Ordering::Relaxed);
            s.gate.exit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Handles on a run-time monitor's state: the test's, and any a call
    /// took of its own.
    fn handles(monitor: &Monitor) -> usize {
        match &monitor.state {
            Handle::Shared(state) => Arc::strong_count(state),
            Handle::Static(_) => unreachable!("a built monitor is shared"),
        }
    }

    #[test]
    fn a_sync_call_takes_no_handle_of_its_own() {
        let monitor = Monitor::builder("test.handles.sync").max_active(2).build();
        assert_eq!(handles(&monitor), 1);
        assert_eq!(monitor.call(|| handles(&monitor)), Ok(1));
    }

    #[test]
    fn an_async_call_holds_one_handle() {
        let monitor = Monitor::builder("test.handles.async").max_active(2).build();
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        // The future's own, and none for its slot.
        let inside = rt.block_on(monitor.call_async(async { handles(&monitor) }));
        assert_eq!(inside, Ok(2));
        assert_eq!(handles(&monitor), 1);
    }
}
