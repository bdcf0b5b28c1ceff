//! Every monitor's and supervisor's stats through the
//! [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), for
//! Prometheus or any other exporter.
//!
//! [`record()`] reads [`monitors()`](crate::monitors) and
//! [`supervisors()`](crate::supervisor::supervisors) and sets these, as absolute values:
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `monitor_calls_total` | counter | `monitor`, `outcome` | calls by outcome: `ok` (returned), `busy`, `timeout`, `panic`, `cancelled` (dropped unfinished; a cancelled timeout counts as both `timeout` and `cancelled`), `shutting_down` (refused during a [`drain`](crate::drain())) |
//! | `monitor_calls_started_total` | counter | `monitor` | all calls, refused ones included |
//! | `monitor_in_flight` | gauge | `monitor` | calls whose body runs now |
//! | `monitor_max_active` | gauge | `monitor` | the cap, when there is one |
//! | `monitor_busy_total` | counter | `monitor` | calls refused at the cap |
//! | `monitor_timeouts_total` | counter | `monitor` | callers that got a timeout |
//! | `monitor_alerts_total` | counter | `monitor` | stall alerts |
//! | `monitor_call_duration_seconds` | gauge | `monitor`, `quantile` (`0.5`, `0.99`, `1`) | latency of calls that returned, as a summary |
//! | `monitor_supervisor_restarts_total` | counter | `supervisor`, `cause` (`any`, `stall`, `panic`, `error`) | restarts |
//! | `monitor_supervisor_missed_heartbeats_total` | counter | `supervisor` | heartbeats missed |
//! | `monitor_supervisor_running` | gauge | `supervisor` | 1 while it runs |
//! | `monitor_supervisor_gave_up` | gauge | `supervisor` | 1 once it gave up |
//! | `monitor_leak_alerts_total` | counter | | leak alerts ([`watch_leaks`](crate::watch_leaks)) |
//!
//! # Why a collector, not per-call handles
//!
//! Each monitor already counts everything, in the few atomics of its hot
//! path. Reporting through pre-registered `metrics` handles on every call
//! would add a second set of atomic updates (and, for histograms, whatever
//! the recorder does per sample) to every call; copying the monitors'
//! counters when they are read costs nothing per call, and one pass over
//! the monitors per scrape. The price: latency is a summary (quantiles from
//! the monitor's sampled histogram), not a Prometheus histogram that can be
//! summed across machines; and values are as fresh as the last
//! [`record()`] (call it in the scrape handler, or every few seconds for
//! push exporters).
use metrics::{counter, gauge};

/// Sets every metric of the [table](crate::metrics) from the current stats
/// of every monitor and supervisor.
///
/// ```
/// use metrics_util::debugging::DebuggingRecorder;
///
/// let monitor = monitor_runtime::Monitor::builder("db").max_active(4).build();
/// monitor.call(|| ()).unwrap();
///
/// let recorder = DebuggingRecorder::new();
/// let snapshotter = recorder.snapshotter();
/// metrics::with_local_recorder(&recorder, monitor_runtime::metrics::record);
/// let names: Vec<String> = snapshotter
///     .snapshot()
///     .into_vec()
///     .into_iter()
///     .map(|(key, ..)| key.key().name().to_owned())
///     .collect();
/// assert!(names.iter().any(|n| n == "monitor_calls_total"));
/// assert!(names.iter().any(|n| n == "monitor_in_flight"));
/// ```
pub fn record() {
    for monitor in crate::monitors() {
        let name = monitor.name().to_owned();
        let s = monitor.stats();
        for (outcome, value) in [
            ("ok", s.completed),
            ("busy", s.busy),
            ("timeout", s.timeouts),
            ("panic", s.panics),
            ("cancelled", s.cancelled),
            ("shutting_down", s.shutting_down),
        ] {
            counter!("monitor_calls_total", "monitor" => name.clone(), "outcome" => outcome)
                .absolute(value);
        }
        counter!("monitor_calls_started_total", "monitor" => name.clone()).absolute(s.calls);
        gauge!("monitor_in_flight", "monitor" => name.clone()).set(s.in_flight as f64);
        if let Some(max) = monitor.max_active() {
            gauge!("monitor_max_active", "monitor" => name.clone()).set(max as f64);
        }
        counter!("monitor_busy_total", "monitor" => name.clone()).absolute(s.busy);
        counter!("monitor_timeouts_total", "monitor" => name.clone()).absolute(s.timeouts);
        counter!("monitor_alerts_total", "monitor" => name.clone()).absolute(s.alerts);
        if s.latency.samples > 0 {
            for (quantile, value) in [
                ("0.5", s.latency.p50),
                ("0.99", s.latency.p99),
                ("1", s.latency.max),
            ] {
                gauge!("monitor_call_duration_seconds", "monitor" => name.clone(), "quantile" => quantile)
                    .set(value.as_secs_f64());
            }
        }
    }
    for supervisor in crate::supervisor::supervisors() {
        let name = supervisor.name().to_owned();
        let s = supervisor.stats();
        for (cause, value) in [
            ("any", s.restarts),
            ("stall", s.stall_restarts),
            ("panic", s.panic_restarts),
            ("error", s.error_restarts),
        ] {
            counter!("monitor_supervisor_restarts_total", "supervisor" => name.clone(), "cause" => cause)
                .absolute(value);
        }
        counter!("monitor_supervisor_missed_heartbeats_total", "supervisor" => name.clone())
            .absolute(s.missed_heartbeats);
        gauge!("monitor_supervisor_running", "supervisor" => name.clone())
            .set(f64::from(u8::from(s.running)));
        gauge!("monitor_supervisor_gave_up", "supervisor" => name.clone())
            .set(f64::from(u8::from(s.gave_up)));
    }
    counter!("monitor_leak_alerts_total").absolute(crate::leak::leak_alerts());
}
