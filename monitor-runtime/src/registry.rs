//! The process-wide lists of monitors and supervisors, by name.

use std::sync::Mutex;

use crate::monitor::{Monitor, Weak};
use crate::supervisor::{State, Supervisor};

static MONITORS: Mutex<Vec<Weak>> = Mutex::new(Vec::new());

pub(crate) fn add(monitor: Monitor) {
    let mut list = MONITORS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.upgrade().is_some());
    list.push(monitor.downgrade());
}

pub(crate) fn remove(monitor: &Monitor) {
    let mut list = MONITORS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.upgrade().is_some_and(|m| !m.same(monitor)));
}

/// Every monitor of the process that is running: those of `#[monitored]`
/// functions that have been called at least once, and those built with
/// [`Monitor::new`] and not yet stopped or dropped; in the order they
/// started.
///
/// ```
/// let db = monitor_runtime::Monitor::builder("registry-doc").build();
/// let names: Vec<String> = monitor_runtime::monitors()
///     .iter()
///     .map(|m| m.name().to_owned())
///     .collect();
/// assert!(names.contains(&"registry-doc".to_owned()));
/// ```
pub fn monitors() -> Vec<Monitor> {
    let list = MONITORS.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().filter_map(Weak::upgrade).collect()
}

/// The running monitor named `name` (the first one, if several share it).
/// A `#[monitored]` function's monitor is named after its module path and
/// function, unless its `name` key says otherwise.
///
/// ```
/// #[monitor_runtime::monitored(max_active = 4)]
/// fn lookup(key: u32) -> Result<u32, monitor_runtime::Error> {
///     Ok(key * 2)
/// }
///
/// lookup(21).unwrap();
/// let monitor = monitor_runtime::monitor("rust_out::lookup").expect("listed once called");
/// assert_eq!(monitor.stats().completed, 1);
/// ```
pub fn monitor(name: &str) -> Option<Monitor> {
    monitors().into_iter().find(|m| m.name() == name)
}

static SUPERVISORS: Mutex<Vec<std::sync::Weak<State>>> = Mutex::new(Vec::new());

pub(crate) fn add_supervisor(supervisor: &Supervisor) {
    let mut list = SUPERVISORS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.strong_count() > 0);
    list.push(std::sync::Arc::downgrade(&supervisor.0));
}

pub(crate) fn remove_supervisor(supervisor: &Supervisor) {
    let mut list = SUPERVISORS.lock().unwrap_or_else(|e| e.into_inner());
    list.retain(|w| w.upgrade().is_some_and(|s| !Supervisor(s).same(supervisor)));
}

/// Every running supervisor, in the order they started (see
/// [`crate::supervisors`]).
pub(crate) fn supervisors() -> Vec<Supervisor> {
    let list = SUPERVISORS.lock().unwrap_or_else(|e| e.into_inner());
    list.iter().filter_map(|w| w.upgrade()).map(Supervisor).collect()
}
