//! The worker threads that run sync bodies with a timeout, so that the
//! caller can return at the deadline while the body runs on.
//!
//! Threads are reused: a worker that finishes a job spins briefly for the
//! next one (a handoff then costs a cache-line transfer, not a wake-up),
//! then sleeps, and exits after [`LINGER`] without work. A stuck body keeps
//! its worker, so the pool grows by one thread per stuck body; the caller's
//! monitor cap bounds how many can pile up.
//!
//! Why not tokio's `spawn_blocking` or the `blocking` crate: both hand back
//! a future, and the caller here is sync code, often outside any runtime,
//! that must wait with a deadline; it would need an executor and a timer of
//! its own on top. `spawn_blocking` also needs a runtime and shares the
//! application's blocking pool, whose cap (512) a pile of stuck bodies would
//! quietly eat into. The handoff is what the sync timeout costs: the README's
//! benchmark row "sync, with timeout" (about 1.9 µs, Go's whole call is 1.8)
//! is mostly the spin-then-park here, against tens of µs for a thread
//! spawned per call.

use std::panic::{catch_unwind, resume_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::thread::{self, Thread};
use std::time::{Duration, Instant};

use crate::error::Error;
use crate::monitor::Monitor;

const LINGER: Duration = Duration::from_secs(1);
/// How long a worker, or a caller, spins before it sleeps.
const SPIN: Duration = Duration::from_micros(50);

/// A job gets a callback that puts its worker back on the idle list; it
/// calls it before it hands its result over, so that a caller who submits
/// again at once finds the worker idle instead of starting another.
type Job = Box<dyn FnOnce(&dyn Fn()) + Send>;

struct Worker {
    job: Mutex<Option<Job>>,
    ready: AtomicBool,
    wake: Condvar,
}

static IDLE: Mutex<Vec<Arc<Worker>>> = Mutex::new(Vec::new());

/// Hands `job` to an idle worker, or to a new one. A worker is on the idle
/// list only while it runs no job, and at most once: it puts itself there
/// (the job's callback) and a caller takes it off before handing it a job.
fn submit(job: Job) -> Result<(), Job> {
    let idle = IDLE.lock().unwrap_or_else(|e| e.into_inner()).pop();
    if let Some(worker) = idle {
        *worker.job.lock().unwrap_or_else(|e| e.into_inner()) = Some(job);
        worker.ready.store(true, Ordering::Release);
        worker.wake.notify_one();
        return Ok(());
    }
    // A new worker starts with its job already in its slot: nothing else
    // knows it yet, so it cannot be handed a second one.
    let worker = Arc::new(Worker {
        job: Mutex::new(Some(job)),
        ready: AtomicBool::new(false),
        wake: Condvar::new(),
    });
    let run = worker.clone();
    match thread::Builder::new()
        .name("monitor-worker".into())
        .spawn(move || work(run))
    {
        Ok(_) => Ok(()),
        Err(_) => Err(take_job(&worker).expect("the job of a worker that never started")),
    }
}

fn take_job(worker: &Worker) -> Option<Job> {
    worker.job.lock().unwrap_or_else(|e| e.into_inner()).take()
}

fn work(me: Arc<Worker>) {
    let idle = || {
        IDLE.lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(me.clone());
    };
    loop {
        // Cleared before the job is taken: a `true` seen later means a job
        // stored after this point (or a stale flag, which finds the slot
        // empty and waits again; never a second place on the idle list).
        me.ready.store(false, Ordering::Relaxed);
        if let Some(job) = take_job(&me) {
            job(&idle);
        }
        if !wait_for_job(&me) {
            return;
        }
    }
}

/// `false` when the worker should exit.
fn wait_for_job(me: &Arc<Worker>) -> bool {
    let spin_until = Instant::now() + SPIN;
    while Instant::now() < spin_until {
        for _ in 0..64 {
            if me.ready.load(Ordering::Acquire) {
                return true;
            }
            std::hint::spin_loop();
        }
    }
    let mut job = me.job.lock().unwrap_or_else(|e| e.into_inner());
    let deadline = Instant::now() + LINGER;
    while job.is_none() {
        let now = Instant::now();
        if now >= deadline {
            drop(job);
            let mut idle = IDLE.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(at) = idle.iter().position(|w| Arc::ptr_eq(w, me)) {
                idle.swap_remove(at);
                return false;
            }
            // A caller took us off the idle list: its job is on the way.
            drop(idle);
            job = me.job.lock().unwrap_or_else(|e| e.into_inner());
            while job.is_none() {
                job = me.wake.wait(job).unwrap_or_else(|e| e.into_inner());
            }
            return true;
        }
        job = me
            .wake
            .wait_timeout(job, deadline - now)
            .unwrap_or_else(|e| e.into_inner())
            .0;
    }
    true
}

/// Where a body leaves its result for the caller.
struct Packet<T> {
    ready: AtomicBool,
    state: Mutex<PacketState<T>>,
    caller: Thread,
}

enum PacketState<T> {
    Waiting,
    Done(thread::Result<T>),
    Abandoned,
}

impl<T> Packet<T> {
    fn put(&self, result: thread::Result<T>) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if let PacketState::Abandoned = *state {
            drop(state);
            // The caller has gone: the result is dropped here, on the worker,
            // and never written anywhere the caller can see.
            drop(result);
            return;
        }
        *state = PacketState::Done(result);
        drop(state);
        self.ready.store(true, Ordering::Release);
        self.caller.unpark();
    }

    /// The result, or `None` at the deadline (after which any result is
    /// dropped by the worker).
    fn wait(&self, deadline: Instant) -> Option<thread::Result<T>> {
        let spin_until = Instant::now() + SPIN;
        'spin: while Instant::now() < spin_until.min(deadline) {
            for _ in 0..64 {
                if self.ready.load(Ordering::Acquire) {
                    break 'spin;
                }
                std::hint::spin_loop();
            }
        }
        loop {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if let PacketState::Done(_) = *state {
                match std::mem::replace(&mut *state, PacketState::Abandoned) {
                    PacketState::Done(result) => return Some(result),
                    _ => unreachable!(),
                }
            }
            let now = Instant::now();
            if now >= deadline {
                *state = PacketState::Abandoned;
                return None;
            }
            drop(state);
            thread::park_timeout(deadline - now);
        }
    }
}

impl Monitor {
    /// Runs `body` on a pooled worker thread if the cap allows, and waits
    /// for it at most the monitor's timeout. At the deadline the caller gets
    /// [`Error::Timeout`] while the body runs on and keeps its slot until it
    /// returns; its result is then dropped. A panic in `body` reaches the
    /// caller (if it still waits) as if `body` had run on its own thread.
    /// Without a timeout, `body` runs inline, as with [`Monitor::call`].
    ///
    /// ```
    /// use monitor_runtime::{Error, Monitor};
    /// use std::time::Duration;
    ///
    /// let monitor = Monitor::builder("disk").timeout(Duration::from_millis(500)).build();
    /// assert_eq!(monitor.call_blocking(|| 4), Ok(4));
    /// let slow = monitor.call_blocking(|| std::thread::sleep(Duration::from_secs(10)));
    /// assert!(matches!(slow, Err(Error::Timeout { .. })));
    /// assert_eq!(monitor.stats().in_flight, 1); // the body still sleeps
    /// ```
    pub fn call_blocking<T, F>(&self, body: F) -> Result<T, Error>
    where
        F: FnOnce() -> T + Send + 'static,
        T: Send + 'static,
    {
        let Some(after) = self.timeout() else {
            return self.call(body);
        };
        let span = crate::monitor::CallSpan::open(self);
        let slot = match self.enter() {
            // The body runs on the worker: its permit needs a handle of its own.
            Ok(slot) => slot.owned(),
            Err(error) => {
                span.refused(&error);
                return Err(error);
            }
        };
        let body_span = span.span();
        // On the worker, the call is in the table of calls in flight, so in
        // dumps (and reported at its timeout with `dump_on_timeout`).
        let site = self.site();
        let deadline = Instant::now() + after;
        let packet = Arc::new(Packet {
            ready: AtomicBool::new(false),
            state: Mutex::new(PacketState::Waiting),
            caller: thread::current(),
        });
        let result = packet.clone();
        let job: Job = Box::new(move |idle| {
            let _entered = body_span.as_ref().map(tracing::Span::enter);
            let call = site.and_then(|site| {
                crate::inflight::SyncCall::begin(site, crate::watchdog::CLOCKWORK)
            });
            let outcome = catch_unwind(AssertUnwindSafe(body));
            drop(call);
            match outcome {
                Ok(_) => slot.complete(),
                Err(_) => slot.panicked(),
            }
            idle();
            result.put(outcome);
        });
        if let Err(job) = submit(job) {
            tracing::error!(
                target: "monitor_runtime",
                monitor = self.name(),
                "cannot start a worker thread; running the body inline, without its timeout"
            );
            job(&|| ());
        }
        match packet.wait(deadline) {
            Some(Ok(value)) => {
                span.finish("ok");
                Ok(value)
            }
            Some(Err(panic)) => {
                span.finish("panic");
                resume_unwind(panic)
            }
            None => {
                span.finish("timeout");
                Err(self.timeout_error(after))
            }
        }
    }
}
