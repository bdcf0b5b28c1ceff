//! Taking a dump: a snapshot of the calls in flight, the innermost calls with
//! their callers (logical stacks), one native capture of each thread that
//! runs one of them, the await points of waiting calls, and the guard that
//! marks a thread as taking or writing a dump.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant, SystemTime};

use super::model::{crate_of_function, user_crates};
use super::prepare::prepare_once;
use super::tasks;
use super::{
    AwaitPoint, CallDump, CallState, Dump, DumpOptions, DumpReason, LogicalFrame, NativeStack,
};
use crate::clock;
use crate::inflight::{self, CallId, Snapshot};
use crate::native::{self, Tid};

thread_local! {
    static IN_DUMP: Cell<bool> = const { Cell::new(false) };
}

/// Marks this thread as taking or writing a dump, so that a panic meanwhile
/// (in a sink, say) does not start another dump from the panic hook.
pub(super) struct InDump(bool);

impl InDump {
    pub(super) fn enter() -> Self {
        InDump(IN_DUMP.with(|d| d.replace(true)))
    }

    pub(super) fn active() -> bool {
        IN_DUMP.with(Cell::get)
    }
}

impl Drop for InDump {
    fn drop(&mut self) {
        IN_DUMP.with(|d| d.set(self.0));
    }
}

/// The await points of waiting calls, where tokio task dumps are on.
fn add_await_points(calls: &mut [CallDump], snapshot: &[Snapshot], answer_within: Duration) {
    let task_of: HashMap<CallId, u64> = snapshot
        .iter()
        .filter(|call| call.task != 0)
        .map(|call| (call.id, call.task))
        .collect();
    if task_of.is_empty() {
        return;
    }
    let wanted: Vec<u64> = calls
        .iter()
        .filter(|call| !call.state.is_running())
        .filter_map(|call| task_of.get(&call.id).copied())
        .collect();
    let mut found = tasks::await_points(&wanted, answer_within);
    for call in calls.iter_mut().filter(|call| !call.state.is_running()) {
        if let Some(task) = task_of.get(&call.id) {
            call.await_points = found.remove(task);
        }
    }
}

/// Takes a dump: a snapshot of the calls in flight, the innermost calls with
/// their callers, and, if asked, one native capture of each thread that
/// runs one of them.
pub(crate) fn take(reason: DumpReason, options: &DumpOptions) -> Dump {
    let _in_dump = InDump::enter();
    let began = Instant::now();
    let taken_at = SystemTime::now();
    let snapshot = inflight::snapshot();
    let now_ns = clock::now_ns();
    let triggers: HashSet<CallId> = match &reason {
        DumpReason::Overdue { calls } => calls.iter().map(|c| c.id).collect(),
        DumpReason::BlockedPoll { polls } => polls.iter().map(|p| p.id).collect(),
        DumpReason::Drain { calls, .. } => calls.iter().map(|c| c.id).collect(),
        DumpReason::Leak(leak) => leak.oldest.iter().map(|c| c.id).collect(),
        _ => HashSet::new(),
    };
    // A panic: the panicking thread's calls.
    let trigger_thread = match &reason {
        DumpReason::Panic { .. } => Some(native::current_tid().0),
        DumpReason::StalledWorker {
            thread: Some(tid), ..
        } => Some(tid.0),
        _ => None,
    };

    // Each call's parent, as an index into `snapshot` (NONE: no parent in
    // flight).
    const NONE: u32 = u32::MAX;
    let parents: Vec<u32> = snapshot
        .iter()
        .map(|call| call.parent_at.map_or(NONE, |at| at as u32))
        .collect();
    let mut is_caller = vec![false; snapshot.len()];
    for &parent in &parents {
        if parent != NONE {
            is_caller[parent as usize] = true;
        }
    }
    // Walks a chain from an innermost call out to its outermost caller.
    // Parents began before their children, so chains end; the bound only
    // guards against a bug in the table looping the dump forever.
    let (calls_in_flight, parents) = (&snapshot[..], &parents[..]);
    let chain = move |innermost: usize| {
        let mut at = innermost as u32;
        let mut steps = 0;
        std::iter::from_fn(move || {
            if at == NONE || steps > calls_in_flight.len() {
                return None;
            }
            let call = &calls_in_flight[at as usize];
            at = parents[at as usize];
            steps += 1;
            Some(call)
        })
    };

    // Sort first, build after: (not triggered, outermost start, innermost
    // start, id, depth, index).
    let mut order: Vec<(bool, u64, u64, CallId, u32, u32)> = Vec::new();
    for (i, call) in snapshot.iter().enumerate() {
        if is_caller[i] {
            continue;
        }
        let (mut triggered, mut outermost, mut depth) = (false, call.started_ns, 0);
        for frame in chain(i) {
            triggered |= (!triggers.is_empty() && triggers.contains(&frame.id))
                || (frame.thread != 0 && Some(frame.thread) == trigger_thread);
            outermost = frame.started_ns;
            depth += 1;
        }
        order.push((
            !triggered,
            outermost,
            call.started_ns,
            call.id,
            depth,
            i as u32,
        ));
    }
    order.sort_unstable();

    let mut names = ThreadNames::default();
    let mut calls: Vec<CallDump> = order
        .into_iter()
        .map(|(not_triggered, _, _, _, depth, i)| {
            let call = &snapshot[i as usize];
            let mut stack = Vec::with_capacity(depth as usize);
            for frame in chain(i as usize) {
                push_frame(&mut stack, logical_frame(frame, now_ns));
            }
            let state = match call.thread {
                0 => CallState::Waiting,
                tid => CallState::Running {
                    thread: Tid(tid),
                    name: names.get(tid),
                },
            };
            CallDump {
                id: call.id,
                function: call.site.function,
                file: call.site.file,
                line: call.site.line,
                elapsed: elapsed(call, now_ns),
                state,
                triggered: !not_triggered,
                stack,
                native: None,
                await_points: None,
                folded: Vec::new(),
            }
        })
        .collect();

    // Every thread (each captured once, its calls given its stack), or
    // the threads that run calls (also when no thread could be listed:
    // outside Linux).
    let threads = if options.all_threads {
        super::threads::take(&mut calls, options)
    } else {
        Vec::new()
    };
    if options.native_stacks && threads.is_empty() {
        capture_native(&mut calls, options.answer_within);
    }
    if options.native_stacks {
        add_await_points(&mut calls, &snapshot, options.answer_within);
    }

    Dump {
        reason,
        taken_at,
        took: began.elapsed(),
        in_flight: snapshot.len(),
        calls,
        lock_waits: crate::sync::report::lock_waits(),
        omitted: super::Omitted::default(),
        threads,
    }
}

pub(super) fn elapsed(call: &Snapshot, now_ns: u64) -> Duration {
    Duration::from_nanos(now_ns.saturating_sub(call.started_ns))
}

fn logical_frame(call: &Snapshot, now_ns: u64) -> LogicalFrame {
    LogicalFrame {
        id: call.id,
        function: call.site.function,
        file: call.site.file,
        line: call.site.line,
        elapsed: elapsed(call, now_ns),
        report_after: call.site.report_after,
        overdue: call.reported || (call.deadline_ns != 0 && call.deadline_ns <= now_ns),
        awaiting: call
            .awaiting
            .map(|(line, column)| AwaitPoint { line, column }),
    }
}

/// Appends `frame` (the caller of the frames so far), merging it into the
/// last frame when both are the same function at the same place: one
/// function with `#[monitored]` and `#[stack_on_timeout]` registers twice.
fn push_frame(stack: &mut Vec<LogicalFrame>, frame: LogicalFrame) {
    if let Some(last) = stack.last_mut()
        && (last.function, last.file, last.line) == (frame.function, frame.file, frame.line)
    {
        if last.report_after.is_none() {
            last.id = frame.id;
            last.report_after = frame.report_after;
        }
        // The inner of the two records is the one the body's
        // `.await`s write to.
        last.awaiting = last.awaiting.or(frame.awaiting);
        last.overdue |= frame.overdue;
        last.elapsed = last.elapsed.max(frame.elapsed);
        return;
    }
    stack.push(frame);
}

/// The dump of a supervised worker that stopped beating: the calls in
/// flight (those on the worker's thread first) and the native stack of the
/// worker's thread, if it has one.
pub(crate) fn stalled_worker(
    worker: String,
    silent_for: Duration,
    thread: Option<Tid>,
    options: &DumpOptions,
) -> Dump {
    let mut dump = take(
        DumpReason::StalledWorker {
            worker,
            silent_for,
            thread,
            native: None,
        },
        options,
    );
    let (Some(tid), true) = (thread, options.native_stacks) else {
        return dump;
    };
    // A call in flight on the thread shows its stack already.
    if dump
        .calls
        .iter()
        .any(|call| call.state.thread() == Some(tid) && call.native.is_some())
    {
        return dump;
    }
    prepare_once();
    let user_crates = match &dump.reason {
        DumpReason::StalledWorker { worker, .. } => [crate_of_function(worker)],
        _ => [""],
    };
    let stack = native::capture(&[tid], options.answer_within)
        .pop()
        .map(|result| NativeStack::from_capture(result, &user_crates));
    if let DumpReason::StalledWorker { native, .. } = &mut dump.reason {
        *native = stack;
    }
    dump
}

/// Thread names, read once per thread per dump.
#[derive(Default)]
struct ThreadNames(HashMap<i32, Option<String>>);

impl ThreadNames {
    fn get(&mut self, tid: i32) -> Option<String> {
        self.0
            .entry(tid)
            .or_insert_with(|| native::thread_name(tid))
            .clone()
    }
}

/// Captures each thread that runs a call once, and gives every call on it
/// that thread's stack.
fn capture_native(calls: &mut [CallDump], answer_within: Duration) {
    let mut tids: Vec<Tid> = calls.iter().filter_map(|c| c.state.thread()).collect();
    tids.sort_unstable();
    tids.dedup();
    if tids.is_empty() {
        return;
    }
    // Sample first, load the debug info after (the first capture of a
    // process: about a second): a poll that blocks its thread for less than
    // that is still caught in the act.
    let captured = native::capture(&tids, answer_within);
    prepare_once();
    let user_crates = user_crates(calls);
    let stacks: HashMap<Tid, NativeStack> = tids
        .iter()
        .copied()
        .zip(captured)
        .map(|(tid, result)| (tid, NativeStack::from_capture(result, &user_crates)))
        .collect();
    for call in calls {
        if let Some(tid) = call.state.thread() {
            call.native = stacks.get(&tid).cloned();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inflight::CallSite;

    static OUTER: CallSite = CallSite::new("outer", file!(), line!());
    static INNER: CallSite = CallSite::new("inner", file!(), line!());

    #[test]
    fn a_call_whose_id_repeats_its_callers_is_still_its_callee() {
        crate::__private::stack_sync(&OUTER, || {
            // The next call's number is the outer one's, 2^31 calls later;
            // and it begins later (the coarse clock moves on).
            crate::inflight::skip_calls((1 << 31) - 1);
            std::thread::sleep(crate::clock::TICK * 3);
            crate::__private::stack_sync(&INNER, || {
                let dump = take(
                    DumpReason::Requested,
                    &DumpOptions::new().native_stacks(false),
                );
                let call = dump
                    .calls
                    .iter()
                    .find(|call| call.function == "inner")
                    .expect("the inner call");
                let stack: Vec<_> = call.stack.iter().map(|frame| frame.function).collect();
                assert_eq!(stack, ["inner", "outer"], "{dump}");
                assert!(
                    dump.calls.iter().all(|call| call.function != "outer"),
                    "the outer call shown on its own:\n{dump}"
                );
            });
        });
    }
}
