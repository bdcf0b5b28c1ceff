//! What the watchdog's tick does for the dump: load the debug info ahead
//! once a `#[stack_on_timeout]` call is in flight, report the calls that
//! just went overdue (a warning each, and one dump queued for the dump
//! worker), and look for a stall.

use super::fatal;
use super::prepare::prepare_ahead;
use super::take::elapsed;
use super::{submit, Job, OverdueCall};
use crate::inflight::Snapshot;

/// Called by the watchdog on each tick while calls are in flight, with the
/// calls that just overran their `#[stack_on_timeout]` deadline. Queues
/// dumps for the dump worker; never takes one.
pub(crate) fn on_tick(now_ns: u64, overdue: &[Snapshot]) {
    prepare_ahead(now_ns);
    if !overdue.is_empty() {
        report_overdue(overdue, now_ns);
    }
    fatal::look_for_stall(now_ns);
}

/// Reports calls that overran their deadline: a `tracing` warning for each
/// now, and one dump of the whole process naming them all, taken and
/// written to the sink on the dump worker.
fn report_overdue(calls: &[Snapshot], now_ns: u64) {
    let calls: Vec<OverdueCall> = calls
        .iter()
        .map(|call| OverdueCall {
            id: call.id,
            function: call.site.function,
            file: call.site.file,
            line: call.site.line,
            limit: call.site.report_after.unwrap_or_default(),
            elapsed: elapsed(call, now_ns),
        })
        .collect();
    for call in &calls {
        tracing::warn!(
            target: "monitor_runtime",
            call_id = %call.id,
            function = call.function,
            file = call.file,
            line = call.line,
            elapsed_ms = call.elapsed.as_millis() as u64,
            limit_ms = call.limit.as_millis() as u64,
            "call {} of {} has not returned after {}",
            call.id,
            call.function,
            crate::format::human(call.limit),
        );
    }
    submit(Job::Overdue(calls));
}
