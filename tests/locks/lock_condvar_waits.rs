//! A thread waiting on our `Condvar` is listed by `lock_waits()` and in
//! dumps as waiting on that condvar (its name, the line of the wait, for
//! how long), in each of the four waits, and no longer once notified.
#![cfg(not(feature = "plain-locks"))]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use monitor_demo::eventually;
use monitor_runtime::dump::DumpOptions;
use monitor_runtime::sync::{lock_waits, Condvar, LockWait, Mutex, Waiter};

/// The line of this file that ends with the comment `// {mark}`.
fn line_of(mark: &str) -> u32 {
    monitor_demo::marked_line(include_str!("lock_condvar_waits.rs"), mark)
}

fn wait_on(condvar: &str) -> Option<LockWait> {
    lock_waits()
        .into_iter()
        .find(|wait| wait.lock.lock == condvar)
}

/// The wait on `condvar`, once it is on record (a spurious wakeup may
/// take it off for a moment).
fn waiting(condvar: &str) -> LockWait {
    let mut found = None;
    eventually("the wait on record", || {
        found = wait_on(condvar);
        found.is_some()
    });
    found.unwrap()
}

type Pair = Arc<(Mutex<bool>, Condvar, AtomicBool)>;

/// A thread called `condvar` waits on the condvar called `condvar` with
/// `wait` (which returns once the flag is set); the test finds the wait
/// at the line marked `mark`, in `lock_waits()` and in a dump, then
/// notifies and finds it gone.
fn shows_while_waiting(condvar: &'static str, mark: &str, wait: fn(&Pair)) {
    let pair: Pair = Arc::new((
        Mutex::with_name(false, "condvar's mutex"),
        Condvar::with_name(condvar),
        AtomicBool::new(false),
    ));
    let waiter = {
        let pair = pair.clone();
        thread::Builder::new()
            .name(condvar.into())
            .spawn(move || wait(&pair))
            .unwrap()
    };
    let first = waiting(condvar);
    assert!(first.condvar, "{first}");
    assert!(first.held_by.is_empty(), "{first}");
    assert!(
        matches!(&first.waiter, Waiter::Thread { name: Some(name), .. } if name == condvar),
        "{first}"
    );
    let at = first.lock.at.as_ref().unwrap();
    assert_eq!((at.file, at.line), (file!(), line_of(mark)), "{first}");
    let text = first.to_string();
    let expected = format!("waits on condvar \"{condvar}\" at {}:{}:", file!(), at.line);
    assert!(text.contains(&expected), "{text}");
    // The age grows.
    let later = waiting(condvar);
    assert!(later.waited >= first.waited);

    let dump = DumpOptions::new().native_stacks(false).take();
    assert!(
        dump.lock_waits
            .iter()
            .any(|wait| wait.lock.lock == condvar && wait.condvar),
        "{dump}"
    );
    let text = dump.to_string();
    assert!(text.contains(&expected), "{text}");

    *pair.0.lock().unwrap() = true;
    pair.2.store(true, Ordering::SeqCst);
    pair.1.notify_all();
    waiter.join().unwrap();
    assert!(wait_on(condvar).is_none(), "gone once notified");
}

#[test]
fn wait() {
    shows_while_waiting("cv wait", "wait", |pair| {
        let mut ready = pair.0.lock().unwrap();
        while !*ready {
            ready = pair.1.wait(ready).unwrap(); // wait
        }
    });
}

#[test]
fn wait_while() {
    shows_while_waiting("cv wait_while", "wait_while", |pair| {
        let ready = pair.0.lock().unwrap();
        drop(pair.1.wait_while(ready, |ready| !*ready).unwrap()); // wait_while
    });
}

#[test]
fn wait_timeout() {
    shows_while_waiting("cv wait_timeout", "wait_timeout", |pair| {
        let mut ready = pair.0.lock().unwrap();
        while !pair.2.load(Ordering::SeqCst) {
            let hour = Duration::from_secs(3600);
            ready = pair.1.wait_timeout(ready, hour).unwrap().0; // wait_timeout
        }
        assert!(*ready);
    });
}

#[test]
fn wait_timeout_while() {
    shows_while_waiting("cv wait_timeout_while", "wait_timeout_while", |pair| {
        let ready = pair.0.lock().unwrap();
        let hour = Duration::from_secs(3600);
        let (ready, timeout) = pair
            .1
            .wait_timeout_while(ready, hour, |ready| !*ready) // wait_timeout_while
            .unwrap();
        assert!(*ready && !timeout.timed_out());
    });
}
