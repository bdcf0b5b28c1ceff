//! A background thread that starts on demand and exits once it has been
//! idle for a while: the watchdog and the dump worker are each one. The
//! owner keeps its state behind the thread's lock, starts the thread when
//! it queues work ([`Background::start`]), and its loop parks with
//! [`Background::wait`] or, with nothing to do, [`Background::idle`], which
//! ends the loop after the linger time. A loop that panics (a bug) runs
//! again, so that the work queued to it is not left waiting for a thread
//! that is gone. Knows no feature.

use std::ops::{Deref, DerefMut};
use std::panic::catch_unwind;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::Duration;

/// How long a loop that panicked waits before it runs again: a panic that
/// repeats prints a few times a second, not in a busy loop.
const RESTART_AFTER: Duration = Duration::from_millis(100);

/// A lazily started, idle-exiting thread and the state it shares with the
/// code that hands it work.
pub(crate) struct Background<S> {
    shared: Mutex<Shared<S>>,
    wake: Condvar,
    name: &'static str,
    linger: Duration,
}

/// The owner's state, and whether the thread runs (cleared by the thread
/// itself, under the lock, when it exits).
pub(crate) struct Shared<S> {
    running: bool,
    state: S,
}

impl<S> Deref for Shared<S> {
    type Target = S;
    fn deref(&self) -> &S {
        &self.state
    }
}

impl<S> DerefMut for Shared<S> {
    fn deref_mut(&mut self) -> &mut S {
        &mut self.state
    }
}

/// The lock on a [`Background`]'s state.
pub(crate) type Guard<'a, S> = MutexGuard<'a, Shared<S>>;

impl<S> Background<S> {
    /// A thread named `name` (at most 15 bytes: the kernel truncates
    /// longer names) that stays `linger` after its last work.
    pub(crate) const fn new(name: &'static str, linger: Duration, state: S) -> Self {
        Background {
            shared: Mutex::new(Shared {
                running: false,
                state,
            }),
            wake: Condvar::new(),
            name,
            linger,
        }
    }

    /// Locks the state (a panic while it was held does not poison it).
    pub(crate) fn lock(&self) -> Guard<'_, S> {
        self.shared.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Starts the thread running `run` unless it runs: `Ok(true)` if it was
    /// started now, `Ok(false)` if it was running already. If `run`
    /// panics, the thread runs it again after [`RESTART_AFTER`] (the panic
    /// is printed by the panic hook, as any other); it exits when `run`
    /// returns.
    pub(crate) fn start(&self, shared: &mut Shared<S>, run: fn()) -> std::io::Result<bool> {
        if shared.running {
            return Ok(false);
        }
        std::thread::Builder::new()
            .name(self.name.into())
            .spawn(move || {
                // `run` keeps its state behind the lock, which a panic does
                // not poison: a new run picks it up as it was.
                while catch_unwind(run).is_err() {
                    std::thread::sleep(RESTART_AFTER);
                }
            })?;
        shared.running = true;
        Ok(true)
    }

    /// Wakes the thread if it waits.
    pub(crate) fn notify(&self) {
        self.wake.notify_one();
    }

    /// In the thread: waits up to `timeout`, or until notified.
    pub(crate) fn wait<'a>(&self, guard: Guard<'a, S>, timeout: Duration) -> Guard<'a, S> {
        self.wake
            .wait_timeout(guard, timeout)
            .unwrap_or_else(|e| e.into_inner())
            .0
    }

    /// In the thread, with nothing to do for `idle_for`: `None` once that
    /// is the linger time (the thread is marked stopped and must return;
    /// the next [`start`](Background::start) runs a new one), else the
    /// lock again after waiting out the rest of it or a notification.
    pub(crate) fn idle<'a>(
        &self,
        mut guard: Guard<'a, S>,
        idle_for: Duration,
    ) -> Option<Guard<'a, S>> {
        if idle_for >= self.linger {
            guard.running = false;
            return None;
        }
        Some(self.wait(guard, self.linger - idle_for))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant;

    static JOBS: Background<Vec<u32>> =
        Background::new("bg-test", Duration::from_millis(50), Vec::new());

    static PANICKY: Background<Vec<u32>> =
        Background::new("bg-panicky", Duration::from_millis(50), Vec::new());

    /// The loop of a test thread: takes `jobs`' work, last first, and
    /// panics on a job 0 (a bug), after taking it.
    fn work(jobs: &'static Background<Vec<u32>>) {
        let mut idle_since = Instant::now();
        let mut guard = jobs.lock();
        loop {
            if let Some(job) = guard.pop() {
                assert!(job > 0, "a bug");
                idle_since = Instant::now();
                continue;
            }
            match jobs.idle(guard, idle_since.elapsed()) {
                Some(again) => guard = again,
                None => return,
            }
        }
    }

    fn run() {
        work(&JOBS);
    }

    fn run_panicky() {
        work(&PANICKY);
    }

    /// Waits until the thread of `jobs` has exited.
    fn until_exited(jobs: &Background<Vec<u32>>) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while jobs.lock().running {
            assert!(Instant::now() < deadline, "the thread never exited");
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    #[test]
    fn starts_once_runs_the_work_and_exits_when_idle() {
        let mut guard = JOBS.lock();
        guard.push(1);
        assert!(JOBS.start(&mut guard, run).unwrap());
        assert!(!JOBS.start(&mut guard, run).unwrap(), "already running");
        drop(guard);
        JOBS.notify();
        until_exited(&JOBS);
        let mut guard = JOBS.lock();
        assert!(guard.is_empty(), "the job was run");
        assert!(JOBS.start(&mut guard, run).unwrap(), "a new thread starts");
    }

    #[test]
    fn a_loop_that_panics_runs_again_and_does_the_rest_of_the_work() {
        let mut guard = PANICKY.lock();
        // Popped last to first: 0 panics, 7 is left to the loop run again.
        guard.extend([7, 0]);
        assert!(PANICKY.start(&mut guard, run_panicky).unwrap());
        drop(guard);
        PANICKY.notify();
        until_exited(&PANICKY);
        assert!(PANICKY.lock().is_empty(), "the job after the panic was run");
    }
}
