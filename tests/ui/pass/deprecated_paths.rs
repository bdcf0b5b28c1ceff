//! The crate-root paths of 0.1 still compile (deprecated, see
//! CHANGELOG.md): types through aliases, functions through wrappers, enum
//! variants and builders through the aliases.
#![allow(deprecated)]

use std::time::Duration;

use monitor_runtime::{
    Alert, Backoff, Config, DumpOptions, DumpReason, DumpSink, Heartbeat, Monitor, Restart, Stats,
    StopSignal, Supervisor, SupervisorBuilder, SupervisorHandle,
};

fn worker(beat: Heartbeat, stop: StopSignal) -> Result<(), String> {
    while !stop.wait(Duration::from_millis(1)) {
        beat.beat();
    }
    Ok(())
}

pub(crate) fn main() {
    let monitor: Monitor = Config::new("old-paths").max_active(2).build();
    let stats: Stats = monitor.stats();
    assert_eq!(stats.calls, 0);
    let _: Option<Alert> = None;

    monitor_runtime::set_dump_sink(DumpSink::Stderr).unwrap();
    let dump = DumpOptions::new().native_stacks(false).take();
    assert!(matches!(dump.reason, DumpReason::Requested));
    monitor_runtime::clear_alert_hook();

    let builder: SupervisorBuilder = Supervisor::builder("old-paths")
        .heartbeat(Duration::from_secs(1))
        .restart(Restart::Transient)
        .backoff(Backoff::Fixed(Duration::from_millis(1)));
    let handle: SupervisorHandle = builder.spawn_thread(worker).unwrap();
    assert!(monitor_runtime::supervisor("old-paths").is_some());
    assert!(!monitor_runtime::supervisors().is_empty());
    handle.stop_blocking().unwrap();
}
