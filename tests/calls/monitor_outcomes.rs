//! Every way an async call can end gives its slot back exactly once, on a
//! multi-thread runtime, many calls at once: the body returns (at once, or
//! after a yield), the call times out (the body is dropped, or runs on
//! detached), the caller drops the call, the body panics. The cap holds
//! throughout, and the counts say what the callers saw.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures::FutureExt;
use monitor_runtime::{Error, Monitor};

const CAP: usize = 4;
const TASKS: usize = 8;
const CALLS: usize = 150;

/// Bodies running now; a body that finds more than the cap fails the test.
struct Running {
    now: AtomicUsize,
    most: AtomicUsize,
}

/// One body's place among the running ones, given back when it is dropped
/// (returned, cancelled or unwound).
struct Place<'a>(&'a Running);

impl<'a> Place<'a> {
    fn take(running: &'a Running) -> Self {
        let now = running.now.fetch_add(1, Ordering::SeqCst) + 1;
        running.most.fetch_max(now, Ordering::SeqCst);
        Place(running)
    }
}

impl Drop for Place<'_> {
    fn drop(&mut self) {
        self.0.now.fetch_sub(1, Ordering::SeqCst);
    }
}

/// What the callers saw.
#[derive(Default, Debug, PartialEq)]
struct Seen {
    ok: u64,
    busy: u64,
    timeouts: u64,
    dropped: u64,
    panics: u64,
}

impl std::ops::AddAssign for Seen {
    fn add_assign(&mut self, other: Seen) {
        self.ok += other.ok;
        self.busy += other.busy;
        self.timeouts += other.timeouts;
        self.dropped += other.dropped;
        self.panics += other.panics;
    }
}

async fn one_call(monitor: &Monitor, detached: &Monitor, running: &Arc<Running>, i: usize) -> Seen {
    let mut seen = Seen::default();
    let body_running = running.clone();
    let count = |result: Result<u32, Error>, seen: &mut Seen| match result {
        Ok(_) => seen.ok += 1,
        Err(Error::Busy { .. }) => seen.busy += 1,
        Err(Error::Timeout { .. }) => seen.timeouts += 1,
        Err(other) => panic!("unexpected {other}"),
    };
    match i % 6 {
        0 => {
            let result = monitor
                .call_async(async move {
                    let _place = Place::take(&body_running);
                    1
                })
                .await;
            count(result, &mut seen);
        }
        1 => {
            let result = monitor
                .call_async(async move {
                    let _place = Place::take(&body_running);
                    tokio::task::yield_now().await;
                    1
                })
                .await;
            count(result, &mut seen);
        }
        2 => {
            // Past the monitor's 5 ms timeout: the body is dropped.
            let result = monitor
                .call_async(async move {
                    let _place = Place::take(&body_running);
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    1
                })
                .await;
            count(result, &mut seen);
        }
        3 => {
            // The caller gives up first: the call is dropped while pending.
            let call = monitor.call_async(async move {
                let _place = Place::take(&body_running);
                tokio::time::sleep(Duration::from_millis(30)).await;
                1
            });
            match tokio::time::timeout(Duration::from_millis(1), call).await {
                Ok(result) => count(result, &mut seen),
                Err(_) => seen.dropped += 1,
            }
        }
        4 => {
            let call = monitor.call_async(async move {
                let _place = Place::take(&body_running);
                tokio::task::yield_now().await;
                if i < usize::MAX {
                    panic!("a body panics on purpose");
                }
                1
            });
            match AssertUnwindSafe(call).catch_unwind().await {
                Ok(result) => count(result, &mut seen),
                Err(_) => seen.panics += 1,
            }
        }
        _ => {
            // Past the detached monitor's timeout: the body runs on.
            let result = detached
                .call_detached(async move {
                    tokio::time::sleep(Duration::from_millis(8)).await;
                    1
                })
                .await;
            count(result, &mut seen);
        }
    }
    seen
}

#[test]
fn every_end_of_a_call_gives_its_slot_back_once() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap();
    let monitor = Monitor::builder("outcomes")
        .max_active(CAP)
        .timeout(Duration::from_millis(5))
        .build();
    let detached = Monitor::builder("outcomes.detached")
        .max_active(CAP)
        .timeout(Duration::from_millis(2))
        .build();
    let running = Arc::new(Running {
        now: AtomicUsize::new(0),
        most: AtomicUsize::new(0),
    });
    let seen = rt.block_on(async {
        let tasks: Vec<_> = (0..TASKS)
            .map(|task| {
                let (monitor, detached, running) =
                    (monitor.clone(), detached.clone(), running.clone());
                tokio::spawn(async move {
                    let mut all = [Seen::default(), Seen::default()];
                    for call in 0..CALLS {
                        let i = task + call;
                        let seen = one_call(&monitor, &detached, &running, i).await;
                        all[usize::from(i % 6 == 5)] += seen;
                    }
                    all
                })
            })
            .collect();
        let mut total = [Seen::default(), Seen::default()];
        for task in tasks {
            for (sum, seen) in total.iter_mut().zip(task.await.unwrap()) {
                *sum += seen;
            }
        }
        // The detached bodies finish on their own.
        while detached.stats().in_flight != 0 {
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
        total
    });
    let [seen, seen_detached] = seen;
    assert!(
        running.most.load(Ordering::SeqCst) <= CAP,
        "{} bodies ran at once, cap {CAP}",
        running.most.load(Ordering::SeqCst)
    );
    assert_eq!(running.now.load(Ordering::SeqCst), 0);
    let stats = monitor.stats();
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    assert_eq!(stats.completed, seen.ok, "{stats:?} {seen:?}");
    assert_eq!(stats.busy, seen.busy, "{stats:?} {seen:?}");
    assert_eq!(stats.timeouts, seen.timeouts, "{stats:?} {seen:?}");
    assert_eq!(stats.panics, seen.panics, "{stats:?} {seen:?}");
    // A timed-out body is dropped: cancelled, as a body whose caller gave up.
    assert_eq!(
        stats.cancelled,
        seen.timeouts + seen.dropped,
        "{stats:?} {seen:?}"
    );
    assert!(
        seen.ok > 0 && seen.timeouts > 0 && seen.dropped > 0 && seen.panics > 0,
        "{seen:?}"
    );
    let stats = detached.stats();
    assert_eq!(stats.in_flight, 0, "{stats:?}");
    assert_eq!(
        stats.busy, seen_detached.busy,
        "{stats:?} {seen_detached:?}"
    );
    assert_eq!(
        stats.timeouts, seen_detached.timeouts,
        "{stats:?} {seen_detached:?}"
    );
    // A detached body keeps its slot until it returns, whether its caller
    // timed out or not.
    assert_eq!(
        stats.completed,
        seen_detached.ok + seen_detached.timeouts,
        "{stats:?} {seen_detached:?}"
    );
    assert_eq!((stats.cancelled, stats.panics), (0, 0), "{stats:?}");
}
