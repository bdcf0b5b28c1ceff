//! A dump sink that never returns does not stop a supervisor from
//! restarting a worker that stopped beating: the supervisor waits for the
//! dump a bounded while, then restarts on time; the dump may follow or be
//! dropped.

use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_demo::hung_sink;
use monitor_runtime::{dump::DumpOptions, supervisor::Supervisor};

const HEARTBEAT: Duration = Duration::from_millis(300);

#[test]
fn a_worker_that_stops_beating_is_restarted_on_time_while_the_sink_hangs() {
    monitor_demo::own_process!();
    let (release, entered) = hung_sink();
    let instances = Arc::new(AtomicUsize::new(0));
    let epoch = Instant::now();
    let last_beat_ms = Arc::new(AtomicU64::new(0));
    let (count, last_beat) = (instances.clone(), last_beat_ms.clone());
    let handle = Supervisor::builder("tests::hung_sink")
        .heartbeat(HEARTBEAT)
        .dump(Some(DumpOptions::new().native_stacks(false)))
        .spawn_thread(move |beat, stop| {
            if count.fetch_add(1, Ordering::SeqCst) == 0 {
                beat.beat();
                last_beat.store(epoch.elapsed().as_millis() as u64, Ordering::SeqCst);
                // Stuck: no beat until told to stop.
                while !stop.wait(Duration::from_millis(10)) {}
                return Ok(());
            }
            while !stop.wait(Duration::from_millis(10)) {
                beat.beat();
            }
            Ok::<(), String>(())
        })
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while handle.stats().restarts == 0 {
        assert!(
            Instant::now() < deadline,
            "no restart while the sink hangs: {:?}",
            handle.stats()
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let restarted_after =
        epoch.elapsed() - Duration::from_millis(last_beat_ms.load(Ordering::SeqCst));
    if std::env::var_os("MONITOR_TEST_FIGURES").is_some() {
        eprintln!("restarted {restarted_after:?} after the last beat");
    }
    // The dump did reach the sink, which hangs in it.
    entered
        .recv_timeout(Duration::from_secs(10))
        .expect("the stalled worker's dump reached the sink");
    assert!(
        restarted_after <= HEARTBEAT * 3,
        "restarted {restarted_after:?} after the last beat; heartbeat {HEARTBEAT:?}"
    );
    let stats = handle.stats();
    assert_eq!(
        (stats.missed_heartbeats, stats.restarts),
        (1, 1),
        "{stats:?}"
    );
    handle.stop_blocking().unwrap();
    drop(release);
}
