//! Holder ids: who holds or waits for a lock, a thread (its kernel id) or
//! a tokio task (its number, with the top bit set), as one `u64`.

/// The top bit marks a task id (the wait-for graph's, which builds alone
/// under loom).
pub(crate) use super::graph::TASK;

/// The calling thread, as a holder id.
#[inline]
pub(crate) fn thread_holder() -> u64 {
    crate::native::current_tid().0 as u32 as u64
}

/// The calling task (or thread, outside a task), as a holder id: what
/// every lock records as its holder and waiter, std-style ones too, so
/// that a cycle through a task waiting on a sync lock closes.
#[inline]
pub(crate) fn task_holder() -> u64 {
    match tokio::task::try_id() {
        Some(id) => TASK | task_number(id),
        None => thread_holder(),
    }
}

#[inline]
pub(crate) fn task_number(id: tokio::task::Id) -> u64 {
    crate::task::number(id) & !TASK
}

/// What a waiter is called in reports: a thread's name. Only on the
/// contended path (it allocates).
pub(crate) fn label(me: u64) -> Option<Box<str>> {
    if me & TASK != 0 {
        return None;
    }
    std::thread::current().name().map(Box::from)
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
