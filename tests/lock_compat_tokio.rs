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
