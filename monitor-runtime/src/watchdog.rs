//! The process watchdog: one lazily started thread that fires the
//! deadlines of async calls and the stall alerts of every monitor, finds
//! calls that overran their `#[stack_on_timeout]` deadline, and, while
//! calls begin or are polled, ticks the coarse clock and finds async calls
//! whose poll blocks its thread past the blocking threshold.
//!
//! It ticks every [`TICK`] while anything happens: a poll in progress at
//! a tick, or a call or poll that found the coarse clock stopped and
//! started it. After [`QUIET`] without either it stops the clock (it reads
//! 0, see `clock.rs`) and sleeps until the next deadline: the earliest
//! timeout, check, or report deadline of the calls in flight, or at most
//! [`QUIET_LOOK`] (the stall look's period, if shorter) while calls are in
//! flight. So calls parked for long cost no wake-ups. The first call or
//! poll to find the clock stopped starts the ticks again. It exits when it
//! has had nothing to watch for a short while; the next deadline or call
//! starts it again.
//!
//! Every deadline of the process waits for this thread, so it never does
//! slow work: dumps (of overdue calls, of stalls) and the alert hook are
//! queued for the dump worker (`dump/worker.rs`), never run here.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::background::{Background, Guard};
use crate::clock::{self, TICK};
use crate::inflight::{self, Alarm, Clockwork};

/// How long the watchdog keeps ticking after the last poll it saw in
/// progress or the last start of its ticks.
const QUIET: Duration = Duration::from_secs(1);

/// While the clock is stopped and calls are in flight, the watchdog still
/// looks this often (the stall look, if on, more often).
const QUIET_LOOK: Duration = Duration::from_secs(1);

/// Starts the ticks (and the thread, if needed): a call began, or a poll
/// started, while the coarse clock was stopped.
#[cold]
pub(crate) fn start_ticking() {
    // Another thread started them meanwhile (a burst of calls after a
    // quiet spell): the watchdog ticks, and before it stops again it looks
    // for polls, this caller's among them.
    if clock::is_kept() {
        return;
    }
    crate::fence::init();
    let mut inner = lock();
    inner.busy_at_ns = clock::tick();
    let soon = Instant::now() + TICK;
    if !watch_until(&mut inner, soon) {
        clock::stop();
    }
}

/// The watchdog as the keeper of the coarse clock, for calls that begin
/// and polls that start while it is stopped (see `inflight::begin`).
pub(crate) const CLOCKWORK: Clockwork = Clockwork {
    start: start_ticking,
};

/// The watchdog as what fires the timeouts armed in calls' records.
pub(crate) const ALARM: Alarm = Alarm {
    wakes_at: &WAKES_AT_NS,
    hurry,
};

/// When the thread looks next (precise nanoseconds since the epoch; 0:
/// not known, so a call that arms a timeout asks). A call whose timeout
/// comes sooner wakes it ([`hurry`]).
static WAKES_AT_NS: AtomicU64 = AtomicU64::new(0);

/// Makes the thread look by `at_ns`: a timeout armed in a call's record
/// comes before the thread's next look.
#[cold]
fn hurry(at_ns: u64) {
    let mut inner = lock();
    watch_until(&mut inner, clock::instant_of_ns(at_ns));
}

/// The blocking threshold in nanoseconds: a single poll of an annotated
/// async call longer than this is reported; `u64::MAX`: never.
static BLOCK_AFTER_NS: AtomicU64 = AtomicU64::new(DEFAULT_BLOCK_AFTER.as_nanos() as u64);

/// The blocking threshold unless set otherwise.
pub(crate) const DEFAULT_BLOCK_AFTER: Duration = Duration::from_millis(10);

/// Sets the blocking threshold; `None`: polls are not watched.
pub(crate) fn set_block_after(after: Option<Duration>) {
    let ns = after.map_or(u64::MAX, |after| {
        u64::try_from(after.as_nanos()).unwrap_or(u64::MAX - 1)
    });
    BLOCK_AFTER_NS.store(ns, Ordering::Relaxed);
}

/// The blocking threshold; `None`: polls are not watched.
pub(crate) fn block_after() -> Option<Duration> {
    match BLOCK_AFTER_NS.load(Ordering::Relaxed) {
        u64::MAX => None,
        ns => Some(Duration::from_nanos(ns)),
    }
}

/// How long the thread stays after its last deadline.
const LINGER: Duration = Duration::from_millis(200);

struct Inner {
    /// When the thread will look again, if it sleeps on a deadline.
    wake_at: Option<Instant>,
    /// When the ticks last had a reason to go on (precise nanoseconds): a
    /// poll in progress at a tick, or a start of the ticks.
    busy_at_ns: u64,
    /// Timer slots, reused through `free`; a slot's generation changes when
    /// it is freed so that stale heap entries are skipped.
    timers: Vec<TimerSlot>,
    free: Vec<u32>,
    heap: BinaryHeap<Reverse<(Instant, u32, u32)>>,
    checks: Vec<Armed>,
}

struct TimerSlot {
    generation: u32,
    waker: Option<Waker>,
}

/// A check to run on the watchdog thread once its deadline passes.
pub(crate) type Check = Box<dyn FnOnce(Instant) + Send>;

/// A check armed with [`at`].
struct Armed {
    deadline: Instant,
    /// Who armed it, for [`forget`].
    owner: usize,
    check: Check,
}

static WATCHDOG: Background<Inner> = Background::new(
    "monitor-watch",
    LINGER,
    Inner {
        wake_at: None,
        busy_at_ns: 0,
        timers: Vec::new(),
        free: Vec::new(),
        heap: BinaryHeap::new(),
        checks: Vec::new(),
    },
);

fn lock() -> Guard<'static, Inner> {
    WATCHDOG.lock()
}

/// Makes sure the thread runs and will look again by `deadline`.
/// `false` if the thread could not be started.
fn watch_until(inner: &mut Guard<'static, Inner>, deadline: Instant) -> bool {
    match WATCHDOG.start(inner, run) {
        Ok(true) => {}
        Ok(false) => {
            if inner.wake_at.is_none_or(|at| deadline < at) {
                WATCHDOG.notify();
            }
        }
        Err(error) => {
            tracing::error!(target: "monitor_runtime", %error, "cannot start the watchdog thread");
            return false;
        }
    }
    true
}

/// A deadline that wakes a task when it passes. Dropping it cancels it.
pub(crate) struct Timer {
    index: u32,
    generation: u32,
    /// Nanoseconds since the process epoch (smaller than an `Instant`:
    /// this lives in every pending call's future).
    deadline_ns: u64,
    waker: Waker,
}

impl Timer {
    /// Arms a deadline; `None` if the watchdog cannot run.
    pub(crate) fn new(deadline: Instant, waker: &Waker) -> Option<Timer> {
        let mut inner = lock();
        if !watch_until(&mut inner, deadline) {
            return None;
        }
        // Cancelled timers leave their heap entries behind until their
        // deadline; drop them once they outnumber the live ones, so the
        // heap stays within a few times the timers armed at once.
        let live = inner.timers.len() - inner.free.len();
        if inner.heap.len() > 64 + 4 * live {
            let Inner { heap, timers, .. } = &mut **inner;
            heap.retain(|Reverse((_, index, generation))| {
                timers[*index as usize].generation == *generation
            });
        }
        let index = match inner.free.pop() {
            Some(index) => index,
            None => {
                inner.timers.push(TimerSlot {
                    generation: 0,
                    waker: None,
                });
                (inner.timers.len() - 1) as u32
            }
        };
        let slot = &mut inner.timers[index as usize];
        slot.waker = Some(waker.clone());
        let generation = slot.generation;
        inner.heap.push(Reverse((deadline, index, generation)));
        Some(Timer {
            index,
            generation,
            deadline_ns: clock::ns_of_instant(deadline),
            waker: waker.clone(),
        })
    }

    pub(crate) fn expired(&self) -> bool {
        // On `Instant`s, as the watchdog wakes it: never before the deadline.
        Instant::now() >= clock::instant_of_ns(self.deadline_ns)
    }

    /// The task may have moved: wake the new waker at the deadline.
    pub(crate) fn update(&mut self, waker: &Waker) {
        if self.waker.will_wake(waker) {
            return;
        }
        self.waker = waker.clone();
        let mut inner = lock();
        let slot = &mut inner.timers[self.index as usize];
        if slot.generation == self.generation {
            slot.waker = Some(waker.clone());
        }
    }
}

impl Drop for Timer {
    fn drop(&mut self) {
        let mut inner = lock();
        let slot = &mut inner.timers[self.index as usize];
        if slot.generation == self.generation {
            slot.generation = slot.generation.wrapping_add(1);
            let waker = slot.waker.take();
            inner.free.push(self.index);
            drop(inner);
            drop(waker);
        }
    }
}

/// Runs `check` on the watchdog thread once `deadline` has passed (the
/// monitors' stall alerts). It must be quick: every deadline of the process
/// waits for it. Nothing happens if the watchdog cannot run.
pub(crate) fn at(deadline: Instant, owner: usize, check: Check) {
    let mut inner = lock();
    if watch_until(&mut inner, deadline) {
        inner.checks.push(Armed {
            deadline,
            owner,
            check,
        });
    }
}

/// Forgets every pending check armed by `owner`, and lets the thread see
/// whether anything is left to watch.
pub(crate) fn forget(owner: usize) {
    let checks = {
        let mut inner = lock();
        let (gone, kept) = std::mem::take(&mut inner.checks)
            .into_iter()
            .partition(|armed| armed.owner == owner);
        inner.checks = kept;
        gone
    };
    // Dropped outside the lock: a check owns whatever it captured.
    drop::<Vec<Armed>>(checks);
    WATCHDOG.notify();
}

fn run() {
    let mut wake = Vec::new();
    let mut due = Vec::new();
    let mut idle_since = Instant::now();
    let mut inner = lock();
    loop {
        let now = Instant::now();
        // The coarse clock is ticked only while it is kept: stopped, it
        // reads 0 until a call or a poll starts the ticks again.
        let ticking = clock::is_kept();
        let now_ns = if ticking {
            clock::tick()
        } else {
            clock::now_ns()
        };
        while let Some(&Reverse((deadline, index, generation))) = inner.heap.peek() {
            if deadline > now {
                break;
            }
            inner.heap.pop();
            let slot = &mut inner.timers[index as usize];
            if slot.generation == generation {
                wake.extend(slot.waker.take());
            }
        }
        let mut i = 0;
        while i < inner.checks.len() {
            if inner.checks[i].deadline <= now {
                due.push(inner.checks.swap_remove(i));
            } else {
                i += 1;
            }
        }
        drop(inner);
        // The timeouts of pending calls, in their records (after the tick:
        // a woken call reads the coarse clock at or past its deadline, or
        // finds its timeout fired).
        let next_timeout = inflight::fire_timeouts(now_ns, &mut wake);
        wake.drain(..).for_each(Waker::wake);
        due.drain(..).for_each(|armed| (armed.check)(now));
        // Overdue calls: at each tick, and, while the clock is stopped,
        // when the earliest report deadline comes (the arenas' hints).
        let overdue = inflight::due(now_ns);
        crate::dump::on_tick(now_ns, &overdue);
        let polling = ticking && inflight::any_polling();
        if ticking && let Some(after) = block_after() {
            let blocked = inflight::blocked(now_ns, after);
            if !blocked.is_empty() {
                crate::dump::on_blocked(&blocked);
            }
        }
        inner = lock();
        if polling {
            inner.busy_at_ns = now_ns;
        } else if ticking && now_ns.saturating_sub(inner.busy_at_ns) >= QUIET.as_nanos() as u64 {
            // Stop the clock, then look once more: a poll that began
            // meanwhile either sees the clock stopped and starts it (after
            // this lock), or is seen here. Calls that begin need no look:
            // one that read the clock before the stop read a current one,
            // and its report deadline is in its arena's hint, read below.
            clock::stop();
            crate::fence::heavy();
            if inflight::any_polling() {
                inner.busy_at_ns = clock::tick();
            }
        }
        let ticking = clock::is_kept();
        let next = inner
            .heap
            .peek()
            .map(|Reverse((d, _, _))| *d)
            .into_iter()
            .chain(inner.checks.iter().map(|c| c.deadline))
            .chain((next_timeout != u64::MAX).then(|| clock::instant_of_ns(next_timeout)))
            .min();
        let next = if ticking {
            Some(next.map_or(now + TICK, |next| next.min(now + TICK)))
        } else {
            quiet_until(now, next)
        };
        if next.is_some() {
            idle_since = now;
        }
        inner.wake_at = next;
        WAKES_AT_NS.store(
            next.map_or(0, |next| clock::ns_of_instant(next).max(1)),
            Ordering::Relaxed,
        );
        inner = match next {
            Some(next) => {
                let wait = next.saturating_duration_since(Instant::now());
                if wait.is_zero() {
                    continue;
                }
                WATCHDOG.wait(inner, wait)
            }
            None => match WATCHDOG.idle(inner, now.saturating_duration_since(idle_since)) {
                Some(inner) => inner,
                None => {
                    WAKES_AT_NS.store(0, Ordering::Relaxed);
                    return;
                }
            },
        };
    }
}

/// When to look next with the coarse clock stopped, given the next armed
/// deadline: also at the earliest report deadline of the calls in flight,
/// and, while any is in flight, within [`QUIET_LOOK`] or the stall look's
/// period. Called under the thread's lock, after the clock's stop and a
/// heavy fence: a call that lowers its arena's hint after this read sees
/// the clock stopped and starts the ticks (`inflight::begin`).
fn quiet_until(now: Instant, next: Option<Instant>) -> Option<Instant> {
    let hint = inflight::next_due();
    let next = next
        .into_iter()
        .chain((hint != u64::MAX).then(|| clock::instant_of_ns(hint)))
        .min();
    if !inflight::any_in_flight() {
        return next;
    }
    let look = crate::dump::stall_look_every().map_or(QUIET_LOOK, |every| every.min(QUIET_LOOK));
    Some(next.map_or(now + look, |next| next.min(now + look)))
}
