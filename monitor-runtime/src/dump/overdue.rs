//! What the watchdog's tick does for the dump: load the debug info ahead
//! once a `#[stack_on_timeout]` call is in flight, report the calls that
//! just went overdue (a warning each, and one dump queued for the dump
//! worker), and look for a stall. And what an overdue report shows, so
//! that a storm of overdue calls prints output linear in their number:
//! at most one report a second (the reports found meanwhile merge); the
//! first report shows every call in flight, the next ones within
//! [`FULL_EVERY`] only the stacks of the newly overdue calls; and three
//! or more calls stuck at the same place fold into one block. Also what
//! it does about polls that block their thread: a count and a warning
//! each, and one dump queued for the dump worker, shaped as overdue
//! reports are (a [`Storm`] of its own: a service whose every request
//! blocks a worker makes a report a second, not one per poll).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::fatal;
use super::prepare::prepare_ahead;
use super::take::elapsed;
use super::{
    submit, AwaitPoint, BlockedPoll, CallDump, CallState, Dump, Job, NativeStack, OverdueCall,
};
use crate::inflight::{Blocked, Snapshot};
use crate::native::Tid;
use crate::user_code;

/// At most one overdue report per this long.
pub(super) const MIN_GAP: Duration = Duration::from_secs(1);

/// A report this long after the last full one shows every call in flight
/// again.
const FULL_EVERY: Duration = Duration::from_secs(30);

/// From how many calls at the same place a block folds them.
const FOLD_FROM: usize = 3;

/// The reports that come in storms, each rate-limited and shaped on its
/// own: overdue calls, and polls that block their thread.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(super) enum Storm {
    Overdue,
    Blocked,
}

/// When the last report of a [`Storm`] and the last full one were taken.
struct Reports {
    last: Option<Instant>,
    last_full: Option<Instant>,
}

impl Storm {
    fn reports(self) -> &'static Mutex<Reports> {
        const NONE: Reports = Reports {
            last: None,
            last_full: None,
        };
        static OVERDUE: Mutex<Reports> = Mutex::new(NONE);
        static BLOCKED: Mutex<Reports> = Mutex::new(NONE);
        match self {
            Storm::Overdue => &OVERDUE,
            Storm::Blocked => &BLOCKED,
        }
    }
}

/// How long a report of `storm` must still wait for the rate limit.
pub(super) fn held_back_for(storm: Storm) -> Option<Duration> {
    let reports = storm.reports().lock().unwrap_or_else(|e| e.into_inner());
    let since = reports.last?.elapsed();
    MIN_GAP.checked_sub(since).filter(|left| !left.is_zero())
}

/// Shapes a report of `storm` just taken: within [`FULL_EVERY`] of a full
/// report, only the stacks of the calls that made it be taken; calls
/// stuck at the same place folded.
pub(super) fn shape(dump: &mut Dump, reports_merged: u64, storm: Storm) {
    let now = Instant::now();
    let mut reports = storm.reports().lock().unwrap_or_else(|e| e.into_inner());
    reports.last = Some(now);
    let full = reports
        .last_full
        .is_none_or(|at| now.duration_since(at) >= FULL_EVERY);
    if full {
        reports.last_full = Some(now);
    }
    drop(reports);
    if !full {
        let before = dump.calls.len();
        dump.calls.retain(|call| call.triggered);
        dump.omitted.stacks_shown_before = before - dump.calls.len();
    }
    dump.omitted.reports_merged = reports_merged;
    fold(&mut dump.calls);
}

/// A native frame's place: function, file, line.
type FramePlace<'a> = (Option<&'a str>, Option<&'a str>, Option<u32>);

/// What makes two stacks "the same place": their logical frames and
/// native frames, and whether a thread runs them.
#[derive(PartialEq, Eq, Hash)]
struct Place<'a> {
    running: bool,
    logical: Vec<(&'static str, &'static str, u32, Option<AwaitPoint>)>,
    native: Option<Vec<FramePlace<'a>>>,
    unavailable: Option<String>,
    await_points: Option<&'a str>,
}

fn place(call: &CallDump) -> Place<'_> {
    Place {
        running: !matches!(call.state, CallState::Waiting),
        logical: call
            .stack
            .iter()
            .map(|frame| (frame.function, frame.file, frame.line, frame.awaiting))
            .collect(),
        native: match &call.native {
            Some(NativeStack::Captured { frames, .. }) => Some(
                frames
                    .iter()
                    .map(|f| (f.function.as_deref(), f.file.as_deref(), f.line))
                    .collect(),
            ),
            _ => None,
        },
        unavailable: match &call.native {
            Some(NativeStack::Unavailable { error }) => Some(error.to_string()),
            _ => None,
        },
        await_points: call.await_points.as_deref(),
    }
}

/// Folds the stacks at the same place, [`FOLD_FROM`] or more of them, into
/// the first (which is triggered if any of them is); order kept.
pub(super) fn fold(calls: &mut Vec<CallDump>) {
    let mut groups: HashMap<Place<'_>, Vec<usize>> = HashMap::new();
    for (i, call) in calls.iter().enumerate() {
        groups.entry(place(call)).or_default().push(i);
    }
    let mut into: Vec<Option<usize>> = vec![None; calls.len()];
    for members in groups.into_values().filter(|m| m.len() >= FOLD_FROM) {
        for &i in &members[1..] {
            into[i] = Some(members[0]);
        }
    }
    if into.iter().all(Option::is_none) {
        return;
    }
    let mut kept: Vec<CallDump> = Vec::with_capacity(calls.len());
    let mut at: Vec<usize> = vec![usize::MAX; calls.len()];
    for (i, call) in std::mem::take(calls).into_iter().enumerate() {
        match into[i] {
            None => {
                at[i] = kept.len();
                kept.push(call);
            }
            Some(first) => {
                let block = &mut kept[at[first]];
                block.triggered |= call.triggered;
                block.folded.push(call.id);
                block.folded.extend(call.folded);
            }
        }
    }
    *calls = kept;
}

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
/// (on the events' thread: the subscriber may block, and the watchdog
/// must not wait for it), and one dump of the whole process naming them
/// all, taken and written to the sink on the dump worker.
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
    let warned = calls.clone();
    user_code::EVENTS.run(move || warn_overdue(&warned));
    submit(Job::Overdue(calls));
}

fn warn_overdue(calls: &[OverdueCall]) {
    for call in calls {
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
}

/// Called by the watchdog with the polls it just found blocking their
/// thread: each is counted on its function's site (a `#[monitored]`
/// function's [`Stats::blocked_polls`](crate::monitor::Stats::blocked_polls))
/// and warned about (on the events' thread); one dump naming them all is
/// queued for the dump worker, which captures the blocked threads' native
/// stacks.
pub(crate) fn on_blocked(blocked: &[Blocked]) {
    let polls: Vec<BlockedPoll> = blocked
        .iter()
        .map(
            |Blocked {
                 call,
                 threshold,
                 blocked_for,
             }| {
                call.site
                    .blocked_polls
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                BlockedPoll {
                    id: call.id,
                    function: call.site.function,
                    file: call.site.file,
                    line: call.site.line,
                    thread: Tid(call.thread),
                    blocked_for: *blocked_for,
                    threshold: *threshold,
                }
            },
        )
        .collect();
    let warned = polls.clone();
    user_code::EVENTS.run(move || warn_blocked(&warned));
    submit(Job::Blocked(polls));
}

fn warn_blocked(polls: &[BlockedPoll]) {
    for poll in polls {
        tracing::warn!(
            target: "monitor_runtime",
            call_id = %poll.id,
            function = poll.function,
            file = poll.file,
            line = poll.line,
            thread = poll.thread.0,
            blocked_ms = poll.blocked_for.as_millis() as u64,
            threshold_ms = poll.threshold.as_millis() as u64,
            "call {} of {} has blocked its thread in a single poll for {}: blocking code in an \
             async function holds up every task of that thread, and no timeout can interrupt \
             it; move it to `tokio::task::spawn_blocking` or a sync `#[monitored]` function",
            poll.id,
            poll.function,
            crate::format::human(poll.blocked_for),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dump::LogicalFrame;
    use crate::inflight::CallId;

    fn call(seq: u64, line: u32, triggered: bool) -> CallDump {
        let id = CallId { arena: 1, seq };
        CallDump {
            id,
            function: "app::stuck",
            file: "src/app.rs",
            line: 1,
            elapsed: Duration::from_secs(1),
            state: CallState::Waiting,
            triggered,
            stack: vec![LogicalFrame {
                id,
                function: "app::stuck",
                file: "src/app.rs",
                line,
                elapsed: Duration::from_secs(1),
                report_after: None,
                overdue: triggered,
                awaiting: None,
            }],
            native: None,
            await_points: None,
            folded: Vec::new(),
        }
    }

    #[test]
    fn three_or_more_at_the_same_place_fold_into_the_first() {
        let mut calls = vec![
            call(1, 10, false),
            call(2, 20, false),
            call(3, 10, true),
            call(4, 20, false),
            call(5, 10, false),
            call(6, 30, true),
        ];
        fold(&mut calls);
        let blocks: Vec<(u64, usize, bool)> = calls
            .iter()
            .map(|c| (c.id.seq, c.count(), c.triggered))
            .collect();
        // Line 10: three, folded (triggered by call 3); line 20: two, kept.
        assert_eq!(
            blocks,
            [(1, 3, true), (2, 1, false), (4, 1, false), (6, 1, true)]
        );
        let text = crate::dump::render::text(&calls[0]);
        assert!(
            text.contains("and 2 more calls stuck at the same place: 1.3 1.5"),
            "{text}"
        );
    }
}
