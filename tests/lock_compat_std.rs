//! `Mutex` and `RwLock` behave as `std::sync::Mutex` and
//! `std::sync::RwLock`, which they replace by a swapped import: each test
//! checks, against our types, a behaviour that std's own lock tests check
//! (`library/std/tests/sync/mutex.rs`, `rwlock.rs`), or compares our output
//! with the peer's directly.

use monitor_runtime::sync::{Mutex, RwLock};

/// `{:?}` of the lock is std's, free and held: code (and tests) that print
/// a lock read the same after the swap.
#[test]
fn debug_of_the_locks_is_stds() {
    let ours = Mutex::new("data");
    let peer = std::sync::Mutex::new("data");
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(
        format!("{ours:?}"),
        r#"Mutex { data: "data", poisoned: false, .. }"#
    );
    let (_a, _b) = (ours.lock().unwrap(), peer.lock().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));

    let ours = RwLock::new(1);
    let peer = std::sync::RwLock::new(1);
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    let (_a, _b) = (ours.write().unwrap(), peer.write().unwrap());
    assert_eq!(format!("{ours:?}"), format!("{peer:?}"));
    assert_eq!(
        format!("{ours:?}"),
        "RwLock { data: <locked>, poisoned: false, .. }"
    );
}

/// Guards format as their value, `{:?}` and `{}`, as std's do.
#[test]
fn guards_format_as_stds() {
    let (ours, peer) = (Mutex::new(5), std::sync::Mutex::new(5));
    let (a, b) = (ours.lock().unwrap(), peer.lock().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    let (ours, peer) = (RwLock::new("x"), std::sync::RwLock::new("x"));
    let (a, b) = (ours.read().unwrap(), peer.read().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
    drop((a, b));
    let (a, b) = (ours.write().unwrap(), peer.write().unwrap());
    assert_eq!(
        (format!("{a:?}"), a.to_string()),
        (format!("{b:?}"), b.to_string())
    );
}
