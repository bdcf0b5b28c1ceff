//! Where a pending async call waits: the await points of its tokio task,
//! from tokio's task dumps.
//!
//! Feature `tokio-taskdump`, in builds with `--cfg tokio_unstable`, on Linux
//! (x86, x86_64, aarch64); elsewhere this module is inert and the dump
//! shows the logical stack of a waiting call only. The trade-off:
//!
//! * tokio's task dumps are an unstable API: the flag, and tokio may change
//!   them in any 1.x release;
//! * every annotated call records the tokio task it began in (and the first
//!   call on each thread of a runtime remembers the runtime): a few
//!   nanoseconds per call, paid only with the feature;
//! * taking a task dump pauses the runtime and re-polls every task in a
//!   tracing mode: expensive, so it is done only for dumps with native
//!   stacks (overdue calls, stalls, `dump()`), on a thread of its own,
//!   bounded by the same answer time as native captures;
//! * only multi-thread runtimes can be dumped from outside (tokio requires a
//!   current-thread runtime to dump itself), and a runtime whose workers are
//!   all blocked does not answer: the dump then goes on without await
//!   points.

pub(crate) use imp::*;

#[cfg(all(
    feature = "tokio-taskdump",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::collections::HashMap;
    use std::time::Duration;

    use tokio::runtime::RuntimeFlavor;

    use crate::task::{number, runtimes};

    /// The await points of the tasks in `wanted`, from every known
    /// multi-thread runtime that answers within `answer_within`.
    pub(crate) fn await_points(wanted: &[u64], answer_within: Duration) -> HashMap<u64, String> {
        let mut found = HashMap::new();
        if wanted.is_empty() {
            return found;
        }
        for handle in runtimes() {
            if handle.runtime_flavor() != RuntimeFlavor::MultiThread {
                continue;
            }
            let (tx, rx) = std::sync::mpsc::channel();
            // On a thread of its own: a runtime that does not answer keeps
            // that thread, never the caller.
            let spawned = std::thread::Builder::new()
                .name("monitor-taskdump".into())
                .spawn(move || {
                    let dump = handle.block_on(handle.dump());
                    let traces: Vec<(u64, String)> = dump
                        .tasks()
                        .iter()
                        .map(|task| (number(task.id()), task.trace().to_string()))
                        .collect();
                    let _ = tx.send(traces);
                });
            if spawned.is_err() {
                continue;
            }
            if let Ok(traces) = rx.recv_timeout(answer_within) {
                found.extend(traces.into_iter().filter(|(id, _)| wanted.contains(id)));
            }
        }
        found
    }
}

#[cfg(not(all(
    feature = "tokio-taskdump",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    use std::collections::HashMap;
    use std::time::Duration;

    pub(crate) fn await_points(_: &[u64], _: Duration) -> HashMap<u64, String> {
        HashMap::new()
    }
}
