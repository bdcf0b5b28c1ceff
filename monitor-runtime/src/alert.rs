//! Alerts: a monitor stalled (raised by the watchdog when a monitor
//! refused a call as Busy and no call completed for its alert period), or
//! something leaks (a function's calls in flight, or the process's
//! threads, keep rising: [`watch_leaks`](crate::leak::watch_leaks)).
//! An alert goes to the monitor's streams, and to the hook, which runs on
//! a thread of its own (`monitor-alert`): a hook that blocks holds up no
//! deadline and no dump.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::Name;
use crate::inflight::Straggler;
use crate::user_code;

/// A monitor stalled: its cap was reached, a call was refused as Busy, and
/// no call has completed for the alert period since.
///
/// ```
/// use monitor_runtime::monitor::Alert;
/// use std::time::Duration;
/// let alert = Alert::new("db".into(), 10, 10, Duration::from_secs(100));
/// assert_eq!(
///     alert.to_string(),
///     "alert: monitor `db` stalled: 10 of 10 calls in flight and no call completed for 1m40s"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Alert {
    /// The stalled monitor.
    pub monitor: Name,
    /// Its cap on calls in flight.
    pub max_active: usize,
    /// Calls in flight when the alert was raised.
    pub in_flight: usize,
    /// How long no call has completed, counted from the first Busy
    /// rejection of the stall.
    pub stalled_for: Duration,
    /// What the alert is about: a stall (the fields above), or a leak.
    pub kind: AlertKind,
}

/// What an [`Alert`] is about.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AlertKind {
    /// The monitor stalled: its cap was full and no call completed for
    /// [`Alert::stalled_for`].
    Stall,
    /// A function's calls in flight, or the process's threads, keep
    /// rising ([`watch_leaks`](crate::leak::watch_leaks)). The alert's
    /// `monitor` is then the function (or `threads`), `in_flight` the
    /// count now, `stalled_for` the window it rose over, `max_active` 0.
    Leak(Leak),
}

/// Something that keeps rising over a leak watch's window and never went
/// back to where it was ([`watch_leaks`](crate::leak::watch_leaks)).
///
/// ```
/// use monitor_runtime::leak::{Leak, Leaking};
/// use std::time::Duration;
/// let leak = Leak::new(Leaking::Threads, 180, 60, Duration::from_secs(60));
/// assert_eq!(
///     leak.to_string(),
///     "leak: the process's threads keep rising: 180, up 60 over 1m00s, never back to where they were"
/// );
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Leak {
    /// What rises.
    pub what: Leaking,
    /// The count now.
    pub count: usize,
    /// How much it rose over the window.
    pub growth: usize,
    /// The window.
    #[serde(serialize_with = "crate::format::seconds")]
    pub window: Duration,
    /// The oldest calls of a leaking function (at most 5), oldest first:
    /// where they began. Empty for threads.
    pub oldest: Vec<Straggler>,
}

impl Leak {
    /// A leak without its oldest calls; public for tests of hooks.
    pub fn new(what: Leaking, count: usize, growth: usize, window: Duration) -> Self {
        Leak {
            what,
            count,
            growth,
            window,
            oldest: Vec::new(),
        }
    }
}

/// What leaks: a function's calls in flight, or threads.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "kind", content = "name", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Leaking {
    /// The calls in flight of this annotated function (or run-time
    /// monitor).
    Calls(String),
    /// The process's threads (`/proc/self/status`, Linux only).
    Threads,
}

impl fmt::Display for Leak {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let window = crate::format::human(self.window);
        match &self.what {
            Leaking::Calls(function) => write!(
                f,
                "leak: calls of `{function}` keep rising: {} in flight, up {} over {window}, \
                 never back to where they were",
                self.count, self.growth
            ),
            Leaking::Threads => write!(
                f,
                "leak: the process's threads keep rising: {}, up {} over {window}, never back \
                 to where they were",
                self.count, self.growth
            ),
        }
    }
}

impl Alert {
    /// An alert, as the watchdog builds it; public for tests of hooks.
    pub fn new(monitor: Name, max_active: usize, in_flight: usize, stalled_for: Duration) -> Self {
        Alert {
            monitor,
            max_active,
            in_flight,
            stalled_for,
            kind: AlertKind::Stall,
        }
    }

    /// A leak alert.
    ///
    /// ```
    /// use monitor_runtime::leak::{Leak, Leaking};
    /// use monitor_runtime::monitor::Alert;
    /// use std::time::Duration;
    /// let what = Leaking::Calls("app::fetch".into());
    /// let alert = Alert::leak(Leak::new(what, 40, 20, Duration::from_secs(1)));
    /// assert_eq!(alert.in_flight, 40);
    /// assert!(alert.to_string().starts_with("alert: leak: calls of `app::fetch` keep rising"));
    /// ```
    pub fn leak(leak: Leak) -> Self {
        let monitor = match &leak.what {
            Leaking::Calls(function) => Name::from(function.clone()),
            Leaking::Threads => Name::new_static("threads"),
        };
        Alert {
            monitor,
            max_active: 0,
            in_flight: leak.count,
            stalled_for: leak.window,
            kind: AlertKind::Leak(leak),
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let AlertKind::Leak(leak) = &self.kind {
            return write!(f, "alert: {leak}");
        }
        write!(
            f,
            "alert: monitor `{}` stalled: {} of {} calls in flight and no call completed for {}",
            self.monitor,
            self.in_flight,
            self.max_active,
            crate::format::human(self.stalled_for)
        )
    }
}

pub(crate) type Hook = Arc<dyn Fn(&Alert) + Send + Sync>;

static HOOK: RwLock<Option<Hook>> = RwLock::new(None);

/// Sends every alert of every monitor to `hook` instead of stderr. The hook
/// runs on a thread of its own (`monitor-alert`), after the alert has
/// reached the monitors' [`alerts`](crate::Monitor::alerts) streams: it never
/// holds up a timeout or a dump, but later alerts wait for it (hand the
/// alert to a channel if the work is long). While 64 alerts wait for it,
/// more are dropped, each with a `tracing` warning. A panic in the hook
/// ends that alert only. Replaces any earlier hook for the alerts raised
/// from then on; alerts raised before and still waiting go to the hook
/// that was set when they were raised.
///
/// ```
/// monitor_runtime::monitor::set_alert_hook(|alert| eprintln!("paging on-call: {alert}"));
/// monitor_runtime::monitor::clear_alert_hook();
/// ```
pub fn set_alert_hook(hook: impl Fn(&Alert) + Send + Sync + 'static) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
}

/// Goes back to the default: alerts are written to stderr. Alerts raised
/// before and still waiting for the hook go to the hook that was set
/// then.
///
/// ```
/// monitor_runtime::monitor::clear_alert_hook();
/// ```
pub fn clear_alert_hook() {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = None;
}

/// A monitor's alert channel, created when the first stream subscribes.
pub(crate) struct AlertChannel {
    tx: Option<broadcast::Sender<Alert>>,
    closed: bool,
}

impl AlertChannel {
    pub(crate) const fn new() -> Self {
        AlertChannel {
            tx: None,
            closed: false,
        }
    }

    /// A new stream of the alerts sent from now on; one that ends at once
    /// if the channel is closed.
    pub(crate) fn subscribe(&mut self) -> Alerts {
        if self.closed {
            return Alerts { inner: None };
        }
        let rx = match &self.tx {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = broadcast::channel(16);
                self.tx = Some(tx);
                rx
            }
        };
        Alerts {
            inner: Some(BroadcastStream::new(rx)),
        }
    }

    /// Ends every stream, now and to come.
    pub(crate) fn close(&mut self) {
        self.closed = true;
        self.tx = None;
    }

    /// Hands `alert` to every stream. Never blocks: an alert nobody listens
    /// to is dropped.
    pub(crate) fn send(&self, alert: &Alert) {
        if let Some(tx) = &self.tx {
            let _ = tx.send(alert.clone());
        }
    }
}

/// The hook set with [`set_alert_hook`], if any.
pub(crate) fn hook() -> Option<Hook> {
    HOOK.read().unwrap_or_else(|e| e.into_inner()).clone()
}

/// Hands `alert` to `hook` on the hook's own thread
/// ([`user_code::HOOK`]); never waits for the hook. An alert that finds 64
/// alerts waiting is dropped (and counted, said once the hook returns).
pub(crate) fn to_hook(hook: Hook, alert: Alert) {
    user_code::HOOK.run(move || hook(&alert));
}

/// The alerts of one monitor, as an async [`Stream`]. Alerts are never
/// held back for a slow reader: one that falls more than 16 alerts behind
/// skips the oldest. The stream ends when the monitor is stopped.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// use monitor_runtime::Monitor;
/// let monitor = Monitor::builder("stream").build();
/// let mut alerts = monitor.alerts();
/// monitor.stop();
/// assert_eq!(alerts.recv().await, None);
/// # }
/// ```
pub struct Alerts {
    inner: Option<BroadcastStream<Alert>>,
}

impl Alerts {
    /// The next alert, or `None` once the monitor is stopped.
    pub async fn recv(&mut self) -> Option<Alert> {
        std::future::poll_fn(|cx| Pin::new(&mut *self).poll_next(cx)).await
    }
}

impl Stream for Alerts {
    type Item = Alert;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Alert>> {
        let Some(inner) = self.inner.as_mut() else {
            return Poll::Ready(None);
        };
        loop {
            match Pin::new(&mut *inner).poll_next(cx) {
                Poll::Ready(Some(Ok(alert))) => return Poll::Ready(Some(alert)),
                // Lagged: the oldest alerts were skipped; go on with the rest.
                Poll::Ready(Some(Err(_))) => continue,
                Poll::Ready(None) => return Poll::Ready(None),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}
