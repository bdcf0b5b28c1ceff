//! What the locks report: a [`Deadlock`] (its participants, the locks and
//! the places in the code), built from the wait-for graph's links, and the
//! waits in progress ([`lock_waits`]).
//!
//! Below the locks and the dump: the dump shows these, so nothing here
//! writes a dump (that is `acquire`'s job) or knows the lock types.

use std::fmt;
use std::panic::Location;
use std::time::Duration;

use serde::Serialize;

use super::graph::{self, Want, GRAPH};
use super::holder::TASK;

/// A deadlock: the waiters of a cycle, each holding a lock the previous
/// one waits for. One participant: a self-deadlock (a thread or task took
/// a lock it holds). `Display` writes the report; it is also the error of
/// `lock_checked`.
///
/// ```
/// # #[cfg(not(feature = "plain-locks"))] {
/// use monitor_runtime::sync::Mutex;
///
/// let lock = Mutex::with_name(0, "counter");
/// let _held = lock.lock().unwrap();
/// let deadlock = lock.lock_checked().unwrap_err();
/// assert!(deadlock.is_self_deadlock());
/// assert_eq!(deadlock.participants[0].waits_for.lock, "counter");
/// assert!(deadlock.to_string().contains("self-deadlock"));
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Deadlock {
    /// The participants, starting with the waiter that closed the cycle.
    pub participants: Vec<Participant>,
}

/// One participant of a [`Deadlock`].
///
/// ```
/// # #[cfg(not(feature = "plain-locks"))] {
/// use monitor_runtime::sync::Mutex;
/// let lock = Mutex::new(());
/// let _held = lock.lock().unwrap();
/// let me = &lock.lock_checked().unwrap_err().participants[0];
/// assert_eq!(me.holds.at.as_ref().unwrap().line, line!() - 2);
/// assert_eq!(me.waits_for.at.as_ref().unwrap().line, line!() - 2);
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct Participant {
    /// The thread or task.
    pub waiter: Waiter,
    /// The lock it holds that the previous participant waits for, and
    /// where it took it; or, if [`queued`](Participant::queued), the lock
    /// it is queued for.
    pub holds: LockSite,
    /// It does not hold [`holds`](Participant::holds): it is a writer
    /// waiting for that lock, and the previous participant, a reader,
    /// waits behind it (a read-write lock lets no new reader in while a
    /// writer waits, so a thread that reads a lock again while a writer
    /// waits for it deadlocks with the writer).
    pub queued: bool,
    /// The lock it waits for, and where it waits.
    pub waits_for: LockSite,
    /// The thread that this participant, a task, blocks while it waits (a
    /// std-style lock taken in a task blocks the thread it runs on), if
    /// the cycle goes through that thread: then [`held_by`](Participant::held_by)
    /// says which of what can only go on there holds the lock.
    pub thread: Option<Waiter>,
    /// Who holds [`holds`](Participant::holds), if not the participant
    /// itself: the [`thread`](Participant::thread) it blocks (a lock the
    /// thread took outside any task, before `block_on` say), or a task
    /// parked that can only run on that thread (a `LocalSet`'s task, whose
    /// std lock's guard never leaves its thread). Either can only let go
    /// once this participant's wait ends.
    pub held_by: Option<Waiter>,
    /// The annotated calls (`#[monitored]`, `#[stack_on_timeout]`) it is
    /// in, innermost first: function, file, line.
    pub stack: Vec<(&'static str, &'static str, u32)>,
}

/// A thread or a task that takes part in a deadlock.
///
/// ```
/// use monitor_runtime::sync::Waiter;
/// let waiter = Waiter::Task { id: 7 };
/// assert_eq!(waiter.to_string(), "task 7");
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum Waiter {
    /// A thread: its kernel id and name.
    Thread {
        /// Kernel thread id.
        tid: u32,
        /// Its name, if it has one.
        name: Option<String>,
    },
    /// A tokio task: its id.
    Task {
        /// `tokio::task::Id`, as a number.
        id: u64,
    },
}

impl fmt::Display for Waiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Waiter::Thread {
                tid,
                name: Some(name),
            } => write!(f, "thread {tid} '{name}'"),
            Waiter::Thread { tid, name: None } => write!(f, "thread {tid}"),
            Waiter::Task { id } => write!(f, "task {id}"),
        }
    }
}

/// A lock and a place in the code.
///
/// ```
/// # #[cfg(not(feature = "plain-locks"))] {
/// use monitor_runtime::sync::Mutex;
/// let lock = Mutex::with_name((), "a");
/// let _held = lock.lock().unwrap();
/// let site = &lock.lock_checked().unwrap_err().participants[0].holds;
/// assert_eq!(site.lock, "a");
/// assert!(site.to_string().starts_with("lock \"a\" at "));
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LockSite {
    /// The lock's name, or `@0x...` (its address) for an unnamed lock.
    pub lock: String,
    /// Where: acquired at (for a lock held), or waiting at.
    pub at: Option<CodeSite>,
}

impl fmt::Display for LockSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "lock \"{}\" at {at}", self.lock),
            None => write!(f, "lock \"{}\"", self.lock),
        }
    }
}

/// A `file:line:column` in the code.
///
/// ```
/// let site = monitor_runtime::sync::CodeSite::from(std::panic::Location::caller());
/// assert_eq!(site.line, line!() - 1);
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[non_exhaustive]
pub struct CodeSite {
    /// The file.
    pub file: &'static str,
    /// The line.
    pub line: u32,
    /// The column.
    pub column: u32,
}

impl From<&'static Location<'static>> for CodeSite {
    fn from(at: &'static Location<'static>) -> Self {
        CodeSite {
            file: at.file(),
            line: at.line(),
            column: at.column(),
        }
    }
}

impl fmt::Display for CodeSite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}:{}", self.file, self.line, self.column)
    }
}

impl Deadlock {
    /// Whether a thread or task took a lock it holds.
    ///
    /// ```
    /// # #[cfg(not(feature = "plain-locks"))] {
    /// let lock = monitor_runtime::sync::Mutex::new(());
    /// let _held = lock.lock().unwrap();
    /// assert!(lock.lock_checked().unwrap_err().is_self_deadlock());
    /// # }
    /// ```
    pub fn is_self_deadlock(&self) -> bool {
        self.participants.len() == 1
    }
}

impl fmt::Display for Deadlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let since = |p: &Participant| {
            p.holds
                .at
                .as_ref()
                .map_or_else(|| "an unknown place".to_owned(), |at| at.to_string())
        };
        if let [p] = &self.participants[..]
            && let Some(held_by) = &p.held_by
        {
            // The thread waits for itself: its task (or itself) for a lock
            // that it, or a task that only it can run, holds.
            let (thread, blocked) = match &p.thread {
                Some(thread) => (thread, format!("{} blocks it, waiting", p.waiter)),
                None => (&p.waiter, "it waits".to_owned()),
            };
            write!(
                f,
                "self-deadlock of {thread}: {blocked} for {}, which {} since {}",
                p.waits_for,
                if held_by == thread {
                    "the thread holds".to_owned()
                } else {
                    format!("{held_by} holds")
                },
                since(p),
            )?;
            if held_by != thread {
                write!(f, ", and {held_by} can only run on that thread")?;
            }
        } else if self.is_self_deadlock() {
            let p = &self.participants[0];
            write!(
                f,
                "self-deadlock: {} waits for {}, which it holds since {}",
                p.waiter,
                p.waits_for,
                since(p)
            )?;
        } else {
            let holds = if self.participants.iter().any(|p| p.queued) {
                "holds (or is queued first for)"
            } else {
                "holds"
            };
            write!(
                f,
                "deadlock: {} waiters in a cycle, each {holds} a lock the previous one waits for",
                self.participants.len()
            )?;
        }
        for p in &self.participants {
            write!(f, "\n  {}", p.waiter)?;
            if let Some(thread) = &p.thread {
                write!(f, ", blocking {thread}")?;
            }
            if p.queued {
                write!(
                    f,
                    "\n      is queued ahead for {} (a writer: readers wait behind it)",
                    p.holds
                )?;
            } else {
                write!(f, "\n      holds {}", p.holds)?;
            }
            match (&p.held_by, &p.thread) {
                (Some(held_by), Some(thread)) if held_by == thread => {
                    write!(f, " (taken by the thread, outside its tasks)")?;
                }
                (Some(held_by), _) => {
                    write!(
                        f,
                        " (taken by {held_by}, which can only run on that thread)"
                    )?;
                }
                (None, _) => {}
            }
            write!(f, "\n      waits for {}", p.waits_for)?;
            for (function, file, line) in &p.stack {
                write!(f, "\n      in {function} ({file}:{line})")?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for Deadlock {}

/// A thread or task waiting for a lock right now: who, for which lock,
/// where and for how long, and who holds the lock. A deadlock is a cycle
/// of these; a wait without a cycle that lasts is a holder that does not
/// let go (stuck in I/O, or waiting for something that is not a lock).
/// Dumps and the debug page list them.
///
/// ```
/// use std::sync::Arc;
/// use std::time::Duration;
/// use monitor_runtime::sync::{lock_waits, Mutex};
///
/// let lock = Arc::new(Mutex::with_name((), "slow disk"));
/// let held = lock.lock().unwrap();
/// let waiter = std::thread::spawn({
///     let lock = lock.clone();
///     move || drop(lock.lock().unwrap())
/// });
/// # #[cfg(not(feature = "plain-locks"))] {
/// let wait = loop {
///     if let Some(wait) = lock_waits().into_iter().find(|w| w.lock.lock == "slow disk") {
///         break wait;
///     }
///     std::thread::sleep(Duration::from_millis(1));
/// };
/// assert_eq!(wait.held_by.len(), 1);
/// assert!(wait.to_string().contains("waits for lock \"slow disk\""));
/// # }
/// drop(held);
/// waiter.join().unwrap();
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LockWait {
    /// The thread or task that waits.
    pub waiter: Waiter,
    /// The lock, and where it waits for it.
    pub lock: LockSite,
    /// Whether it wants the lock alone (a mutex, or a write; false for a
    /// condvar).
    pub exclusive: bool,
    /// It waits on a [`Condvar`](crate::sync::Condvar) for a notification,
    /// not for a lock: `lock` is the condvar (its name, and the line of the
    /// `wait`) and `held_by` is empty.
    pub condvar: bool,
    /// How long it has waited.
    #[serde(serialize_with = "crate::format::seconds")]
    pub waited: Duration,
    /// Who holds the lock, and where they took it (empty if the lock was
    /// let go just now).
    pub held_by: Vec<LockHolder>,
}

/// A holder of a lock someone waits for: see [`LockWait`].
///
/// ```
/// use monitor_runtime::sync::{LockHolder, Waiter};
/// fn describe(holder: &LockHolder) -> String {
///     holder.to_string()
/// }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LockHolder {
    /// The thread or task.
    pub holder: Waiter,
    /// Where it took the lock.
    pub at: Option<CodeSite>,
}

impl fmt::Display for LockHolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Some(at) => write!(f, "{} since {at}", self.holder),
            None => write!(f, "{}", self.holder),
        }
    }
}

impl fmt::Display for LockWait {
    /// `thread 12 'worker' waits for lock "db" (exclusive) at src/a.rs:3:9
    /// for 1.2s, held by thread 13 since src/b.rs:7:5`.
    /// A condvar wait: `thread 12 'worker' waits on condvar "ready" at
    /// src/a.rs:9:5 for 3.0s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.condvar {
            write!(f, "{} waits on condvar \"{}\"", self.waiter, self.lock.lock)?;
            if let Some(at) = &self.lock.at {
                write!(f, " at {at}")?;
            }
            return write!(f, " for {}", crate::format::human(self.waited));
        }
        write!(
            f,
            "{} waits for {} ({}) for {}",
            self.waiter,
            self.lock,
            if self.exclusive {
                "exclusive"
            } else {
                "shared"
            },
            crate::format::human(self.waited),
        )?;
        for (i, holder) in self.held_by.iter().enumerate() {
            let sep = if i == 0 { ", held by " } else { ", and " };
            write!(f, "{sep}{holder}")?;
        }
        Ok(())
    }
}

/// Every wait for a lock of this module in progress, oldest first. Empty
/// with the feature `plain-locks`.
///
/// ```
/// assert!(monitor_runtime::sync::lock_waits().is_empty());
/// ```
pub fn lock_waits() -> Vec<LockWait> {
    let now = std::time::Instant::now();
    GRAPH
        .waits()
        .into_iter()
        .map(|wait| LockWait {
            waiter: waiter(wait.waiter, wait.label),
            lock: LockSite {
                lock: lock_label(wait.lock, wait.lock_id),
                at: Some(wait.at.into()),
            },
            exclusive: wait.want == Want::Exclusive,
            condvar: wait.want == Want::Notify,
            waited: now.saturating_duration_since(wait.since),
            held_by: wait
                .holders
                .into_iter()
                .map(|(holder, at, label)| {
                    let label = label.or_else(|| {
                        let name = (holder & TASK == 0)
                            .then(|| crate::native::thread_name(holder as u32 as i32))?;
                        name.map(Box::from)
                    });
                    LockHolder {
                        holder: waiter(holder, label),
                        at: at.map(CodeSite::from),
                    }
                })
                .collect(),
        })
        .collect()
}

fn lock_label(name: &'static str, id: usize) -> String {
    if name.is_empty() {
        format!("@{id:#x}")
    } else {
        name.to_owned()
    }
}

pub(crate) fn waiter(holder: u64, label: Option<Box<str>>) -> Waiter {
    if holder & TASK != 0 {
        Waiter::Task { id: holder & !TASK }
    } else {
        Waiter::Thread {
            tid: holder as u32,
            name: label.map(String::from),
        }
    }
}

/// The annotated calls each holder is in, innermost first. The first
/// holder is the waiter that closed the cycle, running on this thread:
/// its calls are the ones on this thread now, and those its task left
/// pending (a task's calls know their task once they have been pending).
fn stacks(holders: &[u64]) -> Vec<Vec<(&'static str, &'static str, u32)>> {
    let calls = crate::inflight::snapshot();
    let here = crate::native::current_tid().0;
    holders
        .iter()
        .enumerate()
        .map(|(i, &holder)| {
            calls
                .iter()
                .rev()
                .filter(|call| {
                    let task = holder & TASK != 0 && call.task != 0 && call.task == holder & !TASK;
                    let thread = if i == 0 {
                        call.thread == here
                    } else {
                        holder & TASK == 0 && call.thread as u32 as u64 == holder
                    };
                    task || thread
                })
                .map(|call| (call.site.function, call.site.file, call.site.line))
                .collect()
        })
        .collect()
}

/// A deadlock's kind: each participant's thread name (none for a task),
/// its locks by name (empty if unnamed) and the places in the code where
/// it took the one and waits for the other, sorted. Deadlocks of one kind
/// on other locks are one bug (each request's tasks deadlocking their own
/// pair of locks): one dump between them.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Kind(Vec<KindOfLink>);

type Place = Option<(&'static str, u32, u32)>;
type KindOfLink = (Option<Box<str>>, &'static str, Place, &'static str, Place);

impl Kind {
    pub(crate) fn of(links: &[graph::Link]) -> Self {
        let place = |at: &'static Location<'static>| Some((at.file(), at.line(), at.column()));
        let mut kind: Vec<KindOfLink> = links
            .iter()
            .map(|link| {
                (
                    link.label.clone(),
                    link.holds,
                    link.held_at.and_then(place),
                    link.waits_for,
                    place(link.waits_at),
                )
            })
            .collect();
        kind.sort_unstable();
        Kind(kind)
    }
}

pub(crate) fn build(links: Vec<graph::Link>) -> Deadlock {
    let holders: Vec<u64> = links.iter().map(|link| link.holder).collect();
    let stacks = stacks(&holders);
    Deadlock {
        participants: links
            .into_iter()
            .zip(stacks)
            .map(|(link, stack)| Participant {
                thread: (link.thread != 0 && link.thread != link.holder)
                    .then(|| waiter(link.thread, link.thread_label.clone())),
                held_by: (link.held_by != 0).then(|| {
                    // A thread holder is the participant's thread: its name.
                    let label = (link.held_by == link.thread).then(|| link.thread_label.clone());
                    waiter(link.held_by, label.flatten())
                }),
                waiter: waiter(link.holder, link.label),
                holds: LockSite {
                    lock: lock_label(link.holds, link.holds_id),
                    at: link.held_at.map(CodeSite::from),
                },
                queued: link.queued,
                waits_for: LockSite {
                    lock: lock_label(link.waits_for, link.waits_for_id),
                    at: Some(link.waits_at.into()),
                },
                stack,
            })
            .collect(),
    }
}
