//! `AsyncMutex` and `AsyncRwLock` behave as `tokio::sync::Mutex` and
//! `tokio::sync::RwLock`, which they replace by a swapped import: each test
//! checks, against our types, a behaviour that tokio's own lock tests check
//! (`tests/sync_mutex.rs`, `sync_mutex_owned.rs`, `sync_rwlock.rs`,
//! `sync_panic.rs`), or compares our output with the peer's directly.

use std::sync::Arc;

use monitor_runtime::sync::{AsyncMutex, AsyncRwLock};

/// `{:?}` of the lock is tokio's, free and held: code (and tests) that
/// print a lock read the same after the swap.
#[test]
fn debug_of_the_locks_is_tokios() {
    let ours = AsyncMutex::new("data");
    let peer = tokio::sync::Mutex::new("data");
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(format!("{ours:?}"), r#"Mutex { data: "data" }"#);
    let (_a, _b) = (ours.try_lock().unwrap(), peer.try_lock().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(format!("{ours:?}"), "Mutex { data: <locked> }");

    let ours = AsyncRwLock::new(vec![1]);
    let peer = tokio::sync::RwLock::new(vec![1]);
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    let (_a, _b) = (ours.try_write().unwrap(), peer.try_write().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(format!("{ours:?}"), "RwLock { data: <locked> }");
}

/// Guards format as their value, `{:?}` and `{}`, as tokio's do.
#[test]
fn guards_format_as_tokios() {
    let ours = Arc::new(AsyncMutex::new(5));
    let peer = Arc::new(tokio::sync::Mutex::new(5));
    let (a, b) = (ours.try_lock().unwrap(), peer.try_lock().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    drop((a, b));
    let (a, b) = (
        ours.try_lock_owned().unwrap(),
        peer.try_lock_owned().unwrap(),
    );
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );

    let ours = Arc::new(AsyncRwLock::new("x"));
    let peer = Arc::new(tokio::sync::RwLock::new("x"));
    let (a, b) = (ours.try_read().unwrap(), peer.try_read().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    drop((a, b));
    let (a, b) = (
        ours.try_write_owned().unwrap(),
        peer.try_write_owned().unwrap(),
    );
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
}

thread_local! {
    /// The message and location of this thread's last panic.
    static LAST_PANIC: std::cell::RefCell<Option<(String, String)>> =
        const { std::cell::RefCell::new(None) };
}

/// Runs `f`, which must panic, and returns its message and `file:line`,
/// read by a panic hook (per thread, so tests running at once do not mix;
/// other panics print as usual).
fn panic_of(f: impl FnOnce()) -> (String, String) {
    static HOOK: std::sync::Once = std::sync::Once::new();
    HOOK.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            let message = info
                .payload()
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| info.payload().downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            let at = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            let expected = LAST_PANIC.with(|last| {
                let mut last = last.borrow_mut();
                let expected = last.is_some();
                if expected {
                    *last = Some((message, at));
                }
                expected
            });
            if !expected {
                previous(info);
            }
        }));
    });
    // `Some` while a panic is expected: the hook fills it in quietly.
    LAST_PANIC.with(|last| *last.borrow_mut() = Some(Default::default()));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
    let seen = LAST_PANIC.with(|last| last.borrow_mut().take());
    assert!(result.is_err(), "did not panic");
    seen.expect("the hook saw the panic")
}

fn here(line: u32) -> String {
    format!("{}:{line}", file!())
}

/// `blocking_lock`, `blocking_lock_owned`, `blocking_read` and
/// `blocking_write` on a runtime thread panic as tokio's do (same message),
/// at the caller's line, even when the lock is free (tokio's `sync_panic.rs`
/// checks the location, `sync_mutex.rs` the panic).
#[test]
fn blocking_in_a_runtime_panics_as_tokios_at_the_caller() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (peer, _) = rt.block_on(async {
        let peer = tokio::sync::Mutex::new(0);
        panic_of(|| drop(peer.blocking_lock()))
    });
    assert!(peer.starts_with("Cannot block the current thread from within a runtime"));

    let mutex = Arc::new(AsyncMutex::new(0));
    let rwlock = AsyncRwLock::new(0);
    rt.block_on(async {
        let (message, at) = panic_of(|| drop(mutex.blocking_lock()));
        assert_eq!((message, at), (peer.clone(), here(line!() - 1)));
        let (message, at) = panic_of(|| drop(mutex.clone().blocking_lock_owned()));
        assert_eq!((message, at), (peer.clone(), here(line!() - 1)));
        let (message, at) = panic_of(|| drop(rwlock.blocking_read()));
        assert_eq!((message, at), (peer.clone(), here(line!() - 1)));
        let (message, at) = panic_of(|| drop(rwlock.blocking_write()));
        assert_eq!((message, at), (peer.clone(), here(line!() - 1)));
    });
    // Nothing stays held or recorded by the refused calls.
    assert!(mutex.try_lock().is_ok());
    assert!(rwlock.try_write().is_ok());
}

/// Where tokio lets a thread block (`spawn_blocking`, outside a runtime),
/// ours block too.
#[test]
fn blocking_where_tokio_allows_it() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let mutex = Arc::new(AsyncMutex::new(1));
    let rwlock = Arc::new(AsyncRwLock::new(2));
    let (m, r) = (mutex.clone(), rwlock.clone());
    let sum = rt.block_on(async move {
        tokio::task::spawn_blocking(move || *m.blocking_lock() + *r.blocking_read())
            .await
            .unwrap()
    });
    assert_eq!(sum, 3);
    *rwlock.blocking_write() += 1;
    assert_eq!(*mutex.blocking_lock() + *rwlock.blocking_read(), 4);
}

/// `with_max_readers` refuses 0 and too many readers with tokio's
/// messages, at the caller.
#[test]
fn with_max_readers_panics_as_tokios_at_the_caller() {
    let peer = panic_of(|| {
        let _ = tokio::sync::RwLock::with_max_readers(0, 0);
    })
    .0;
    let (message, at) = panic_of(|| {
        let _ = AsyncRwLock::with_max_readers(0, 0);
    });
    assert_eq!((message, at), (peer, here(line!() - 2)));
    let peer = panic_of(|| {
        let _ = tokio::sync::RwLock::with_max_readers(0, u32::MAX);
    })
    .0;
    let (message, at) = panic_of(|| {
        let _ = AsyncRwLock::with_max_readers(0, u32::MAX);
    });
    assert_eq!((message, at), (peer, here(line!() - 2)));
    assert!(AsyncRwLock::with_max_readers(0, u32::MAX >> 3)
        .try_read()
        .is_ok());
}

use futures::FutureExt;

/// tokio's `sync_mutex.rs`: a pending `lock()` is not ready while the
/// mutex is held and becomes ready once it is let go; a `lock()` dropped
/// while pending leaves the mutex free (cancel safety).
#[test]
fn lock_waits_for_the_holder_and_cancels_cleanly() {
    let lock = AsyncMutex::new(1);
    let held = lock.try_lock().unwrap();
    let mut waiting = Box::pin(lock.lock());
    assert!((&mut waiting).now_or_never().is_none());
    assert!(lock.try_lock().is_err());
    drop(held);
    let mut guard = (&mut waiting).now_or_never().expect("ready once let go");
    *guard += 1;
    drop(guard);
    drop(waiting);

    let held = lock.try_lock().unwrap();
    let mut abandoned = Box::pin(lock.lock());
    assert!((&mut abandoned).now_or_never().is_none());
    drop(abandoned);
    drop(held);
    assert_eq!(*lock.try_lock().unwrap(), 2);
}

/// tokio's `sync_mutex_owned.rs`: owned guards keep the `Arc`, and the
/// lock is free again once they drop; `try_lock_owned` fails while held.
#[test]
fn owned_guards_hold_until_dropped() {
    let lock = Arc::new(AsyncMutex::new(0));
    let guard = lock.clone().try_lock_owned().unwrap();
    assert!(lock.clone().try_lock_owned().is_err());
    assert!(Arc::ptr_eq(
        monitor_runtime::sync::OwnedAsyncMutexGuard::mutex(&guard),
        &lock
    ));
    drop(guard);
    assert!(lock.try_lock_owned().is_ok());
}

/// tokio's names for the `const` constructors, and `MutexGuard::mutex`.
#[test]
fn tokios_constructor_names_and_guard_accessors() {
    static MUTEX: AsyncMutex<u8> = AsyncMutex::const_new(3);
    static RW: AsyncRwLock<u8> = AsyncRwLock::const_new(4);
    static ONE_READER: AsyncRwLock<u8> = AsyncRwLock::const_with_max_readers(5, 1);
    let guard = MUTEX.try_lock().unwrap();
    assert!(std::ptr::eq(
        monitor_runtime::sync::AsyncMutexGuard::mutex(&guard),
        &MUTEX
    ));
    assert_eq!(*guard + *RW.try_read().unwrap(), 7);
    let _reading = ONE_READER.try_read().unwrap();
    assert!(ONE_READER.try_read().is_err());
}

/// tokio's `sync_rwlock.rs`: readers share, a writer excludes, a queued
/// writer blocks new readers (fairness), and `downgrade` lets readers in
/// without letting a writer in between.
#[test]
fn rwlock_shares_excludes_and_queues_as_tokios() {
    let lock = AsyncRwLock::new(0);
    let (a, b) = (lock.try_read().unwrap(), lock.try_read().unwrap());
    assert!(lock.try_write().is_err());
    let mut writer = Box::pin(lock.write());
    assert!((&mut writer).now_or_never().is_none());
    // A writer waits: new readers queue behind it.
    assert!(lock.try_read().is_err());
    assert!(Box::pin(lock.read()).as_mut().now_or_never().is_none());
    drop((a, b));
    let mut w = (&mut writer).now_or_never().expect("the writer goes next");
    *w = 5;
    let r = w.downgrade();
    assert_eq!(*r, 5);
    assert!(lock.try_read().is_ok());
    assert!(lock.try_write().is_err());
    drop(r);
    drop(writer);
    assert!(lock.try_write().is_ok());
}

/// tokio's `TryLockError` swaps to `AsyncTryLockError`, the same type.
#[test]
fn try_lock_error_swaps_to_async_try_lock_error() {
    use monitor_runtime::sync::AsyncTryLockError;

    let lock = AsyncMutex::new(0);
    let _held = lock.try_lock().unwrap();
    let ours: AsyncTryLockError = lock.try_lock().unwrap_err();
    let peer: tokio::sync::TryLockError = ours;
    assert_eq!(peer.to_string(), "operation would block");
}

/// `#[must_use]` sits on the guards where tokio's has it and only there:
/// tokio's owned guards and its mapped write guard may be taken and
/// dropped in one statement (`lock.lock_owned().await;`), which tokio's own
/// tests do, without a warning, so this compiles under `deny`.
#[deny(unused_must_use)]
#[tokio::test]
async fn guards_are_must_use_where_tokios_are() {
    use monitor_runtime::sync::{AsyncRwLockWriteGuard, OwnedAsyncRwLockWriteGuard};

    let mutex = Arc::new(AsyncMutex::new(0));
    mutex.clone().lock_owned().await;
    mutex.clone().try_lock_owned().unwrap();
    let rw = Arc::new(AsyncRwLock::new(0));
    rw.clone().read_owned().await;
    rw.clone().write_owned().await;
    OwnedAsyncRwLockWriteGuard::into_mapped(rw.clone().try_write_owned().unwrap());
    AsyncRwLockWriteGuard::into_mapped(rw.write().await);
    assert!(mutex.try_lock().is_ok() && rw.try_write().is_ok());
}

/// How many acquisitions of a free lock (`take`) a task makes before
/// another task on its current-thread runtime gets to run (at most
/// 10 000), starting on a fresh coop budget.
async fn takes_before_others_run<F: std::future::Future<Output = ()>>(
    mut take: impl FnMut() -> F,
) -> usize {
    use std::sync::atomic::{AtomicBool, Ordering};

    tokio::task::yield_now().await;
    let other_ran = Arc::new(AtomicBool::new(false));
    let flag = other_ran.clone();
    tokio::spawn(async move { flag.store(true, Ordering::SeqCst) });
    let mut takes = 0;
    while !other_ran.load(Ordering::SeqCst) && takes < 10_000 {
        take().await;
        takes += 1;
    }
    takes
}

/// tokio's acquisitions spend the task's coop budget, even when the lock
/// is free, so a task that only takes free locks in a loop yields now and
/// then and the other tasks of its worker run; ours yield after as many
/// acquisitions as tokio's (a task that never yielded would starve a
/// current-thread runtime).
#[tokio::test(flavor = "current_thread")]
async fn free_locks_spend_the_coop_budget_as_tokios() {
    let (ours, peer) = (Arc::new(AsyncMutex::new(0)), tokio::sync::Mutex::new(0));
    let peer_takes = takes_before_others_run(|| async { drop(peer.lock().await) }).await;
    assert!(peer_takes < 10_000, "tokio's lock yields: {peer_takes}");
    let lock = || async { drop(ours.lock().await) };
    assert_eq!(takes_before_others_run(lock).await, peer_takes);
    let owned = || async { drop(ours.clone().lock_owned().await) };
    assert_eq!(takes_before_others_run(owned).await, peer_takes);

    let (ours, peer) = (AsyncRwLock::new(0), tokio::sync::RwLock::new(0));
    let peer_takes = takes_before_others_run(|| async { drop(peer.read().await) }).await;
    let read = || async { drop(ours.read().await) };
    assert_eq!(takes_before_others_run(read).await, peer_takes);
    let peer_takes = takes_before_others_run(|| async { drop(peer.write().await) }).await;
    let write = || async { drop(ours.write().await) };
    assert_eq!(takes_before_others_run(write).await, peer_takes);
}
