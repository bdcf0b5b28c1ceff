//! Stall alerts: raised by the watchdog when a monitor refused a call as
//! Busy and no call completed for its alert period.

use std::fmt;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use futures_core::Stream;
use tokio::sync::broadcast;
use tokio_stream::wrappers::BroadcastStream;

use crate::error::Name;

/// A monitor stalled: its cap was reached, a call was refused as Busy, and
/// no call has completed for the alert period since.
///
/// ```
/// use monitor_runtime::monitor::Alert;
/// use std::time::Duration;
/// let alert = Alert::new("db".into(), 10, 10, Duration::from_secs(100));
/// assert_eq!(
///     alert.to_string(),
///     "alert: monitor `db` stalled: 10 of 10 calls in flight and no call completed for 100s"
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
}

impl Alert {
    /// An alert, as the watchdog builds it; public for tests of hooks.
    pub fn new(monitor: Name, max_active: usize, in_flight: usize, stalled_for: Duration) -> Self {
        Alert {
            monitor,
            max_active,
            in_flight,
            stalled_for,
        }
    }
}

impl fmt::Display for Alert {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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
/// runs on the dump worker thread (`monitor-dump`), after the alert has
/// reached the monitors' [`alerts`](crate::Monitor::alerts) streams: it never
/// holds up a timeout or an alert, but dumps and later alerts wait for it
/// (hand the alert to a channel if the work is long). Replaces any earlier
/// hook for the alerts raised from then on; alerts raised before and still
/// queued for the worker go to the hook that was set when they were
/// raised.
///
/// ```
/// monitor_runtime::monitor::set_alert_hook(|alert| eprintln!("paging on-call: {alert}"));
/// monitor_runtime::monitor::clear_alert_hook();
/// ```
pub fn set_alert_hook(hook: impl Fn(&Alert) + Send + Sync + 'static) {
    *HOOK.write().unwrap_or_else(|e| e.into_inner()) = Some(Arc::new(hook));
}

/// Goes back to the default: alerts are written to stderr. Alerts raised
/// before and still queued for the dump worker go to the hook that was set
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
