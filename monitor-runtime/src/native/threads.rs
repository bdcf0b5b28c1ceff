//! The threads of this process, as the kernel lists them in
//! `/proc/self/task`: id, name and scheduler state, for a dump of every
//! thread. Reads files only; signals nobody.

use std::fmt;

use super::Tid;

/// What the scheduler says a thread is doing: the third field of
/// `/proc/self/task/TID/stat` (proc(5)).
///
/// ```
/// use monitor_runtime::dump::ThreadState;
/// assert_eq!(ThreadState::Sleeping.to_string(), "sleeping");
/// assert_eq!(ThreadState::Other('W').to_string(), "state W");
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ThreadState {
    /// `R`: running, or ready to run.
    Running,
    /// `S`: waiting, interruptibly (a lock, a channel, a socket, a sleep).
    Sleeping,
    /// `D`: waiting, uninterruptibly (usually disk I/O).
    DiskSleep,
    /// `T` or `t`: stopped by a signal, or by a debugger.
    Stopped,
    /// `Z` or `X`: exited, not yet reaped.
    Zombie,
    /// `I`: an idle kernel thread.
    Idle,
    /// Another letter, as the kernel wrote it.
    Other(char),
    /// The state could not be read (the thread exited meanwhile, or this is
    /// not Linux).
    Unknown,
}

impl ThreadState {
    /// The state of a letter of `/proc/.../stat`.
    pub(crate) fn from_letter(letter: char) -> Self {
        match letter {
            'R' => ThreadState::Running,
            'S' => ThreadState::Sleeping,
            'D' => ThreadState::DiskSleep,
            'T' | 't' => ThreadState::Stopped,
            'Z' | 'X' | 'x' => ThreadState::Zombie,
            'I' => ThreadState::Idle,
            other => ThreadState::Other(other),
        }
    }

    /// One word, as the dump's text and the profile's labels show it.
    pub fn as_str(&self) -> &'static str {
        match self {
            ThreadState::Running => "running",
            ThreadState::Sleeping => "sleeping",
            ThreadState::DiskSleep => "disk sleep",
            ThreadState::Stopped => "stopped",
            ThreadState::Zombie => "zombie",
            ThreadState::Idle => "idle",
            ThreadState::Other(_) => "other",
            ThreadState::Unknown => "unknown",
        }
    }
}

impl fmt::Display for ThreadState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThreadState::Other(letter) => write!(f, "state {letter}"),
            state => f.write_str(state.as_str()),
        }
    }
}

/// One thread of the process.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Thread {
    pub(crate) tid: Tid,
    /// From `std` for the calling thread, else the kernel's `comm` (at most
    /// 15 bytes).
    pub(crate) name: Option<String>,
    pub(crate) state: ThreadState,
}

/// Every thread of this process, by id; empty outside Linux or if
/// `/proc` is not mounted.
pub(crate) fn threads() -> Vec<Thread> {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return Vec::new();
    };
    let me = super::current_tid();
    let mut threads: Vec<Thread> = tasks
        .filter_map(|task| task.ok()?.file_name().to_str()?.parse::<i32>().ok())
        .map(|tid| {
            let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"));
            let (name, state) = match stat.as_deref().map(parse_stat) {
                Ok(Some((comm, state))) => (Some(comm.to_owned()), state),
                _ => (None, ThreadState::Unknown),
            };
            // This thread's full name, where std knows it.
            let name = if Tid(tid) == me {
                super::thread_name(tid).or(name)
            } else {
                name.filter(|name| !name.is_empty())
            };
            Thread {
                tid: Tid(tid),
                name,
                state,
            }
        })
        .collect();
    threads.sort_unstable_by_key(|thread| thread.tid);
    threads
}

/// `TID (COMM) STATE ...`: the name, which may hold spaces and
/// parentheses, ends at the last `)`.
fn parse_stat(stat: &str) -> Option<(&str, ThreadState)> {
    let open = stat.find('(')?;
    let close = stat.rfind(')')?;
    let comm = stat.get(open + 1..close)?;
    let letter = stat.get(close + 1..)?.trim_start().chars().next()?;
    Some((comm, ThreadState::from_letter(letter)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_kernels_stat_line() {
        let line = "4242 (my (odd) name) S 1 4242 4242 0 -1 4194624 ...";
        assert_eq!(
            parse_stat(line),
            Some(("my (odd) name", ThreadState::Sleeping))
        );
        assert_eq!(
            parse_stat("1 (x) R 0").map(|(_, s)| s),
            Some(ThreadState::Running)
        );
        assert_eq!(parse_stat("garbage"), None);
    }

    #[cfg(target_os = "linux")]
    #[test]
    fn lists_a_named_thread_and_this_one() {
        let (tx, rx) = std::sync::mpsc::channel::<()>();
        let (tid_tx, tid_rx) = std::sync::mpsc::channel();
        let parked = std::thread::Builder::new()
            .name("threads-test".into())
            .spawn(move || {
                tid_tx.send(super::super::current_tid()).unwrap();
                let _ = rx.recv();
            })
            .unwrap();
        let tid = tid_rx.recv().unwrap();
        let threads = threads();
        let found = threads.iter().find(|t| t.tid == tid).expect("listed");
        assert_eq!(found.name.as_deref(), Some("threads-test"));
        assert!(threads.iter().any(|t| t.tid == super::super::current_tid()));
        drop(tx);
        parked.join().unwrap();
    }
}
