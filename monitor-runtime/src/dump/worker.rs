//! The dump worker: one lazily started thread (`monitor-dump`) for the
//! slow work that the watchdog must never wait for. Taking a dump with
//! native stacks waits for every thread it captures (up to 100 ms each that
//! does not answer, and about a second for the first capture of a process,
//! which loads debug info); writing it runs the sink, which may be your
//! closure; an alert hook is your code too. Meanwhile the watchdog fires
//! the deadlines and stall alerts of the whole process: a 50 ms timeout
//! must not fire a second late because some other call went overdue.
//!
//! So the watchdog finds what is overdue or stalled (cheap reads of the
//! table of calls in flight) and only queues the work here: a push under a lock that the
//! worker holds just as long as a pop. The supervisor queues the dumps of
//! its stalled workers here too. The thread takes jobs in order, merges
//! the overdue reports that queued up while it was busy into one dump, and
//! exits after [`LINGER`] without a job; the next job starts it again. If
//! it cannot be started, the job runs on the caller's thread, as it did
//! before this thread existed, rather than being lost.

use std::collections::VecDeque;
use std::panic::{self, AssertUnwindSafe};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::{stalled_worker, take, DumpOptions, DumpReason, OverdueCall};
use crate::alert::{Alert, Hook};
use crate::background::Background;
use crate::native::Tid;

/// How long the thread stays after its last job (as long as the
/// watchdog's linger: a burst of reports keeps one thread).
const LINGER: Duration = Duration::from_millis(200);

/// Work for the dump worker.
pub(crate) enum Job {
    /// Report these calls, found overdue by the watchdog, in one dump.
    Overdue(Vec<OverdueCall>),
    /// Dump a stall found by [`detect_stalls`](super::detect_stalls): no
    /// call returned for this long.
    Stall(Duration),
    /// Dump a supervised worker that stopped beating, then say so on
    /// `done`.
    StalledWorker {
        worker: String,
        silent_for: Duration,
        thread: Option<Tid>,
        options: DumpOptions,
        done: oneshot::Sender<()>,
    },
    /// Hand an alert to the hook set with
    /// [`set_alert_hook`](crate::monitor::set_alert_hook).
    Alert(Hook, Alert),
}

impl Job {
    /// Does the job. A panic (in a sink or a hook) has been reported by
    /// the panic hook; it ends this job only, not the thread that runs
    /// it.
    fn run(self) {
        let _ = panic::catch_unwind(AssertUnwindSafe(move || match self {
            Job::Overdue(calls) => {
                take(DumpReason::Overdue { calls }, &DumpOptions::new()).emit();
            }
            Job::Stall(stalled_for) => {
                take(DumpReason::Stall { stalled_for }, &DumpOptions::new()).emit();
            }
            Job::StalledWorker {
                worker,
                silent_for,
                thread,
                options,
                done,
            } => {
                stalled_worker(worker, silent_for, thread, &options).emit();
                let _ = done.send(());
            }
            Job::Alert(hook, alert) => hook(&alert),
        }));
    }
}

/// The jobs not yet taken, in order.
static QUEUE: Background<VecDeque<Job>> = Background::new("monitor-dump", LINGER, VecDeque::new());

/// Queues `job` for the dump worker, starting it if needed; never waits
/// for a job. If the thread cannot be started, runs `job` here.
pub(crate) fn submit(job: Job) {
    let mut queue = QUEUE.lock();
    if let Err(error) = QUEUE.start(&mut queue, run) {
        drop(queue);
        tracing::error!(
            target: "monitor_runtime",
            %error,
            "cannot start the dump thread; dumping on this thread"
        );
        job.run();
        return;
    }
    queue.push_back(job);
    drop(queue);
    QUEUE.notify();
}

fn run() {
    let mut idle_since = Instant::now();
    let mut queue = QUEUE.lock();
    loop {
        match queue.pop_front() {
            Some(mut job) => {
                if let Job::Overdue(calls) = &mut job {
                    merge_overdue(calls, &mut queue);
                }
                drop(queue);
                job.run();
                queue = QUEUE.lock();
                idle_since = Instant::now();
            }
            None => match QUEUE.idle(queue, idle_since.elapsed()) {
                Some(again) => queue = again,
                None => return,
            },
        }
    }
}

/// Moves the calls of every overdue report still queued into `calls`: the
/// reports that queued up while a dump was taken become one dump, taken
/// once, that names them all (each call is found overdue once, so none is
/// named twice). Other jobs keep their order.
fn merge_overdue(calls: &mut Vec<OverdueCall>, jobs: &mut VecDeque<Job>) {
    jobs.retain_mut(|job| match job {
        Job::Overdue(more) => {
            calls.append(more);
            false
        }
        _ => true,
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inflight::CallId;

    fn overdue(seq: u64) -> OverdueCall {
        OverdueCall {
            id: CallId { arena: 1, seq },
            function: "app::late",
            file: "src/app.rs",
            line: 1,
            limit: Duration::from_millis(10),
            elapsed: Duration::from_millis(12),
        }
    }

    #[test]
    fn queued_overdue_reports_merge_and_other_jobs_keep_their_order() {
        let mut jobs: VecDeque<Job> = VecDeque::new();
        jobs.push_back(Job::Overdue(vec![overdue(2)]));
        jobs.push_back(Job::Stall(Duration::from_secs(1)));
        jobs.push_back(Job::Overdue(vec![overdue(3), overdue(4)]));
        jobs.push_back(Job::Stall(Duration::from_secs(2)));
        let mut calls = vec![overdue(1)];
        merge_overdue(&mut calls, &mut jobs);
        let seqs: Vec<u64> = calls.iter().map(|c| c.id.seq).collect();
        assert_eq!(seqs, [1, 2, 3, 4]);
        let left: Vec<Duration> = jobs
            .iter()
            .map(|job| match job {
                Job::Stall(d) => *d,
                _ => panic!("only stalls are left"),
            })
            .collect();
        assert_eq!(left, [Duration::from_secs(1), Duration::from_secs(2)]);
    }
}
