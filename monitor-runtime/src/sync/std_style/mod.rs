//! [`Mutex`] and [`RwLock`]: `std::sync`'s locks that know which thread
//! (or, inside a tokio task, which task) holds them; [`Condvar`], std's condition variable for our [`Mutex`].

mod condvar;
mod mutex;
mod rwlock;

pub use condvar::Condvar;
pub use mutex::{Mutex, MutexGuard};
pub use rwlock::{RwLock, RwLockReadGuard, RwLockWriteGuard};

#[cfg(test)]
mod tests {
    use super::*;

    /// As std's: guards format as their value.
    #[test]
    fn std_guards_format_as_their_value() {
        let mutex = Mutex::new(1);
        assert_eq!(mutex.lock().unwrap().to_string(), "1");
        assert_eq!(format!("{:?}", mutex.lock().unwrap()), "1");
        let rw = RwLock::new("two");
        assert_eq!(rw.read().unwrap().to_string(), "two");
        assert_eq!(format!("{:?}", rw.write().unwrap()), "\"two\"");
    }
}
