//! A watch for leaks, as Go's goroutine counts find them: calls of a
//! function that pile up because they never return, and threads that are
//! started and never end.
//!
//! Opt-in with [`watch_leaks`]: the process watchdog then samples, ten
//! times per window, the calls in flight of every annotated function (and
//! of every run-time [`Monitor`](crate::Monitor)) and the process's thread
//! count. A count that keeps rising over the window and never goes back
//! to where it was (see `decide.rs`: the lowest count of each quarter of
//! the window rises, and the last quarter's lowest is above everything the
//! first quarter saw) raises one alert:
//!
//! * to the alert hook ([`set_alert_hook`](crate::monitor::set_alert_hook)),
//!   as an [`Alert`] of kind
//!   [`AlertKind::Leak`](crate::monitor::AlertKind::Leak);
//! * as a `tracing` warning (target `monitor_runtime`);
//! * in a counter, [`leak_alerts`];
//! * and as a dump to the dump sink ([`DumpReason::Leak`](crate::dump::DumpReason::Leak)),
//!   which names the function, its count, the growth, and its oldest calls
//!   with their lines.
//!
//! A function that keeps leaking is reported again each time its count
//! doubles; one that stops rising for a window is forgotten. A busy
//! function whose level is steady is never reported, however many calls
//! it has in flight.
//!
//! Nothing of this is on the path of a call: the watchdog reads the table
//! of calls in flight, as a dump does, once per sample.
//!
//! The debug page (`monitor_runtime::http`, feature `axum`) keeps a
//! history of the same samples, one every 5 s for the last 5 minutes, and
//! draws it per function.

mod decide;
mod sample;

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime};

pub use crate::alert::{Leak, Leaking};

use crate::alert::{self, Alert};
use crate::user_code;
use decide::{alert_again, rising, MIN_SAMPLES};

/// Samples per window.
const PER_WINDOW: u32 = 10;
/// The shortest and longest time between two samples.
const MIN_EVERY: Duration = Duration::from_millis(10);
const MAX_EVERY: Duration = Duration::from_secs(60);
/// The debug page's history: one point this often...
pub(crate) const HISTORY_EVERY: Duration = Duration::from_secs(5);
/// ...this many points.
const HISTORY_POINTS: usize = 60;

/// Starts watching for leaks over `window`: a function whose calls in
/// flight (or the process's thread count) keep rising over `window`
/// without going back to where they were raises an alert (see the
/// [module](self)). Calling it again changes the window and starts afresh.
/// Pick a window over which a leak you want to catch grows by a few calls
/// in every quarter: a minute for a leak of a call a second.
///
/// ```
/// use std::time::Duration;
/// monitor_runtime::watch_leaks(Duration::from_secs(60));
/// monitor_runtime::leak::stop_watching_leaks();
/// ```
pub fn watch_leaks(window: Duration) {
    let mut sampler = lock();
    sampler.window = Some(window.max(MIN_EVERY * PER_WINDOW));
    sampler.watch = Watch::default();
    arm(&mut sampler, Instant::now());
}

/// Stops the leak watch (the debug page's history, if any, goes on).
///
/// ```
/// monitor_runtime::leak::stop_watching_leaks();
/// ```
pub fn stop_watching_leaks() {
    let mut sampler = lock();
    sampler.window = None;
    sampler.watch = Watch::default();
}

/// Leak alerts raised since the process started.
///
/// ```
/// assert_eq!(monitor_runtime::leak::leak_alerts(), 0);
/// ```
pub fn leak_alerts() -> u64 {
    ALERTS.load(Ordering::Relaxed)
}

static ALERTS: AtomicU64 = AtomicU64::new(0);

/// The samples behind the leak watch and the page's history.
#[derive(Default)]
struct Sampler {
    /// The leak watch's window, while it is on.
    window: Option<Duration>,
    /// Whether the page's history is kept.
    history: bool,
    /// When the next sample is due, if a check is armed.
    armed: Option<Instant>,
    watch: Watch,
    chart: History,
}

/// The leak watch's last window of samples.
#[derive(Default)]
struct Watch {
    /// Per function, the last samples, oldest first.
    calls: HashMap<String, Subject>,
    threads: Subject,
    /// Samples taken in this watch.
    samples: usize,
}

#[derive(Default)]
struct Subject {
    samples: VecDeque<usize>,
    /// The count at the last alert of this rise.
    alerted: Option<usize>,
}

impl Subject {
    /// Adds a sample; the rise, if one is to be reported now.
    fn push(&mut self, count: usize, keep: usize) -> Option<decide::Rise> {
        self.samples.push_back(count);
        while self.samples.len() > keep {
            self.samples.pop_front();
        }
        if self.samples.len() < keep {
            return None;
        }
        let (front, back) = self.samples.as_slices();
        let samples: Vec<usize> = front.iter().chain(back).copied().collect();
        match rising(&samples) {
            Some(rise) if alert_again(rise, self.alerted) => {
                self.alerted = Some(rise.count);
                Some(rise)
            }
            Some(_) => None,
            None => {
                self.alerted = None;
                None
            }
        }
    }
}

/// The page's history: a point every [`HISTORY_EVERY`].
#[derive(Default)]
struct History {
    last: Option<Instant>,
    at: VecDeque<SystemTime>,
    calls: BTreeMap<String, VecDeque<usize>>,
    threads: VecDeque<Option<usize>>,
}

/// Calls in flight per function over the last minutes, for the debug page.
#[cfg(feature = "axum")]
#[derive(Clone, Debug, Default, serde::Serialize)]
pub(crate) struct Series {
    /// Seconds between two points.
    #[serde(serialize_with = "crate::format::seconds")]
    pub(crate) every: Duration,
    /// When each point was taken (seconds since the UNIX epoch).
    pub(crate) at: Vec<f64>,
    /// Per function, its calls in flight at each point.
    pub(crate) functions: Vec<FunctionSeries>,
    /// The process's threads at each point (`null` where unknown).
    pub(crate) threads: Vec<Option<usize>>,
}

#[cfg(feature = "axum")]
#[derive(Clone, Debug, serde::Serialize)]
pub(crate) struct FunctionSeries {
    pub(crate) function: String,
    pub(crate) in_flight: Vec<usize>,
}

/// Keeps the debug page's history from now on (the page calls it when it
/// is built).
#[cfg(feature = "axum")]
pub(crate) fn keep_history() {
    let mut sampler = lock();
    if !sampler.history {
        sampler.history = true;
        arm(&mut sampler, Instant::now());
    }
}

/// The history so far.
#[cfg(feature = "axum")]
pub(crate) fn history() -> Series {
    let sampler = lock();
    let chart = &sampler.chart;
    Series {
        every: HISTORY_EVERY,
        at: chart
            .at
            .iter()
            .map(|at| {
                at.duration_since(SystemTime::UNIX_EPOCH)
                    .map_or(0.0, |d| d.as_secs_f64())
            })
            .collect(),
        functions: chart
            .calls
            .iter()
            .map(|(function, counts)| FunctionSeries {
                function: function.clone(),
                in_flight: counts.iter().copied().collect(),
            })
            .collect(),
        threads: chart.threads.iter().copied().collect(),
    }
}

static SAMPLER: Mutex<Option<Sampler>> = Mutex::new(None);

struct Locked(std::sync::MutexGuard<'static, Option<Sampler>>);

impl std::ops::Deref for Locked {
    type Target = Sampler;
    fn deref(&self) -> &Sampler {
        self.0.as_ref().expect("initialized by lock()")
    }
}

impl std::ops::DerefMut for Locked {
    fn deref_mut(&mut self) -> &mut Sampler {
        self.0.as_mut().expect("initialized by lock()")
    }
}

fn lock() -> Locked {
    let mut guard = SAMPLER.lock().unwrap_or_else(|e| e.into_inner());
    guard.get_or_insert_with(Sampler::default);
    Locked(guard)
}

/// The time between two samples, if anything needs them.
fn every(sampler: &Sampler) -> Option<Duration> {
    let watch = sampler
        .window
        .map(|window| (window / PER_WINDOW).clamp(MIN_EVERY, MAX_EVERY));
    let history = sampler.history.then_some(HISTORY_EVERY);
    watch.into_iter().chain(history).min()
}

/// Who arms the watchdog's checks for the sampler.
fn owner() -> usize {
    &SAMPLER as *const _ as usize
}

/// Arms a sample at `at`, unless one is armed for sooner or nothing needs
/// samples.
fn arm(sampler: &mut Sampler, at: Instant) {
    if every(sampler).is_none() {
        return;
    }
    if sampler.armed.is_some_and(|armed| armed <= at) {
        return;
    }
    if sampler.armed.is_some() {
        crate::watchdog::forget(owner());
    }
    sampler.armed = Some(at);
    crate::watchdog::at(at, owner(), Box::new(on_check));
}

/// The watchdog's check: one sample, the decision, the next check.
fn on_check(now: Instant) {
    let mut leaks = Vec::new();
    {
        let mut sampler = lock();
        sampler.armed = None;
        if every(&sampler).is_none() {
            return;
        }
        let sample = sample::take();
        if let Some(window) = sampler.window {
            leaks = look(&mut sampler.watch, &sample, window);
        }
        if sampler.history
            && sampler
                .chart
                .last
                .is_none_or(|last| now.saturating_duration_since(last) + MIN_EVERY >= HISTORY_EVERY)
        {
            record(&mut sampler.chart, &sample, now);
        }
        if let Some(every) = every(&sampler) {
            arm(&mut sampler, now + every);
        }
    }
    leaks.into_iter().for_each(raise);
}

/// Feeds a sample to the watch; the leaks to report.
fn look(watch: &mut Watch, sample: &sample::Sample, window: Duration) -> Vec<Leak> {
    let keep = (PER_WINDOW as usize + 1).max(MIN_SAMPLES);
    watch.samples += 1;
    let mut leaks = Vec::new();
    // Functions seen before and absent now count 0; the others start now.
    for (function, subject) in watch.calls.iter_mut() {
        if !sample.calls.contains_key(function) {
            subject.push(0, keep);
        }
    }
    for (function, &count) in &sample.calls {
        let subject = watch.calls.entry(function.clone()).or_insert_with(|| {
            // Absent from the samples before: 0 then.
            let before = (watch.samples - 1).min(keep);
            Subject {
                samples: std::iter::repeat_n(0, before).collect(),
                alerted: None,
            }
        });
        if let Some(rise) = subject.push(count, keep) {
            let mut leak = Leak::new(
                Leaking::Calls(function.clone()),
                rise.count,
                rise.growth,
                window,
            );
            leak.oldest = sample.oldest.get(function).cloned().unwrap_or_default();
            leaks.push(leak);
        }
    }
    // Forget functions that have had no call for a whole window.
    watch
        .calls
        .retain(|_, subject| subject.samples.iter().any(|&n| n > 0));
    if let Some(threads) = sample.threads
        && let Some(rise) = watch.threads.push(threads, keep)
    {
        leaks.push(Leak::new(Leaking::Threads, rise.count, rise.growth, window));
    }
    leaks
}

/// Adds a point to the page's history.
fn record(chart: &mut History, sample: &sample::Sample, now: Instant) {
    chart.last = Some(now);
    chart.at.push_back(SystemTime::now());
    let points = chart.at.len();
    for (function, &count) in &sample.calls {
        let series = chart
            .calls
            .entry(function.clone())
            .or_insert_with(|| std::iter::repeat_n(0, points - 1).collect());
        series.push_back(count);
    }
    for series in chart.calls.values_mut() {
        if series.len() < points {
            series.push_back(0);
        }
    }
    chart.threads.push_back(sample.threads);
    if points > HISTORY_POINTS {
        chart.at.pop_front();
        chart.threads.pop_front();
        for series in chart.calls.values_mut() {
            series.pop_front();
        }
    }
    // Functions with no call over the whole history leave the chart.
    chart
        .calls
        .retain(|_, series| series.iter().any(|&n| n > 0));
}

/// Reports one leak: the counter, a `tracing` warning, the alert hook, and
/// a dump. Runs on the watchdog: the warning, then the hook, go to the
/// threads of user code (in that order, as ever), the dump to the dump
/// worker.
fn raise(leak: Leak) {
    ALERTS.fetch_add(1, Ordering::Relaxed);
    // The hook set when the leak is raised, whenever it runs.
    let hook = alert::hook();
    let (warned, hooked) = (leak.clone(), hook.clone());
    let queued = user_code::EVENTS.run(move || {
        let oldest = warned
            .oldest
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join("; ");
        tracing::warn!(
            target: "monitor_runtime",
            what = ?warned.what,
            count = warned.count,
            growth = warned.growth,
            window = ?warned.window,
            oldest = %oldest,
            "{warned}"
        );
        if let Some(hook) = hooked {
            alert::to_hook(hook, Alert::leak(warned));
        }
    });
    if !queued && let Some(hook) = hook {
        alert::to_hook(hook, Alert::leak(leak.clone()));
    }
    crate::dump::submit(crate::dump::Job::Leak(leak));
}
