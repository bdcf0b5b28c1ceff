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
/// as a `tracing` warning. Never blocks on a reader. Without a hook the line
/// is written before the alert is counted and streamed, so that whoever acts
/// on either (a health check that exits, a test) finds it whole on stderr.
fn raise(monitor: &Monitor, alert: Alert) {
    tracing::warn!(
        target: "monitor_runtime",
        monitor = %alert.monitor,
        max_active = alert.max_active,
        in_flight = alert.in_flight,
        stalled_for = ?alert.stalled_for,
        "monitor stalled: cap reached and no call completed"
    );
    let hook = alert::hook();
    if hook.is_none() {
        // One short line, as the `tracing` warning above.
        eprintln!("{alert}");
    }
    monitor.state().alerts.fetch_add(1, Ordering::Release);
    monitor
        .state()
        .channel
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(&alert);
    // The hook is your code, and may block: it runs on its own thread,
    // not on the watchdog, whose deadlines and alerts must not wait.
    if let Some(hook) = hook {
        alert::to_hook(hook, alert);
    }
}
