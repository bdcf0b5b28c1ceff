//! Helpers shared by the workspace's integration tests (`tests/`) and
//! examples (`examples/`). Not published.

/// How many threads of this process have a name starting with `prefix`
/// (Linux: read from `/proc/self/task`; elsewhere `None`).
///
/// ```
/// assert!(monitor_demo::threads_named("no-such-thread").unwrap_or(0) == 0);
/// ```
pub fn threads_named(prefix: &str) -> Option<usize> {
    let tasks = std::fs::read_dir("/proc/self/task").ok()?;
    Some(
        tasks
            .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
            .filter(|name| name.trim_end().starts_with(prefix))
            .count(),
    )
}
