//! Code used by the macros' expansions, reached as
//! `::monitor_runtime::__private::...`: one function per shape of annotated
//! function, each a thin call into the features. Not public API: it
//! changes without notice.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};

pub use crate::inflight::CallSite;
pub use crate::monitor::StaticMonitor;
pub use crate::monitor::{Call, Detach, Merge};
pub use core::time::Duration;

use crate::FromMonitorError;

/// A sync body without a timeout: inline.
#[inline]
pub fn sync<R: FromMonitorError>(monitor: &'static StaticMonitor, body: impl FnOnce() -> R) -> R {
    monitor.monitor().run::<R, Merge>(body)
}

/// A sync body with a timeout: on a pooled worker.
#[inline]
pub fn blocking<R, F>(monitor: &'static StaticMonitor, body: F) -> R
where
    F: SendStatic + FnOnce() -> R,
    R: FromMonitorError + Send + 'static,
{
    match monitor.monitor().call_blocking(body) {
        Ok(value) => value,
        Err(error) => R::from_monitor_error(error),
    }
}

/// An async body, dropped at the deadline.
#[inline]
pub fn cancel<F>(monitor: &'static StaticMonitor, body: F) -> Call<F, Merge>
where
    F: Future,
    F::Output: FromMonitorError,
{
    Call::new(monitor.monitor(), body)
}

/// An async body, moved to a tokio task at the deadline.
#[inline]
pub fn detach<F>(monitor: &'static StaticMonitor, body: F) -> Detach<F, Merge>
where
    F: Detachable,
    F::Output: FromMonitorError + Send + 'static,
{
    Detach::new(monitor.monitor(), body)
}

/// `#[stack_on_timeout]` on a sync function: the call is in the
/// table of calls in flight while it runs, and reported if it overruns.
#[inline]
pub fn stack_sync<R>(site: &'static CallSite, body: impl FnOnce() -> R) -> R {
    let _call = crate::inflight::SyncCall::begin(site, crate::watchdog::CLOCKWORK);
    body()
}

/// `#[stack_on_timeout]` on an async function.
#[inline]
pub fn stack_async<F: Future>(site: &'static CallSite, body: F) -> impl Future<Output = F::Output> {
    crate::monitor::Framed::new(body, Some(site))
}

/// `future.await` at `line:column` of an annotated async body, as the
/// macros rewrite it: `awaiting(line!(), column!(), future).await`. Takes
/// what `.await` takes (`IntoFuture`) and converts it as `.await` does;
/// when the future returns `Pending`, the call being polled notes that it
/// waits here. A `Ready` costs a branch.
#[inline]
pub fn awaiting<F: IntoFuture>(line: u32, column: u32, future: F) -> Awaiting<F::IntoFuture> {
    Awaiting {
        future: future.into_future(),
        at: crate::inflight::pack_at(line, column),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`awaiting`]: `F`, which notes where it waits.
    #[must_use = "futures do nothing unless polled"]
    pub struct Awaiting<F> {
        #[pin]
        future: F,
        at: u32,
    }
}

impl<F: Future> Future for Awaiting<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let poll = this.future.poll(cx);
        if poll.is_pending() {
            crate::inflight::parked_at(*this.at);
        }
        poll
    }
}

#[diagnostic::on_unimplemented(
    message = "`#[monitored(on_timeout = detach)]` needs a body that is `Send + 'static`",
    label = "this body cannot move to a tokio task",
    note = "at the deadline the body moves to a tokio task: take arguments by value (not `&self` or `&T`), hold no `!Send` value across `.await`, or use `on_timeout = cancel`"
)]
pub trait Detachable: Future + Send + 'static {}
impl<F: Future + Send + 'static> Detachable for F {}

#[diagnostic::on_unimplemented(
    message = "a sync `#[monitored(timeout = ...)]` function needs a body that is `Send + 'static`",
    label = "this body cannot move to a worker thread",
    note = "the body runs on a worker thread so that the caller can return at the deadline: take owned `Send` arguments (for example `Arc<T>` instead of `&T`), make the function `async`, or drop `timeout`"
)]
pub trait SendStatic: Send + 'static {}
impl<F: Send + 'static> SendStatic for F {}
