//! Every monitor's and supervisor's stats through the
//! [`metrics`](https://docs.rs/metrics) facade (feature `metrics`), for
//! Prometheus or any other exporter.
//!
//! [`record()`] reads [`monitors()`](crate::monitors) and
//! [`supervisors()`](crate::supervisor::supervisors) and sets these, as absolute values:
//!
//! | name | kind | labels | what |
//! |---|---|---|---|
//! | `monitor_calls_total` | counter | `monitor`, `outcome` | calls by outcome: `ok` (returned), `busy` (refused at the cap), `timeout` (the caller got a timeout), `panic`, `cancelled` (dropped unfinished; a cancelled timeout counts as both `timeout` and `cancelled`), `shutting_down` (refused during a [`drain`](crate::drain())) |
//! | `monitor_calls_started_total` | counter | `monitor` | all calls, refused ones included |
//! | `monitor_in_flight` | gauge | `monitor` | calls whose body runs now |
//! | `monitor_max_active` | gauge | `monitor` | the cap, when there is one |
//! | `monitor_alerts_total` | counter | `monitor` | stall alerts |
//! | `monitor_blocked_polls_total` | counter | `monitor` | polls of an async call that blocked their worker thread past the blocking threshold or the timeout |
//! | `monitor_call_duration_seconds` | histogram | `monitor` | latency of measured calls that returned, in seconds |
//! | `monitor_supervisor_restarts_total` | counter | `supervisor`, `cause` (`any`, `stall`, `panic`, `error`) | restarts |
//! | `monitor_supervisor_missed_heartbeats_total` | counter | `supervisor` | heartbeats missed |
//! | `monitor_supervisor_running` | gauge | `supervisor` | 1 while it runs |
//! | `monitor_supervisor_gave_up` | gauge | `supervisor` | 1 once it gave up |
//! | `monitor_lock_order_inversions_total` | counter | | distinct lock-order cycles reported ([`lock_order_inversion_count`](crate::sync::lock_order_inversion_count)) |
//! | `monitor_leak_alerts_total` | counter | | leak alerts ([`watch_leaks`](crate::watch_leaks)) |
//!
//! # Counters by collection, latency by observation
//!
//! Each monitor already counts everything, in the few atomics of its hot
//! path. Reporting those counts through `metrics` handles on every call
//! would add a second set of atomic updates to every call; copying the
//! counters when they are read costs nothing per call and one pass over the
//! monitors per scrape. Counters and gauges are therefore as fresh as the
//! last [`record()`]: call it in the scrape handler, or every few seconds
//! for push exporters.
//!
//! Latency is a real histogram, which Prometheus can sum across instances
//! and query with `histogram_quantile`. A histogram cannot be set from
//! totals through the facade, so it is fed sample by sample: from the first
//! [`record()`] on, each measured call (a monitor's first 64 calls, then one
//! in 32 of its calls: the calls whose latency the monitor reads the clock
//! for anyway) is also recorded into `monitor_call_duration_seconds`. Its
//! `_count` is therefore the number of measured calls, not of all calls
//! (that is `monitor_calls_total`); its rate of `_sum` over `_count` is the
//! mean latency, and its quantiles are those of every call, sampled.
//!
//! With `metrics-exporter-prometheus`, give the histogram buckets, or the
//! exporter renders it as a summary:
//!
//! ```
//! use metrics_exporter_prometheus::{Matcher, PrometheusBuilder};
//!
//! let builder = PrometheusBuilder::new()
//!     .set_buckets_for_metric(
//!         Matcher::Full("monitor_call_duration_seconds".into()),
//!         monitor_runtime::metrics::LATENCY_BUCKETS,
//!     )
//!     .unwrap();
//! # let _ = builder;
//! ```
use metrics::{counter, gauge, histogram};

/// Upper bounds, in seconds, for the buckets of
/// `monitor_call_duration_seconds`: from 100 µs to 10 s, about three per
/// decade, as Prometheus' own client libraries space them.
///
/// ```
/// assert!(monitor_runtime::metrics::LATENCY_BUCKETS.is_sorted());
/// ```
pub const LATENCY_BUCKETS: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0,
];

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
    counter!("monitor_lock_order_inversions_total")
        .absolute(crate::sync::lock_order_inversion_count());
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
        counter!("monitor_alerts_total", "monitor" => name.clone()).absolute(s.alerts);
        counter!("monitor_blocked_polls_total", "monitor" => name.clone())
            .absolute(s.blocked_polls);
        let latency = name.clone();
        monitor.observe_latency(move || {
            let seconds = histogram!("monitor_call_duration_seconds", "monitor" => latency);
            Box::new(move |took| seconds.record(took.as_secs_f64()))
        });
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
