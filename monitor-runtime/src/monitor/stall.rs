//! Stall alerts: when the cap stays full and no call completes for the
//! monitor's `alert` time, an [`Alert`] goes to the monitor's streams, to
//! the alert hook (on the dump worker) or stderr, and to `tracing`. The
//! watchdog only runs the check at its deadline ([`watchdog::at`]).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use super::{Monitor, Weak};
use crate::alert::{self, Alert, Alerts};
use crate::clock;
use crate::registry::Upgrade;
use crate::user_code;
use crate::watchdog;

impl Monitor {
    /// Subscribes to this monitor's stall alerts.
    ///
    /// ```
    /// let monitor = monitor_runtime::Monitor::builder("db")
    ///     .max_active(1)
    ///     .alert(std::time::Duration::from_secs(1))
    ///     .build();
    /// let alerts = monitor.alerts();
    /// # drop(alerts);
    /// ```
    pub fn alerts(&self) -> Alerts {
        self.state()
            .channel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .subscribe()
    }

    /// Arms the stall alert for the stall that began at `since`
    /// (milliseconds on the process clock).
    pub(super) fn arm_stall(&self, since: u64, after: Duration) {
        let deadline = clock::instant_of_ms(since) + after;
        let monitor = self.downgrade();
        let check = move |now| check_stall(&monitor, since, now);
        watchdog::at(deadline, self.key(), Box::new(check));
    }

    /// Forgets the pending stall alert and ends every alert stream.
    pub(super) fn close_alerts(&self) {
        watchdog::forget(self.key());
        self.state()
            .channel
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .close();
    }

    /// Who arms the watchdog's checks for this monitor.
    fn key(&self) -> usize {
        self.state() as *const _ as usize
    }
}

fn check_stall(monitor: &Weak, since: u64, now: Instant) {
    let Some(monitor) = monitor.upgrade() else {
        return;
    };
    let gate = monitor.state().gate();
    let cap = monitor.max_active().unwrap_or(usize::MAX);
    if monitor.is_stopped() {
        return;
    }
    // Refusals alone are no stall: the cap must still be full (calls may
    // have been cancelled since, freeing their slots without completing).
    if gate.active() < cap {
        gate.end_stall(since);
        return;
    }
    if !gate.claim_alert(since) {
        return;
    }
    let alert = Alert::new(
        monitor.state().config.name_value(),
        cap,
        gate.active(),
        now.saturating_duration_since(clock::instant_of_ms(since)),
    );
    raise(&monitor, alert);
}

/// Delivers one alert: to stderr or the hook, to the monitor's streams, and
/// as a `tracing` warning, in the order they always came: the warning, the
/// line on stderr (without a hook), the count and the streams, the hook.
/// Never blocks, on a reader or on user code: all of it runs on the
/// events' thread ([`user_code`]), and the hook on its own. So whoever acts
/// on the count or a stream (a health check that exits, a test) finds the
/// warning and the line written. If the events' thread is too far behind
/// to take the alert, it is counted, streamed and handed to the hook at
/// once, without the warning and the line.
fn raise(monitor: &Monitor, alert: Alert) {
    // The hook set when the alert is raised, whenever it runs.
    let hook = alert::hook();
    let (later, raised, hooked) = (monitor.clone(), alert.clone(), hook.clone());
    let queued = user_code::EVENTS.run(move || {
        tracing::warn!(
            target: "monitor_runtime",
            monitor = %raised.monitor,
            max_active = raised.max_active,
            in_flight = raised.in_flight,
            stalled_for = ?raised.stalled_for,
            "monitor stalled: cap reached and no call completed"
        );
        if hooked.is_none() {
            // One short line, as the `tracing` warning.
            eprintln!("{raised}");
        }
        deliver(&later, &raised, hooked);
    });
    if !queued {
        deliver(monitor, &alert, hook);
    }
}

/// Counts `alert` on its monitor, sends it to the monitor's streams, and
/// hands it to `hook` (on the hook's thread: it may block).
fn deliver(monitor: &Monitor, alert: &Alert, hook: Option<alert::Hook>) {
    monitor.state().alerts.fetch_add(1, Ordering::Release);
    monitor
        .state()
        .channel
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(alert);
    if let Some(hook) = hook {
        alert::to_hook(hook, alert.clone());
    }
}
