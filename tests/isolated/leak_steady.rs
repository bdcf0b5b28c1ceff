//! The leak watch never reports a busy function whose level is steady:
//! many calls, all the time, some long, for several windows. Its own
//! binary: the watch and the hook are process-wide.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use monitor_runtime::monitor::Alert;
use monitor_runtime::{monitored, Error};

const WINDOW: Duration = Duration::from_millis(500);

#[monitored]
fn busy(ms: u64) -> Result<(), Error> {
    thread::sleep(Duration::from_millis(ms));
    Ok(())
}

#[test]
fn a_steady_busy_function_is_never_reported() {
    monitor_demo::own_process!();
    let alerts: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let seen = alerts.clone();
    monitor_runtime::monitor::set_alert_hook(move |alert| seen.lock().unwrap().push(alert.clone()));
    monitor_runtime::watch_leaks(WINDOW);

    let stop = Arc::new(AtomicBool::new(false));
    // Sixteen callers: short calls, and calls as long as a quarter window,
    // so that the level jitters a lot around a steady mean.
    let callers: Vec<_> = (0..16u64)
        .map(|i| {
            let stop = stop.clone();
            thread::spawn(move || {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let ms = if (n + i).is_multiple_of(7) {
                        120
                    } else {
                        1 + (n * i) % 5
                    };
                    busy(ms).unwrap();
                    n += 1;
                }
                n
            })
        })
        .collect();
    thread::sleep(6 * WINDOW);
    stop.store(true, Ordering::Relaxed);
    let calls: u64 = callers.into_iter().map(|t| t.join().unwrap()).sum();
    monitor_runtime::leak::stop_watching_leaks();

    assert!(calls > 500, "the function was busy: {calls} calls");
    let alerts = alerts.lock().unwrap();
    assert!(
        alerts.is_empty(),
        "a steady function (or the steady thread count) was reported: {alerts:?}"
    );
    assert_eq!(monitor_runtime::leak::leak_alerts(), 0);
}
