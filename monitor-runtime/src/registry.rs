//! A process-wide list of things that run, held weakly, in the order they
//! started: the monitors and the supervisors each keep one
//! (`monitor.rs`, `supervisor.rs`). Knows no feature.

use std::sync::{Arc, Mutex, MutexGuard};

/// A weak handle that the registry can try to upgrade.
pub(crate) trait Upgrade {
    /// What the handle upgrades to.
    type Strong;
    /// The live thing, or `None` once it is gone.
    fn upgrade(&self) -> Option<Self::Strong>;
}

impl<T> Upgrade for std::sync::Weak<T> {
    type Strong = Arc<T>;
    fn upgrade(&self) -> Option<Arc<T>> {
        std::sync::Weak::upgrade(self)
    }
}

/// The weak handles of everything registered and not yet removed.
pub(crate) struct Registry<W>(Mutex<Vec<W>>);

impl<W: Upgrade> Registry<W> {
    pub(crate) const fn new() -> Self {
        Registry(Mutex::new(Vec::new()))
    }

    fn list(&self) -> MutexGuard<'_, Vec<W>> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds `weak` last, and forgets the entries that are gone.
    pub(crate) fn add(&self, weak: W) {
        let mut list = self.list();
        list.retain(|w| w.upgrade().is_some());
        list.push(weak);
    }

    /// Forgets the entries for which `is` holds, and those that are gone.
    pub(crate) fn remove(&self, is: impl Fn(&W::Strong) -> bool) {
        self.list().retain(|w| w.upgrade().is_some_and(|s| !is(&s)));
    }

    /// Everything registered that is still alive, oldest first.
    pub(crate) fn live(&self) -> Vec<W::Strong> {
        self.list().iter().filter_map(W::upgrade).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_order_and_forgets_the_dropped_and_removed() {
        let registry: Registry<std::sync::Weak<u32>> = Registry::new();
        let (a, b, c) = (Arc::new(1), Arc::new(2), Arc::new(3));
        for item in [&a, &b, &c] {
            registry.add(Arc::downgrade(item));
        }
        drop(b);
        assert_eq!(registry.live(), [Arc::new(1), Arc::new(3)]);
        registry.remove(|item| Arc::ptr_eq(item, &a));
        assert_eq!(registry.live(), [Arc::new(3)]);
        assert_eq!(registry.0.lock().unwrap().len(), 1);
    }
}
