//! The tests that set what holds for the whole process (a dump sink, a
//! hook, a deadlock policy, a drain, the `tracing` dispatcher) or assert on
//! it (its threads, the once-a-second overdue report, a stall): one module
//! each, in one binary that the suite builds and links once. Each test
//! starts with `monitor_demo::own_process!()`, which runs it in a child
//! process of its own (this binary, run with the test's name), so that no
//! two of them share a process and the harness still runs them side by
//! side. The tests that set no such state are in `tests/calls/` and
//! `tests/locks/`, which run in one process each.

mod blocked_poll;
mod blocked_poll_threshold;
mod drain_stragglers;
mod drain_supervisors;
mod drain_zero_grace;
mod dump_all_threads;
mod dump_calls;
mod dump_hung_sink;
mod dump_no_eintr;
mod dump_on_signal;
mod dump_on_timeout;
mod dump_philosophers;
mod dump_sink_panic;
mod dump_sinks;
mod dump_stall;
mod dump_storm;
mod dump_threads;
mod dump_tracing;
mod dump_worker;
mod http_axum;
mod http_responses;
mod leak_calls;
mod leak_steady;
mod lock_order_off;
mod lock_order_panic;
mod lock_policy;
mod lock_stress;
mod monitor_alerts;
mod monitor_spans;
mod monitor_threads;
mod monitor_tracing;
mod supervisor_hung_sink;
mod supervisor_restarts;
mod supervisor_threads;
mod supervisor_tracing;
mod watchdog_late;
mod watchdog_quiet;

/// Every test of this binary starts with `own_process!()`: one without it
/// would run in the harness's process, beside the others.
#[test]
fn every_test_starts_with_own_process() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/isolated");
    let mut missing = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = source.lines().map(str::trim).collect();
        for (at, line) in lines.iter().enumerate() {
            let is_test = line.starts_with("#[test]") || line.starts_with("#[tokio::test");
            if !is_test || path.ends_with("main.rs") {
                continue;
            }
            // The body's first line follows the signature's `{`.
            let open = (at..lines.len())
                .find(|&i| lines[i].ends_with('{'))
                .unwrap();
            if lines.get(open + 1) != Some(&"monitor_demo::own_process!();") {
                missing.push(format!("{}:{}", path.display(), at + 1));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "tests without own_process!(): {missing:?}"
    );
}
