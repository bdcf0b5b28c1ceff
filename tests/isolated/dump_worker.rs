//! The watchdog never waits for a dump or for user code: overdue reports
//! and stall dumps are taken and written on the dump worker
//! (`monitor-dump`), alert hooks called on a thread of their own
//! (`monitor-alert`), `tracing` events on a thread of their own
//! (`monitor-events`). A sink, hook or subscriber that blocks holds up no
//! deadline and no alert of the process, a hook that blocks no dump, and
//! every overdue call is still reported once.
//!
//! Each test sets the process's dump sink (one also the alert hook), so
//! they take turns (`turn`). Every wait is bounded: a regression fails
//! instead of hanging, and a failing test drops the senders its blocked
//! sink or hook waits on, which lets them return.

use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};
use std::thread;
use std::time::Duration;

use monitor_demo::{eventually, Recorded, Recorder};
use monitor_runtime::{
    dump::{detect_stalls, set_dump_sink, stop_detecting_stalls, Dump, DumpReason, DumpSink},
    monitor::{clear_alert_hook, set_alert_hook},
    monitored, stack_on_timeout, Error, Monitor,
};

/// How long a test waits for what should take milliseconds before it
/// fails.
const SAFETY: Duration = Duration::from_secs(10);

/// One test at a time: the dump sink and the alert hook are process-wide.
fn turn() -> MutexGuard<'static, ()> {
    static TURN: Mutex<()> = Mutex::new(());
    TURN.lock().unwrap_or_else(PoisonError::into_inner)
}

/// The runtime's `tracing` events, recorded from the first call on.
fn recorded() -> &'static Recorded {
    static RECORDED: OnceLock<Recorded> = OnceLock::new();
    RECORDED.get_or_init(|| {
        let (recorder, recorded) = Recorder::new();
        tracing::subscriber::set_global_default(recorder).expect("the only global subscriber");
        recorded
    })
}

#[monitored(timeout = "20ms")]
async fn never_returns() -> Result<(), Error> {
    std::future::pending().await
}

/// Runs `never_returns` (20 ms timeout) on its own runtime, bounded by a
/// tokio timer, which does not depend on the watchdog: `None` if that
/// timer fires first. (Not `tokio::time::timeout`, which polls the call
/// once more when its timer fires, and the call then sees its deadline
/// passed whether or not the watchdog woke it.)
fn time_out_once() -> Option<Result<(), Error>> {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async {
            tokio::select! {
                biased;
                () = tokio::time::sleep(SAFETY) => None,
                result = never_returns() => Some(result),
            }
        })
}

/// Whether `dump` reports `function` overdue.
fn reports(dump: &Dump, function: &str) -> bool {
    match &dump.reason {
        DumpReason::Overdue { calls } => calls.iter().any(|c| c.function == function),
        _ => false,
    }
}

/// The process's dump sink, set by [`BlockedSink::on`]: it keeps every
/// dump, and blocks in the first for which `blocks_in` holds until
/// released (or until this is dropped).
struct BlockedSink {
    dumps: Arc<Mutex<Vec<Dump>>>,
    in_sink: Arc<AtomicBool>,
    entered: Receiver<()>,
    release: Option<Sender<()>>,
}

impl BlockedSink {
    fn on(blocks_in: impl Fn(&Dump) -> bool + Send + Sync + 'static) -> Self {
        let dumps: Arc<Mutex<Vec<Dump>>> = Arc::default();
        let in_sink = Arc::new(AtomicBool::new(false));
        let (entered_tx, entered) = channel();
        let (release, released) = channel::<()>();
        let released = Mutex::new(released);
        let blocked_once = AtomicBool::new(false);
        let (kept, flag) = (dumps.clone(), in_sink.clone());
        set_dump_sink(DumpSink::custom(move |dump| {
            kept.lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(dump.clone());
            if blocks_in(dump) && !blocked_once.swap(true, SeqCst) {
                flag.store(true, SeqCst);
                let _ = entered_tx.send(());
                let _ = released
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .recv();
                flag.store(false, SeqCst);
            }
        }))
        .unwrap();
        BlockedSink {
            dumps,
            in_sink,
            entered,
            release: Some(release),
        }
    }

    /// Waits until the sink blocks (the first dump of a process loads
    /// debug info: a second or more).
    fn wait_until_blocked(&self) {
        self.entered
            .recv_timeout(SAFETY)
            .expect("the dump reached the sink");
        assert!(self.blocked());
    }

    /// A 20 ms `#[monitored]` timeout fires while the sink is still
    /// blocked.
    fn a_timeout_fires_meanwhile(&self) {
        let result = time_out_once();
        assert!(
            self.blocked(),
            "the sink returned before the timeout: the test proves nothing"
        );
        assert!(
            matches!(result, Some(Err(Error::Timeout { .. }))),
            "a 20 ms timeout did not fire while a dump sink blocked: {result:?}"
        );
    }

    fn blocked(&self) -> bool {
        self.in_sink.load(SeqCst)
    }

    fn release(&mut self) {
        self.release = None;
    }

    fn dumps(&self) -> Vec<Dump> {
        self.dumps
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
    }
}

/// Runs `call` on a thread of its own until the returned sender is sent
/// to or dropped.
fn in_flight(call: fn(Receiver<()>)) -> (Sender<()>, thread::JoinHandle<()>) {
    let (release, released) = channel();
    (release, thread::spawn(move || call(released)))
}

#[stack_on_timeout(10ms)]
fn stuck_for_timeout(release: Receiver<()>) {
    let _ = release.recv();
}

#[test]
fn a_sink_that_blocks_holds_up_no_timeout() {
    monitor_demo::own_process!();
    let _turn = turn();
    let mut sink = BlockedSink::on(|d| reports(d, "isolated::dump_worker::stuck_for_timeout"));
    let (release, caller) = in_flight(stuck_for_timeout);
    sink.wait_until_blocked();

    sink.a_timeout_fires_meanwhile();

    sink.release();
    release.send(()).unwrap();
    caller.join().unwrap();
}

#[stack_on_timeout(1h)]
fn stalled(release: Receiver<()>) {
    let _ = release.recv();
}

#[test]
fn a_sink_that_blocks_in_a_stall_dump_holds_up_no_timeout() {
    monitor_demo::own_process!();
    let _turn = turn();
    let mut sink = BlockedSink::on(|d| {
        matches!(d.reason, DumpReason::Stall { .. })
            && d.calls
                .iter()
                .any(|c| c.function == "isolated::dump_worker::stalled")
    });
    detect_stalls(Duration::from_millis(50));
    let (release, caller) = in_flight(stalled);
    sink.wait_until_blocked();
    stop_detecting_stalls();

    sink.a_timeout_fires_meanwhile();

    sink.release();
    release.send(()).unwrap();
    caller.join().unwrap();
}

#[stack_on_timeout(10ms)]
fn stuck_for_alert(release: Receiver<()>) {
    let _ = release.recv();
}

#[test]
fn a_sink_that_blocks_holds_up_no_alert() {
    monitor_demo::own_process!();
    let _turn = turn();
    let mut sink = BlockedSink::on(|d| reports(d, "isolated::dump_worker::stuck_for_alert"));
    let (release, caller) = in_flight(stuck_for_alert);
    sink.wait_until_blocked();

    let monitor = Monitor::builder("dump-worker-alert")
        .max_active(1)
        .alert(Duration::from_millis(50))
        .build();
    let mut alerts = monitor.alerts();
    let (entered_tx, entered) = channel();
    let (unstick, stuck) = channel::<()>();
    let holder = {
        let monitor = monitor.clone();
        thread::spawn(move || {
            monitor.call(move || {
                entered_tx.send(()).unwrap();
                let _ = stuck.recv();
            })
        })
    };
    entered.recv_timeout(SAFETY).expect("the stuck call began");
    assert!(matches!(monitor.call(|| ()), Err(Error::Busy { .. })));
    let alert = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap()
        .block_on(async { tokio::time::timeout(SAFETY, alerts.recv()).await });
    assert!(
        sink.blocked(),
        "the sink returned before the alert: the test proves nothing"
    );
    let alert = alert
        .expect("no alert while a dump sink blocked")
        .expect("the monitor runs");
    assert_eq!(alert.monitor, "dump-worker-alert");
    assert_eq!((alert.max_active, alert.in_flight), (1, 1));

    drop(unstick);
    holder.join().unwrap().unwrap();
    monitor.stop();
    sink.release();
    release.send(()).unwrap();
    caller.join().unwrap();
}

#[test]
fn an_alert_hook_that_blocks_holds_up_no_timeout_and_no_dump() {
    monitor_demo::own_process!();
    let _turn = turn();
    let (entered_tx, entered) = channel();
    let (release, released) = channel::<()>();
    let released = Mutex::new(released);
    let in_hook = Arc::new(AtomicBool::new(false));
    let flag = in_hook.clone();
    set_alert_hook(move |alert| {
        if alert.monitor == "dump-worker-hook" {
            flag.store(true, SeqCst);
            let _ = entered_tx.send(());
            let _ = released
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .recv();
            flag.store(false, SeqCst);
        }
    });
    let monitor = Monitor::builder("dump-worker-hook")
        .max_active(1)
        .alert(Duration::from_millis(20))
        .build();
    let (unstick, stuck) = channel::<()>();
    let holder = {
        let monitor = monitor.clone();
        thread::spawn(move || {
            monitor.call(move || {
                let _ = stuck.recv();
            })
        })
    };
    eventually("the stuck call", || monitor.stats().in_flight == 1);
    assert!(matches!(monitor.call(|| ()), Err(Error::Busy { .. })));
    entered
        .recv_timeout(SAFETY)
        .expect("the alert reached the hook");

    let result = time_out_once();
    assert!(
        in_hook.load(SeqCst),
        "the hook returned before the timeout: the test proves nothing"
    );
    assert!(
        matches!(result, Some(Err(Error::Timeout { .. }))),
        "a 20 ms timeout did not fire while an alert hook blocked: {result:?}"
    );
    // Nor a dump: an overdue call is reported while the hook still blocks.
    let (dumped, dumps) = channel();
    let dumped = Mutex::new(dumped);
    set_dump_sink(DumpSink::custom(move |dump| {
        if reports(dump, "isolated::dump_worker::stuck_for_timeout") {
            let _ = dumped
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .send(());
        }
    }))
    .unwrap();
    let (overdue, overdue_caller) = in_flight(stuck_for_timeout);
    let reported = dumps.recv_timeout(SAFETY);
    assert!(
        in_hook.load(SeqCst),
        "the hook returned before the dump: the test proves nothing"
    );
    assert!(
        reported.is_ok(),
        "no overdue report while an alert hook blocked"
    );
    overdue.send(()).unwrap();
    overdue_caller.join().unwrap();

    drop(release);
    clear_alert_hook();
    drop(unstick);
    holder.join().unwrap().unwrap();
    monitor.stop();
}

#[stack_on_timeout(10ms)]
fn first_overdue(release: Receiver<()>) {
    let _ = release.recv();
}

#[stack_on_timeout(20ms)]
fn overdue_together(release: Receiver<()>) {
    let _ = release.recv();
}

#[test]
fn every_overdue_call_is_reported_once_while_the_sink_blocks() {
    monitor_demo::own_process!();
    let _turn = turn();
    let recorded = recorded();
    let mut sink = BlockedSink::on(|d| reports(d, "isolated::dump_worker::first_overdue"));
    let (release_first, first) = in_flight(first_overdue);
    sink.wait_until_blocked();

    // Two calls go overdue while the first report is being written: they
    // are found (the warning, at once) while the sink still blocks.
    let together = [in_flight(overdue_together), in_flight(overdue_together)];
    let warned = |function: &str| {
        recorded
            .events()
            .into_iter()
            .filter(|e| e.target == "monitor_runtime" && e.field("function") == Some(function))
            .filter_map(|e| e.field("call_id").map(str::to_owned))
            .collect::<Vec<_>>()
    };
    eventually("both calls found overdue", || {
        warned("isolated::dump_worker::overdue_together").len() >= 2
    });
    assert!(
        sink.blocked(),
        "the sink returned before the calls went overdue: the test proves nothing"
    );

    // Their report follows once the sink returns.
    sink.release();
    let reported = |function: &str| {
        sink.dumps()
            .iter()
            .filter_map(|dump| match &dump.reason {
                DumpReason::Overdue { calls } => Some(calls.clone()),
                _ => None,
            })
            .flatten()
            .filter(|call| call.function == function)
            .map(|call| call.id.to_string())
            .collect::<Vec<_>>()
    };
    eventually("both calls reported", || {
        reported("isolated::dump_worker::overdue_together").len() >= 2
    });
    for (release, caller) in together {
        release.send(()).unwrap();
        caller.join().unwrap();
    }
    release_first.send(()).unwrap();
    first.join().unwrap();

    let all: String = sink.dumps().iter().map(|d| format!("{d}\n")).collect();
    for function in [
        "isolated::dump_worker::first_overdue",
        "isolated::dump_worker::overdue_together",
    ] {
        let mut warned = warned(function);
        let mut reported = reported(function);
        warned.sort();
        reported.sort();
        let expected = if function.ends_with("first_overdue") {
            1
        } else {
            2
        };
        assert_eq!(warned.len(), expected, "{function}: {warned:?}");
        assert_eq!(reported, warned, "each call in one report, once:\n{all}");
    }
}

/// A `tracing` subscriber whose writer blocks, for the runtime's threads
/// (a full stderr pipe, a stuck log shipper), while `STUCK` is set; the
/// warnings it got once free.
struct StuckSubscriber;

static STUCK: AtomicBool = AtomicBool::new(false);
static IN_SUBSCRIBER: AtomicBool = AtomicBool::new(false);
static WARNINGS: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl tracing::Subscriber for StuckSubscriber {
    fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
        true
    }
    fn new_span(&self, _: &tracing::span::Attributes<'_>) -> tracing::span::Id {
        tracing::span::Id::from_u64(1)
    }
    fn record(&self, _: &tracing::span::Id, _: &tracing::span::Record<'_>) {}
    fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
    fn event(&self, event: &tracing::Event<'_>) {
        let runtime = thread::current()
            .name()
            .is_some_and(|name| name.starts_with("monitor-"));
        while runtime && STUCK.load(SeqCst) {
            IN_SUBSCRIBER.store(true, SeqCst);
            thread::sleep(Duration::from_millis(2));
        }
        if *event.metadata().level() == tracing::Level::WARN {
            WARNINGS
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(event.metadata().target().to_owned());
        }
    }
    fn enter(&self, _: &tracing::span::Id) {}
    fn exit(&self, _: &tracing::span::Id) {}
}

#[test]
fn a_subscriber_that_blocks_holds_up_no_timeout() {
    monitor_demo::own_process!();
    tracing::subscriber::set_global_default(StuckSubscriber).unwrap();
    STUCK.store(true, SeqCst);
    // An overdue call: its warning goes to the subscriber, which blocks.
    let (release, caller) = in_flight(stuck_for_timeout);
    monitor_demo::eventually("the warning reaches the subscriber", || {
        IN_SUBSCRIBER.load(SeqCst)
    });
    let result = time_out_once();
    assert!(
        STUCK.load(SeqCst),
        "the subscriber returned before the timeout: the test proves nothing"
    );
    assert!(
        matches!(result, Some(Err(Error::Timeout { .. }))),
        "a 20 ms timeout did not fire while the subscriber blocked: {result:?}"
    );
    // Free again, it gets the warning.
    STUCK.store(false, SeqCst);
    monitor_demo::eventually("the overdue warning", || {
        WARNINGS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|target| target == "monitor_runtime")
    });
    release.send(()).unwrap();
    caller.join().unwrap();
}
