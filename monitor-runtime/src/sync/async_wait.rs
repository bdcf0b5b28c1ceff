//! How an async acquisition waits (`before_wait`, then
//! [`AsyncWait::until`]), and the one case that is no deadlock yet: a
//! wait for a lock that the waiter's own task (or `block_on` thread)
//! holds. The futures one task polls side by side (`join!`, `select!`)
//! are one holder, and another of them may hold the lock and let go of
//! it; so such a wait is reported as a self-deadlock only if it still
//! waits, with the lock still held by that task, after
//! [`SELF_WAIT_GRACE`], on a watchdog timer. A blocking wait of the same
//! kind is certain at once (`acquire.rs`).

use std::panic::Location;

use super::acquire::{holds, self_deadlock, wait_for, Waiting, TRACK};
use super::graph::{LockState, Want};
use super::holder::label;
use super::report::Deadlock;

/// The contended path: `me` must wait for `lock` at `at`, parked (an
/// async acquisition). Reports a cycle, then applies the policy
/// (`checked`: return the deadlock). On `Ok`, the caller awaits its
/// acquisition through [`AsyncWait::until`].
///
/// A wait for a lock `me` holds itself is no deadlock yet: `me` is a task
/// (or a thread in `block_on`), whose futures may run side by side
/// (`join!`, `select!`), and another of them may hold the lock and let go
/// of it. Such a wait is reported as a self-deadlock only if it still
/// waits, and the lock is still held by `me`, after [`SELF_WAIT_GRACE`].
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn before_wait<'a>(
    lock: &'a LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
) -> Result<AsyncWait<'a>, Deadlock> {
    if !TRACK {
        return Ok(AsyncWait::untracked());
    }
    if holds(lock, me, want).is_some() {
        return Ok(AsyncWait::own_lock(lock, me, at, want, checked));
    }
    wait_for(lock, me, label(me), at, want, checked, 0).map(AsyncWait::registered)
}

/// How long an async acquisition may wait for a lock its own task holds
/// before it is reported as a self-deadlock.
const SELF_WAIT_GRACE: std::time::Duration = std::time::Duration::from_secs(1);

/// How an async acquisition waits, from [`before_wait`] (`None`: without
/// bookkeeping). Boxed, on this contended path, so that the lock futures
/// keep one word for it.
pub(crate) struct AsyncWait<'a>(Option<Box<WaitState<'a>>>);

enum WaitState<'a> {
    /// On record in the wait-for graph until it drops.
    Registered(#[allow(dead_code, reason = "held for its drop")] Waiting),
    /// For a lock its own holder holds.
    OwnLock(OwnLock<'a>),
}

/// A wait for a lock the waiter holds itself.
pub(crate) struct OwnLock<'a> {
    lock: &'a LockState,
    holder: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    since: std::time::Instant,
    /// Wakes the waiter at `since + SELF_WAIT_GRACE`.
    timer: Option<crate::watchdog::Timer>,
    /// Confirmed, or not to be (no watchdog): the wait goes on as tokio's.
    done: bool,
}

impl<'a> AsyncWait<'a> {
    /// Nothing to record (feature `plain-locks`).
    fn untracked() -> Self {
        AsyncWait(None)
    }

    /// On record in the wait-for graph until the acquisition ends.
    fn registered(waiting: Waiting) -> Self {
        AsyncWait(Some(Box::new(WaitState::Registered(waiting))))
    }

    /// `holder` waits at `at` for `lock`, which it holds.
    fn own_lock(
        lock: &'a LockState,
        holder: u64,
        at: &'static Location<'static>,
        want: Want,
        checked: bool,
    ) -> Self {
        AsyncWait(Some(Box::new(WaitState::OwnLock(OwnLock {
            lock,
            holder,
            at,
            want,
            checked,
            since: std::time::Instant::now(),
            timer: None,
            done: false,
        }))))
    }

    /// Waits for `acquire` (tokio's acquisition): its output, or the
    /// self-deadlock of a wait for a lock the waiter holds, once confirmed,
    /// if the policy or `checked` says to return it.
    pub(crate) fn until<F: std::future::Future>(self, acquire: F) -> Until<'a, F> {
        Until {
            acquire,
            wait: self,
        }
    }
}

pin_project_lite::pin_project! {
    /// [`AsyncWait::until`]'s future.
    pub(crate) struct Until<'a, F> {
        #[pin]
        acquire: F,
        wait: AsyncWait<'a>,
    }
}

impl<F: std::future::Future> std::future::Future for Until<'_, F> {
    type Output = Result<F::Output, Deadlock>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
        let this = self.project();
        if let Poll::Ready(out) = this.acquire.poll(cx) {
            return Poll::Ready(Ok(out));
        }
        match this.wait.0.as_deref_mut() {
            Some(WaitState::OwnLock(own)) => own.confirm(cx).map(Err),
            _ => Poll::Pending,
        }
    }
}

impl OwnLock<'_> {
    /// While the acquisition waits: arms the timer, and once it fires,
    /// reports the self-deadlock if the lock is still held by the waiter
    /// (`Ready` if the deadlock is to be returned).
    #[cold]
    fn confirm(&mut self, cx: &mut std::task::Context<'_>) -> std::task::Poll<Deadlock> {
        use std::task::Poll;
        if self.done {
            return Poll::Pending;
        }
        match &mut self.timer {
            None => {
                self.timer = crate::watchdog::Timer::new(self.since + SELF_WAIT_GRACE, cx.waker());
                self.done = self.timer.is_none();
            }
            Some(armed) if armed.expired() => {
                self.done = true;
                self.timer = None;
                if let Some(held_at) = holds(self.lock, self.holder, self.want)
                    && let Err(deadlock) =
                        self_deadlock(self.lock, self.holder, held_at, self.at, self.checked)
                {
                    return Poll::Ready(deadlock);
                }
            }
            Some(armed) => armed.update(cx.waker()),
        }
        Poll::Pending
    }
}
