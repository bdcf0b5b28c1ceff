//! A drain with no grace period returns at once, lists the call that is
//! stuck, and still sends one dump of it to the sink (started at the
//! deadline, written just after). Its own binary: a drain closes
//! admission for the whole process.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::{monitored, Error};

#[monitored]
fn stuck(release: Receiver<()>) -> Result<(), Error> {
    let _ = release.recv();
    Ok(())
}

#[test]
fn no_grace_returns_at_once_and_still_dumps() {
    monitor_demo::own_process!();
    let dumps = kept_dumps();
    let (release, wait) = channel();
    let call = std::thread::spawn(move || stuck(wait));
    eventually("the call in the table", || {
        monitor_runtime::dump::DumpOptions::new()
            .native_stacks(false)
            .take()
            .calls
            .iter()
            .any(|c| c.function.ends_with("::stuck"))
    });

    let began = Instant::now();
    let report = monitor_runtime::drain(Duration::ZERO);
    assert!(
        began.elapsed() < Duration::from_secs(1),
        "{:?}",
        began.elapsed()
    );
    assert_eq!(report.left.len(), 1, "{report}");
    assert!(report.dumped);
    eventually("the dump of the stuck call", || {
        dumps.lock().unwrap().iter().any(|d| {
            matches!(&d.reason, DumpReason::Drain { calls, .. } if calls.len() == 1)
                && d.calls.iter().any(|c| c.function.ends_with("::stuck"))
        })
    });

    drop(release);
    assert_eq!(call.join().unwrap(), Ok(()));
    monitor_runtime::drain::resume();
}
