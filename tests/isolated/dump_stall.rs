//! The stall detector: one dump per stall, none while calls return. One
//! test: the detector is process-wide.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use monitor_demo::dump_channel;
use monitor_runtime::{
    dump::{detect_stalls, stop_detecting_stalls, Dump, DumpReason},
    stack_on_timeout,
};

/// Long enough that a loaded machine does not starve the short calls of
/// the second phase for a whole period.
const PERIOD: Duration = Duration::from_millis(250);

#[stack_on_timeout(1h)]
fn stuck(release: Receiver<()>) {
    let _ = release.recv();
}

#[stack_on_timeout(1h)]
fn step() {
    thread::sleep(Duration::from_millis(5));
}

/// A thread that runs one `stuck` call until `release` is sent.
fn stuck_thread() -> (Sender<()>, thread::JoinHandle<()>) {
    let (tx, rx) = channel();
    (tx, thread::spawn(move || stuck(rx)))
}

fn stalls(dumps: &Receiver<Dump>, within: Duration) -> Vec<Dump> {
    let deadline = Instant::now() + within;
    let mut stalls = Vec::new();
    while let Ok(dump) = dumps.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
        if let DumpReason::Stall { .. } = dump.reason {
            stalls.push(dump);
        }
    }
    stalls
}

#[test]
fn one_dump_per_stall_and_none_while_calls_return() {
    monitor_demo::own_process!();
    let dumps = dump_channel();
    detect_stalls(PERIOD);

    // A call that does not return, and nothing else: one dump, naming it,
    // and no more however long the stall lasts.
    let began = Instant::now();
    let (release, first) = stuck_thread();
    let dump = dumps
        .recv_timeout(Duration::from_secs(10))
        .expect("a stall dump");
    let noticed = began.elapsed();
    let DumpReason::Stall { stalled_for } = dump.reason else {
        panic!("{dump}")
    };
    println!("stall noticed after {noticed:?}:\n{dump}");
    assert!(stalled_for >= PERIOD, "{dump}");
    assert!(noticed >= PERIOD, "{noticed:?}");
    assert!(
        dump.calls
            .iter()
            .any(|c| c.function == "isolated::dump_stall::stuck"),
        "{dump}"
    );
    assert!(dump
        .to_string()
        .contains("stall: no call has returned for "));
    assert_eq!(
        stalls(&dumps, 6 * PERIOD).len(),
        0,
        "a second dump for one stall"
    );

    // It returns; another gets stuck while short calls keep returning:
    // no stall.
    release.send(()).unwrap();
    first.join().unwrap();
    let (release, second) = stuck_thread();
    let stepping = Arc::new(AtomicBool::new(true));
    let steps = {
        let stepping = stepping.clone();
        thread::spawn(move || {
            while stepping.load(SeqCst) {
                step();
            }
        })
    };
    let seen = stalls(&dumps, 6 * PERIOD);
    assert!(
        seen.is_empty(),
        "a stall dump while calls return:\n{}",
        seen[0]
    );

    // The short calls stop: a new stall, a new dump.
    stepping.store(false, SeqCst);
    steps.join().unwrap();
    let seen = stalls(&dumps, 6 * PERIOD);
    assert_eq!(seen.len(), 1, "one dump for the second stall");
    release.send(()).unwrap();
    second.join().unwrap();

    // Off: a stall is not dumped.
    stop_detecting_stalls();
    let (release, third) = stuck_thread();
    assert_eq!(stalls(&dumps, 4 * PERIOD).len(), 0);
    release.send(()).unwrap();
    third.join().unwrap();
}
