//! [`DeadlockPolicy`]: what a waiter does when its wait closes a cycle,
//! for every lock.

use std::sync::atomic::{AtomicU8, Ordering};

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
