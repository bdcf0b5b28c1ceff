//! The branches of one task (`join!`, `select!`) are one holder: a branch
//! waiting for an async lock that another branch holds is no deadlock
//! (the other branch lets go), so it is not reported while that wait can
//! still end; a task that waits for a lock it holds itself, in one chain
//! of awaits, is reported once the wait has lasted a second.
#![cfg(not(feature = "plain-locks"))]

use std::time::{Duration, Instant};

use monitor_demo::{deadlock_report_naming, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::sync::{AsyncMutex, AsyncRwLock, Waiter};
use tokio::time::sleep;

fn one_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
}

/// How many deadlock reports name `lock` so far.
fn deadlock_reports(lock: &str) -> usize {
    kept_dumps()
        .lock()
        .unwrap()
        .iter()
        .filter(|dump| {
            matches!(&dump.reason, DumpReason::Deadlock(deadlock)
                if deadlock.participants.iter().any(|p| p.waits_for.lock == lock))
        })
        .count()
}

/// One branch holds the mutex across an await; the other waits for it
/// with `lock_checked`, which gets it once the first lets go.
async fn two_branches_one_mutex(lock: &AsyncMutex<u32>) -> u32 {
    let first = async {
        let mut held = lock.lock().await;
        sleep(Duration::from_millis(100)).await;
        *held += 1;
    };
    let second = async {
        sleep(Duration::from_millis(10)).await;
        let mut held = lock.lock_checked().await.expect("no deadlock");
        *held += 10;
    };
    tokio::join!(first, second);
    *lock.lock().await
}

#[test]
fn join_branches_that_share_a_mutex_are_no_deadlock() {
    kept_dumps();
    // In a task, and in `block_on` (the holder is then the thread).
    let in_task = AsyncMutex::with_name(0, "branches: mutex in a task");
    let in_task: &'static AsyncMutex<u32> = Box::leak(Box::new(in_task));
    let total = one_thread()
        .block_on(async { tokio::spawn(two_branches_one_mutex(in_task)).await })
        .unwrap();
    assert_eq!(total, 11);
    let on_thread = AsyncMutex::with_name(0, "branches: mutex on a thread");
    assert_eq!(
        one_thread().block_on(two_branches_one_mutex(&on_thread)),
        11
    );
    assert_eq!(deadlock_reports("branches: mutex in a task"), 0);
    assert_eq!(deadlock_reports("branches: mutex on a thread"), 0);
}

#[test]
fn join_branches_that_share_a_read_write_lock_are_no_deadlock() {
    kept_dumps();
    let lock = AsyncRwLock::with_name(0, "branches: rwlock");
    one_thread().block_on(async {
        let writer = async {
            let mut held = lock.write().await;
            sleep(Duration::from_millis(100)).await;
            *held += 1;
        };
        let reader = async {
            sleep(Duration::from_millis(10)).await;
            *lock.read_checked().await.expect("no deadlock")
        };
        let ((), read) = tokio::join!(writer, reader);
        assert_eq!(read, 1);
    });
    assert_eq!(deadlock_reports("branches: rwlock"), 0);
}

#[test]
fn a_select_branch_waiting_for_the_other_is_no_deadlock() {
    kept_dumps();
    let lock = AsyncMutex::with_name((), "branches: select");
    let won = one_thread().block_on(async {
        tokio::select! {
            () = async {
                let _held = lock.lock().await;
                sleep(Duration::from_millis(100)).await;
            } => "holder",
            () = async {
                sleep(Duration::from_millis(10)).await;
                let _held = lock.lock_checked().await.expect("no deadlock");
                sleep(Duration::from_secs(60)).await;
            } => "waiter",
        }
    });
    assert_eq!(won, "holder");
    assert_eq!(deadlock_reports("branches: select"), 0);
}

/// The same wait in one chain of awaits never ends: reported, with both
/// lines, once it has lasted the second a branch beside it would have had
/// to let go.
#[test]
fn a_task_waiting_for_its_own_lock_is_reported_after_a_second() {
    kept_dumps();
    let lock: &'static AsyncMutex<()> =
        Box::leak(Box::new(AsyncMutex::with_name((), "branches: one chain")));
    let task = async move {
        let held_line = line!() + 1;
        let _held = lock.lock().await;
        let began = Instant::now();
        let again_line = line!() + 1;
        let deadlock = lock.lock_checked().await.map(drop).unwrap_err();
        (deadlock, began.elapsed(), held_line, again_line)
    };
    let (deadlock, waited, held_line, again_line) = one_thread()
        .block_on(async { tokio::spawn(task).await })
        .unwrap();
    assert!(deadlock.is_self_deadlock(), "{deadlock}");
    assert!(
        (Duration::from_millis(900)..Duration::from_secs(5)).contains(&waited),
        "reported after {waited:?}"
    );
    let p = &deadlock.participants[0];
    assert!(matches!(p.waiter, Waiter::Task { .. }), "{p:?}");
    assert_eq!(p.holds.at.as_ref().unwrap().line, held_line);
    assert_eq!(p.waits_for.at.as_ref().unwrap().line, again_line);
    let (_, text) = deadlock_report_naming("branches: one chain");
    assert!(text.contains("self-deadlock"), "{text}");
}
