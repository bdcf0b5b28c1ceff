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
