//! `drain` tells every supervisor to stop within its grace period: a
//! worker that watches its stop signal stops at once, and one that ignores
//! it is cut off (detached) at the drain's deadline, not at the end of its
//! own, longer, grace period. Its own binary: a drain closes admission for
//! the whole process.

use std::time::{Duration, Instant};

use monitor_demo::eventually;
use monitor_runtime::supervisor::Supervisor;

const GRACE: Duration = Duration::from_millis(800);

#[test]
fn supervised_workers_stop_within_the_grace_period() {
    monitor_demo::own_process!();
    let polite = Supervisor::builder("drain::polite")
        .heartbeat(Duration::from_secs(5))
        .spawn_thread(|beat, stop| {
            while !stop.wait(Duration::from_millis(10)) {
                beat.beat();
            }
            Ok::<(), String>(())
        })
        .unwrap();
    let deaf = Supervisor::builder("drain::deaf")
        .heartbeat(Duration::from_secs(60))
        .grace(Duration::from_secs(60))
        .spawn_thread(|_beat, _stop| {
            std::thread::sleep(Duration::from_secs(3600));
            Ok::<(), String>(())
        })
        .unwrap();
    let (polite, deaf) = (polite.supervisor().clone(), deaf.supervisor().clone());
    eventually("both workers started", || {
        polite.stats().starts == 1 && deaf.stats().starts == 1
    });

    let began = Instant::now();
    let report = monitor_runtime::drain(GRACE);
    let took = began.elapsed();

    assert!(!polite.stats().running, "{report}");
    assert!(!report
        .supervisors_left
        .contains(&"drain::polite".to_owned()));
    assert!(took < GRACE + Duration::from_secs(1), "{took:?}");
    // The deaf one is detached at the drain's deadline (it had 60 s of its
    // own): it stops running within a moment of it, far from a minute.
    eventually("the deaf worker cut off", || !deaf.stats().running);
    assert!(
        began.elapsed() < GRACE + Duration::from_secs(5),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(polite.stats().restarts, 0);
    monitor_runtime::drain::resume();
}
