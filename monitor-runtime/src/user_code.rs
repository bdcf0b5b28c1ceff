//! User code that the runtime's own threads must not wait for: the
//! `tracing` subscriber (whose writer may block on a full pipe, a slow
//! disk, a lock), stderr, and the alert hook. The watchdog hands such work
//! to a [`UserCode`] thread, which runs it in order; while that thread is
//! stuck, the work waits in a bounded queue, and what does not fit is
//! dropped and counted (said once the thread runs again). So a subscriber
//! that blocks holds up no timeout of the process. (A supervisor still
//! writes its own events on its thread: they must be written when
//! `join_blocking` returns.)
//!
//! Two threads, so that a stuck hook holds up no event and a stuck
//! subscriber no hook: [`EVENTS`] (`monitor-events`: `tracing` events and
//! lines on stderr) and [`HOOK`] (`monitor-alert`: the alert hook).

use std::collections::VecDeque;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::background::Background;

type Job = Box<dyn FnOnce() + Send>;

/// The jobs that wait, and how many were queued in all.
struct Queue {
    jobs: VecDeque<Job>,
    queued: u64,
}

/// A thread of its own for user code, started on demand, with a queue of
/// at most `max` jobs.
pub(crate) struct UserCode {
    thread: Background<Queue>,
    /// Jobs run (or dropped by a panic) in all: the queue's order.
    done: AtomicU64,
    /// The loop of this thread (a `fn` naming this static).
    run: fn(),
    max: usize,
    /// Jobs dropped since the thread last said so.
    dropped: AtomicU64,
    /// What a job is, for the line that says how many were dropped.
    what: &'static str,
}

/// `tracing` events and lines on stderr from the runtime's threads.
pub(crate) static EVENTS: UserCode =
    UserCode::new("monitor-events", 1024, "event", || EVENTS.work());

/// The alert hook ([`set_alert_hook`](crate::monitor::set_alert_hook)).
pub(crate) static HOOK: UserCode = UserCode::new("monitor-alert", 64, "alert", || HOOK.work());

impl UserCode {
    const fn new(name: &'static str, max: usize, what: &'static str, run: fn()) -> Self {
        UserCode {
            thread: Background::new(
                name,
                Duration::from_millis(200),
                Queue {
                    jobs: VecDeque::new(),
                    queued: 0,
                },
            ),
            done: AtomicU64::new(0),
            run,
            max,
            dropped: AtomicU64::new(0),
            what,
        }
    }

    /// Runs `job` on this thread, started if needed; never waits for it
    /// and never calls user code here. A job that finds the queue full,
    /// or no thread, is dropped and counted: `false`.
    pub(crate) fn run(&'static self, job: impl FnOnce() + Send + 'static) -> bool {
        let mut waiting = self.thread.lock();
        if waiting.jobs.len() >= self.max || self.thread.start(&mut waiting, self.run).is_err() {
            drop(waiting);
            self.dropped.fetch_add(1, Ordering::Relaxed);
            return false;
        }
        waiting.jobs.push_back(Box::new(job));
        waiting.queued += 1;
        drop(waiting);
        self.thread.notify();
        true
    }

    /// Waits, `at_most`, until the jobs queued so far have run: what a
    /// report says in `tracing` comes before its dump, unless the
    /// subscriber is stuck.
    pub(crate) fn flush(&self, at_most: Duration) {
        let queued = self.thread.lock().queued;
        let until = Instant::now() + at_most;
        while self.done.load(Ordering::Acquire) < queued && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The thread: runs the jobs in order, says how many were dropped,
    /// and exits when none came for a while. A job that panics ends
    /// itself only (the panic hook has printed it).
    fn work(&'static self) {
        let mut idle_since = Instant::now();
        let mut waiting = self.thread.lock();
        loop {
            if let Some(job) = waiting.jobs.pop_front() {
                drop(waiting);
                let _ = catch_unwind(AssertUnwindSafe(job));
                self.done.fetch_add(1, Ordering::Release);
                self.say_dropped();
                waiting = self.thread.lock();
                idle_since = Instant::now();
                continue;
            }
            match self.thread.idle(waiting, idle_since.elapsed()) {
                Some(again) => waiting = again,
                None => return,
            }
        }
    }

    fn say_dropped(&self) {
        let dropped = self.dropped.swap(0, Ordering::Relaxed);
        if dropped > 0 {
            let what = self.what;
            tracing::warn!(
                target: "monitor_runtime",
                dropped,
                "{dropped} {what}s dropped: the queue for this user code was full (it was slow)"
            );
        }
    }

    /// How many jobs wait.
    #[cfg(test)]
    fn waiting(&self) -> usize {
        self.thread.lock().jobs.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::mpsc;
    use std::sync::{Arc, Mutex};

    static BLOCKING: UserCode = UserCode::new("uc-test", 8, "job", || BLOCKING.work());

    #[test]
    fn a_job_that_blocks_keeps_the_queue_bounded_and_the_caller_free() {
        let (entered, in_job) = mpsc::channel();
        let (release, released) = mpsc::channel::<()>();
        let released = Arc::new(Mutex::new(released));
        let ran = Arc::new(AtomicU64::new(0));
        let job = |ran: Arc<AtomicU64>| {
            let (entered, released) = (entered.clone(), released.clone());
            move || {
                ran.fetch_add(1, Ordering::SeqCst);
                let _ = entered.send(());
                let _ = released.lock().unwrap().recv();
            }
        };
        assert!(BLOCKING.run(job(ran.clone())));
        in_job
            .recv_timeout(Duration::from_secs(10))
            .expect("the job runs");
        // The caller never waits, whatever the job does.
        let began = Instant::now();
        let queued = (0..8 + 5)
            .filter(|_| BLOCKING.run(job(ran.clone())))
            .count();
        assert_eq!(queued, 8);
        assert!(began.elapsed() < Duration::from_secs(1));
        assert_eq!(BLOCKING.waiting(), 8);
        assert_eq!(BLOCKING.dropped.load(Ordering::SeqCst), 5);
        // Released, every job that waited runs: a flush waits for them.
        let began = Instant::now();
        BLOCKING.flush(Duration::from_millis(50));
        assert!(
            began.elapsed() >= Duration::from_millis(50),
            "flushed a stuck queue"
        );
        drop(release);
        BLOCKING.flush(Duration::from_secs(10));
        assert_eq!(
            ran.load(Ordering::SeqCst),
            1 + 8,
            "flushed before the jobs ran"
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while ran.load(Ordering::SeqCst) < 1 + 8 {
            assert!(Instant::now() < deadline, "the waiting jobs never ran");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}
