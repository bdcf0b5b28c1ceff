//! Monitored calls, their dumps, the debug page and the attributes (and
//! the runs of real Chromium, Prometheus, `go tool pprof` and a load
//! generator, ignored unless asked for by name, as `.ci/run` does): the
//! test files that set no process-wide state (no dump sink, hook, policy or
//! drain), one module each, in one binary so that the suite builds and links
//! it once and runs their tests side by side. A file that sets such state
//! is a test binary of its own (`tests/*.rs`).

mod await_points;
mod drain_http;
mod dump_native;
mod http_access;
mod http_chromium;
mod http_load;
mod http_pprof;
mod leak_debug_page;
mod macro_lint;
mod metrics_facade;
mod metrics_prometheus;
mod monitor_api;
mod monitor_attribute;
mod monitor_outcomes;
mod monitor_timeouts;
mod stack_attribute;
mod tower_layer;
mod ui_pass;
