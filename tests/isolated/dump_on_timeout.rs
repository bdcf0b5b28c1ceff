//! `#[monitored(dump_on_timeout = true)]` and
//! `MonitorBuilder::dump_on_timeout`: a call still running at its timeout
//! is reported in a dump, as `#[stack_on_timeout]` reports one; and a
//! function with both `#[monitored]` and `#[stack_on_timeout]` (either
//! order) is one call in a dump, not two.

use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::Duration;

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::{Dump, DumpReason};
use monitor_runtime::{monitored, stack_on_timeout, Error, Monitor};

/// The functions reported overdue in the dumps kept so far, with the id
/// of each report.
fn overdue() -> Vec<(&'static str, String)> {
    kept_dumps()
        .lock()
        .unwrap()
        .iter()
        .flat_map(|dump| match &dump.reason {
            DumpReason::Overdue { calls } => calls
                .iter()
                .map(|c| (c.function, c.id.to_string()))
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

/// The first kept overdue dump that reports `function`.
fn overdue_dump(function: &str) -> Dump {
    kept_dumps()
        .lock()
        .unwrap()
        .iter()
        .find(|dump| match &dump.reason {
            DumpReason::Overdue { calls } => calls.iter().any(|c| c.function == function),
            _ => false,
        })
        .cloned()
        .expect("an overdue dump")
}

fn wait(release: Receiver<()>) {
    let _ = release.recv_timeout(Duration::from_secs(10));
}

#[monitored(timeout = "30ms", dump_on_timeout = true)]
fn reported(release: Receiver<()>) -> Result<(), Error> {
    wait(release);
    Ok(())
}

#[monitored(timeout = "30ms")]
fn not_reported(release: Receiver<()>) -> Result<(), Error> {
    wait(release);
    Ok(())
}

#[test]
fn a_call_still_running_at_its_timeout_is_reported() {
    monitor_demo::own_process!();
    kept_dumps();
    let (loud_tx, loud_rx) = channel();
    let (quiet_tx, quiet_rx) = channel();
    let (runtime_tx, runtime_rx) = channel();
    assert!(matches!(reported(loud_rx), Err(Error::Timeout { .. })));
    assert!(matches!(not_reported(quiet_rx), Err(Error::Timeout { .. })));
    let monitor = Monitor::builder("dump_on_timeout.runtime")
        .timeout(Duration::from_millis(30))
        .dump_on_timeout(true)
        .build();
    let late = monitor.call_blocking(move || wait(runtime_rx));
    assert!(matches!(late, Err(Error::Timeout { .. })));

    let functions = || overdue().into_iter().map(|(f, _)| f).collect::<Vec<_>>();
    eventually("both reported at their timeout", || {
        let seen = functions();
        seen.contains(&"isolated::dump_on_timeout::reported")
            && seen.contains(&"dump_on_timeout.runtime")
    });
    let dump = overdue_dump("isolated::dump_on_timeout::reported");
    let call = dump
        .calls
        .iter()
        .find(|c| c.function == "isolated::dump_on_timeout::reported")
        .expect("the call's stack in the dump");
    assert!(call.triggered);
    assert!(call.stack[0].overdue);
    // Still running, but without `dump_on_timeout` it is not reported.
    assert!(!functions().contains(&"isolated::dump_on_timeout::not_reported"));
    for tx in [loud_tx, quiet_tx, runtime_tx] {
        let _ = tx.send(());
    }
}

#[monitored]
#[stack_on_timeout(30ms)]
fn monitored_over_stack(release: Receiver<()>) -> Result<(), Error> {
    wait(release);
    Ok(())
}

#[stack_on_timeout(30ms)]
#[monitored]
fn stack_over_monitored(release: Receiver<()>) -> Result<(), Error> {
    wait(release);
    Ok(())
}

/// The frames of `function` in `dump`'s stacks, and their ids.
fn frames(dump: &Dump, function: &str) -> Vec<String> {
    dump.calls
        .iter()
        .flat_map(|c| &c.stack)
        .filter(|f| f.function == function)
        .map(|f| f.id.to_string())
        .collect()
}

#[test]
fn both_attributes_make_one_call_in_either_order() {
    monitor_demo::own_process!();
    kept_dumps();
    for function in [
        "isolated::dump_on_timeout::monitored_over_stack",
        "isolated::dump_on_timeout::stack_over_monitored",
    ] {
        let (tx, rx) = channel();
        let caller = match function {
            "isolated::dump_on_timeout::monitored_over_stack" => {
                thread::spawn(move || monitored_over_stack(rx))
            }
            _ => thread::spawn(move || stack_over_monitored(rx)),
        };
        eventually("reported", || overdue().iter().any(|(f, _)| *f == function));
        let dump = overdue_dump(function);
        let reported: Vec<String> = overdue()
            .into_iter()
            .filter(|(f, _)| *f == function)
            .map(|(_, id)| id)
            .collect();
        let frames = frames(&dump, function);
        assert_eq!(frames.len(), 1, "{function}: {frames:?}\n{dump}");
        assert!(
            reported.iter().all(|id| *id == frames[0]),
            "{reported:?} vs {frames:?}\n{dump}"
        );
        let _ = tx.send(());
        caller.join().unwrap().unwrap();
    }
}
