//! Async calls: admission on first poll, a deadline armed only if the body
//! does not finish on its first poll, and what happens at the deadline
//! (drop the body, or let it run on in a tokio task).
//!
//! A call's future holds its handle on the monitor and its slot of the cap
//! side by side ([`Slot`]), and gives the slot back itself: no permit
//! holds a second handle (for a run-time monitor, a shared count's two
//! read-modify-writes a call). Only a body that runs on without the
//! future (detached) takes a [`Permit`](super::Permit) of its own.

use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use pin_project_lite::pin_project;

use super::output::{Output, Wrap};
use super::{CallSpan, Monitor, Slot};
use crate::clock;
use crate::inflight::{AsyncCall, CallSite};
use crate::watchdog::{Timer, ALARM, CLOCKWORK};

pin_project! {
    /// A body and its record in the table of calls in flight (the body of
    /// a `#[stack_on_timeout]` function, or of a monitored call, whose
    /// future holds the rest).
    pub(crate) struct Framed<F> {
        #[pin]
        body: F,
        site: Option<&'static CallSite>,
        call: AsyncCall,
    }
}

impl<F> Framed<F> {
    pub(crate) fn new(body: F, site: Option<&'static CallSite>) -> Self {
        Framed {
            body,
            site,
            call: AsyncCall::default(),
        }
    }
}

impl<F: Future> Future for Framed<F> {
    type Output = F::Output;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let scope = this
            .site
            .and_then(|site| this.call.poll_scope(site, CLOCKWORK));
        let poll = this.body.poll(cx);
        if poll.is_ready()
            && let Some(scope) = scope
        {
            scope.finish(this.call);
        }
        poll
    }
}

/// Polls a monitored call's body. A panic in it gives the slot back (and
/// counts it) while the thread unwinds: the executor that catches the
/// panic may drop the future much later. A body that returns gives it
/// back as completed.
#[inline(always)]
fn poll_body<F: Future>(
    body: Pin<&mut Framed<F>>,
    slot: &mut Slot,
    monitor: &Monitor,
    cx: &mut Context<'_>,
) -> Poll<F::Output> {
    struct Unwinding<'a>(&'a mut Slot, &'a Monitor);
    impl Drop for Unwinding<'_> {
        fn drop(&mut self) {
            self.0.panicked(self.1);
        }
    }
    let unwinding = Unwinding(&mut *slot, monitor);
    let poll = body.poll(cx);
    std::mem::forget(unwinding);
    if poll.is_ready() {
        slot.complete(monitor);
    }
    poll
}

/// A call's timeout, once its body was pending after a poll.
pub(crate) enum Deadline {
    /// Not armed yet: the body has not been pending.
    Unarmed,
    /// Armed in the call's record (precise nanoseconds since the epoch).
    InRecord(u64),
    /// A timer of the watchdog's own, for a call the table of calls in
    /// flight does not hold (polled while its thread is torn down).
    Timer(Box<Timer>),
}

pin_project! {
    /// The future of a monitored async call: resolves to the body's output,
    /// or to [`Error::Busy`] / [`Error::Timeout`] through `O`.
    ///
    /// Made by [`Monitor::call_async`] and by `#[monitored]`. The slot is
    /// taken on the first poll and given back when the body finishes or is
    /// dropped, whichever comes first.
    #[must_use = "futures do nothing unless polled"]
    pub struct Call<F, O> {
        #[pin]
        inner: Option<Framed<F>>,
        monitor: Monitor,
        slot: Slot,
        timer: Deadline,
        admitted: bool,
        span: CallSpan,
        _out: PhantomData<fn() -> O>,
    }
    impl<F, O> PinnedDrop for Call<F, O> {
        fn drop(this: Pin<&mut Self>) {
            let mut this = this.project();
            // Drop the body first, then its slot: the cap counts live bodies.
            this.inner.set(None);
            this.slot.drop_with(this.monitor);
        }
    }
}

impl<F, O> Call<F, O> {
    pub(crate) fn new(monitor: Monitor, body: F) -> Self {
        Call {
            inner: Some(Framed::new(body, monitor.site())),
            monitor,
            slot: Slot::Empty,
            timer: Deadline::Unarmed,
            admitted: false,
            span: CallSpan::off(),
            _out: PhantomData,
        }
    }
}

impl<F: Future, O: Output<F::Output>> Future for Call<F, O> {
    type Output = O::Out;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Out> {
        let mut this = self.project();
        let Some(mut inner) = this.inner.as_mut().as_pin_mut() else {
            panic!("monitored call polled after it completed");
        };
        if !*this.admitted {
            this.span.start(this.monitor);
            match this.monitor.enter() {
                Ok(permit) => *this.slot = permit.into_slot(),
                Err(error) => {
                    this.inner.set(None);
                    this.span.refused(&error);
                    return Poll::Ready(O::err(error));
                }
            }
            *this.admitted = true;
        }
        let entered = this.span.enter();
        let poll = poll_body(inner.as_mut(), this.slot, this.monitor, cx);
        drop(entered);
        if let Poll::Ready(value) = poll {
            this.inner.set(None);
            *this.timer = Deadline::Unarmed;
            this.span.finish("ok");
            return Poll::Ready(O::ok(value));
        }
        match deadline(this.monitor, &inner.call, this.timer, cx) {
            Some(after) => {
                // Drop the body first, then its slot: the cap counts live bodies.
                this.inner.set(None);
                this.slot.drop_with(this.monitor);
                *this.timer = Deadline::Unarmed;
                this.span.finish("timeout");
                Poll::Ready(O::err(this.monitor.timeout_error(after)))
            }
            None => Poll::Pending,
        }
    }
}

/// Arms the monitor's deadline on the first `Pending`: a store into the
/// call's record, which the watchdog reads (one precise clock read);
/// afterwards, checks it against the coarse clock, or finds it fired by
/// the watchdog (which fires it once the deadline has passed, whether it
/// keeps the coarse clock or not). Returns the timeout once it has passed.
#[inline(always)]
fn deadline(
    monitor: &Monitor,
    call: &AsyncCall,
    timer: &mut Deadline,
    cx: &Context<'_>,
) -> Option<Duration> {
    let after = monitor.timeout()?;
    match timer {
        Deadline::Unarmed => arm(call, timer, after, cx),
        Deadline::InRecord(at) if clock::coarse_ns() >= *at => Some(after),
        Deadline::InRecord(_) => (!call.timeout_waker(cx.waker())).then_some(after),
        Deadline::Timer(armed) if armed.expired() => Some(after),
        Deadline::Timer(armed) => {
            armed.update(cx.waker());
            None
        }
    }
}

#[inline(never)]
fn arm(
    call: &AsyncCall,
    timer: &mut Deadline,
    after: Duration,
    cx: &Context<'_>,
) -> Option<Duration> {
    let after_ns = u64::try_from(after.as_nanos()).unwrap_or(u64::MAX);
    let at = clock::now_ns().saturating_add(after_ns);
    if call.arm_timeout(at, cx.waker(), ALARM) {
        *timer = Deadline::InRecord(at);
        return None;
    }
    match Timer::new(Instant::now() + after, cx.waker()) {
        Some(armed) => {
            *timer = Deadline::Timer(Box::new(armed));
            None
        }
        // Without a watchdog there is nothing to wake us at the deadline;
        // give up now rather than risk waiting forever.
        None => Some(after),
    }
}

pin_project! {
    /// The future of a monitored async call whose body runs on to completion
    /// in a tokio task when the caller times out (`on_timeout = detach`).
    /// The body is boxed, so that it can move to that task; it keeps its
    /// slot until it finishes.
    #[must_use = "futures do nothing unless polled"]
    pub struct Detach<F, O> {
        inner: Option<Framed<Pin<Box<F>>>>,
        monitor: Monitor,
        slot: Slot,
        timer: Deadline,
        admitted: bool,
        span: CallSpan,
        _out: PhantomData<fn() -> O>,
    }
    impl<F, O> PinnedDrop for Detach<F, O> {
        fn drop(this: Pin<&mut Self>) {
            let this = this.project();
            // Drop the body first, then its slot: the cap counts live bodies.
            *this.inner = None;
            this.slot.drop_with(this.monitor);
        }
    }
}

impl<F, O> Detach<F, O> {
    pub(crate) fn new(monitor: Monitor, body: F) -> Self {
        Detach {
            inner: Some(Framed::new(Box::pin(body), monitor.site())),
            monitor,
            slot: Slot::Empty,
            timer: Deadline::Unarmed,
            admitted: false,
            span: CallSpan::off(),
            _out: PhantomData,
        }
    }
}

impl<F, O> Future for Detach<F, O>
where
    F: Future + Send + 'static,
    F::Output: Send + 'static,
    O: Output<F::Output>,
{
    type Output = O::Out;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<O::Out> {
        let this = self.project();
        let Some(inner) = this.inner.as_mut() else {
            panic!("monitored call polled after it completed");
        };
        if !*this.admitted {
            this.span.start(this.monitor);
            match this.monitor.enter() {
                Ok(permit) => *this.slot = permit.into_slot(),
                Err(error) => {
                    *this.inner = None;
                    this.span.refused(&error);
                    return Poll::Ready(O::err(error));
                }
            }
            *this.admitted = true;
        }
        let entered = this.span.enter();
        let poll = poll_body(Pin::new(&mut *inner), this.slot, this.monitor, cx);
        drop(entered);
        if let Poll::Ready(value) = poll {
            *this.inner = None;
            *this.timer = Deadline::Unarmed;
            this.span.finish("ok");
            return Poll::Ready(O::ok(value));
        }
        let Some(after) = deadline(this.monitor, &inner.call, this.timer, cx) else {
            return Poll::Pending;
        };
        *this.timer = Deadline::Unarmed;
        this.span.finish("timeout");
        let body = this.inner.take();
        // The body keeps its slot where it runs on, through a permit of its
        // own: given back when it finishes, as a panic if it panics there.
        let permit = this.slot.take_permit(this.monitor);
        let span = this.span.span();
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                runtime.spawn(async move {
                    if let Some(body) = body {
                        match span {
                            Some(span) => tracing::Instrument::instrument(body, span).await,
                            None => body.await,
                        };
                    }
                    if let Some(permit) = permit {
                        permit.complete();
                    }
                });
            }
            Err(_) => {
                tracing::warn!(
                    target: "monitor_runtime",
                    monitor = this.monitor.name(),
                    "on_timeout = detach needs a tokio runtime to run the body on; the body was cancelled"
                );
                // Drop the body first, then its slot.
                drop(body);
                drop(permit);
            }
        }
        Poll::Ready(O::err(this.monitor.timeout_error(after)))
    }
}

impl Monitor {
    /// Runs `body` under this monitor: refused at once with
    /// [`Error::Busy`](crate::Error::Busy) when the cap is reached; at the timeout, the caller
    /// gets [`Error::Timeout`](crate::Error::Timeout) and `body` is dropped, which frees its permit.
    /// Nothing is allocated, and no timer is armed unless `body` is still
    /// pending after its first poll.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use monitor_runtime::{Error, Monitor};
    /// use std::time::Duration;
    ///
    /// let monitor = Monitor::builder("fetch").timeout(Duration::from_millis(10)).build();
    /// assert_eq!(monitor.call_async(async { 5 }).await, Ok(5));
    /// let slow = monitor.call_async(std::future::pending::<()>()).await;
    /// assert!(matches!(slow, Err(Error::Timeout { .. })));
    /// assert_eq!(monitor.stats().in_flight, 0);
    /// # }
    /// ```
    pub fn call_async<F: Future>(&self, body: F) -> Call<F, Wrap> {
        Call::new(self.clone(), body)
    }

    /// Like [`Monitor::call_async`], but at the timeout the body runs on to
    /// completion in a tokio task and keeps its permit until it finishes (Go's
    /// behaviour). The body is boxed once per call. Outside a tokio runtime
    /// the body cannot run on, and is dropped.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// use monitor_runtime::{Error, Monitor};
    /// use std::time::Duration;
    ///
    /// let monitor = Monitor::builder("flush").timeout(Duration::from_millis(5)).build();
    /// let slow = async { tokio::time::sleep(Duration::from_millis(50)).await };
    /// assert!(matches!(monitor.call_detached(slow).await, Err(Error::Timeout { .. })));
    /// assert_eq!(monitor.stats().in_flight, 1); // still running
    /// # }
    /// ```
    pub fn call_detached<F>(&self, body: F) -> Detach<F, Wrap>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        Detach::new(self.clone(), body)
    }
}
