//! The monitor's behaviour through its API: Busy, timeouts, cancellation,
//! panics, stats and the registry.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use monitor_runtime::{Error, Monitor};
use tokio::sync::Notify;

/// Fails the test instead of hanging it.
async fn within<T>(limit: Duration, fut: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(limit, fut)
        .await
        .expect("did not finish in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exactly_the_cap_runs_and_the_rest_are_busy_async() {
    let monitor = Monitor::builder("busy-async").max_active(10).build();
    let release = Arc::new(Notify::new());
    let busy = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (monitor, release, busy) = (monitor.clone(), release.clone(), busy.clone());
        tasks.push(tokio::spawn(async move {
            let held = release.notified();
            let result = monitor.call_async(held).await;
            if let Err(Error::Busy { .. }) = result {
                busy.fetch_add(1, Ordering::SeqCst);
            }
            result
        }));
    }
    // All 90 refusals arrive while the 10 admitted calls are held.
    within(Duration::from_secs(10), async {
        while busy.load(Ordering::SeqCst) < 90 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    assert_eq!(monitor.stats().in_flight, 10);
    release.notify_waiters();
    let mut ok = 0;
    for task in tasks {
        match within(Duration::from_secs(10), task).await.unwrap() {
            Ok(()) => ok += 1,
            Err(Error::Busy { max_active, .. }) => assert_eq!(max_active, 10),
            Err(other) => panic!("unexpected {other}"),
        }
    }
    assert_eq!(ok, 10);
    let stats = monitor.stats();
    assert_eq!(
        (stats.busy, stats.completed, stats.calls, stats.in_flight),
        (90, 10, 100, 0)
    );
}

#[test]
fn exactly_the_cap_runs_and_the_rest_are_busy_sync() {
    let monitor = Monitor::builder("busy-sync").max_active(10).build();
    let all_tried = Arc::new(Barrier::new(101));
    let threads: Vec<_> = (0..100)
        .map(|_| {
            let (monitor, all_tried) = (monitor.clone(), all_tried.clone());
            std::thread::spawn(move || {
                let mut waited = false;
                let result = monitor.call(|| {
                    waited = true;
                    all_tried.wait(); // held until every caller has tried
                });
                if !waited {
                    all_tried.wait();
                }
                result
            })
        })
        .collect();
    // The barrier only opens once 10 admitted + 90 refused have arrived.
    all_tried.wait();
    let results: Vec<_> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    assert_eq!(results.iter().filter(|r| r.is_ok()).count(), 10);
    assert_eq!(
        results
            .iter()
            .filter(|r| matches!(r, Err(Error::Busy { .. })))
            .count(),
        90
    );
    assert_eq!(monitor.stats().busy, 90);
    assert_eq!(monitor.stats().in_flight, 0);
}

#[test]
fn busy_never_blocks_and_says_what_to_do() {
    let monitor = Monitor::builder("busy-text").max_active(1).build();
    let inner = monitor.clone();
    let started = Instant::now();
    let nested = monitor.call(|| inner.call(|| ())).unwrap();
    assert!(started.elapsed() < Duration::from_secs(1));
    let err = nested.unwrap_err();
    assert_eq!(err.monitor(), "busy-text");
    let text = err.to_string();
    assert!(
        text.contains("busy") && text.contains("max_active"),
        "{text}"
    );
}

struct DropFlag(Arc<AtomicUsize>);
impl Drop for DropFlag {
    fn drop(&mut self) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[tokio::test]
async fn async_timeout_drops_the_body_and_frees_the_slot() {
    let monitor = Monitor::builder("timeout-cancel")
        .timeout(Duration::from_millis(30))
        .max_active(1)
        .build();
    let dropped = Arc::new(AtomicUsize::new(0));
    let flag = DropFlag(dropped.clone());
    let started = Instant::now();
    let result = within(
        Duration::from_secs(5),
        monitor.call_async(async move {
            let _flag = flag;
            std::future::pending::<()>().await
        }),
    )
    .await;
    let elapsed = started.elapsed();
    match result {
        Err(Error::Timeout { after, .. }) => assert_eq!(after, Duration::from_millis(30)),
        other => panic!("expected a timeout, got {other:?}"),
    }
    assert!(elapsed >= Duration::from_millis(30), "{elapsed:?}");
    assert_eq!(
        dropped.load(Ordering::SeqCst),
        1,
        "the body was not dropped"
    );
    let stats = monitor.stats();
    assert_eq!(
        (stats.timeouts, stats.cancelled, stats.in_flight),
        (1, 1, 0)
    );
    // The slot is free again.
    assert_eq!(monitor.call_async(async { 1 }).await, Ok(1));
}

#[tokio::test]
async fn a_body_that_finishes_in_time_is_not_timed_out() {
    let monitor = Monitor::builder("timeout-ok")
        .timeout(Duration::from_millis(500))
        .build();
    let result = monitor
        .call_async(async {
            tokio::time::sleep(Duration::from_millis(5)).await;
            "done"
        })
        .await;
    assert_eq!(result, Ok("done"));
    assert_eq!(monitor.stats().timeouts, 0);
}

#[tokio::test]
async fn detach_keeps_the_body_running_and_its_slot_held() {
    let monitor = Monitor::builder("timeout-detach")
        .timeout(Duration::from_millis(20))
        .max_active(1)
        .build();
    let finished = Arc::new(Notify::new());
    let done = finished.clone();
    let result = monitor
        .call_detached(async move {
            tokio::time::sleep(Duration::from_millis(150)).await;
            done.notify_one();
        })
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
    // Still running, still holding the only slot.
    assert_eq!(monitor.stats().in_flight, 1);
    assert!(matches!(
        monitor.call_async(async {}).await,
        Err(Error::Busy { .. })
    ));
    within(Duration::from_secs(5), finished.notified()).await;
    within(Duration::from_secs(5), async {
        while monitor.stats().in_flight != 0 {
            tokio::task::yield_now().await;
        }
    })
    .await;
    let stats = monitor.stats();
    assert_eq!(
        (stats.timeouts, stats.completed, stats.cancelled),
        (1, 1, 0)
    );
}

#[tokio::test]
async fn a_detached_body_that_panics_gives_its_slot_back_as_a_panic() {
    let monitor = Monitor::builder("timeout-detach-panic")
        .timeout(Duration::from_millis(20))
        .max_active(1)
        .build();
    let result = monitor
        .call_detached(async {
            tokio::time::sleep(Duration::from_millis(60)).await;
            panic!("a detached body panics after its caller timed out");
        })
        .await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
    assert_eq!(monitor.stats().in_flight, 1);
    within(Duration::from_secs(5), async {
        while monitor.stats().in_flight != 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
    let stats = monitor.stats();
    assert_eq!(
        (
            stats.timeouts,
            stats.panics,
            stats.completed,
            stats.cancelled
        ),
        (1, 1, 0, 0)
    );
}

#[test]
fn sync_timeout_returns_at_the_deadline_and_the_body_keeps_its_slot() {
    let monitor = Monitor::builder("timeout-sync")
        .timeout(Duration::from_millis(30))
        .max_active(1)
        .build();
    let gate = Arc::new(Barrier::new(2));
    let body_gate = gate.clone();
    let started = Instant::now();
    let result = monitor.call_blocking(move || {
        body_gate.wait();
        7
    });
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(30));
    assert_eq!(monitor.stats().in_flight, 1);
    assert!(matches!(
        monitor.call_blocking(|| 1),
        Err(Error::Busy { .. })
    ));
    gate.wait(); // let the stuck body return
    let deadline = Instant::now() + Duration::from_secs(5);
    while monitor.stats().in_flight != 0 {
        assert!(Instant::now() < deadline, "the slot was never released");
        std::thread::yield_now();
    }
    let stats = monitor.stats();
    assert_eq!((stats.timeouts, stats.completed, stats.busy), (1, 1, 1));
    assert_eq!(monitor.call_blocking(|| 2), Ok(2));
}

#[tokio::test]
async fn dropping_the_future_frees_the_slot() {
    let monitor = Monitor::builder("cancel").max_active(1).build();
    let mut call = Box::pin(monitor.call_async(std::future::pending::<()>()));
    // Poll once so that the call takes its slot.
    assert!(futures::poll!(call.as_mut()).is_pending());
    assert_eq!(monitor.stats().in_flight, 1);
    drop(call);
    let stats = monitor.stats();
    assert_eq!((stats.in_flight, stats.cancelled), (0, 1));
    // A future that is never polled never takes a slot.
    drop(monitor.call_async(async {}));
    assert_eq!(monitor.stats().calls, 1);
}

#[test]
fn a_sync_panic_frees_the_slot_and_reaches_the_caller_unchanged() {
    let monitor = Monitor::builder("panic-sync").max_active(1).build();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        monitor.call(|| -> u32 { std::panic::panic_any(41_u32) })
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<u32>(), Some(&41));
    let stats = monitor.stats();
    assert_eq!((stats.panics, stats.in_flight, stats.completed), (1, 0, 0));
    assert_eq!(monitor.call(|| 1), Ok(1));
}

#[test]
fn a_panic_on_a_worker_thread_reaches_the_caller_unchanged() {
    let monitor = Monitor::builder("panic-blocking")
        .timeout(Duration::from_secs(5))
        .max_active(1)
        .build();
    let payload = catch_unwind(AssertUnwindSafe(|| {
        monitor.call_blocking(|| -> u32 { std::panic::panic_any("worker says no") })
    }))
    .unwrap_err();
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"worker says no"));
    let stats = monitor.stats();
    assert_eq!((stats.panics, stats.in_flight), (1, 0));
}

#[tokio::test]
async fn an_async_panic_frees_the_slot_and_is_counted() {
    let monitor = Monitor::builder("panic-async").max_active(1).build();
    let m = monitor.clone();
    let joined = tokio::spawn(async move {
        m.call_async(async {
            tokio::task::yield_now().await;
            std::panic::panic_any(7_i64)
        })
        .await
    })
    .await;
    let payload = joined.unwrap_err().into_panic();
    assert_eq!(payload.downcast_ref::<i64>(), Some(&7));
    let stats = monitor.stats();
    assert_eq!((stats.panics, stats.in_flight, stats.cancelled), (1, 0, 0));
}

#[test]
fn stats_are_exact_at_rest() {
    let monitor = Monitor::builder("stats").max_active(1).build();
    for i in 0..1000 {
        assert_eq!(monitor.call(|| i), Ok(i));
    }
    let inner = monitor.clone();
    monitor
        .call(|| assert!(inner.call(|| ()).is_err()))
        .unwrap();
    let stats = monitor.stats();
    assert_eq!(stats.calls, 1002);
    assert_eq!(stats.completed, 1001);
    assert_eq!(stats.busy, 1);
    assert_eq!(
        (stats.timeouts, stats.panics, stats.cancelled, stats.alerts),
        (0, 0, 0, 0)
    );
    // The first 64 calls, then one call in 32, are timed.
    let samples = stats.latency.samples;
    let expected = 64 + (1001 - 64) / 32;
    assert!((expected..=expected + 1).contains(&samples), "{samples}");
    assert!(stats.latency.p50 <= stats.latency.p99 && stats.latency.p99 <= stats.latency.max);
}

#[test]
fn each_monitor_times_one_in_32_of_its_own_calls() {
    // A thread that calls two monitors in turn, as a handler calling two
    // monitored functions per request does: each monitor's calls are
    // sampled as if it were called alone.
    let first = Monitor::builder("latency.first").build();
    let second = Monitor::builder("latency.second").build();
    for _ in 0..64 + 32 * 20 {
        first.call(|| ()).unwrap();
        second.call(|| ()).unwrap();
    }
    for monitor in [&first, &second] {
        let samples = monitor.stats().latency.samples;
        assert!(
            (64 + 19..=64 + 21).contains(&samples),
            "{}: {samples} samples",
            monitor.name()
        );
    }
}

#[test]
fn latency_percentiles_follow_the_calls() {
    let monitor = Monitor::builder("latency").build();
    for _ in 0..10 {
        monitor
            .call(|| std::thread::sleep(Duration::from_millis(2)))
            .unwrap();
    }
    let latency = monitor.stats().latency;
    assert_eq!(latency.samples, 10, "a young monitor times every call");
    assert!(latency.p50 >= Duration::from_millis(2), "{latency:?}");
    assert!(latency.max >= latency.p99);
}

#[test]
fn the_registry_lists_monitors_by_name_until_they_stop() {
    let monitor = Monitor::builder("registry-listed").build();
    let found = monitor_runtime::monitor("registry-listed").expect("listed");
    assert!(found.same(&monitor));
    monitor.stop();
    assert!(monitor_runtime::monitor("registry-listed").is_none());
    {
        let _dropped = Monitor::builder("registry-dropped").build();
    }
    assert!(monitor_runtime::monitor("registry-dropped").is_none());
}

/// Go's monitor lets a timed-out body write its result into variables the
/// caller has already returned with. Here the result of a body that
/// outlived its caller is dropped on the worker, and the caller only ever
/// sees `Timeout`.
#[test]
fn a_late_result_is_dropped_on_the_worker_never_handed_over() {
    struct Late(Arc<Mutex<Option<String>>>);
    impl Drop for Late {
        fn drop(&mut self) {
            let thread = std::thread::current().name().unwrap_or("?").to_owned();
            *self.0.lock().unwrap() = Some(thread);
        }
    }
    use std::sync::Mutex;
    let dropped_on = Arc::new(Mutex::new(None));
    let monitor = Monitor::builder("late-result")
        .timeout(Duration::from_millis(10))
        .build();
    let gate = Arc::new(Barrier::new(2));
    let (body_gate, sink) = (gate.clone(), dropped_on.clone());
    let result = monitor.call_blocking(move || {
        body_gate.wait();
        Late(sink)
    });
    assert!(matches!(result, Err(Error::Timeout { .. })));
    gate.wait();
    let deadline = Instant::now() + Duration::from_secs(5);
    while dropped_on.lock().unwrap().is_none() {
        assert!(Instant::now() < deadline);
        std::thread::yield_now();
    }
    assert_eq!(
        dropped_on.lock().unwrap().as_deref(),
        Some("monitor-worker")
    );
}

/// A quick body is never handed to a worker that still runs an abandoned
/// one: each stuck body keeps its own worker, and the idle list holds only
/// idle workers, each once. (A worker that started before its first job
/// arrived, or that saw a stale "job ready" flag, used to put itself on the
/// idle list twice, so a later call could be queued behind a body that
/// never returns, or have its job overwritten: a `Timeout` for a body that
/// takes no time.)
#[test]
fn quick_sync_bodies_never_wait_behind_stuck_ones() {
    let stuck = Monitor::builder("tests::pool_stuck")
        .timeout(Duration::from_millis(5))
        .build();
    let quick = Monitor::builder("tests::pool_quick")
        .timeout(Duration::from_secs(2))
        .build();
    let release = Arc::new((std::sync::Mutex::new(false), std::sync::Condvar::new()));
    for round in 0..300 {
        let wait = release.clone();
        let held = stuck.call_blocking(move || {
            let (done, cv) = &*wait;
            let mut done = done.lock().unwrap();
            while !*done {
                done = cv.wait(done).unwrap();
            }
        });
        assert!(matches!(held, Err(Error::Timeout { .. })), "{held:?}");
        let started = Instant::now();
        assert_eq!(
            quick.call_blocking(move || round),
            Ok(round),
            "round {round}: after {:?}",
            started.elapsed()
        );
    }
    let (done, cv) = &*release;
    *done.lock().unwrap() = true;
    cv.notify_all();
}
