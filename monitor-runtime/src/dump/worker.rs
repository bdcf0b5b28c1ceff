//! The dump worker: one lazily started thread (`monitor-dump`) for the
//! slow work that the watchdog must never wait for. Taking a dump with
//! native stacks waits for every thread it captures (up to 100 ms each that
//! does not answer, and about a second for the first capture of a process,
//! which loads debug info); writing it runs the sink, which may be your
//! closure (on the sink's own thread). Meanwhile the watchdog fires
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
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::overdue::{held_back_for, shape, Storm};
use super::sink::{omit_calls, omit_dump, sink_state, write, SinkState};
use super::{stalled_worker, take, BlockedPoll, DumpOptions, DumpReason, OverdueCall};
use crate::background::Background;
use crate::native::Tid;

/// How long the thread stays after its last job (as long as the
/// watchdog's linger: a burst of reports keeps one thread).
const LINGER: Duration = Duration::from_millis(200);

/// At most this many jobs wait, besides the one overdue report that all
/// overdue calls found meanwhile join; more are dropped and counted.
pub(super) const MAX_JOBS: usize = 64;

/// At most this many calls are named by one overdue report; the others
/// are counted ([`Omitted::overdue_calls`](crate::dump::Omitted::overdue_calls)).
pub(super) const MAX_NAMED: usize = 1000;

/// Work for the dump worker.
pub(crate) enum Job {
    /// Report these calls, found overdue by the watchdog, in one dump.
    Overdue(Vec<OverdueCall>),
    /// Report these polls, found blocking their thread by the watchdog, in
    /// one dump.
    Blocked(Vec<BlockedPoll>),
    /// Dump a stall found by [`detect_stalls`](super::detect_stalls): no
    /// call returned for this long.
    Stall(Duration),
    /// Dump a supervised worker that stopped beating; say so on `taken`
    /// once the dump is taken (its stacks captured), and on `written` once
    /// the sink returned. Dropped senders: the dump was dropped.
    StalledWorker {
        worker: String,
        silent_for: Duration,
        thread: Option<Tid>,
        options: DumpOptions,
        taken: oneshot::Sender<()>,
        written: oneshot::Sender<()>,
    },
    /// Dump the calls in flight for a leak found by the leak watch
    /// ([`watch_leaks`](crate::leak::watch_leaks)).
    Leak(crate::alert::Leak),
}

impl Job {
    /// Does the job. A panic (a bug) has been reported by the panic hook;
    /// it ends this job only, not the thread that runs it. A dump goes to
    /// the sink's own thread ([`write()`]); while the sink is stuck in an
    /// earlier dump, no dump is taken: each is dropped and counted.
    fn run(self, merged: u64) {
        if sink_state() == SinkState::Stuck {
            if let Job::Overdue(calls) = &self {
                omit_calls(calls.len() as u64);
            }
            omit_dump("the dump sink has not returned from an earlier dump");
            return;
        }
        if matches!(self, Job::Overdue(_) | Job::Blocked(_)) {
            // The warnings of these calls before their dump.
            crate::user_code::EVENTS.flush(WARNINGS_FIRST);
        }
        let _ = panic::catch_unwind(AssertUnwindSafe(move || match self {
            Job::Overdue(calls) => {
                let mut dump = take(DumpReason::Overdue { calls }, &DumpOptions::new());
                shape(&mut dump, merged, Storm::Overdue);
                write(dump, None);
            }
            Job::Blocked(polls) => {
                let mut dump = take(DumpReason::BlockedPoll { polls }, &DumpOptions::new());
                shape(&mut dump, merged, Storm::Blocked);
                write(dump, None);
            }
            Job::Stall(stalled_for) => {
                write(
                    take(DumpReason::Stall { stalled_for }, &DumpOptions::new()),
                    None,
                );
            }
            Job::StalledWorker {
                worker,
                silent_for,
                thread,
                options,
                taken,
                written,
            } => {
                let dump = stalled_worker(worker, silent_for, thread, &options);
                let _ = taken.send(());
                write(dump, Some(written));
            }
            Job::Leak(leak) => {
                let mut dump = take(DumpReason::Leak(leak), &DumpOptions::new());
                super::fold_same_places(&mut dump);
                write(dump, None);
            }
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
        job.run(0);
        return;
    }
    push(&mut queue, job);
    drop(queue);
    QUEUE.notify();
}

/// Reports merged into the one queued, since it was queued: overdue
/// calls, and blocked polls.
static MERGED: [AtomicU64; 2] = [AtomicU64::new(0), AtomicU64::new(0)];

/// The count of reports of `storm` merged into the one queued.
fn merged(storm: Storm) -> &'static AtomicU64 {
    &MERGED[storm as usize]
}

/// Queues `job`, bounded: overdue calls join the overdue report already
/// queued, if any (at most [`MAX_NAMED`] named, the rest counted); other
/// jobs beyond [`MAX_JOBS`] are dropped and counted (a dropped
/// supervisor's dump wakes the supervisor at once).
fn push(queue: &mut VecDeque<Job>, job: Job) {
    match job {
        Job::Overdue(mut calls) => {
            let queued = queue.iter_mut().find_map(|job| match job {
                Job::Overdue(queued) => Some(queued),
                _ => None,
            });
            let room = MAX_NAMED.saturating_sub(queued.as_ref().map_or(0, |q| q.len()));
            if calls.len() > room {
                omit_calls((calls.len() - room) as u64);
                calls.truncate(room);
            }
            match queued {
                Some(queued) => {
                    merged(Storm::Overdue).fetch_add(1, Ordering::Relaxed);
                    queued.append(&mut calls);
                }
                None => queue.push_back(Job::Overdue(calls)),
            }
        }
        // Like overdue calls: the polls join the report already queued.
        Job::Blocked(mut polls) => {
            let queued = queue.iter_mut().find_map(|job| match job {
                Job::Blocked(queued) => Some(queued),
                _ => None,
            });
            match queued {
                Some(queued) => {
                    merged(Storm::Blocked).fetch_add(1, Ordering::Relaxed);
                    let room = MAX_NAMED.saturating_sub(queued.len());
                    if polls.len() > room {
                        omit_calls((polls.len() - room) as u64);
                        polls.truncate(room);
                    }
                    queued.append(&mut polls);
                }
                None => queue.push_back(Job::Blocked(polls)),
            }
        }
        _ if queue.len() > MAX_JOBS => omit_dump("the dump queue was full"),
        job => queue.push_back(job),
    }
}

/// How long a report waits for the `tracing` warnings of its calls to be
/// written first (a subscriber that blocks: no longer).
const WARNINGS_FIRST: Duration = Duration::from_millis(100);

/// How often a report held back for a busy sink looks again.
const HOLD_BACK: Duration = Duration::from_millis(10);

fn run() {
    let mut idle_since = Instant::now();
    let mut queue = QUEUE.lock();
    loop {
        // While the sink writes, reports and stall dumps wait (gathering
        // the calls that go overdue meanwhile) instead of being taken and
        // held: memory stays one report's worth. Overdue and blocked-poll
        // reports also wait for their rate limit (one a second each).
        // Other jobs go on. A stuck sink: every job runs (and dumps are
        // dropped).
        let busy = !queue.is_empty() && sink_state() == SinkState::Busy;
        let limited = |storm| if busy { None } else { held_back_for(storm) };
        let (overdue_limited, blocked_limited) = (limited(Storm::Overdue), limited(Storm::Blocked));
        let next = queue.iter().position(|job| match job {
            Job::Overdue(_) => !busy && overdue_limited.is_none(),
            Job::Blocked(_) => !busy && blocked_limited.is_none(),
            Job::Stall(_) | Job::Leak(_) => !busy,
            _ => true,
        });
        match next.and_then(|at| queue.remove(at)) {
            None if !queue.is_empty() => {
                let wait = [overdue_limited, blocked_limited]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(HOLD_BACK);
                queue = QUEUE.wait(queue, wait);
            }
            Some(mut job) => {
                let mut merged = 0;
                if let Job::Overdue(calls) = &mut job {
                    merge_overdue(calls, &mut queue);
                    merged = self::merged(Storm::Overdue).swap(0, Ordering::Relaxed);
                }
                if let Job::Blocked(_) = &job {
                    merged = self::merged(Storm::Blocked).swap(0, Ordering::Relaxed);
                }
                drop(queue);
                job.run(merged);
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
    use crate::dump::sink::take_omitted;
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

    #[test]
    fn the_queue_is_bounded_whatever_is_submitted() {
        let mut jobs: VecDeque<Job> = VecDeque::new();
        for seq in 0..100_000 {
            push(&mut jobs, Job::Overdue(vec![overdue(seq), overdue(seq)]));
        }
        for _ in 0..10_000 {
            push(&mut jobs, Job::Stall(Duration::from_secs(1)));
        }
        assert!(jobs.len() <= MAX_JOBS + 2, "{} jobs", jobs.len());
        let named: usize = jobs
            .iter()
            .map(|job| match job {
                Job::Overdue(calls) => calls.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(named, MAX_NAMED);
        let omitted = take_omitted();
        assert!(omitted.overdue_calls >= 200_000 - MAX_NAMED as u64);
        assert!(omitted.dumps >= 10_000 - MAX_JOBS as u64, "{omitted:?}");
    }
}
