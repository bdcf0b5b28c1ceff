//! The acquisition path shared by the locks: the uncontended try first,
//! then, only when a thread or task must wait, the wait registered in the
//! wait-for graph, the deadlock it closes reported (as a dump) and the
//! [`DeadlockPolicy`] applied.

use std::collections::BTreeSet;
use std::panic::Location;
use std::sync::{LockResult, Mutex, PoisonError, TryLockError, TryLockResult};

use super::graph::{self, LockState, Want, GRAPH};
use super::held;
use super::holder::{label, task_holder, thread_holder, TASK};
use super::inversion::LockOrderInversion;
use super::order;
use super::policy::{deadlock_policy, DeadlockPolicy};
use super::report::{build, Deadlock, Kind};

/// Whether the locks do their bookkeeping (feature `plain-locks` off).
pub(crate) const TRACK: bool = !cfg!(feature = "plain-locks");

/// Writes the report to the dump sink: a dump for the first deadlock of
/// its kind, one `tracing` warning for each later one (see [`Kind`]).
fn report(deadlock: &Deadlock, kind: Kind) {
    static DUMPED: Mutex<BTreeSet<Kind>> = Mutex::new(BTreeSet::new());
    let first = DUMPED
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(kind);
    if !first {
        let waits = &deadlock.participants[0].waits_for;
        tracing::warn!(
            target: "monitor_runtime",
            waiters = deadlock.participants.len(),
            %waits,
            "deadlock of a kind dumped before (the same locks and places in the code)"
        );
        return;
    }
    let reason = crate::dump::DumpReason::Deadlock(deadlock.clone());
    crate::dump::take(
        reason,
        &crate::dump::DumpOptions::new().native_stacks(false),
    )
    .emit();
}

/// Writes a lock-order inversion to the dump sink.
fn report_inversion(inversion: &LockOrderInversion) {
    let reason = crate::dump::DumpReason::LockOrder(inversion.clone());
    crate::dump::take(
        reason,
        &crate::dump::DumpOptions::new().native_stacks(false),
    )
    .emit();
}

/// Before a blocking or awaiting acquisition of `lock` by `me` at `at`:
/// the lock-order check. A new cycle is reported at once, before any
/// wait; the policy applies after the acquisition ([`order_policy`]).
#[inline(always)]
pub(crate) fn order_check(
    lock: &LockState,
    me: u64,
    at: &'static Location<'static>,
) -> Option<LockOrderInversion> {
    if !TRACK {
        return None;
    }
    let found = order::check(lock, me, at)?;
    if found.first_of_its_kind {
        report_inversion(&found.inversion);
    } else {
        tracing::debug!(
            target: "monitor_runtime",
            inversion = %found.inversion,
            "lock-order inversion of a kind dumped before"
        );
    }
    Some(found.inversion)
}

/// After an acquisition that closed a lock-order cycle: the
/// [`DeadlockPolicy`]. Under `Panic`, lets go of the lock just taken
/// (`taken`, not yet recorded as held; a std lock let go before the panic
/// is not poisoned), then panics.
#[track_caller]
#[inline]
pub(crate) fn order_policy<G>(inversion: Option<LockOrderInversion>, taken: G) -> G {
    if let Some(inversion) = inversion
        && deadlock_policy() == DeadlockPolicy::Panic
    {
        drop(taken);
        panic!("{inversion}");
    }
    taken
}

/// A std lock was taken exclusively by `me` (this thread, or a task
/// running on it) at `at`: on record, with the thread, where its guard
/// (`!Send`) is let go: a task holder can only let go there.
#[inline]
pub(crate) fn held_std(state: &LockState, me: u64, at: &'static Location<'static>) {
    let thread = if me & TASK != 0 { thread_holder() } else { me };
    state.acquired_on(me, thread, at);
}

/// A std lock was taken at `at` (by this thread): on its held set, if
/// the order check is on.
#[inline]
pub(crate) fn took_std(state: &LockState, at: &'static Location<'static>) {
    if order::lock_order_checking() {
        held::push_thread(state, at);
    }
}

/// A std lock was let go (by this thread). A lock the order check never
/// numbered was never on a held set (`push_thread` numbers it): then the
/// thread-local stack is not touched.
#[inline]
pub(crate) fn let_go_std(state: &LockState) {
    if state.order_id_if_any() != 0 {
        pop_std(state);
    }
}

/// Out of line, so that a guard's drop stays small enough to inline.
#[inline(never)]
fn pop_std(state: &LockState) {
    held::pop_thread(state);
}

/// A tokio lock was taken at `at` by `holder`: on its held set, if the
/// order check is on.
#[inline]
pub(crate) fn took_async(state: &LockState, holder: u64, at: &'static Location<'static>) {
    if order::lock_order_checking() {
        held::push_async(state, holder, at);
    }
}

/// A tokio lock taken by `holder` was let go.
#[inline]
pub(crate) fn let_go_async(state: &LockState, holder: u64) {
    held::pop_async(state, holder);
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

/// The caller starts to wait on a condition variable (`state`, never
/// held) at `at`: on record in `lock_waits()` (so in dumps and on the
/// debug page) until the returned `Waiting` drops. It closes no cycle.
#[cold]
#[inline(never)]
pub(crate) fn condvar_wait(state: &LockState, at: &'static Location<'static>) -> Waiting {
    if !TRACK {
        return Waiting(0);
    }
    let me = task_holder();
    let _no_cycle = GRAPH.wait(me, label(me), state, Want::Notify, at);
    Waiting(me)
}

/// Takes a std lock for `me` at `at`: `try_take` first (the uncontended
/// path), else the contended one: register the wait (reporting the
/// deadlock it closes), `take`, unregister. Without bookkeeping, `take`.
///
/// The uncontended path with the order check off (release builds) is the
/// inner `try_lock` and one relaxed load: the check, and the wait, are
/// out of line, so that nothing of them (a `LockOrderInversion` is large)
/// is moved around on the way.
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
    if order::lock_order_checking() {
        return take_std_ordered(state, me, at, want, checked, try_take, take);
    }
    match try_take() {
        Ok(guard) => Ok(Ok(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Ok(Err(poisoned)),
        Err(TryLockError::WouldBlock) => take_std_contended(state, me, at, want, checked, take),
    }
}

/// [`take_std`] with the lock-order check on.
#[track_caller]
#[inline(always)]
fn take_std_ordered<G>(
    state: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    try_take: impl FnOnce() -> TryLockResult<G>,
    take: impl FnOnce() -> LockResult<G>,
) -> Result<LockResult<G>, Deadlock> {
    let inversion = order_check(state, me, at);
    let result = match try_take() {
        Ok(guard) => Ok(guard),
        Err(TryLockError::Poisoned(poisoned)) => Err(poisoned),
        Err(TryLockError::WouldBlock) => take_std_contended(state, me, at, want, checked, take)?,
    };
    Ok(order_policy(inversion, result))
}

/// [`take_std`] when the lock is taken: the wait on record while it
/// lasts.
#[cold]
#[track_caller]
#[inline(never)]
fn take_std_contended<G>(
    state: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    take: impl FnOnce() -> LockResult<G>,
) -> Result<LockResult<G>, Deadlock> {
    let waiting = before_blocking_wait(state, me, at, want, checked)?;
    let result = take();
    drop(waiting);
    Ok(result)
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

/// Where `who` took `lock` if a `want` of it by `who` can never be
/// granted: `who` holds it (a reader that reads again is let in, unless
/// it is the writer).
pub(super) fn holds(
    lock: &LockState,
    who: u64,
    want: Want,
) -> Option<Option<&'static Location<'static>>> {
    if want == Want::Exclusive {
        lock.held_by(who)
    } else {
        (lock.owner() == who).then(|| lock.held_by(who).flatten())
    }
}

/// The self-deadlock of `holder`, which holds `lock` (since `held_at`)
/// and waits for it at `at`.
#[track_caller]
pub(super) fn self_deadlock(
    lock: &LockState,
    holder: u64,
    held_at: Option<&'static Location<'static>>,
    at: &'static Location<'static>,
    checked: bool,
) -> Result<Waiting, Deadlock> {
    let id = lock as *const LockState as usize;
    let links = vec![graph::Link {
        holder,
        label: label(holder),
        holds: lock.name,
        holds_id: id,
        held_at,
        queued: false,
        waits_for: lock.name,
        waits_for_id: id,
        waits_at: at,
        thread: 0,
        thread_label: None,
        held_by: 0,
    }];
    let kind = Kind::of(&links);
    on_deadlock(build(links), kind, checked).map(|()| Waiting(0))
}

/// The contended path of a wait that blocks the thread (a std lock, or
/// a `blocking_` acquisition of a tokio lock): as [`before_wait`](crate::sync::async_wait::before_wait), the
/// wait on record as blocking the thread, which, when `me` is a task, is
/// blocked with it. Whatever can only go on on that thread then waits
/// for what `me` waits for (see `graph.rs`): a lock the thread took
/// outside any task (before `block_on`, say), a task parked there that
/// holds a std lock (a `LocalSet`'s). A cycle through them is reported,
/// a cycle of one included (a self-deadlock of the thread).
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn before_blocking_wait(
    lock: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
) -> Result<Waiting, Deadlock> {
    if !TRACK {
        return Ok(Waiting(0));
    }
    let thread = if me & TASK != 0 { thread_holder() } else { me };
    let label = std::thread::current().name().map(Box::from);
    wait_for(lock, me, label, at, want, checked, thread)
}

/// `async_wait::before_wait` and [`before_blocking_wait`]: `me` (whose thread is
/// called `label`) waits, blocking `thread` (0: parked).
#[track_caller]
pub(super) fn wait_for(
    lock: &LockState,
    me: u64,
    label: Option<Box<str>>,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    thread: u64,
) -> Result<Waiting, Deadlock> {
    if let Some(held_at) = holds(lock, me, want) {
        return self_deadlock(lock, me, held_at, at, checked);
    }
    if me & TASK != 0 {
        // Before the wait is seen: whoever closes a cycle through this
        // task then finds its calls (the graph's mutex orders the two).
        crate::inflight::note_task(me & !TASK);
    }
    let Some(cycle) = GRAPH.wait_blocking(me, label, lock, want, at, thread) else {
        return Ok(Waiting(me));
    };
    let waiting = Waiting(me);
    let kind = Kind::of(&cycle);
    on_deadlock(build(cycle), kind, checked).map(|()| waiting)
}

#[track_caller]
fn on_deadlock(deadlock: Deadlock, kind: Kind, checked: bool) -> Result<(), Deadlock> {
    report(&deadlock, kind);
    if checked {
        return Err(deadlock);
    }
    match deadlock_policy() {
        DeadlockPolicy::Report => Ok(()),
        DeadlockPolicy::Panic => panic!("{deadlock}"),
    }
}
