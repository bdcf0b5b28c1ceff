//! Heartbeat supervision: restarts after a stall, a panic and an error,
//! none while beats arrive, the intensity limit, and shutdown within the
//! grace period.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use monitor_runtime::{
    dump::{set_dump_sink, Dump, DumpOptions, DumpReason, DumpSink, NativeStack},
    supervisor::{Cause, Restart, Supervisor, SupervisorError, SupervisorStats},
};

/// The dumps written so far (the sink is process-wide: each test picks its
/// own by the worker's name).
fn dumps() -> &'static Mutex<Vec<Dump>> {
    static DUMPS: OnceLock<Mutex<Vec<Dump>>> = OnceLock::new();
    DUMPS.get_or_init(|| {
        set_dump_sink(DumpSink::custom(|dump| {
            dumps().lock().unwrap().push(dump.clone());
        }))
        .unwrap();
        Mutex::new(Vec::new())
    })
}

/// The dump of `name`'s stall, waited for up to 10 s: the supervisor
/// restarts the worker at once and hands the dump to the dump worker, so
/// the restart shows in the stats before the dump reaches the sink.
fn stalled_dump(name: &str) -> Option<Dump> {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let found = dumps()
            .lock()
            .unwrap()
            .iter()
            .find(
                |d| matches!(&d.reason, DumpReason::StalledWorker { worker, .. } if worker == name),
            )
            .cloned();
        if found.is_some() || Instant::now() >= deadline {
            return found;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The expected panics of the workers print nothing: printing a backtrace
/// on a loaded machine can take longer than a heartbeat timeout. Other
/// panics (failed assertions) print as usual.
fn quiet_worker_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&"first instance panics") {
                default(info);
            }
        }));
    });
}

/// Waits until `done` holds of the stats, for at most 10 s.
fn wait_for(
    stats: impl Fn() -> SupervisorStats,
    done: impl Fn(&SupervisorStats) -> bool,
) -> SupervisorStats {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let now = stats();
        if done(&now) {
            return now;
        }
        assert!(Instant::now() < deadline, "timed out; stats: {now:?}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_worker_that_stalls_is_cancelled_and_restarted() {
    monitor_demo::own_process!();
    dumps();
    let instances = Arc::new(AtomicUsize::new(0));
    let first_dropped = Arc::new(AtomicBool::new(false));
    struct OnDrop(Arc<AtomicBool>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            self.0.store(true, Ordering::SeqCst);
        }
    }
    let (count, dropped) = (instances.clone(), first_dropped.clone());
    let handle = Supervisor::builder("tests::async_stall")
        .heartbeat(Duration::from_millis(100))
        .dump(Some(DumpOptions::new().native_stacks(false)))
        .spawn(move |beat, stop| {
            let instance = count.fetch_add(1, Ordering::SeqCst);
            let dropped = dropped.clone();
            async move {
                if instance == 0 {
                    let _guard = OnDrop(dropped);
                    beat.beat();
                    // Stuck: no beat, no return.
                    std::future::pending::<()>().await;
                }
                while !stop.is_stopped() {
                    beat.beat();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok::<(), String>(())
            }
        })
        .unwrap();
    let h = handle.supervisor().clone();
    let stats = tokio::task::spawn_blocking(move || {
        wait_for(|| h.stats(), |s| s.stall_restarts == 1 && s.starts == 2)
    })
    .await
    .unwrap();
    assert_eq!(stats.missed_heartbeats, 1);
    assert_eq!(stats.restarts, 1);
    let dump = stalled_dump("tests::async_stall").expect("a dump of the stall");
    let DumpReason::StalledWorker {
        silent_for, thread, ..
    } = &dump.reason
    else {
        unreachable!()
    };
    assert!(*silent_for >= Duration::from_millis(100), "{silent_for:?}");
    assert!(thread.is_none());
    assert!(dump
        .to_string()
        .contains("worker tests::async_stall stalled: no heartbeat for"));
    // Cancelled: the stuck future was dropped.
    let deadline = Instant::now() + Duration::from_secs(2);
    while !first_dropped.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the stuck instance was not dropped"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // No more restarts while the new instance beats.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(handle.stats().restarts, 1);
    handle.stop().await.unwrap();
}

#[inline(never)]
fn stuck_in_thread(stop: &monitor_runtime::supervisor::StopSignal) {
    // No beat; returns only when told to stop.
    while !stop.wait(Duration::from_millis(5)) {}
}

#[test]
fn a_thread_worker_that_stalls_is_told_to_stop_and_restarted_with_its_stack_dumped() {
    monitor_demo::own_process!();
    dumps();
    let instances = Arc::new(AtomicUsize::new(0));
    let first_returned = Arc::new(AtomicBool::new(false));
    let (count, returned) = (instances.clone(), first_returned.clone());
    let handle = Supervisor::builder("tests::thread_stall")
        .heartbeat(Duration::from_millis(100))
        .spawn_thread(move |beat, stop| {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                beat.beat();
                stuck_in_thread(&stop);
                returned.store(true, Ordering::SeqCst);
                return Ok(());
            }
            while !stop.wait(Duration::from_millis(10)) {
                beat.beat();
            }
            Ok::<(), String>(())
        })
        .unwrap();
    let stats = wait_for(
        || handle.stats(),
        |s| s.stall_restarts == 1 && s.starts == 2,
    );
    assert_eq!(stats.missed_heartbeats, 1);
    let dump = stalled_dump("tests::thread_stall").expect("a dump of the stall");
    let DumpReason::StalledWorker { thread, native, .. } = &dump.reason else {
        unreachable!()
    };
    assert!(thread.is_some(), "a thread worker's tid is known");
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        let Some(NativeStack::Captured { frames, .. }) = native else {
            panic!("no native stack: {native:?}");
        };
        assert!(
            frames.iter().any(|f| f
                .function
                .as_deref()
                .is_some_and(|f| f.contains("stuck_in_thread"))),
            "{dump}"
        );
        assert!(dump.to_string().contains("stuck_in_thread"), "{dump}");
    }
    // Told to stop: the old thread returned (and was not joined).
    let deadline = Instant::now() + Duration::from_secs(2);
    while !first_returned.load(Ordering::SeqCst) {
        assert!(
            Instant::now() < deadline,
            "the stuck thread was not told to stop"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    handle.stop_blocking().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_async_worker_is_restarted_after_a_panic_and_an_error() {
    monitor_demo::own_process!();
    quiet_worker_panics();
    let instances = Arc::new(AtomicUsize::new(0));
    let count = instances.clone();
    let handle = Supervisor::builder("tests::async_failures")
        // Not about stalls: a slow panic must not count as one.
        .heartbeat(Duration::from_secs(60))
        .restart(Restart::Transient)
        .spawn(move |beat, _stop| {
            let instance = count.fetch_add(1, Ordering::SeqCst);
            async move {
                beat.beat();
                match instance {
                    0 => panic!("first instance panics"),
                    1 => Err("second instance fails".to_owned()),
                    _ => Ok(()),
                }
            }
        })
        .unwrap();
    let h = handle.supervisor().clone();
    handle.join().await.unwrap();
    let stats = h.stats();
    assert_eq!(
        (stats.starts, stats.panic_restarts, stats.error_restarts),
        (3, 1, 1),
        "{stats:?}"
    );
    assert!(!stats.running);
}

#[test]
fn a_thread_worker_is_restarted_after_a_panic_and_an_error() {
    monitor_demo::own_process!();
    quiet_worker_panics();
    let instances = Arc::new(AtomicUsize::new(0));
    let count = instances.clone();
    let handle = Supervisor::builder("tests::thread_failures")
        // Not about stalls: a slow panic must not count as one.
        .heartbeat(Duration::from_secs(60))
        .restart(Restart::Transient)
        .spawn_thread(
            move |_beat, _stop| match count.fetch_add(1, Ordering::SeqCst) {
                0 => panic!("first instance panics"),
                1 => Err("second instance fails"),
                _ => Ok(()),
            },
        )
        .unwrap();
    let h = handle.supervisor().clone();
    handle.join_blocking().unwrap();
    let stats = h.stats();
    assert_eq!(
        (stats.starts, stats.panic_restarts, stats.error_restarts),
        (3, 1, 1),
        "{stats:?}"
    );
}

/// Beats every 10 ms, a heartbeat timeout of 100 ms, and every core busy
/// spinning: no missed heartbeat.
#[test]
fn no_restart_while_beats_arrive_even_with_every_core_busy() {
    monitor_demo::own_process!();
    let cores = std::thread::available_parallelism().map_or(2, |n| n.get());
    let spin = Arc::new(AtomicBool::new(true));
    let spinners: Vec<_> = (0..cores.max(2))
        .map(|_| {
            let spin = spin.clone();
            std::thread::spawn(move || {
                while spin.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        })
        .collect();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let async_handle = runtime.block_on(async {
        Supervisor::builder("tests::async_busy")
            .heartbeat(Duration::from_millis(100))
            .spawn(|beat, stop| async move {
                while !stop.is_stopped() {
                    beat.beat();
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                Ok::<(), String>(())
            })
            .unwrap()
    });
    let thread_handle = Supervisor::builder("tests::thread_busy")
        .heartbeat(Duration::from_millis(100))
        .spawn_thread(|beat, stop| {
            while !stop.wait(Duration::from_millis(10)) {
                beat.beat();
            }
            Ok::<(), String>(())
        })
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    spin.store(false, Ordering::Relaxed);
    spinners.into_iter().for_each(|s| s.join().unwrap());
    for stats in [async_handle.stats(), thread_handle.stats()] {
        assert_eq!(
            (stats.starts, stats.missed_heartbeats, stats.restarts),
            (1, 0, 0)
        );
    }
    thread_handle.stop_blocking().unwrap();
    runtime.block_on(async_handle.stop()).unwrap();
}

#[test]
fn the_intensity_limit_gives_up_with_a_typed_error() {
    monitor_demo::own_process!();
    let handle = Supervisor::builder("tests::gives_up")
        .heartbeat(Duration::from_secs(60))
        .max_restarts(2, Duration::from_secs(5))
        .spawn_thread(|_beat, _stop| Err::<(), _>("no database"))
        .unwrap();
    let h = handle.supervisor().clone();
    let error = handle.join_blocking().unwrap_err();
    assert_eq!(
        error,
        SupervisorError::GaveUp {
            name: "tests::gives_up".into(),
            restarts: 2,
            within: Duration::from_secs(5),
            last: Cause::Error {
                message: "no database".into()
            },
        }
    );
    assert!(error.to_string().contains("max_restarts"), "{error}");
    let stats = h.stats();
    assert!(stats.gave_up);
    assert_eq!((stats.starts, stats.restarts), (3, 2));
    assert!(monitor_runtime::supervisor::supervisor("tests::gives_up").is_none());
}

#[test]
fn a_temporary_worker_is_not_restarted() {
    monitor_demo::own_process!();
    let handle = Supervisor::builder("tests::temporary")
        .heartbeat(Duration::from_secs(60))
        .restart(Restart::Temporary)
        .spawn_thread(|_beat, _stop| Err::<(), _>("once"))
        .unwrap();
    let error = handle.join_blocking().unwrap_err();
    assert!(
        matches!(&error, SupervisorError::WorkerFailed { cause: Cause::Error { message }, .. } if message == "once"),
        "{error:?}"
    );
}

#[test]
fn backoff_delays_restarts() {
    monitor_demo::own_process!();
    let began = Instant::now();
    let handle = Supervisor::builder("tests::backoff")
        .heartbeat(Duration::from_secs(60))
        .max_restarts(2, Duration::from_secs(5))
        .backoff(monitor_runtime::supervisor::Backoff::Fixed(
            Duration::from_millis(100),
        ))
        .spawn_thread(|_beat, _stop| Err::<(), _>("down"))
        .unwrap();
    assert!(handle.join_blocking().is_err());
    assert!(began.elapsed() >= Duration::from_millis(200));
}

#[test]
fn shutdown_of_a_stuck_thread_worker_finishes_within_the_grace_period() {
    monitor_demo::own_process!();
    let started = Arc::new(AtomicBool::new(false));
    let s = started.clone();
    let handle = Supervisor::builder("tests::stuck_thread_shutdown")
        .heartbeat(Duration::from_secs(60))
        .grace(Duration::from_millis(200))
        .spawn_thread(move |_beat, _stop| {
            s.store(true, Ordering::SeqCst);
            // Ignores the stop signal.
            std::thread::sleep(Duration::from_secs(3));
            Ok::<(), String>(())
        })
        .unwrap();
    while !started.load(Ordering::SeqCst) {
        std::thread::sleep(Duration::from_millis(1));
    }
    let began = Instant::now();
    handle.stop_blocking().unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(700),
        "{took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_of_a_stuck_async_worker_cancels_it_after_the_grace_period() {
    monitor_demo::own_process!();
    let handle = Supervisor::builder("tests::stuck_async_shutdown")
        .heartbeat(Duration::from_secs(60))
        .grace(Duration::from_millis(200))
        .spawn(|_beat, _stop| async move {
            std::future::pending::<()>().await;
            Ok::<(), String>(())
        })
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    let began = Instant::now();
    handle.stop().await.unwrap();
    let took = began.elapsed();
    assert!(
        took >= Duration::from_millis(200) && took < Duration::from_millis(700),
        "{took:?}"
    );
}

#[test]
fn supervisors_are_listed_while_they_run() {
    monitor_demo::own_process!();
    let handle = Supervisor::builder("tests::listed")
        .spawn_thread(|_beat, stop| {
            stop.wait(Duration::from_secs(60));
            Ok::<(), String>(())
        })
        .unwrap();
    let listed = monitor_runtime::supervisor::supervisor("tests::listed").expect("listed");
    assert!(listed.stats().running);
    assert!(monitor_runtime::supervisor::supervisors()
        .iter()
        .any(|s| s.name() == "tests::listed"));
    handle.stop_blocking().unwrap();
    assert!(!listed.stats().running);
    assert!(monitor_runtime::supervisor::supervisor("tests::listed").is_none());
}

#[test]
fn an_async_supervisor_needs_a_runtime() {
    monitor_demo::own_process!();
    let error = Supervisor::builder("tests::no_runtime")
        .spawn(|_beat, _stop| async { Ok::<(), String>(()) })
        .unwrap_err();
    assert!(matches!(error, SupervisorError::NoRuntime { .. }));
    assert!(error.to_string().contains("spawn_thread"), "{error}");
}

#[test]
fn a_permanent_worker_is_restarted_after_it_returns() {
    monitor_demo::own_process!();
    let count = Arc::new(AtomicUsize::new(0));
    let c = count.clone();
    let handle = Supervisor::builder("tests::permanent")
        .heartbeat(Duration::from_secs(60))
        .max_restarts(2, Duration::from_secs(5))
        .spawn_thread(move |_beat, _stop| {
            c.fetch_add(1, Ordering::SeqCst);
            Ok::<(), String>(())
        })
        .unwrap();
    let error = handle.join_blocking().unwrap_err();
    assert!(
        matches!(
            &error,
            SupervisorError::GaveUp {
                last: Cause::Exit,
                ..
            }
        ),
        "{error:?}"
    );
    assert_eq!(count.load(Ordering::SeqCst), 3);
}

static SUPERVISED_ROUNDS: AtomicUsize = AtomicUsize::new(0);

/// Stalls in its first instance (beats, then waits for the stop without
/// beating); later instances beat until stopped.
#[monitor_runtime::supervised(heartbeat = "100ms", max_restarts = 2, within = "10s")]
fn supervised_worker(
    beat: &monitor_runtime::supervisor::Heartbeat,
    stop: &monitor_runtime::supervisor::StopSignal,
) -> Result<(), String> {
    let first = SUPERVISED_ROUNDS.fetch_add(1, Ordering::SeqCst) == 0;
    beat.beat();
    while !stop.wait(Duration::from_millis(10)) {
        if !first {
            beat.beat();
        }
    }
    Ok(())
}

#[test]
fn a_supervised_function_is_restarted_after_a_stall() {
    monitor_demo::own_process!();
    let handle = supervised_worker::spawn().unwrap();
    assert_eq!(
        handle.supervisor().name(),
        "isolated::supervisor_restarts::supervised_worker"
    );
    let stats = wait_for(
        || handle.stats(),
        |s| s.stall_restarts == 1 && s.starts == 2,
    );
    assert_eq!(stats.restarts, 1);
    handle.stop_blocking().unwrap();
}
