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

use std::hash::{Hash, Hasher};

pub(crate) use imp::*;

/// Reads the number out of tokio's ids, which hash as one `u64`.
struct Number(u64);

impl Hasher for Number {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

/// A tokio id (task or runtime) as a number.
pub(crate) fn number(id: impl Hash) -> u64 {
    let mut n = Number(0);
    id.hash(&mut n);
    n.0
}

/// The tokio task running now, as a number (0 outside a task). With or
/// without the feature: a pending call records its task with it, so a
/// deadlock report finds the calls of a parked task.
#[inline]
pub(crate) fn task_now() -> u64 {
    tokio::task::try_id().map_or(0, number)
}

#[cfg(all(
    feature = "tokio-taskdump",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
))]
mod imp {
    use std::cell::Cell;
    use std::collections::HashMap;
    use std::sync::Mutex;
    use std::time::Duration;

    use tokio::runtime::{Handle, RuntimeFlavor};

    use super::number;

    static RUNTIMES: Mutex<Vec<(u64, Handle)>> = Mutex::new(Vec::new());

    thread_local! {
        static RUNTIME_SEEN: Cell<u64> = const { Cell::new(0) };
    }

    /// The tokio task running now (0 outside a task); remembers its runtime.
    pub(crate) fn current_task() -> u64 {
        let Some(task) = tokio::task::try_id() else {
            return 0;
        };
        if let Ok(handle) = Handle::try_current() {
            let runtime = number(handle.id());
            if RUNTIME_SEEN.with(|seen| seen.replace(runtime)) != runtime {
                let mut runtimes = RUNTIMES.lock().unwrap_or_else(|e| e.into_inner());
                if !runtimes.iter().any(|(id, _)| *id == runtime) {
                    runtimes.push((runtime, handle));
                }
            }
        }
        number(task)
    }

    /// The await points of the tasks in `wanted`, from every known
    /// multi-thread runtime that answers within `answer_within`.
    pub(crate) fn await_points(wanted: &[u64], answer_within: Duration) -> HashMap<u64, String> {
        let mut found = HashMap::new();
        if wanted.is_empty() {
            return found;
        }
        let runtimes: Vec<Handle> = RUNTIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, handle)| handle.clone())
            .collect();
        for handle in runtimes {
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

    /// Without task dumps, calls record no task.
    #[inline(always)]
    pub(crate) fn current_task() -> u64 {
        0
    }

    pub(crate) fn await_points(_: &[u64], _: Duration) -> HashMap<u64, String> {
        HashMap::new()
    }
}
