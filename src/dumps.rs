//! Dump sinks that hand the runtime's dumps to a test.
//!
//! The sink is process-wide: tests that run in parallel in one binary see
//! each other's dumps, so each looks only at its own functions.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Mutex, Once, PoisonError};
use std::time::{Duration, Instant};

use monitor_runtime::dump::{set_dump_sink, BlockedPoll, Dump, DumpReason, DumpSink, OverdueCall};
use monitor_runtime::sync::{Deadlock, LockOrderInversion};

/// Every dump this process has written since the first call: that call
/// sets the dump sink to one that keeps a copy of each, later calls return
/// the same list. A sink set afterwards replaces this one, and the list
/// stops growing.
///
/// ```
/// let dumps = monitor_demo::kept_dumps();
/// monitor_runtime::dump::DumpOptions::new().native_stacks(false).take().emit();
/// assert_eq!(dumps.lock().unwrap().len(), 1);
/// ```
pub fn kept_dumps() -> &'static Mutex<Vec<Dump>> {
    static DUMPS: Mutex<Vec<Dump>> = Mutex::new(Vec::new());
    static SINK: Once = Once::new();
    SINK.call_once(|| {
        set_dump_sink(DumpSink::custom(|dump| {
            // A test that panicked while reading must not hide later dumps.
            let mut dumps = DUMPS.lock().unwrap_or_else(PoisonError::into_inner);
            dumps.push(dump.clone());
        }))
        .expect("a custom sink is always set");
    });
    &DUMPS
}

/// The calls of `function` reported overdue in the dumps [`kept_dumps`]
/// has kept so far (it sets the sink if nothing did).
///
/// ```
/// assert!(monitor_demo::kept_overdue("app::nothing").is_empty());
/// ```
pub fn kept_overdue(function: &str) -> Vec<OverdueCall> {
    kept_reports(function, |reason| match reason {
        DumpReason::Overdue { calls } => calls.iter().map(|c| (c.function, c.clone())).collect(),
        _ => Vec::new(),
    })
}

/// The polls of `function` reported blocking their thread in the dumps
/// [`kept_dumps`] has kept so far (it sets the sink if nothing did).
///
/// ```
/// assert!(monitor_demo::kept_blocked_polls("app::nothing").is_empty());
/// ```
pub fn kept_blocked_polls(function: &str) -> Vec<BlockedPoll> {
    kept_reports(function, |reason| match reason {
        DumpReason::BlockedPoll { polls } => {
            polls.iter().map(|p| (p.function, p.clone())).collect()
        }
        _ => Vec::new(),
    })
}

/// What `of` finds in each kept dump's reason, as `(function, item)`, for
/// `function`.
fn kept_reports<T>(function: &str, of: impl Fn(&DumpReason) -> Vec<(&'static str, T)>) -> Vec<T> {
    kept_dumps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .flat_map(|dump| of(&dump.reason))
        .filter(|(of_function, _)| *of_function == function)
        .map(|(_, item)| item)
        .collect()
}

/// Sets the process's dump sink to one that blocks in every dump until
/// the returned sender is dropped, and says on the returned receiver each
/// time it is called: a sink that hangs.
///
/// ```
/// let (release, entered) = monitor_demo::hung_sink();
/// drop(release); // the sink returns at once from then on
/// monitor_runtime::dump::DumpOptions::new().native_stacks(false).take().emit();
/// # drop(entered);
/// ```
pub fn hung_sink() -> (Sender<()>, Receiver<()>) {
    let (release, released) = channel::<()>();
    let released = Mutex::new(released);
    let (entered_tx, entered) = channel();
    let entered_tx = Mutex::new(entered_tx);
    set_dump_sink(DumpSink::custom(move |_dump| {
        let _ = entered_tx
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .send(());
        let _ = released
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .recv();
    }))
    .expect("a custom sink is always set");
    (release, entered)
}

/// Sets the process's dump sink to one that sends a copy of every dump
/// down a new channel, replacing any sink set before, and returns the
/// receiving end.
///
/// ```
/// use std::time::Duration;
///
/// let dumps = monitor_demo::dump_channel();
/// monitor_runtime::dump::DumpOptions::new().native_stacks(false).take().emit();
/// assert!(dumps.recv_timeout(Duration::from_secs(10)).is_ok());
/// ```
pub fn dump_channel() -> Receiver<Dump> {
    let (tx, rx) = channel();
    set_dump_sink(DumpSink::custom(move |dump| {
        // The test may have stopped listening.
        let _ = tx.send(dump.clone());
    }))
    .expect("a custom sink is always set");
    rx
}

/// The first deadlock report kept by [`kept_dumps`] (call it before the
/// deadlock forms) in which a participant waits for the lock called
/// `lock`, waiting up to 10 s for it: the report and the dump's text.
///
/// ```
/// use monitor_runtime::sync::Mutex;
///
/// monitor_demo::kept_dumps();
/// let lock = Mutex::with_name((), "taken twice");
/// let _held = lock.lock().unwrap();
/// # #[cfg(not(feature = "plain-locks"))] {
/// assert!(lock.lock_checked().is_err());
/// let (deadlock, text) = monitor_demo::deadlock_report_naming("taken twice");
/// assert!(deadlock.is_self_deadlock() && text.contains("self-deadlock"));
/// # }
/// ```
pub fn deadlock_report_naming(lock: &str) -> (Deadlock, String) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = kept_dumps()
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .find_map(|dump| match &dump.reason {
                DumpReason::Deadlock(deadlock)
                    if deadlock
                        .participants
                        .iter()
                        .any(|p| p.waits_for.lock == lock) =>
                {
                    Some((deadlock.clone(), dump.to_string()))
                }
                _ => None,
            });
        if let Some(found) = found {
            return found;
        }
        assert!(Instant::now() < deadline, "no deadlock report names {lock}");
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// The lock-order inversions the sink of [`kept_dumps`] got that name a
/// lock whose name starts with `prefix`, each with its dump's text, in the
/// order they came.
///
/// ```
/// monitor_demo::kept_dumps();
/// assert!(monitor_demo::inversion_reports_naming("never taken ").is_empty());
/// ```
pub fn inversion_reports_naming(prefix: &str) -> Vec<(LockOrderInversion, String)> {
    kept_dumps()
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .iter()
        .filter_map(|dump| match &dump.reason {
            DumpReason::LockOrder(inversion)
                if inversion.edges.iter().any(|e| {
                    e.held.lock.starts_with(prefix) || e.taken.lock.starts_with(prefix)
                }) =>
            {
                Some((inversion.clone(), dump.to_string()))
            }
            _ => None,
        })
        .collect()
}
