//! Stall alerts: one per stall, none while calls complete, never blocking,
//! through streams, the process-wide hook, and stderr by default.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use monitor_runtime::{monitor::Alert, Error, Monitor};
use tokio::sync::Notify;

/// Holds one call of `monitor` in flight until `release` is notified.
fn hold(monitor: &Monitor, release: &Arc<Notify>) -> tokio::task::JoinHandle<()> {
    let (monitor, release) = (monitor.clone(), release.clone());

    tokio::spawn(async move {
        monitor.call_async(release.notified()).await.unwrap();
    })
}

async fn until(what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_alert_per_stall_and_a_completion_ends_it() {
    monitor_demo::own_process!();
    let monitor = Monitor::builder("alert-once")
        .max_active(1)
        .alert(Duration::from_millis(40))
        .build();
    let mut alerts = monitor.alerts();
    let release = Arc::new(Notify::new());
    let held = hold(&monitor, &release);
    until("the held call", || monitor.stats().in_flight == 1).await;

    let stall_began = Instant::now();
    assert!(matches!(
        monitor.call_async(async {}).await,
        Err(Error::Busy { .. })
    ));
    let alert = tokio::time::timeout(Duration::from_secs(5), alerts.recv())
        .await
        .expect("an alert")
        .unwrap();
    assert!(stall_began.elapsed() >= Duration::from_millis(40));
    assert_eq!(alert.monitor, "alert-once");
    assert_eq!((alert.max_active, alert.in_flight), (1, 1));
    assert!(alert.stalled_for >= Duration::from_millis(40), "{alert:?}");

    // More refusals in the same stall raise nothing more.
    for _ in 0..10 {
        assert!(monitor.call_async(async {}).await.is_err());
    }
    tokio::time::sleep(Duration::from_millis(150)).await;
    assert_eq!(monitor.stats().alerts, 1);

    // A completion ends the stall; the next stall gets its own alert.
    release.notify_one();
    held.await.unwrap();
    let held = hold(&monitor, &release);
    until("the second held call", || monitor.stats().in_flight == 1).await;
    assert!(monitor.call_async(async {}).await.is_err());
    let second = tokio::time::timeout(Duration::from_secs(5), alerts.recv())
        .await
        .expect("a second alert");
    assert!(second.is_some());
    assert_eq!(monitor.stats().alerts, 2);
    release.notify_one();
    held.await.unwrap();
}

#[test]
fn no_alert_while_calls_complete() {
    monitor_demo::own_process!();
    // Calls complete every ~3 ms; the alert period leaves room for a loaded
    // machine's scheduling gaps.
    let monitor = Monitor::builder("alert-progress")
        .max_active(1)
        .alert(Duration::from_millis(250))
        .build();
    let stop_at = Instant::now() + Duration::from_millis(800);
    let worker = {
        let monitor = monitor.clone();
        std::thread::spawn(move || {
            while Instant::now() < stop_at {
                let _ = monitor.call(|| std::thread::sleep(Duration::from_millis(3)));
            }
        })
    };
    let mut refused = 0;
    while Instant::now() < stop_at {
        if monitor.call(|| ()).is_err() {
            refused += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    worker.join().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    assert!(
        refused > 0,
        "the cap was never reached; the test proves nothing"
    );
    assert_eq!(monitor.stats().alerts, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alerts_never_block_when_nobody_listens() {
    monitor_demo::own_process!();
    // Go's monitor blocks forever sending a second alert that nobody reads.
    // Here: one stream that is never read, and 40 stalls, more than the
    // stream's buffer.
    let monitor = Monitor::builder("alert-unread")
        .max_active(1)
        .alert(Duration::from_millis(1))
        .build();
    let unread = monitor.alerts();
    let release = Arc::new(Notify::new());
    let started = Instant::now();
    for stall in 1..=40u64 {
        let held = hold(&monitor, &release);
        until("the held call", || monitor.stats().in_flight == 1).await;
        assert!(monitor.call_async(async {}).await.is_err());
        until("the alert", || monitor.stats().alerts == stall).await;
        release.notify_one();
        tokio::time::timeout(Duration::from_secs(5), held)
            .await
            .expect("a caller blocked behind an unread alert")
            .unwrap();
    }
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(monitor.stats().alerts, 40);
    drop(unread);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_hook_receives_every_alert() {
    monitor_demo::own_process!();
    let seen: Arc<Mutex<Vec<Alert>>> = Arc::default();
    let sink = seen.clone();
    monitor_runtime::monitor::set_alert_hook(move |alert| {
        if alert.monitor == "alert-hooked" {
            sink.lock().unwrap().push(alert.clone());
        }
    });
    let monitor = Monitor::builder("alert-hooked")
        .max_active(2)
        .alert(Duration::from_millis(20))
        .build();
    let release = Arc::new(Notify::new());
    let held = [hold(&monitor, &release), hold(&monitor, &release)];
    until("two held calls", || monitor.stats().in_flight == 2).await;
    assert!(monitor.call_async(async {}).await.is_err());
    until("the hook", || !seen.lock().unwrap().is_empty()).await;
    let alert = seen.lock().unwrap()[0].clone();
    assert_eq!((alert.max_active, alert.in_flight), (2, 2));
    assert!(alert.stalled_for >= Duration::from_millis(20));
    release.notify_waiters();
    for task in held {
        task.await.unwrap();
    }
    monitor_runtime::monitor::clear_alert_hook();
}

/// Without a hook, an alert is one line on stderr. Checked in a child
/// process, whose stderr this test reads.
#[test]
fn without_a_hook_the_alert_is_one_line_on_stderr() {
    monitor_demo::own_process!();
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "monitor_alerts::child_process_raises_an_alert",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<_> = stderr.lines().filter(|l| l.contains("alert")).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(line.contains("alert-stderr"), "{line}");
    assert!(line.contains("of 3 calls"), "{line}");
    assert!(line.contains("no call completed for"), "{line}");
}

/// Run by `without_a_hook_the_alert_is_one_line_on_stderr` in a child process.
#[test]
#[ignore = "helper: run in a child process by without_a_hook_the_alert_is_one_line_on_stderr"]
fn child_process_raises_an_alert() {
    monitor_demo::own_process!();
    let monitor = Monitor::builder("alert-stderr")
        .max_active(3)
        .alert(Duration::from_millis(10))
        .build();
    let m = monitor.clone();
    let _ = monitor.call(|| {
        let m2 = m.clone();
        let _ = m.call(|| {
            let m3 = m2.clone();
            let _ = m2.call(|| {
                assert!(m3.call(|| ()).is_err());
                let deadline = Instant::now() + Duration::from_secs(5);
                while m3.stats().alerts == 0 {
                    assert!(Instant::now() < deadline);
                    std::thread::sleep(Duration::from_millis(1));
                }
            });
        });
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_alert_once_the_cap_is_no_longer_full() {
    monitor_demo::own_process!();
    // Refusals, then the held calls are cancelled (not completed): the
    // slots are free, so there is no stall to report. The alert's period
    // is long enough that the cancellation, which another worker carries
    // out, lands within it on a loaded machine (at 30 ms it did not, once:
    // the stall was then real and reported).
    let monitor = Monitor::builder("alert-drained")
        .max_active(1)
        .alert(Duration::from_millis(500))
        .build();
    let release = Arc::new(Notify::new());
    let held = hold(&monitor, &release);
    until("the held call", || monitor.stats().in_flight == 1).await;
    assert!(monitor.call_async(async {}).await.is_err());
    held.abort();
    until("the cancellation", || monitor.stats().cancelled == 1).await;
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(monitor.stats().alerts, 0);

    // A later stall is still reported.
    let held = hold(&monitor, &release);
    until("the held call", || monitor.stats().in_flight == 1).await;
    assert!(monitor.call_async(async {}).await.is_err());
    until("the alert", || monitor.stats().alerts == 1).await;
    release.notify_one();
    held.await.unwrap();
}
