//! One look at what could leak: the calls in flight per function (from the
//! table of calls in flight, and the run-time monitors' gates), their
//! oldest calls, and the process's thread count. Reads only.

use std::collections::{BTreeMap, HashMap};

use crate::clock;
use crate::inflight::{self, Straggler};

/// How many of a function's oldest calls an alert names.
pub(super) const OLDEST: usize = 5;

/// What one look saw.
#[derive(Default)]
pub(super) struct Sample {
    /// Calls in flight per function (or run-time monitor).
    pub(super) calls: BTreeMap<String, usize>,
    /// The oldest calls of each function, oldest first.
    pub(super) oldest: HashMap<String, Vec<Straggler>>,
    /// The process's threads, where the system says.
    pub(super) threads: Option<usize>,
}

/// Takes a sample now.
pub(super) fn take() -> Sample {
    let mut sample = Sample::default();
    let calls = inflight::snapshot();
    let now_ns = clock::now_ns();
    // Oldest first: the first calls seen of each function are its oldest.
    for call in &calls {
        // A function with both `#[monitored]` and `#[stack_on_timeout]`
        // makes two nested records per call: count the outer one.
        let nested_in_itself =
            call.parent_at
                .map(|parent| calls[parent].site)
                .is_some_and(|parent| {
                    parent.function == call.site.function
                        && parent.file == call.site.file
                        && parent.line == call.site.line
                });
        if nested_in_itself {
            continue;
        }
        let function = call.site.function;
        *sample.calls.entry(function.to_owned()).or_default() += 1;
        let oldest = sample.oldest.entry(function.to_owned()).or_default();
        if oldest.len() < OLDEST {
            oldest.push(Straggler::of(call, now_ns));
        }
    }
    // Run-time monitors guard code that is not in the table.
    for monitor in crate::monitors() {
        if monitor.site().is_none() {
            let in_flight = monitor.state().gate().active();
            *sample.calls.entry(monitor.name().to_owned()).or_default() += in_flight;
        }
    }
    sample.threads = threads();
    sample
}

/// The process's thread count, from `/proc/self/status`.
#[cfg(target_os = "linux")]
pub(super) fn threads() -> Option<usize> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("Threads:"))
        .and_then(|n| n.trim().parse().ok())
}

/// The process's thread count: unknown off Linux.
#[cfg(not(target_os = "linux"))]
pub(super) fn threads() -> Option<usize> {
    None
}
