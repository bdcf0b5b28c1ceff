//! What a waiter does when its wait closes a cycle: by default, report and
//! keep waiting (while the rest of the process works on: the case Go's
//! detector misses); with `DeadlockPolicy::Panic`, panic in that waiter.
//! One test, because the policy is process-wide.
#![cfg(not(feature = "plain-locks"))]

use std::panic;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Mutex as StdMutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use monitor_runtime::dump::{set_dump_sink, Dump, DumpReason, DumpSink};
use monitor_runtime::sync::{set_deadlock_policy, DeadlockPolicy, Mutex, RwLock};

static REPORTS: StdMutex<Vec<(Instant, String)>> = StdMutex::new(Vec::new());

fn report_naming(lock: &str, within: Duration) -> (Instant, String) {
    let deadline = Instant::now() + within;
    loop {
        if let Some(found) = REPORTS
            .lock()
            .unwrap()
            .iter()
            .find(|(_, text)| text.contains(lock))
        {
            return found.clone();
        }
        assert!(Instant::now() < deadline, "no report names {lock}");
        thread::sleep(Duration::from_millis(1));
    }
}

/// Two threads take two forks in opposite orders.
fn philosophers(
    left: &'static str,
    right: &'static str,
) -> (Instant, Vec<thread::JoinHandle<()>>, u32, u32) {
    let forks = Arc::new([Mutex::with_name((), left), Mutex::with_name((), right)]);
    let barrier = Arc::new(Barrier::new(3));
    let first_line = line!() + 7;
    let second_line = line!() + 8;
    let threads = (0..2)
        .map(|i| {
            let (forks, barrier) = (forks.clone(), barrier.clone());
            thread::spawn(move || {
                let (first, second) = (&forks[i], &forks[1 - i]);
                let _first = first.lock().unwrap();
                barrier.wait();
                let _second = second.lock().unwrap_or_else(PoisonError::into_inner);
            })
        })
        .collect();
    barrier.wait();
    (Instant::now(), threads, first_line, second_line)
}

#[test]
fn report_and_wait_then_panic() {
    monitor_demo::own_process!();
    set_dump_sink(DumpSink::custom(|dump: &Dump| {
        if matches!(dump.reason, DumpReason::Deadlock(_)) {
            REPORTS
                .lock()
                .unwrap()
                .push((Instant::now(), dump.to_string()));
        }
    }))
    .unwrap();

    // Other work goes on all along.
    let work = Arc::new(AtomicU64::new(0));
    let worker = {
        let work = work.clone();
        thread::spawn(move || loop {
            work.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_micros(100));
        })
    };

    // Default policy: reported at once, and both keep waiting.
    let (formed, waiting, first, second) = philosophers("left fork", "right fork");
    let (reported, text) = report_naming("\"left fork\"", Duration::from_secs(2));
    let latency = reported.saturating_duration_since(formed);
    eprintln!("deadlock reported {latency:?} after it formed:\n{text}");
    assert!(latency < Duration::from_millis(500), "{latency:?}");
    let at = |line: u32| format!("{}:{line}:", file!());
    assert!(
        text.contains(&at(first)) && text.contains(&at(second)),
        "{text}"
    );
    assert!(text.contains("deadlock: 2 waiters in a cycle"), "{text}");
    thread::sleep(Duration::from_millis(50));
    assert!(waiting.iter().all(|t| !t.is_finished()), "both still wait");
    let before = work.load(Ordering::Relaxed);
    thread::sleep(Duration::from_millis(20));
    assert!(work.load(Ordering::Relaxed) > before, "other work goes on");
    assert!(!worker.is_finished());

    a_self_deadlock_is_reported_then_waits();

    // Panic: the waiter that closed the cycle panics, its fork is let go,
    // and the other philosopher gets it: nobody hangs.
    set_deadlock_policy(DeadlockPolicy::Panic);
    let (_, threads, _, _) = philosophers("left chopstick", "right chopstick");
    let results: Vec<_> = threads.into_iter().map(|t| t.join()).collect();
    set_deadlock_policy(DeadlockPolicy::Report);
    let panics: Vec<String> = results
        .iter()
        .filter_map(|r| r.as_ref().err())
        .map(|p| p.downcast_ref::<String>().cloned().unwrap_or_default())
        .collect();
    // The waiter that closed the cycle panics. The other one took the
    // forks in the inverted order: if it was the first to wait, the order
    // check found the inversion before its wait and panics too, once it
    // has the fork (the policy applies after the acquisition).
    let deadlocks = panics
        .iter()
        .filter(|p| p.contains("deadlock: 2 waiters"))
        .count();
    assert_eq!(
        deadlocks, 1,
        "one waiter panics for the deadlock: {panics:?}"
    );
    assert!(
        panics
            .iter()
            .all(|p| p.contains("deadlock: 2 waiters") || p.contains("lock-order inversion")),
        "{panics:?}"
    );
    report_naming("\"left chopstick\"", Duration::from_secs(1));

    the_panic_points_at_the_users_line();
    a_task_that_blocks_its_parked_neighbour_panics();
}

/// Under the panic policy, a task that blocks its thread on a `Mutex` that
/// a task parked on that thread (a `LocalSet`'s) holds panics at once; the
/// `LocalSet` goes on, and the parked task runs and lets go. Within 10 s:
/// a deadlock missed would leave the thread blocked for good.
fn a_task_that_blocks_its_parked_neighbour_panics() {
    let quiet = panic::take_hook();
    panic::set_hook(Box::new(|_| {}));
    set_deadlock_policy(DeadlockPolicy::Panic);
    let (results, outcome) = std::sync::mpsc::channel();
    let _detached = thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let local = tokio::task::LocalSet::new();
        local.block_on(&runtime, async move {
            let lock = std::rc::Rc::new(Mutex::with_name((), "parked neighbour's"));
            let (release, released) = tokio::sync::oneshot::channel::<()>();
            let holder = tokio::task::spawn_local({
                let lock = lock.clone();
                async move {
                    let _held = lock.lock().unwrap();
                    let _ = released.await;
                }
            });
            while lock.try_lock().is_ok() {
                tokio::task::yield_now().await;
            }
            let waiter = tokio::task::spawn_local(async move { drop(lock.lock()) });
            let waited = waiter.await;
            drop(release);
            holder.await.unwrap();
            let _ = results.send(waited.map_err(|e| e.into_panic()));
        });
    });
    let waited = outcome.recv_timeout(Duration::from_secs(10));
    set_deadlock_policy(DeadlockPolicy::Report);
    panic::set_hook(quiet);
    let panic = waited
        .expect("the waiting task still blocks its thread after 10 s")
        .expect_err("the waiting task panics");
    let text = panic.downcast_ref::<String>().cloned().unwrap_or_default();
    assert!(
        text.contains("self-deadlock of thread") && text.contains("\"parked neighbour's\""),
        "{text}"
    );
    report_naming("\"parked neighbour's\"", Duration::from_secs(1));
}

/// Under the panic policy, the panic's location is the line that took
/// the lock, not a line of the runtime: for each kind of std lock.
fn the_panic_points_at_the_users_line() {
    let locations = Arc::new(StdMutex::new(Vec::new()));
    let default_hook = panic::take_hook();
    {
        let locations = locations.clone();
        panic::set_hook(Box::new(move |info| {
            if let Some(at) = info.location() {
                let mut locations = locations.lock().unwrap_or_else(PoisonError::into_inner);
                locations.push((at.file().to_owned(), at.line()));
            }
        }));
    }
    set_deadlock_policy(DeadlockPolicy::Panic);
    // Each thread notes the line of its second acquisition, then panics
    // there.
    static LINES: StdMutex<Vec<u32>> = StdMutex::new(Vec::new());
    let note = |line| LINES.lock().unwrap().push(line);
    let results = [
        thread::spawn(move || {
            let lock = Mutex::new(());
            let _first = lock.lock();
            note(line!() + 1);
            let _again = lock.lock();
        }),
        thread::spawn(move || {
            let lock = RwLock::new(());
            let _writing = lock.write();
            note(line!() + 1);
            let _reading = lock.read();
        }),
        thread::spawn(move || {
            let lock = RwLock::new(());
            let _reading = lock.read();
            note(line!() + 1);
            let _writing = lock.write();
        }),
    ]
    .map(|t| t.join().is_err());
    set_deadlock_policy(DeadlockPolicy::Report);
    panic::set_hook(default_hook);
    assert_eq!(results, [true; 3]);
    let mut locations = locations.lock().unwrap().clone();
    locations.sort_by_key(|(_, line)| *line);
    let mut lines = LINES.lock().unwrap().clone();
    lines.sort_unstable();
    let expected: Vec<_> = lines
        .iter()
        .map(|&line| (file!().to_owned(), line))
        .collect();
    assert_eq!(locations, expected);
}

/// Under the default policy, a thread that takes a lock it holds is
/// reported, then waits, as with a plain lock.
fn a_self_deadlock_is_reported_then_waits() {
    let stuck = thread::spawn(|| {
        let lock = Mutex::with_name((), "twice by one thread");
        let _first = lock.lock().unwrap();
        let _second = lock.lock().unwrap();
    });
    let (_, text) = report_naming("\"twice by one thread\"", Duration::from_secs(2));
    assert!(text.contains("self-deadlock"), "{text}");
    thread::sleep(Duration::from_millis(20));
    assert!(!stuck.is_finished());
}
