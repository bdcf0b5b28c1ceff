//! `drain`: three calls that never return and five quick ones. The quick
//! ones finish, a call that comes during the drain gets `ShuttingDown`,
//! the report lists the three stuck calls, the dump of the stragglers names
//! their lines, and `drain` returns at the deadline, measured. Its own
//! binary: a drain closes admission for the whole process.

use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_dumps};
use monitor_runtime::dump::{DumpReason, NativeStack};
use monitor_runtime::{monitored, Error};

const STUCK_LINE: u32 = line!() + 2;
#[monitored]
fn stuck(release: Receiver<()>) -> Result<(), Error> {
    let _ = release.recv(); // the line the dump shows
    Ok(())
}
const RECV_LINE: u32 = STUCK_LINE + 1;

#[monitored]
fn quick(ms: u64) -> Result<u64, Error> {
    thread::sleep(Duration::from_millis(ms));
    Ok(ms)
}

const GRACE: Duration = Duration::from_millis(1500);

#[test]
fn quick_calls_finish_new_ones_are_refused_and_the_stuck_ones_are_named() {
    monitor_demo::own_process!();
    let dumps = kept_dumps();
    let stuck_monitor = || monitor_runtime::monitor(concat!(module_path!(), "::stuck"));

    let mut releases = Vec::new();
    let mut stuck_threads = Vec::new();
    for _ in 0..3 {
        let (release, wait) = channel();
        releases.push(release);
        stuck_threads.push(thread::spawn(move || stuck(wait)));
    }
    eventually("three stuck calls in flight", || {
        stuck_monitor().is_some_and(|m| m.stats().in_flight == 3)
    });
    let quick_threads: Vec<_> = (0..5).map(|_| thread::spawn(|| quick(300))).collect();
    let quick_monitor = || monitor_runtime::monitor(concat!(module_path!(), "::quick"));
    eventually("five quick calls in flight", || {
        quick_monitor().is_some_and(|m| m.stats().in_flight == 5)
    });

    // A caller that comes once the drain has begun.
    let late = thread::spawn(move || {
        let monitor = quick_monitor().unwrap();
        eventually("the drain began", || monitor.is_draining());
        quick(1)
    });

    let began = Instant::now();
    let report = monitor_runtime::drain(GRACE);
    let took = began.elapsed();

    assert!(
        took >= GRACE,
        "drain returned before its deadline: {took:?}"
    );
    assert!(
        took < GRACE + Duration::from_secs(1),
        "drain waited past its deadline: {took:?}"
    );
    for quick in quick_threads {
        assert_eq!(quick.join().unwrap(), Ok(300), "a quick call finished");
    }
    assert!(matches!(
        late.join().unwrap(),
        Err(Error::ShuttingDown { .. })
    ));
    assert!(matches!(quick(1), Err(Error::ShuttingDown { .. })));

    assert_eq!(report.finished, 5, "{report}");
    assert!(report.refused >= 1, "{report}");
    assert_eq!(report.left.len(), 3, "{report}");
    assert!(report
        .left
        .iter()
        .all(|call| call.function.ends_with("::stuck") && call.line == STUCK_LINE));
    assert!(report
        .left_per_monitor
        .iter()
        .any(|(name, n)| name.ends_with("::stuck") && *n == 3));
    assert!(report.dumped);
    let text = report.to_string();
    assert!(
        text.contains("3 left after the 1.5s grace period"),
        "{text}"
    );

    // One dump of the stragglers: each stuck call with its function's line
    // and the line it blocks on.
    // (The first capture of a process loads debug info: in a debug test
    // binary that can outlast the grace period, and the dump comes just
    // after `drain` returned.)
    eventually("the drain's dump written", || {
        let dumps = dumps.lock().unwrap();
        dumps
            .iter()
            .any(|d| matches!(d.reason, DumpReason::Drain { .. }))
    });
    let dump = dumps
        .lock()
        .unwrap()
        .iter()
        .find(|d| matches!(d.reason, DumpReason::Drain { .. }))
        .cloned()
        .unwrap();
    let DumpReason::Drain { calls, grace, .. } = &dump.reason else {
        unreachable!()
    };
    assert_eq!(*grace, GRACE);
    assert_eq!(calls.len(), 3);
    let stacks: Vec<_> = dump
        .calls
        .iter()
        .filter(|c| c.function.ends_with("::stuck"))
        .collect();
    assert_eq!(stacks.iter().map(|c| c.count()).sum::<usize>(), 3);
    for call in &stacks {
        assert!(call.triggered);
        assert_eq!(call.stack[0].line, STUCK_LINE);
        let Some(NativeStack::Captured { frames, .. }) = &call.native else {
            panic!("no native stack: {:?}", call.native);
        };
        assert!(
            frames.iter().any(|f| f
                .file
                .as_deref()
                .is_some_and(|file| file.ends_with("drain_stragglers.rs"))
                && f.line == Some(RECV_LINE)),
            "the native stack names the line the call waits on ({RECV_LINE}): {frames:#?}"
        );
    }
    let text = dump.to_string();
    assert!(text.contains("drain: 3 calls still in flight"), "{text}");

    // Let the stuck calls go; admission stays closed until `resume`.
    drop(releases);
    for t in stuck_threads {
        assert_eq!(t.join().unwrap(), Ok(()));
    }
    assert!(matches!(quick(1), Err(Error::ShuttingDown { .. })));
    monitor_runtime::drain::resume();
    assert_eq!(quick(1), Ok(1));
}
