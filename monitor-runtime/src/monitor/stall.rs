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
/// as a `tracing` warning. Never blocks, on a reader or on user code: the
/// `tracing` subscriber and stderr are written on the events' thread, the
/// hook runs on its own ([`user_code`]). Without a hook the line is written
/// before the alert is counted and streamed (both on the events' thread),
/// so that whoever acts on either (a health check that exits, a test)
/// finds it whole on stderr; if the events' thread is too far behind to
/// take it, the alert is counted and streamed at once, without the line.
fn raise(monitor: &Monitor, alert: Alert) {
    let warned = alert.clone();
    let warn = move || {
        tracing::warn!(
            target: "monitor_runtime",
            monitor = %warned.monitor,
            max_active = warned.max_active,
            in_flight = warned.in_flight,
            stalled_for = ?warned.stalled_for,
            "monitor stalled: cap reached and no call completed"
        );
    };
    match alert::hook() {
        Some(hook) => {
            deliver(monitor, &alert);
            user_code::EVENTS.run(warn);
            alert::to_hook(hook, alert);
        }
        None => {
            let (later, line) = (monitor.clone(), alert.clone());
            let queued = user_code::EVENTS.run(move || {
                warn();
                // One short line, as the `tracing` warning.
                eprintln!("{line}");
                deliver(&later, &line);
            });
            if !queued {
                deliver(monitor, &alert);
            }
        }
    }
}

/// Counts `alert` on its monitor and sends it to the monitor's streams.
fn deliver(monitor: &Monitor, alert: &Alert) {
    monitor.state().alerts.fetch_add(1, Ordering::Release);
    monitor
        .state()
        .channel
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .send(alert);
}
