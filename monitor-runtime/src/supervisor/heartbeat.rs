//! What a worker holds: its [`Heartbeat`], to say it is alive, and its
//! [`StopSignal`], to learn that it should return.

use std::fmt;
use std::pin::pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio::sync::Notify;

use super::pulse::Pulse;

/// What a worker calls to say it is alive: cheap (a relaxed load in the
/// common case), `Clone + Send + Sync`, callable from any thread or task of
/// the worker.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::{Heartbeat, StopSignal, Supervisor};
///
/// let handle = Supervisor::builder("doc::beat")
///     .heartbeat(Duration::from_millis(500))
///     .spawn_thread(|beat: Heartbeat, stop: StopSignal| {
///         let helper = beat.clone();
///         std::thread::scope(|s| {
///             s.spawn(|| helper.beat());
///         });
///         while !stop.wait(Duration::from_millis(10)) {
///             beat.beat();
///         }
///         Ok::<(), String>(())
///     })
///     .unwrap();
/// handle.stop_blocking().unwrap();
/// ```
#[derive(Clone)]
pub struct Heartbeat(pub(super) Arc<Pulse>);

impl Heartbeat {
    /// Says the worker is alive. Call it more often than the heartbeat
    /// timeout (a tenth of it is a good period).
    ///
    /// ```
    /// use std::time::Duration;
    /// use monitor_runtime::supervisor::Supervisor;
    ///
    /// let handle = Supervisor::builder("doc::beat_often")
    ///     .heartbeat(Duration::from_millis(100))
    ///     .spawn_thread(|beat, stop| {
    ///         // Every 10 ms: a tenth of the heartbeat timeout.
    ///         while !stop.wait(Duration::from_millis(10)) {
    ///             beat.beat();
    ///         }
    ///         Ok::<(), String>(())
    ///     })
    ///     .unwrap();
    /// std::thread::sleep(Duration::from_millis(300));
    /// assert_eq!(handle.stats().missed_heartbeats, 0);
    /// handle.stop_blocking().unwrap();
    /// ```
    #[inline]
    pub fn beat(&self) {
        self.0.beat();
    }
}

impl fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Heartbeat")
    }
}

/// Tells a worker to stop: check it ([`is_stopped`](Self::is_stopped)),
/// await it ([`stopped`](Self::stopped)), or sleep on it in a thread
/// ([`wait`](Self::wait)). Each instance of a worker gets its own: a
/// replaced instance is told to stop while its successor runs.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::StopSignal;
///
/// let stop = StopSignal::new();
/// assert!(!stop.wait(Duration::from_millis(1)));
/// stop.stop();
/// assert!(stop.is_stopped());
/// assert!(stop.wait(Duration::from_secs(60)), "returns at once once stopped");
/// ```
#[derive(Clone, Default)]
pub struct StopSignal(Arc<StopInner>);

#[derive(Default)]
struct StopInner {
    stopped: AtomicBool,
    notify: Notify,
    lock: Mutex<()>,
    cvar: Condvar,
}

impl StopSignal {
    /// A signal not yet given.
    ///
    /// ```
    /// assert!(!monitor_runtime::supervisor::StopSignal::new().is_stopped());
    /// ```
    pub fn new() -> Self {
        Self::default()
    }

    /// Gives the signal: wakes every [`stopped`](Self::stopped) and
    /// [`wait`](Self::wait).
    ///
    /// ```
    /// let stop = monitor_runtime::supervisor::StopSignal::new();
    /// let seen_by = stop.clone();
    /// stop.stop();
    /// assert!(seen_by.is_stopped());
    /// ```
    pub fn stop(&self) {
        self.0.stopped.store(true, Ordering::SeqCst);
        self.0.notify.notify_waiters();
        let _guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        self.0.cvar.notify_all();
    }

    /// Whether the signal was given.
    ///
    /// ```
    /// let stop = monitor_runtime::supervisor::StopSignal::new();
    /// while !stop.is_stopped() {
    ///     // One round of work...
    ///     stop.stop();
    /// }
    /// ```
    pub fn is_stopped(&self) -> bool {
        self.0.stopped.load(Ordering::SeqCst)
    }

    /// Completes once the signal is given.
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let stop = monitor_runtime::supervisor::StopSignal::new();
    /// stop.stop();
    /// stop.stopped().await;
    /// # }
    /// ```
    pub async fn stopped(&self) {
        loop {
            let mut notified = pin!(self.0.notify.notified());
            notified.as_mut().enable();
            if self.is_stopped() {
                return;
            }
            notified.await;
        }
    }

    /// Blocks the thread until the signal is given or `timeout` passes;
    /// `true` if it was given. A sleep that a stop cuts short.
    ///
    /// ```
    /// use std::time::{Duration, Instant};
    /// let stop = monitor_runtime::supervisor::StopSignal::new();
    /// let stopper = stop.clone();
    /// std::thread::spawn(move || stopper.stop());
    /// let began = Instant::now();
    /// assert!(stop.wait(Duration::from_secs(60)));
    /// assert!(began.elapsed() < Duration::from_secs(60));
    /// ```
    pub fn wait(&self, timeout: Duration) -> bool {
        let guard = self.0.lock.lock().unwrap_or_else(|e| e.into_inner());
        let _ = self
            .0
            .cvar
            .wait_timeout_while(guard, timeout, |_| !self.is_stopped())
            .unwrap_or_else(|e| e.into_inner());
        self.is_stopped()
    }
}

impl fmt::Debug for StopSignal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StopSignal")
            .field("stopped", &self.is_stopped())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::pulse::{Look, Pulse};

    #[test]
    fn a_late_beat_wins_against_the_claim() {
        let pulse = Pulse::new();
        assert_eq!(pulse.look(), Look::Quiet);
        pulse.beat();
        assert!(!pulse.claim_stall());
        assert_eq!(pulse.look(), Look::Beat);
        assert!(pulse.claim_stall());
        pulse.beat();
        assert_eq!(pulse.look(), Look::Stalled);
        assert!(!pulse.claim_stall());
    }
}
