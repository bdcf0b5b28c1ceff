//! The acquisition path shared by the locks: the uncontended try first,
//! then, only when a thread or task must wait, the wait registered in the
//! wait-for graph, the deadlock it closes reported (as a dump) and the
//! [`DeadlockPolicy`] applied.

use std::panic::Location;
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};

use super::graph::{self, LockState, Want, GRAPH};
use super::holder::{label, TASK};
use super::policy::{deadlock_policy, DeadlockPolicy};
use super::report::{build, Deadlock};

/// Whether the locks do their bookkeeping (feature `plain-locks` off).
pub(crate) const TRACK: bool = !cfg!(feature = "plain-locks");

/// Writes the report to the dump sink.
fn report(deadlock: &Deadlock) {
    let reason = crate::dump::DumpReason::Deadlock(deadlock.clone());
    crate::dump::take(
        reason,
        &crate::dump::DumpOptions::new().native_stacks(false),
    )
    .emit();
}

/// A lock that was waited for drops: see `LockState`'s `Drop`.
pub(crate) fn lock_dropped(lock: &LockState) {
    GRAPH.forget_lock(lock);
}

/// A registered wait; dropping it (after the lock is taken, or on unwind,
/// or when a future is cancelled) removes it.
pub(crate) struct Waiting(u64);

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.0 != 0 {
            GRAPH.done(self.0);
        }
    }
}

/// Takes a std lock for `me` at `at`: `try_take` first (the uncontended
/// path), else the contended one: register the wait (reporting the
/// deadlock it closes), `take`, unregister. Without bookkeeping, `take`.
#[track_caller]
#[inline]
pub(crate) fn take_std<G>(
    state: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    try_take: impl FnOnce() -> TryLockResult<G>,
    take: impl FnOnce() -> LockResult<G>,
) -> Result<LockResult<G>, Deadlock> {
    if !TRACK {
        return Ok(take());
    }
    match try_take() {
        Ok(guard) => Ok(Ok(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Ok(Err(poisoned)),
        Err(TryLockError::WouldBlock) => {
            let waiting = before_wait(state, me, at, want, checked)?;
            let result = take();
            drop(waiting);
            Ok(result)
        }
    }
}

/// `f` on the guard, poisoned or not.
#[inline]
pub(crate) fn map_poison<G, H>(result: LockResult<G>, f: impl FnOnce(G) -> H) -> LockResult<H> {
    match result {
        Ok(guard) => Ok(f(guard)),
        Err(poisoned) => Err(PoisonError::new(f(poisoned.into_inner()))),
    }
}

/// `f` on the guard of a `try_*`, poisoned or not.
#[inline]
pub(crate) fn map_try<G, H>(result: TryLockResult<G>, f: impl FnOnce(G) -> H) -> TryLockResult<H> {
    match result {
        Ok(guard) => Ok(f(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Err(TryLockError::Poisoned(PoisonError::new(f(
            poisoned.into_inner(),
        )))),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
    }
}

/// The contended path: `me` must wait for `lock` at `at`. Reports a
/// self-deadlock or a cycle, then applies the policy (`checked`: return
/// the deadlock). On `Ok`, the caller waits and then drops the `Waiting`.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn before_wait(
    lock: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
) -> Result<Waiting, Deadlock> {
    if !TRACK {
        return Ok(Waiting(0));
    }
    let held = if want == Want::Exclusive {
        lock.held_by(me)
    } else {
        (lock.owner() == me).then(|| lock.held_by(me).flatten())
    };
    if let Some(held_at) = held {
        let id = lock as *const LockState as usize;
        let deadlock = build(vec![graph::Link {
            holder: me,
            label: label(me),
            holds: lock.name,
            holds_id: id,
            held_at,
            queued: false,
            waits_for: lock.name,
            waits_for_id: id,
            waits_at: at,
        }]);
        return on_deadlock(deadlock, checked).map(|()| Waiting(0));
    }
    if me & TASK != 0 {
        // Before the wait is seen: whoever closes a cycle through this
        // task then finds its calls (the graph's mutex orders the two).
        crate::inflight::note_task(me & !TASK);
    }
    let Some(cycle) = GRAPH.wait(me, label(me), lock, want, at) else {
        return Ok(Waiting(me));
    };
    let waiting = Waiting(me);
    let deadlock = build(cycle);
    on_deadlock(deadlock, checked).map(|()| waiting)
}

#[track_caller]
fn on_deadlock(deadlock: Deadlock, checked: bool) -> Result<(), Deadlock> {
    report(&deadlock);
    if checked {
        return Err(deadlock);
    }
    match deadlock_policy() {
        DeadlockPolicy::Report => Ok(()),
        DeadlockPolicy::Panic => panic!("{deadlock}"),
    }
}
