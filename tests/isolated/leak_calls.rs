//! The leak watch: a function whose calls never return, started one per
//! 50 ms, is reported within two windows, with its count, its growth and
//! its oldest calls with their lines, through the alert hook, the dump
//! sink and the counter; so is the thread count that rises with it; and a
//! busy function at a steady level, running all along, never is. Its own
//! binary: the watch, the hook and the sink are process-wide.

use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::leak::{leak_alerts, Leaking};
use monitor_runtime::monitor::{Alert, AlertKind};
use monitor_runtime::{monitored, Error};

const WINDOW: Duration = Duration::from_secs(1);

const LEAKY_LINE: u32 = line!() + 2;
#[monitored]
fn leaky(never: Receiver<()>) -> Result<(), Error> {
    let _ = never.recv();
    Ok(())
}

#[monitored]
fn steady() -> Result<(), Error> {
    thread::sleep(Duration::from_millis(2));
    Ok(())
}

#[test]
fn a_leak_is_reported_within_two_windows_and_a_steady_function_never() {
    monitor_demo::own_process!();
    let dumps = kept_dumps();
    let alerts: Arc<Mutex<Vec<(Instant, Alert)>>> = Arc::default();
    let seen = alerts.clone();
    monitor_runtime::monitor::set_alert_hook(move |alert| {
        seen.lock().unwrap().push((Instant::now(), alert.clone()));
    });

    // Busy and steady: eight threads calling all the time.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let busy: Vec<_> = (0..8)
        .map(|_| {
            let stop = stop.clone();
            thread::spawn(move || {
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    steady().unwrap();
                }
            })
        })
        .collect();
    monitor_runtime::watch_leaks(WINDOW);
    thread::sleep(WINDOW);

    // The leak: a call that never returns, one every 50 ms, each on a
    // thread of its own.
    let began = Instant::now();
    let mut releases = Vec::new();
    let mut leaked = Vec::new();
    let reported = |alerts: &[(Instant, Alert)]| {
        alerts.iter().any(|(_, alert)| {
            matches!(&alert.kind, AlertKind::Leak(leak) if matches!(&leak.what, Leaking::Calls(f) if f.ends_with("::leaky")))
        })
    };
    while began.elapsed() < 3 * WINDOW && !reported(&alerts.lock().unwrap()) {
        let (release, never) = channel();
        releases.push(release);
        leaked.push(thread::spawn(move || leaky(never)));
        thread::sleep(Duration::from_millis(50));
    }

    let alerts_now = alerts.lock().unwrap().clone();
    let (at, alert) = alerts_now
        .iter()
        .find(|(_, alert)| alert.monitor.ends_with("::leaky"))
        .unwrap_or_else(|| panic!("no leak reported in 3 windows: {alerts_now:?}"));
    assert!(
        at.duration_since(began) <= 2 * WINDOW,
        "reported after {:?}",
        at.duration_since(began)
    );
    let AlertKind::Leak(leak) = &alert.kind else {
        unreachable!()
    };
    assert!(leak.growth >= 5, "{leak}");
    assert!(leak.count >= leak.growth, "{leak}");
    assert_eq!(leak.window, WINDOW);
    assert!(!leak.oldest.is_empty());
    assert!(leak
        .oldest
        .iter()
        .all(|call| call.line == LEAKY_LINE && call.file.ends_with("leak_calls.rs")));
    assert!(leak.oldest.windows(2).all(|w| w[0].elapsed >= w[1].elapsed));
    assert!(alert.to_string().contains("keep rising"), "{alert}");
    assert!(leak_alerts() >= 1);

    // The dump: the leak, with the oldest calls' lines.
    eventually("the leak's dump", || {
        dumps.lock().unwrap().iter().any(|d| {
            matches!(&d.reason, DumpReason::Leak(leak) if matches!(&leak.what, Leaking::Calls(f) if f.ends_with("::leaky")))
        })
    });
    let text = dumps
        .lock()
        .unwrap()
        .iter()
        .find(|d| matches!(&d.reason, DumpReason::Leak(leak) if matches!(&leak.what, Leaking::Calls(_))))
        .unwrap()
        .to_string();
    assert!(text.contains("keep rising"), "{text}");
    assert!(
        text.contains(&format!("leak_calls.rs:{LEAKY_LINE}")),
        "{text}"
    );

    // Each leaked call holds a thread: the thread count rises too.
    #[cfg(target_os = "linux")]
    {
        while !alerts
            .lock()
            .unwrap()
            .iter()
            .any(|(_, a)| matches!(&a.kind, AlertKind::Leak(l) if l.what == Leaking::Threads))
        {
            assert!(began.elapsed() < 6 * WINDOW, "no thread leak reported");
            let (release, never) = channel();
            releases.push(release);
            leaked.push(thread::spawn(move || leaky(never)));
            thread::sleep(Duration::from_millis(50));
        }
    }

    // The steady function ran all along and was never reported.
    assert!(!alerts
        .lock()
        .unwrap()
        .iter()
        .any(|(_, alert)| alert.monitor.ends_with("::steady")));

    monitor_runtime::leak::stop_watching_leaks();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    drop(releases);
    for t in busy {
        t.join().unwrap();
    }
    for t in leaked {
        t.join().unwrap().unwrap();
    }
}
