//! A storm of overdue calls prints output linear in their number: 100
//! calls stuck at one place, going overdue one by one over a second, make
//! a few reports that name each call once, show each stack at most twice,
//! and fold the stacks stuck at the same place into one block with a
//! count. (Before, each call's report showed every call in flight: 100
//! calls made about 99 dumps and 5,000 blocks.) Polls that block their
//! thread, one after another, are reported the same way. (Before, 200
//! polls blocking 15 ms each beside 200 parked calls made about 110
//! dumps, 22,000 blocks and 3 MB.)

use std::collections::HashSet;
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use monitor_runtime::{
    dump::{set_dump_sink, Dump, DumpReason, DumpSink},
    monitored, stack_on_timeout, Error,
};

const CALLS: usize = 100;

#[stack_on_timeout(50ms)]
fn stuck(release: Arc<Mutex<Receiver<()>>>) {
    let _ = release.lock().unwrap().recv();
}

#[test]
fn overdue_reports_of_a_storm_are_linear_and_fold_the_same_place() {
    monitor_demo::own_process!();
    let dumps: Arc<Mutex<Vec<Dump>>> = Arc::default();
    let kept = dumps.clone();
    set_dump_sink(DumpSink::custom(move |dump| {
        if matches!(dump.reason, DumpReason::Overdue { .. }) {
            kept.lock().unwrap().push(dump.clone());
        }
    }))
    .unwrap();

    // One call begins every 10 ms: they go overdue one by one over a
    // second, all stuck at the same line.
    let (release, released) = channel::<()>();
    let released = Arc::new(Mutex::new(released));
    let callers: Vec<_> = (0..CALLS)
        .map(|i| {
            let released = released.clone();
            thread::spawn(move || {
                thread::sleep(Duration::from_millis(10 * i as u64));
                stuck(released);
            })
        })
        .collect();

    // Every overdue call is named by a report.
    let named = || {
        dumps
            .lock()
            .unwrap()
            .iter()
            .filter_map(|dump| match &dump.reason {
                DumpReason::Overdue { calls } => Some(calls.clone()),
                _ => None,
            })
            .flatten()
            .filter(|call| call.function == "isolated::dump_storm::stuck")
            .map(|call| call.id)
            .collect::<Vec<_>>()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while named().len() < CALLS {
        assert!(
            Instant::now() < deadline,
            "{} of {CALLS} overdue calls named",
            named().len()
        );
        thread::sleep(Duration::from_millis(10));
    }
    drop(release);
    for caller in callers {
        caller.join().unwrap();
    }

    let names = named();
    let dumps = dumps.lock().unwrap();
    let texts: Vec<String> = dumps.iter().map(|dump| dump.to_string()).collect();
    let all = texts.concat();
    let reports = dumps.len();
    let blocks: usize = dumps.iter().map(|dump| dump.calls.len()).sum();
    let bytes: usize = texts.iter().map(String::len).sum();
    if std::env::var_os("MONITOR_TEST_FIGURES").is_some() {
        eprintln!("{CALLS} overdue calls: {reports} reports, {blocks} blocks, {bytes} bytes");
    }
    assert_eq!(
        names.iter().collect::<HashSet<_>>().len(),
        names.len(),
        "each call named once"
    );
    assert!(reports <= 6, "{reports} reports for {CALLS} overdue calls");
    assert!(
        blocks <= 2 * CALLS,
        "{blocks} blocks for {CALLS} overdue calls"
    );
    // Stuck at the same line: folded, with a count.
    assert!(
        all.contains("more calls stuck at the same place:"),
        "no folded block:\n{all}"
    );
    // Linear bytes: each report's header names its calls (a line each)
    // and holds a few blocks; a generous 2 KB per call.
    assert!(bytes <= 2048 * CALLS, "{bytes} bytes for {CALLS} calls");
}

/// Parked for good, among the calls in flight that a full report shows.
#[stack_on_timeout(600s)]
async fn parked() {
    std::future::pending::<()>().await
}

/// Blocks its thread 15 ms in its second poll: past the 10 ms threshold.
#[monitored(timeout = "30s")]
async fn blocks() -> Result<(), Error> {
    tokio::task::yield_now().await;
    thread::sleep(Duration::from_millis(15));
    Ok(())
}

#[test]
fn blocked_poll_reports_of_a_storm_are_linear() {
    monitor_demo::own_process!();
    let dumps = monitor_demo::kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    // For 3 s, one blocking poll after another, beside 200 parked calls.
    runtime.block_on(async {
        for _ in 0..2 * CALLS {
            tokio::spawn(parked());
        }
        let until = Instant::now() + Duration::from_secs(3);
        while Instant::now() < until {
            blocks().await.unwrap();
        }
    });
    // Every poll found blocking is named by a report.
    let found = monitor_runtime::monitor("isolated::dump_storm::blocks")
        .unwrap()
        .stats()
        .blocked_polls;
    let named = || -> u64 {
        dumps
            .lock()
            .unwrap()
            .iter()
            .map(|dump| match &dump.reason {
                DumpReason::BlockedPoll { polls } => polls.len() as u64,
                _ => 0,
            })
            .sum()
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    while named() < found {
        assert!(
            Instant::now() < deadline,
            "{} of {found} blocked polls named",
            named()
        );
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        found >= 10,
        "only {found} blocked polls: the test proves nothing"
    );
    let kept = dumps.lock().unwrap();
    let dumps: Vec<&Dump> = kept
        .iter()
        .filter(|dump| matches!(dump.reason, DumpReason::BlockedPoll { .. }))
        .collect();
    let reports = dumps.len();
    let blocks: usize = dumps.iter().map(|dump| dump.calls.len()).sum();
    let bytes: usize = dumps.iter().map(|dump| dump.to_string().len()).sum();
    if std::env::var_os("MONITOR_TEST_FIGURES").is_some() {
        eprintln!("{found} blocked polls: {reports} reports, {blocks} blocks, {bytes} bytes");
    }
    // One report a second, at most, over about 3 s.
    assert!(reports <= 6, "{reports} reports for {found} blocked polls");
    // The parked calls are shown once, folded.
    assert!(blocks <= 20, "{blocks} blocks for {found} blocked polls");
}
