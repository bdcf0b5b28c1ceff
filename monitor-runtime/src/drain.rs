//! Graceful exit that names what holds it up: [`drain`] closes admission
//! (new calls of annotated functions fail at once with
//! [`Error::ShuttingDown`](crate::Error::ShuttingDown)), gives the calls in
//! flight until the grace period's deadline, tells every supervisor to
//! stop its worker by the same deadline, and returns a [`DrainReport`] at
//! the deadline at the latest: how many calls finished, how many were
//! refused, and which are left. If calls are left, one dump of them (their
//! logical stacks, their native stacks, the locks they wait for) goes to
//! the dump sink ([`set_dump_sink`](crate::dump::set_dump_sink)) before
//! `drain` returns: it is taken shortly before the deadline (a fifth of
//! the grace period, at most 250 ms), so that the sink has written it by
//! the time the process exits.
//!
//! ```
//! use std::time::Duration;
//! use monitor_runtime::{monitored, Error};
//!
//! #[monitored]
//! fn lookup(key: u32) -> Result<u32, Error> {
//!     Ok(key * 2)
//! }
//!
//! assert_eq!(lookup(1), Ok(2));
//! let report = monitor_runtime::drain(Duration::from_secs(5));
//! assert!(report.left.is_empty());
//! assert!(matches!(lookup(1), Err(Error::ShuttingDown { .. })));
//! # monitor_runtime::drain::resume();
//! ```
//!
//! A drain of the process ends in a drained state: calls stay refused, as
//! the process is about to exit. [`resume`] opens admission again, for a
//! shutdown that was called off (a rolling restart rolled back) and for
//! tests. [`Monitor::drain`](crate::Monitor::drain) drains one monitor
//! alone (a dependency going away, a feature switched off), and
//! [`Monitor::resume`](crate::Monitor::resume) opens it again.
//!
//! What a drain waits for: every call that holds a monitor's slot
//! (`#[monitored]` functions and run-time monitors), every call of
//! `#[stack_on_timeout]` functions (they are never refused: the attribute
//! changes nothing for a call), and every supervisor's worker. It does not
//! wait for itself: do not drain from inside an annotated call, or that
//! call is left at the deadline. What it costs a call that is admitted:
//! one relaxed load of a process-wide word (`monitor/admission.rs`).

use std::collections::HashMap;
use std::fmt;
use std::time::{Duration, Instant};

use crate::clock;
use crate::dump::{self, DumpOptions, DumpReason};
use crate::format::human;
use crate::inflight::{self, Straggler};
use crate::monitor::admission;
use crate::supervisor::{self, Supervisor};
use crate::Monitor;

/// The dump of the stragglers is taken this long before the deadline at
/// most...
const DUMP_BEFORE_MAX: Duration = Duration::from_millis(250);
/// ...and never more than this part of the grace period.
const DUMP_BEFORE_PART: u32 = 5;
/// The longest sleep between two looks at the calls in flight.
const LOOK_EVERY: Duration = Duration::from_millis(5);

/// What a [`drain`] (or [`Monitor::drain`](crate::Monitor::drain)) saw.
///
/// `Display` writes it for people:
///
/// ```text
/// drain: 5 calls finished, 1 refused, 3 left after the 2s grace period:
///   call 1.0 of app::stuck (src/main.rs:20), running for 2s
///   ...
/// ```
///
/// ```
/// let report = monitor_runtime::drain::DrainReport::default();
/// assert!(report.is_clean());
/// assert_eq!(report.to_string(), "drain: 0 calls finished, 0 refused, none left (grace period 0ns, took 0ns)");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct DrainReport {
    /// The grace period.
    #[serde(serialize_with = "crate::format::seconds")]
    pub grace: Duration,
    /// How long the drain took: the grace period if calls were left,
    /// less if every call finished sooner.
    #[serde(serialize_with = "crate::format::seconds")]
    pub took: Duration,
    /// Calls of the drained monitors that ended (returned, panicked, or
    /// were cancelled) during the drain.
    pub finished: u64,
    /// Calls refused with [`Error::ShuttingDown`](crate::Error::ShuttingDown)
    /// during the drain.
    pub refused: u64,
    /// The calls of annotated functions still in flight at the deadline,
    /// oldest first (a call inside another is listed with it).
    pub left: Vec<Straggler>,
    /// Calls still in flight per monitor at the deadline, by name: also
    /// those of run-time monitors, which are not in `left`.
    pub left_per_monitor: Vec<(String, usize)>,
    /// Supervisors whose worker had not stopped at the deadline (each was
    /// told to stop, and its worker is cancelled or detached at the
    /// deadline).
    pub supervisors_left: Vec<String>,
    /// Whether a dump of the calls left went to the dump sink (taken
    /// before the deadline; with a grace period too short for that, it is
    /// started at the deadline and written just after `drain` returns).
    pub dumped: bool,
}

impl DrainReport {
    /// Whether nothing was left at the deadline.
    ///
    /// ```
    /// assert!(monitor_runtime::drain::DrainReport::default().is_clean());
    /// ```
    pub fn is_clean(&self) -> bool {
        self.left.is_empty() && self.left_per_monitor.is_empty() && self.supervisors_left.is_empty()
    }
}

impl fmt::Display for DrainReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "drain: {} call{} finished, {} refused, ",
            self.finished,
            if self.finished == 1 { "" } else { "s" },
            self.refused
        )?;
        if self.is_clean() {
            return write!(
                f,
                "none left (grace period {}, took {})",
                human(self.grace),
                human(self.took)
            );
        }
        let calls: usize = self.left_per_monitor.iter().map(|(_, n)| n).sum();
        writeln!(
            f,
            "{} left after the {} grace period:",
            calls.max(self.left.len()),
            human(self.grace)
        )?;
        for call in &self.left {
            writeln!(f, "  {call}")?;
        }
        for (monitor, n) in &self.left_per_monitor {
            writeln!(
                f,
                "  monitor {monitor}: {n} call{} in flight",
                if *n == 1 { "" } else { "s" }
            )?;
        }
        for name in &self.supervisors_left {
            writeln!(f, "  supervisor {name}: worker not stopped")?;
        }
        Ok(())
    }
}

/// Drains the process: refuses new calls of every monitor with
/// [`Error::ShuttingDown`](crate::Error::ShuttingDown), tells every
/// supervisor to stop its worker by the deadline, and waits up to `grace`
/// for the calls in flight. Returns at the deadline at the latest, with
/// what it saw; a dump of the calls left goes to the dump sink (see the
/// [module](self)). Blocks: from async code, use [`drain_async`].
///
/// Admission stays closed after it returns; [`resume`] opens it again.
///
/// ```
/// use std::time::Duration;
/// let report = monitor_runtime::drain(Duration::from_millis(100));
/// println!("{report}");
/// # monitor_runtime::drain::resume();
/// ```
pub fn drain(grace: Duration) -> DrainReport {
    // Counted before admission closes, so that every refusal is the drain's.
    let before = baseline(&Scope::Process);
    admission::close_process();
    let supervisors = supervisor::supervisors();
    let deadline = Instant::now() + grace;
    for supervisor in &supervisors {
        supervisor.stop_by(deadline);
    }
    run(Scope::Process, before, grace, deadline, supervisors)
}

/// [`drain`] for async code: the drain runs on a thread of its own, so no
/// runtime thread blocks.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let report = monitor_runtime::drain_async(std::time::Duration::from_millis(50)).await;
/// assert!(report.is_clean());
/// # monitor_runtime::drain::resume();
/// # }
/// ```
pub async fn drain_async(grace: Duration) -> DrainReport {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let spawned = std::thread::Builder::new()
        .name("monitor-drain".into())
        .spawn(move || {
            let _ = tx.send(drain(grace));
        });
    match spawned {
        Ok(_) => match rx.await {
            Ok(report) => report,
            // The thread panicked (a panic hook of the user's): the drain
            // is over anyway.
            Err(_) => DrainReport {
                grace,
                ..DrainReport::default()
            },
        },
        Err(error) => {
            tracing::error!(target: "monitor_runtime", %error, "cannot start a thread to drain; draining on this one");
            drain(grace)
        }
    }
}

/// Opens admission again after [`drain`]: calls are admitted as before.
/// Monitors drained alone ([`Monitor::drain`](crate::Monitor::drain))
/// stay closed. Supervisors stopped by the drain stay stopped.
///
/// ```
/// use std::time::Duration;
/// let monitor = monitor_runtime::Monitor::builder("doc::resume").build();
/// monitor_runtime::drain(Duration::ZERO);
/// assert!(monitor.call(|| ()).is_err());
/// monitor_runtime::drain::resume();
/// assert!(monitor.call(|| ()).is_ok());
/// ```
pub fn resume() {
    admission::reopen_process();
}

impl Monitor {
    /// Drains this monitor alone: refuses its new calls with
    /// [`Error::ShuttingDown`](crate::Error::ShuttingDown) and waits up to
    /// `grace` for its calls in flight; at the deadline, a dump of those
    /// left goes to the dump sink. Other monitors go on;
    /// [`Monitor::resume`] opens this one again.
    ///
    /// ```
    /// use monitor_runtime::{Error, Monitor};
    /// use std::time::Duration;
    /// let monitor = Monitor::builder("doc::drain_one").build();
    /// let report = monitor.drain(Duration::from_millis(100));
    /// assert!(report.is_clean());
    /// assert!(matches!(monitor.call(|| ()), Err(Error::ShuttingDown { .. })));
    /// monitor.resume();
    /// assert_eq!(monitor.call(|| 1), Ok(1));
    /// ```
    pub fn drain(&self, grace: Duration) -> DrainReport {
        let scope = Scope::One(self.clone());
        let before = baseline(&scope);
        admission::close_monitor(self.state());
        let deadline = Instant::now() + grace;
        run(scope, before, grace, deadline, Vec::new())
    }

    /// Opens this monitor again after [`Monitor::drain`] (it stays closed
    /// while the process drains).
    ///
    /// ```
    /// let monitor = monitor_runtime::Monitor::builder("doc::resume_one").build();
    /// monitor.resume();
    /// assert_eq!(monitor.call(|| 1), Ok(1));
    /// ```
    pub fn resume(&self) {
        admission::reopen_monitor(self.state());
    }
}

enum Scope {
    Process,
    One(Monitor),
}

impl Scope {
    fn monitors(&self) -> Vec<Monitor> {
        match self {
            Scope::Process => crate::monitors(),
            Scope::One(monitor) => vec![monitor.clone()],
        }
    }

    /// Whether `call` is one this drain waits for.
    fn holds(&self, call: &inflight::Snapshot) -> bool {
        match self {
            Scope::Process => true,
            Scope::One(monitor) => monitor
                .site()
                .is_some_and(|site| std::ptr::eq(site, call.site)),
        }
    }
}

/// Calls of a monitor that have ended, and calls it refused as shutting
/// down, so far.
fn counts(monitor: &Monitor) -> (u64, u64) {
    let s = monitor.stats();
    (s.completed + s.panics + s.cancelled, s.shutting_down)
}

fn key(monitor: &Monitor) -> usize {
    monitor.state() as *const _ as usize
}

/// Each monitor's [`counts`] as the drain begins.
fn baseline(scope: &Scope) -> HashMap<usize, (u64, u64)> {
    scope
        .monitors()
        .iter()
        .map(|m| (key(m), counts(m)))
        .collect()
}

fn run(
    scope: Scope,
    before: HashMap<usize, (u64, u64)>,
    grace: Duration,
    deadline: Instant,
    supervisors: Vec<Supervisor>,
) -> DrainReport {
    let began = Instant::now();
    let dump_before = (grace / DUMP_BEFORE_PART).min(DUMP_BEFORE_MAX);
    let dump_at = deadline - dump_before;
    if grace > Duration::ZERO {
        // Load debug info now rather than in the dump at the deadline.
        dump::prepare_soon();
    }
    let mut dumped = false;
    let mut pause = Duration::from_micros(100);
    loop {
        let busy = scope
            .monitors()
            .iter()
            .any(|m| m.state().gate().active() > 0)
            || any_call(&scope)
            || supervisors.iter().any(|s| s.stats().running);
        let now = Instant::now();
        if !busy || now >= deadline {
            break;
        }
        if !dumped && now >= dump_at {
            dumped = dump_stragglers(&scope, grace, deadline);
            continue;
        }
        let next = if dumped { deadline } else { dump_at };
        std::thread::sleep(pause.min(next.saturating_duration_since(now)));
        pause = (pause * 2).min(LOOK_EVERY);
    }
    let took = began.elapsed();
    let now_ns = clock::now_ns();
    let left: Vec<Straggler> = inflight::snapshot()
        .iter()
        .filter(|call| scope.holds(call))
        .map(|call| Straggler::of(call, now_ns))
        .collect();
    if !dumped && !left.is_empty() {
        // The deadline came before the dump's time (a grace period of
        // zero, or a look that came late): the dump is started now, and
        // written after `drain` returns.
        dumped = dump_stragglers(&scope, grace, Instant::now());
    }
    let mut report = DrainReport {
        grace,
        took,
        left,
        dumped,
        ..DrainReport::default()
    };
    for monitor in scope.monitors() {
        let (ended, refused) = counts(&monitor);
        let (ended_before, refused_before) = before.get(&key(&monitor)).copied().unwrap_or((0, 0));
        report.finished += ended.saturating_sub(ended_before);
        report.refused += refused.saturating_sub(refused_before);
        let in_flight = monitor.stats().in_flight;
        if in_flight > 0 {
            report
                .left_per_monitor
                .push((monitor.name().to_owned(), in_flight));
        }
    }
    report.supervisors_left = supervisors
        .iter()
        .filter(|s| s.stats().running)
        .map(|s| s.name().to_owned())
        .collect();
    if report.is_clean() {
        tracing::info!(target: "monitor_runtime", finished = report.finished, refused = report.refused, took = ?took, "drained");
    } else {
        tracing::warn!(
            target: "monitor_runtime",
            finished = report.finished,
            refused = report.refused,
            left = report.left.len(),
            "{report}"
        );
    }
    report
}

/// Whether a call this drain waits for is in the table of calls in flight.
fn any_call(scope: &Scope) -> bool {
    match scope {
        Scope::Process => inflight::count_in_flight() > 0,
        // A monitor's calls hold its gate: counted by the caller.
        Scope::One(_) => false,
    }
}

/// Takes the dump of the calls still in flight, on a thread of its own
/// (`monitor-drain`: a capture waits for the threads it captures, and the
/// first one of a process loads debug info), and hands it to the sink;
/// waits for the sink until the deadline at most. Whether a dump was
/// started (it may be written after the deadline, if the capture or the
/// sink is slower than that).
fn dump_stragglers(scope: &Scope, grace: Duration, deadline: Instant) -> bool {
    let snapshot = inflight::snapshot();
    let now_ns = clock::now_ns();
    let calls: Vec<Straggler> = snapshot
        .iter()
        .filter(|call| scope.holds(call))
        .map(|call| Straggler::of(call, now_ns))
        .collect();
    if calls.is_empty() {
        // Run-time monitors only: nothing that a dump can show.
        return false;
    }
    let before_deadline = deadline.saturating_duration_since(Instant::now());
    let only = match scope {
        Scope::One(monitor) => Some(monitor.name().to_owned()),
        Scope::Process => None,
    };
    let (written, done) = std::sync::mpsc::channel::<()>();
    let work = move || {
        // Threads get a quarter of the time left to answer the capture
        // (the default, 100 ms, once nothing waits for the dump).
        let options = match before_deadline / 4 {
            Duration::ZERO => DumpOptions::new(),
            quarter => DumpOptions::new().answer_within(quarter.max(Duration::from_millis(1))),
        };
        let mut dump = dump::take(
            DumpReason::Drain {
                grace,
                before_deadline,
                calls,
            },
            &options,
        );
        dump::fold_same_places(&mut dump);
        if let Some(name) = only {
            // Only the stacks that hold a call of this monitor.
            dump.calls
                .retain(|call| call.stack.iter().any(|frame| frame.function == name));
        }
        dump::write_then(dump, move || {
            let _ = written.send(());
        });
    };
    if let Err(error) = std::thread::Builder::new()
        .name("monitor-drain".into())
        .spawn(work)
    {
        tracing::error!(target: "monitor_runtime", %error, "cannot start a thread for the drain's dump; no dump");
        return false;
    }
    let _ = done.recv_timeout(deadline.saturating_duration_since(Instant::now()));
    true
}
