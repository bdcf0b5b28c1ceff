//! Feature `metrics`: the monitors' stats, read back from `metrics-util`'s
//! debugging recorder.

use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use monitor_runtime::{monitored, Error};

#[monitored(max_active = 1)]
fn work(inner: bool) -> Result<u32, Error> {
    if inner {
        // A nested call of the same monitor is refused: busy.
        assert!(work(false).is_err());
    }
    Ok(1)
}

#[derive(Clone, Debug)]
enum Value {
    Counter(u64),
    Gauge(f64),
    Histogram(Vec<f64>),
}

type Snapshot = Vec<(String, Vec<(String, String)>, Value)>;

fn find(snapshot: &Snapshot, name: &str, labels: &[(&str, &str)]) -> Option<Value> {
    snapshot
        .iter()
        .find(|(n, l, _)| {
            n == name
                && labels
                    .iter()
                    .all(|(k, v)| l.iter().any(|(lk, lv)| lk == k && lv == v))
        })
        .map(|t| t.2.clone())
}

fn read(snapshotter: &metrics_util::debugging::Snapshotter) -> Snapshot {
    snapshotter
        .snapshot()
        .into_vec()
        .into_iter()
        .map(|(key, _, _, value)| {
            let key = key.key();
            let labels = key
                .labels()
                .map(|l| (l.key().to_owned(), l.value().to_owned()))
                .collect();
            let value = match value {
                DebugValue::Counter(v) => Value::Counter(v),
                DebugValue::Gauge(v) => Value::Gauge(v.into_inner()),
                DebugValue::Histogram(v) => {
                    Value::Histogram(v.into_iter().map(|x| x.into_inner()).collect())
                }
            };
            (key.name().to_owned(), labels, value)
        })
        .collect()
}

#[test]
fn record_sets_counts_gauges_and_latency() {
    for _ in 0..3 {
        work(true).unwrap();
    }
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    metrics::with_local_recorder(&recorder, monitor_runtime::metrics::record);
    let snapshot = read(&snapshotter);
    let m = ("monitor", "calls::metrics_facade::work");
    let counter = |name, labels: &[(&str, &str)]| match find(&snapshot, name, labels) {
        Some(Value::Counter(v)) => v,
        other => panic!("{name} {labels:?}: {other:?} in {snapshot:?}"),
    };
    let gauge = |name, labels: &[(&str, &str)]| match find(&snapshot, name, labels) {
        Some(Value::Gauge(v)) => v,
        other => panic!("{name} {labels:?}: {other:?}"),
    };
    assert_eq!(counter("monitor_calls_total", &[m, ("outcome", "ok")]), 3);
    assert_eq!(counter("monitor_calls_total", &[m, ("outcome", "busy")]), 3);
    assert_eq!(
        counter("monitor_calls_total", &[m, ("outcome", "timeout")]),
        0
    );
    assert_eq!(counter("monitor_calls_started_total", &[m]), 6);
    // Busy and timeouts are outcomes of `monitor_calls_total`, not metrics
    // of their own that repeat it.
    assert!(find(&snapshot, "monitor_busy_total", &[m]).is_none());
    assert!(find(&snapshot, "monitor_timeouts_total", &[m]).is_none());
    assert_eq!(counter("monitor_alerts_total", &[m]), 0);
    assert_eq!(counter("monitor_blocked_polls_total", &[m]), 0);
    assert_eq!(gauge("monitor_in_flight", &[m]), 0.0);
    assert_eq!(gauge("monitor_max_active", &[m]), 1.0);
    // Latency is a histogram fed by measured calls from the first record()
    // on (a young monitor measures every call).
    assert!(
        !matches!(
            find(&snapshot, "monitor_call_duration_seconds", &[m]),
            Some(Value::Gauge(_))
        ),
        "latency is not a gauge"
    );
    for _ in 0..2 {
        work(false).unwrap();
    }
    let later = read(&snapshotter);
    match find(&later, "monitor_call_duration_seconds", &[m]) {
        Some(Value::Histogram(seconds)) => {
            assert_eq!(seconds.len(), 2, "{seconds:?}");
            assert!(seconds.iter().all(|&s| s > 0.0 && s < 1.0), "{seconds:?}");
        }
        other => panic!("latency histogram: {other:?} in {later:?}"),
    }
}
