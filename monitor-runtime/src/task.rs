//! Which tokio task is running: task ids as numbers, for in-flight calls
//! and lock holders. With the feature `tokio-taskdump` (and
//! `--cfg tokio_unstable`, on Linux x86, x86_64, aarch64), the first call
//! on each thread of a runtime also remembers that runtime, so that the
//! dump can ask it for its task dump (`dump/tasks.rs`).

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
#[inline]
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
    use std::sync::Mutex;

    use tokio::runtime::Handle;

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

    /// Every runtime that ran an annotated call.
    pub(crate) fn runtimes() -> Vec<Handle> {
        RUNTIMES
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(_, handle)| handle.clone())
            .collect()
    }
}

#[cfg(not(all(
    feature = "tokio-taskdump",
    tokio_unstable,
    target_os = "linux",
    any(target_arch = "x86", target_arch = "x86_64", target_arch = "aarch64")
)))]
mod imp {
    /// Without task dumps, calls record no task.
    #[inline(always)]
    pub(crate) fn current_task() -> u64 {
        0
    }
}
