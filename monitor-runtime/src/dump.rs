//! Dumps of the calls in flight. (Being built: for now, overdue calls are
//! reported as one line each.)

use crate::inflight::Snapshot;

/// Called by the watchdog with the calls that just overran their
/// `#[stack_on_timeout]` deadline.
pub(crate) fn report_overdue(calls: &[Snapshot]) {
    for call in calls {
        eprintln!(
            "call {} of {} ({}:{}) has not returned after {:?}",
            call.id,
            call.site.function,
            call.site.file,
            call.site.line,
            call.site.report_after.unwrap_or_default()
        );
    }
}
