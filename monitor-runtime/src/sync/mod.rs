//! Locks that report a deadlock the moment it forms.
//!
//! [`Mutex`] and [`RwLock`] have the API of `std::sync`'s (guards,
//! `try_lock`, poisoning), [`AsyncMutex`] and [`AsyncRwLock`] that of
//! tokio's. Each lock knows who holds it (a thread, or a tokio task) and
//! where it was taken (`#[track_caller]`). When a thread or task has to
//! wait, and only then, it looks along the wait-for graph: if the holder of
//! the lock waits for a lock that it (or the holder of that one, and so
//! on) holds, the wait closes a cycle: a deadlock. The waiter that closes
//! it writes a [`Deadlock`] report at once, as a dump
//! ([`DumpReason::Deadlock`](crate::DumpReason::Deadlock)) to the sink set
//! with [`set_dump_sink`](crate::set_dump_sink): every participant, the
//! lock it holds and where it took it, the lock it waits for and where, and
//! the annotated calls it is in. Taking a lock that the same thread or task
//! holds already is reported as a self-deadlock; reading a read-write lock
//! again while a writer waits for it, as a cycle with that writer (new
//! readers wait behind a queued writer).
//!
//! What happens next is the [`DeadlockPolicy`]: keep waiting (the default,
//! as a plain lock would), or panic in the waiter that closed the cycle.
//! `lock_checked` returns the [`Deadlock`] as an error instead.
//!
//! ```
//! use monitor_runtime::sync::Mutex;
//!
//! static ACCOUNTS: Mutex<Vec<u64>> = Mutex::with_name(Vec::new(), "accounts");
//! ACCOUNTS.lock().unwrap().push(7);
//! assert_eq!(*ACCOUNTS.lock().unwrap(), [7]);
//! ```
//!
//! Cost: an uncontended lock and unlock is the inner lock's plus two
//! relaxed stores and a thread-local read; nothing global is touched until
//! a thread must wait. With the Cargo feature `plain-locks`, the locks keep
//! their API and do no bookkeeping at all: nothing is reported, and the
//! `*_checked` acquisitions never return a `Deadlock` (they wait, as the
//! plain ones do).

use std::fmt;
use std::panic::Location;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{LockResult, PoisonError, TryLockError, TryLockResult};
use std::time::Duration;

use serde::Serialize;

/// `Deref` (and `DerefMut`, with `mut`), `Debug` and `Display` for a guard,
/// through its field that derefs to the value, as std's and tokio's guards
/// have them.
macro_rules! guard_traits {
    ($guard:ident<$($lt:lifetime,)? $($param:ident),+> => $target:ident, $field:ident, mut) => {
        guard_traits!($guard<$($lt,)? $($param),+> => $target, $field);
        impl<$($param: ?Sized),+> ::std::ops::DerefMut for $guard<$($lt,)? $($param),+> {
            fn deref_mut(&mut self) -> &mut $target {
                &mut self.$field
            }
        }
    };
    ($guard:ident<$($lt:lifetime,)? $($param:ident),+> => $target:ident, $field:ident) => {
        impl<$($param: ?Sized),+> ::std::ops::Deref for $guard<$($lt,)? $($param),+> {
            type Target = $target;
            fn deref(&self) -> &$target {
                &self.$field
            }
        }
        impl<$($param: ?Sized),+> ::std::fmt::Debug for $guard<$($lt,)? $($param),+>
        where
            $target: ::std::fmt::Debug,
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Debug::fmt(&**self, f)
            }
        }
        impl<$($param: ?Sized),+> ::std::fmt::Display for $guard<$($lt,)? $($param),+>
        where
            $target: ::std::fmt::Display,
        {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                ::std::fmt::Display::fmt(&**self, f)
            }
        }
    };
}

pub(crate) mod graph;
mod std_style;
mod tokio_style;

pub use std_style::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
pub use tokio_style::{
    AsyncMutex, AsyncMutexGuard, AsyncRwLock, AsyncRwLockMappedWriteGuard, AsyncRwLockReadGuard,
    AsyncRwLockWriteGuard, MappedAsyncMutexGuard, OwnedAsyncMutexGuard,
    OwnedAsyncRwLockMappedWriteGuard, OwnedAsyncRwLockReadGuard, OwnedAsyncRwLockWriteGuard,
    OwnedMappedAsyncMutexGuard,
};

use graph::{Graph, LockState, Want};

/// Whether the locks do their bookkeeping (feature `plain-locks` off).
const TRACK: bool = !cfg!(feature = "plain-locks");

static GRAPH: Graph = Graph::new();

/// The top bit marks a task id.
const TASK: u64 = 1 << 63;

/// The calling thread, as a holder id.
#[inline]
fn thread_holder() -> u64 {
    crate::native::current_tid().0 as u32 as u64
}

/// The calling task (or thread, outside a task), as a holder id.
#[inline]
fn task_holder() -> u64 {
    match ::tokio::task::try_id() {
        Some(id) => TASK | task_number(id),
        None => thread_holder(),
    }
}

fn task_number(id: ::tokio::task::Id) -> u64 {
    crate::task::number(id) & !TASK
}

/// What a waiter does when its wait closes a cycle (or it takes a lock it
/// holds), for every lock: see [`set_deadlock_policy`].
///
/// ```
/// use monitor_runtime::sync::{deadlock_policy, DeadlockPolicy};
/// assert_eq!(deadlock_policy(), DeadlockPolicy::Report);
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeadlockPolicy {
    /// Write the report and keep waiting, as a plain lock would (default).
    Report,
    /// Write the report, then panic in the waiter that closed the cycle;
    /// its guards unwind and release what it holds.
    Panic,
}

static POLICY: AtomicU8 = AtomicU8::new(0);

/// Sets what a waiter does when its wait closes a cycle.
///
/// ```
/// use monitor_runtime::sync::{deadlock_policy, set_deadlock_policy, DeadlockPolicy};
/// set_deadlock_policy(DeadlockPolicy::Panic);
/// assert_eq!(deadlock_policy(), DeadlockPolicy::Panic);
/// set_deadlock_policy(DeadlockPolicy::Report);
/// ```
pub fn set_deadlock_policy(policy: DeadlockPolicy) {
    POLICY.store(policy as u8, Ordering::Relaxed);
}

/// The policy in force.
///
/// ```
/// let _ = monitor_runtime::sync::deadlock_policy();
/// ```
pub fn deadlock_policy() -> DeadlockPolicy {
    match POLICY.load(Ordering::Relaxed) {
        1 => DeadlockPolicy::Panic,
        _ => DeadlockPolicy::Report,
    }
}

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
        if self.is_self_deadlock() {
            let p = &self.participants[0];
            write!(
                f,
                "self-deadlock: {} waits for {}, which it holds since {}",
                p.waiter,
                p.waits_for,
                p.holds
                    .at
                    .as_ref()
                    .map_or_else(|| "an unknown place".to_owned(), |at| at.to_string())
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
            if p.queued {
                write!(
                    f,
                    "\n  {}\n      is queued ahead for {} (a writer: readers wait behind it)",
                    p.waiter, p.holds
                )?;
            } else {
                write!(f, "\n  {}\n      holds {}", p.waiter, p.holds)?;
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
    /// Whether it wants the lock alone (a mutex, or a write).
    pub exclusive: bool,
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
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

fn waiter(holder: u64, label: Option<Box<str>>) -> Waiter {
    if holder & TASK != 0 {
        Waiter::Task { id: holder & !TASK }
    } else {
        Waiter::Thread {
            tid: holder as u32,
            name: label.map(String::from),
        }
    }
}

/// What a waiter is called in reports: a thread's name. Only on the
/// contended path (it allocates).
fn label(me: u64) -> Option<Box<str>> {
    if me & TASK != 0 {
        return None;
    }
    std::thread::current().name().map(Box::from)
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

fn build(links: Vec<graph::Link>) -> Deadlock {
    let holders: Vec<u64> = links.iter().map(|link| link.holder).collect();
    let stacks = stacks(&holders);
    Deadlock {
        participants: links
            .into_iter()
            .zip(stacks)
            .map(|(link, stack)| Participant {
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

/// Writes the report to the dump sink.
fn report(deadlock: &Deadlock) {
    let reason = crate::dump::DumpReason::Deadlock(deadlock.clone());
    crate::dump::take(
        reason,
        &crate::dump::DumpOptions::new().native_stacks(false),
    )
    .emit();
}

/// A lock that was waited for drops: see `LockState`'s `Drop`.
pub(crate) fn lock_dropped(lock: &LockState) {
    GRAPH.forget_lock(lock);
}

/// A registered wait; dropping it (after the lock is taken, or on unwind,
/// or when a future is cancelled) removes it.
pub(crate) struct Waiting(u64);

impl Drop for Waiting {
    fn drop(&mut self) {
        if self.0 != 0 {
            GRAPH.done(self.0);
        }
    }
}

/// Takes a std lock for `me` at `at`: `try_take` first (the uncontended
/// path), else the contended one: register the wait (reporting the
/// deadlock it closes), `take`, unregister. Without bookkeeping, `take`.
#[track_caller]
#[inline]
pub(crate) fn take_std<G>(
    state: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
    try_take: impl FnOnce() -> TryLockResult<G>,
    take: impl FnOnce() -> LockResult<G>,
) -> Result<LockResult<G>, Deadlock> {
    if !TRACK {
        return Ok(take());
    }
    match try_take() {
        Ok(guard) => Ok(Ok(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Ok(Err(poisoned)),
        Err(TryLockError::WouldBlock) => {
            let waiting = before_wait(state, me, at, want, checked)?;
            let result = take();
            drop(waiting);
            Ok(result)
        }
    }
}

/// `f` on the guard, poisoned or not.
#[inline]
pub(crate) fn map_poison<G, H>(result: LockResult<G>, f: impl FnOnce(G) -> H) -> LockResult<H> {
    match result {
        Ok(guard) => Ok(f(guard)),
        Err(poisoned) => Err(PoisonError::new(f(poisoned.into_inner()))),
    }
}

/// `f` on the guard of a `try_*`, poisoned or not.
#[inline]
pub(crate) fn map_try<G, H>(result: TryLockResult<G>, f: impl FnOnce(G) -> H) -> TryLockResult<H> {
    match result {
        Ok(guard) => Ok(f(guard)),
        Err(TryLockError::Poisoned(poisoned)) => Err(TryLockError::Poisoned(PoisonError::new(f(
            poisoned.into_inner(),
        )))),
        Err(TryLockError::WouldBlock) => Err(TryLockError::WouldBlock),
    }
}

/// The contended path: `me` must wait for `lock` at `at`. Reports a
/// self-deadlock or a cycle, then applies the policy (`checked`: return
/// the deadlock). On `Ok`, the caller waits and then drops the `Waiting`.
#[cold]
#[inline(never)]
#[track_caller]
pub(crate) fn before_wait(
    lock: &LockState,
    me: u64,
    at: &'static Location<'static>,
    want: Want,
    checked: bool,
) -> Result<Waiting, Deadlock> {
    if !TRACK {
        return Ok(Waiting(0));
    }
    let held = if want == Want::Exclusive {
        lock.held_by(me)
    } else {
        (lock.owner() == me).then(|| lock.held_by(me).flatten())
    };
    if let Some(held_at) = held {
        let id = lock as *const LockState as usize;
        let deadlock = build(vec![graph::Link {
            holder: me,
            label: label(me),
            holds: lock.name,
            holds_id: id,
            held_at,
            queued: false,
            waits_for: lock.name,
            waits_for_id: id,
            waits_at: at,
        }]);
        return on_deadlock(deadlock, checked).map(|()| Waiting(0));
    }
    if me & TASK != 0 {
        // Before the wait is seen: whoever closes a cycle through this
        // task then finds its calls (the graph's mutex orders the two).
        crate::inflight::note_task(me & !TASK);
    }
    let Some(cycle) = GRAPH.wait(me, label(me), lock, want, at) else {
        return Ok(Waiting(me));
    };
    let waiting = Waiting(me);
    let deadlock = build(cycle);
    on_deadlock(deadlock, checked).map(|()| waiting)
}

#[track_caller]
fn on_deadlock(deadlock: Deadlock, checked: bool) -> Result<(), Deadlock> {
    report(&deadlock);
    if checked {
        return Err(deadlock);
    }
    match deadlock_policy() {
        DeadlockPolicy::Report => Ok(()),
        DeadlockPolicy::Panic => panic!("{deadlock}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_task_number_keeps_the_top_bit_free() {
        assert_eq!(TASK & 5, 0);
        assert_eq!(thread_holder() & TASK, 0);
    }
}
