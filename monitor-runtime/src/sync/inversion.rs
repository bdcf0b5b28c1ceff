//! What the lock-order check reports: a [`LockOrderInversion`], the
//! edges of a cycle in the order the locks were taken, each with both
//! places in the code and who took them.
//!
//! Plain data below the locks and the dump, like `report.rs`: nothing
//! here checks, keeps or writes anything.

use std::fmt;

use serde::Serialize;

use super::report::{LockSite, Waiter};

/// Locks taken in orders that form a cycle: `checking` then `savings` in
/// one place, `savings` then `checking` in another. Two threads or tasks
/// that run those places at the same time can deadlock, even if they
/// never did so far: the check reports the cycle when the acquisition
/// that closes it is made, before anything waits (see
/// [`set_lock_order_checking`](crate::sync::set_lock_order_checking)).
/// `Display` writes the report.
///
/// ```
/// # #[cfg(not(feature = "plain-locks"))] {
/// use monitor_runtime::sync::{lock_order_inversions, set_lock_order_checking, Mutex};
///
/// set_lock_order_checking(true);
/// let (checking, savings) = (Mutex::with_name(0, "checking"), Mutex::with_name(0, "savings"));
/// {
///     let _c = checking.lock().unwrap();
///     let _s = savings.lock().unwrap();
/// }
/// {
///     let _s = savings.lock().unwrap();
///     let _c = checking.lock().unwrap(); // closes the cycle: reported here
/// }
/// let inversion = lock_order_inversions().pop().unwrap();
/// assert_eq!(inversion.edges.len(), 2);
/// assert_eq!(inversion.edges[0].held.lock, "savings");
/// assert_eq!(inversion.edges[0].taken.lock, "checking");
/// assert!(inversion.to_string().starts_with("lock-order inversion"));
/// # }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct LockOrderInversion {
    /// The edges of the cycle: the one just taken first, then the others
    /// in the order that leads back to it. Each edge's
    /// [`taken`](OrderEdge::taken) lock is the next edge's
    /// [`held`](OrderEdge::held) lock.
    pub edges: Vec<OrderEdge>,
}

/// One edge of a [`LockOrderInversion`]: `by` took `taken` while it held
/// `held`, each with the place it was taken (the first time this pair was
/// seen in this order).
///
/// ```
/// use monitor_runtime::sync::OrderEdge;
/// fn places(edge: &OrderEdge) -> String {
///     format!("{} then {}", edge.held, edge.taken)
/// }
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct OrderEdge {
    /// The thread or task that took both.
    pub by: Waiter,
    /// The lock it held, and where it had taken it.
    pub held: LockSite,
    /// The lock it took while holding `held`, and where.
    pub taken: LockSite,
}

impl fmt::Display for OrderEdge {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} took {}\n      while holding {}",
            self.by, self.taken, self.held
        )
    }
}

impl fmt::Display for LockOrderInversion {
    /// `lock-order inversion: 2 locks taken in a cycle of orders ...`, then
    /// one block per edge.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "lock-order inversion: {} locks taken in orders that form a cycle \
             (a deadlock when these run at the same time)",
            self.edges.len()
        )?;
        for edge in &self.edges {
            write!(f, "\n  {edge}")?;
        }
        Ok(())
    }
}
