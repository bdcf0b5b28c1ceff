//! Dumps in fatal situations: a panic, and a stall (no call returns while
//! calls are in flight).

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use super::{take, DumpOptions, DumpReason, InDump};
use crate::clock::TICK;
use crate::inflight;

/// Prints a dump of every call in flight when a thread panics, after the
/// output of the panic hook in place (the panic message, the backtrace), as
/// Go prints every goroutine on a fatal error. The dump goes to the sink
/// ([`set_dump_sink`](crate::dump::set_dump_sink), stderr by default); nothing is
/// printed when no call is in flight. A sink that is user code runs on a
/// thread of its own meanwhile, and the hook waits for it: if it panics or
/// does not return within 2 s, the dump goes to stderr, and the panic that
/// started it unwinds as it would have (a panic inside a panic hook would
/// abort the process). Opt-in, because the dump (with native
/// stacks) takes a few milliseconds per panic. A panic at a place that was
/// dumped less than 30 s before is not dumped again (a handler that panics
/// on every request would otherwise dump every call in flight on every
/// request): a line on stderr says so. Installing it twice installs it
/// once.
///
/// ```
/// monitor_runtime::dump::install_panic_hook();
/// let _ = std::panic::catch_unwind(|| {
///     monitor_runtime::__private::stack_sync(&SITE, || panic!("boom"));
/// });
/// # static SITE: monitor_runtime::dump::CallSite =
/// #     monitor_runtime::dump::CallSite::new("doc::boom", file!(), line!());
/// // stderr: "thread 'main' panicked at ...: boom", then
/// // "monitor dump at ...: 1 call in flight, 1 stack", "panic on thread 'main' ...",
/// // "call 1.0 [running on thread 'main' (tid ...), ...]:", ...
/// ```
pub fn install_panic_hook() {
    static INSTALLED: Once = Once::new();
    INSTALLED.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if InDump::active() {
                eprintln!("monitor_runtime: panic while taking or writing a dump; no dump");
                return;
            }
            let location = info
                .location()
                .map(|l| format!("{}:{}:{}", l.file(), l.line(), l.column()));
            if !first_in_a_while(&location) {
                eprintln!(
                    "monitor_runtime: a panic at {} was dumped less than {}s ago; no dump",
                    location.as_deref().unwrap_or("an unknown place"),
                    PANIC_DUMP_AGAIN_AFTER.as_secs()
                );
                return;
            }
            let message = crate::format::panic_message(info.payload());
            let reason = DumpReason::Panic {
                message,
                location,
                thread: std::thread::current().name().map(str::to_owned),
            };
            let dump = take(reason, &DumpOptions::new());
            if !dump.calls.is_empty() {
                // Not `emit`: a sink that panics here would abort.
                super::sink::emit_in_panic(dump);
            }
        }));
    });
}

/// How long after a panic's dump another panic at the same place is
/// dumped again.
const PANIC_DUMP_AGAIN_AFTER: Duration = Duration::from_secs(30);

/// Whether a panic at `location` is the first there for
/// [`PANIC_DUMP_AGAIN_AFTER`] (and so is dumped); notes it if so. As many
/// places as the code has.
fn first_in_a_while(location: &Option<String>) -> bool {
    static DUMPED: Mutex<BTreeMap<Option<String>, Instant>> = Mutex::new(BTreeMap::new());
    let now = Instant::now();
    let mut dumped = DUMPED.lock().unwrap_or_else(|e| e.into_inner());
    match dumped.get(location) {
        Some(at) if now.duration_since(*at) < PANIC_DUMP_AGAIN_AFTER => false,
        _ => {
            dumped.insert(location.clone(), now);
            true
        }
    }
}

/// The stall period in nanoseconds; 0 when stall detection is off.
static PERIOD_NS: AtomicU64 = AtomicU64::new(0);

/// Dumps once per stall: when calls are in flight and none of them, nor
/// any other call, has returned for `period`. Go notices a stall only when
/// every goroutine is asleep; this notices it while the rest of the
/// program runs on (a few threads deadlocked while others serve requests
/// that do not touch annotated functions).
///
/// The watchdog looks every `period / 4` (between 4 and 100 ms) at the
/// table of calls in flight, and reads only: there is no shared write on the calls' path.
/// The dump is taken on the dump worker (`monitor-dump`) and goes to the
/// sink ([`set_dump_sink`](crate::dump::set_dump_sink)) with
/// [`DumpReason::Stall`]; the next one comes after some call has returned
/// and a new stall has lasted `period`. Calling it again changes the
/// period and starts counting afresh.
///
/// ```
/// use std::time::Duration;
/// monitor_runtime::dump::detect_stalls(Duration::from_secs(30));
/// monitor_runtime::dump::stop_detecting_stalls();
/// ```
pub fn detect_stalls(period: Duration) {
    let mut watch = WATCH.lock().unwrap_or_else(|e| e.into_inner());
    *watch = None;
    let period = u64::try_from(period.as_nanos()).unwrap_or(u64::MAX);
    PERIOD_NS.store(period.max(1), Ordering::Relaxed);
}

/// Turns stall detection off.
///
/// ```
/// monitor_runtime::dump::stop_detecting_stalls();
/// ```
pub fn stop_detecting_stalls() {
    PERIOD_NS.store(0, Ordering::Relaxed);
    *WATCH.lock().unwrap_or_else(|e| e.into_inner()) = None;
}

/// What the last look saw.
struct Watch {
    at_ns: u64,
    /// Every record's state word, by the record's address.
    states: HashMap<usize, u32>,
    /// When the last look that found progress (or no call in flight) was.
    progress_ns: u64,
    /// Whether this stall has been dumped.
    dumped: bool,
}

static WATCH: Mutex<Option<Watch>> = Mutex::new(None);

/// How often the watchdog looks for a stall while calls are in flight;
/// `None` while stall detection is off.
pub(crate) fn stall_look_every() -> Option<Duration> {
    match PERIOD_NS.load(Ordering::Relaxed) {
        0 => None,
        period => Some(Duration::from_nanos(look_every(period))),
    }
}

/// The time between two looks, for a stall period (nanoseconds).
fn look_every(period: u64) -> u64 {
    (period / 4).clamp(TICK.as_nanos() as u64, 100_000_000)
}

/// The watchdog's look for a stall, on each tick.
pub(super) fn look_for_stall(now_ns: u64) {
    let period = PERIOD_NS.load(Ordering::Relaxed);
    if period == 0 {
        return;
    }
    let every = look_every(period);
    let mut guard = WATCH.lock().unwrap_or_else(|e| e.into_inner());
    if guard
        .as_ref()
        .is_some_and(|w| now_ns.saturating_sub(w.at_ns) < every)
    {
        return;
    }
    let previous = guard.take();
    let mut states = HashMap::with_capacity(previous.as_ref().map_or(64, |p| p.states.len()));
    let mut in_flight = 0;
    let mut progress = false;
    inflight::for_each_state(|record, state| {
        in_flight += state & 1;
        if let Some(previous) = &previous {
            progress |= match previous.states.get(&record) {
                Some(&old) => inflight::ended_between(old, state),
                // A record new since the last look: it has served a call
                // that ended unless it is untouched (0) or in its first
                // call (3).
                None => state != 0 && state != 3,
            };
        }
        states.insert(record, state);
    });
    let mut watch = match previous {
        Some(previous) if !progress && in_flight > 0 => Watch {
            at_ns: now_ns,
            states,
            ..previous
        },
        _ => Watch {
            at_ns: now_ns,
            states,
            progress_ns: now_ns,
            dumped: false,
        },
    };
    let stalled_for = Duration::from_nanos(now_ns.saturating_sub(watch.progress_ns));
    let dump_now = !watch.dumped && stalled_for.as_nanos() as u64 >= period;
    watch.dumped |= dump_now;
    *guard = Some(watch);
    drop(guard);
    if dump_now {
        // Taken and written on the dump worker: the watchdog only looks.
        super::submit(super::Job::Stall(stalled_for));
    }
}

#[cfg(test)]
mod tests {
    use crate::inflight::ended_between;

    #[test]
    fn progress_from_state_words() {
        // Free (generation 1) -> in use: a call began, none ended.
        assert!(!ended_between(2, 5));
        // Free -> free, later generation: a call began and ended.
        assert!(ended_between(2, 4));
        // Free -> in use two generations on: one ended, one runs.
        assert!(ended_between(2, 7));
        // In use -> the same: still the same call.
        assert!(!ended_between(5, 5));
        // In use -> free, or reused.
        assert!(ended_between(5, 4));
        assert!(ended_between(5, 7));
        // Untouched.
        assert!(!ended_between(4, 4));
    }
}
