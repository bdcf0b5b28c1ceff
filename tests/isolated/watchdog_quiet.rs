//! The watchdog's quiet spells: while calls are in flight but nothing
//! begins and no poll runs (many connections parked on `.await`), the
//! watchdog stops its 4 ms tick and sleeps until the next deadline. Calls
//! parked that long cost no wake-ups, and nothing they are owed is lost:
//! an overdue call is reported at its deadline, a timeout fires at its
//! deadline, and a call or poll that starts during the spell is timed from
//! its own start (the coarse clock reads 0 while it is not kept, never a
//! stale time). The last test repeats spells and bursts on four threads at
//! once, so that the calls and polls that end a spell race to restart the
//! ticks.
//!
//! Isolated: the watchdog is the process's, and a quiet spell needs no
//! other test's calls in flight.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};
use std::task::{Context, Waker};
use std::time::{Duration, Instant};

use monitor_demo::{eventually, kept_blocked_polls, kept_dumps, kept_overdue};
use monitor_runtime::{monitored, stack_on_timeout, Error};

/// A call that waits for ever, with a report deadline far away.
#[stack_on_timeout(600s)]
async fn parked() {
    std::future::pending::<()>().await
}

/// Parks `n` calls of [`parked`], polled once by hand.
fn park(n: usize) -> Vec<Pin<Box<dyn Future<Output = ()>>>> {
    let mut cx = Context::from_waker(Waker::noop());
    (0..n)
        .map(|_| {
            let mut call: Pin<Box<dyn Future<Output = ()>>> = Box::pin(parked());
            assert!(call.as_mut().poll(&mut cx).is_pending());
            call
        })
        .collect()
}

/// The watchdog thread's context switches so far (it sleeps and wakes
/// once per switch): `None` while it does not run.
fn watchdog_switches() -> Option<u64> {
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path();
        let comm = std::fs::read_to_string(path.join("comm")).unwrap_or_default();
        if comm.trim_end() != "monitor-watch" {
            continue;
        }
        let status = std::fs::read_to_string(path.join("status")).ok()?;
        return Some(
            status
                .lines()
                .filter(|line| line.contains("ctxt_switches:"))
                .filter_map(|line| line.split_whitespace().nth(1)?.parse::<u64>().ok())
                .sum(),
        );
    }
    None
}

/// Waits (at most 10 s) for a half second in which the watchdog woke at
/// most a few times: ticking, it wakes 125 times in that time. Panics if
/// none comes.
fn until_quiet() {
    // A new thread takes its name once it runs.
    eventually("the watchdog to run", || watchdog_switches().is_some());
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let before = watchdog_switches().expect("the watchdog runs while calls are in flight");
        std::thread::sleep(Duration::from_millis(500));
        let woke = watchdog_switches().expect("the watchdog runs") - before;
        if woke <= 5 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the watchdog still wakes {woke} times in half a second with every call parked"
        );
    }
}

#[test]
fn parked_calls_cost_the_watchdog_no_ticks() {
    monitor_demo::own_process!();
    let calls = park(1000);
    until_quiet();
    // Still quiet a while later: no tick was hidden in the first window.
    let before = watchdog_switches().unwrap();
    std::thread::sleep(Duration::from_secs(1));
    let woke = watchdog_switches().unwrap() - before;
    assert!(
        woke <= 5,
        "{woke} wake-ups in a second with every call parked"
    );
    drop(calls);
}

/// Parked with a deadline that comes during a quiet spell.
#[stack_on_timeout(2s)]
async fn overdue_while_quiet() {
    std::future::pending::<()>().await
}

#[test]
fn a_parked_call_is_reported_at_its_deadline_during_a_quiet_spell() {
    monitor_demo::own_process!();
    kept_dumps();
    let mut cx = Context::from_waker(Waker::noop());
    let started = Instant::now();
    let mut call = Box::pin(overdue_while_quiet());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    let function = "isolated::watchdog_quiet::overdue_while_quiet";
    eventually("the overdue report", || !kept_overdue(function).is_empty());
    let seen = started.elapsed();
    let report = kept_overdue(function).remove(0);
    assert!(report.elapsed >= Duration::from_secs(2), "{report:?}");
    assert!(
        report.elapsed <= seen,
        "timed from its start: {report:?}, {seen:?}"
    );
    // The watchdog woke for it: its report deadline (2 s and a tick), not
    // the next look of a quiet spell (a second apart), nor a tick.
    assert!(
        report.elapsed < Duration::from_millis(2_500),
        "reported late: {report:?}"
    );
    drop(call);
}

/// Waits for ever, with a timeout that passes during a quiet spell.
#[monitored(timeout = "2s")]
async fn times_out_while_quiet() -> Result<(), Error> {
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn a_timeout_fires_during_a_quiet_spell() {
    monitor_demo::own_process!();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let started = Instant::now();
    let result = runtime.block_on(times_out_while_quiet());
    let took = started.elapsed();
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(took >= Duration::from_secs(2), "{took:?}");
    assert!(took < Duration::from_secs(10), "{took:?}");
}

/// Waits for `go`, then blocks its thread until `RELEASED`, at most 20 s.
#[monitored(timeout = "60s")]
async fn blocks_after_quiet(go: tokio::sync::oneshot::Receiver<()>) -> Result<(), Error> {
    go.await.unwrap();
    let since = Instant::now();
    while !RELEASED.load(SeqCst) && since.elapsed() < Duration::from_secs(20) {
        std::thread::sleep(Duration::from_millis(5));
    }
    Ok(())
}

static RELEASED: AtomicBool = AtomicBool::new(false);

#[test]
fn a_poll_that_blocks_after_a_quiet_spell_is_timed_from_its_start() {
    monitor_demo::own_process!();
    kept_dumps();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .build()
        .unwrap();
    // Begun and parked before the spell: the poll that blocks is its
    // second, the first during the spell.
    let (go, wait) = tokio::sync::oneshot::channel();
    let call = runtime.spawn(blocks_after_quiet(wait));
    until_quiet();
    let started = Instant::now();
    go.send(()).unwrap();
    let function = "isolated::watchdog_quiet::blocks_after_quiet";
    eventually("the blocked poll's report", || {
        !kept_blocked_polls(function).is_empty()
    });
    let seen = started.elapsed();
    RELEASED.store(true, SeqCst);
    assert_eq!(runtime.block_on(call).unwrap(), Ok(()));
    let poll = kept_blocked_polls(function).remove(0);
    assert!(poll.blocked_for > poll.threshold, "{poll:?}");
    assert!(
        poll.blocked_for <= seen,
        "timed from its start: {poll:?}, {seen:?}"
    );
}

/// Runs past its deadline: begun during a quiet spell.
#[stack_on_timeout(100ms)]
fn overruns_after_quiet() {
    std::thread::sleep(Duration::from_millis(400));
}

#[test]
fn a_call_begun_during_a_quiet_spell_is_timed_from_its_start() {
    monitor_demo::own_process!();
    kept_dumps();
    let calls = park(10);
    until_quiet();
    let started = Instant::now();
    overruns_after_quiet();
    let took = started.elapsed();
    let function = "isolated::watchdog_quiet::overruns_after_quiet";
    eventually("the overdue report", || !kept_overdue(function).is_empty());
    let report = kept_overdue(function).remove(0);
    assert!(report.elapsed >= Duration::from_millis(100), "{report:?}");
    assert!(
        report.elapsed <= took,
        "timed from its start: {report:?}, {took:?}"
    );
    drop(calls);
}

/// Yields a few times: every poll short.
#[monitored(timeout = "30s")]
async fn brief(n: u32) -> Result<u32, Error> {
    for _ in 0..n {
        tokio::task::yield_now().await;
    }
    Ok(n)
}

/// Waits for `go` (across a quiet spell), then works `ms` in that poll.
#[monitored(timeout = "30s")]
async fn wakes_after_quiet(go: tokio::sync::oneshot::Receiver<()>, ms: u64) -> Result<(), Error> {
    go.await.unwrap();
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

/// One poll that blocks its thread for `ms`.
#[monitored(timeout = "30s")]
async fn blocks_for(ms: u64) -> Result<(), Error> {
    tokio::task::yield_now().await;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(())
}

#[test]
fn bursts_after_quiet_spells_on_several_threads_are_timed_right() {
    monitor_demo::own_process!();
    kept_dumps();
    // Calls parked for good, so the watchdog has calls in flight and
    // keeps quiet between the bursts.
    let parked = park(100);
    const THREADS: usize = 4;
    const ROUNDS: usize = 4;
    let barrier = std::sync::Barrier::new(THREADS);
    // The longest a call woken after a spell took, in nanoseconds.
    let longest_woken = std::sync::atomic::AtomicU64::new(0);
    std::thread::scope(|scope| {
        for thread in 0..THREADS {
            let (barrier, longest_woken) = (&barrier, &longest_woken);
            scope.spawn(move || {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .unwrap();
                let mut cx = Context::from_waker(Waker::noop());
                for round in 0..ROUNDS {
                    // A call begun before the spell, woken after it: its
                    // second poll is among the first of the burst, on
                    // every thread at once.
                    let (go, wait) = tokio::sync::oneshot::channel();
                    let mut woken = Box::pin(wakes_after_quiet(wait, 6));
                    assert!(woken.as_mut().poll(&mut cx).is_pending());
                    barrier.wait();
                    std::thread::sleep(Duration::from_millis(1_300));
                    barrier.wait();
                    // One thread begins new calls at once (they start the
                    // ticks), while the others' woken calls work in their
                    // second poll, seen by the ticks.
                    let starter = thread == round % THREADS;
                    let briefly = || {
                        for i in 0..2_000 {
                            assert_eq!(runtime.block_on(brief(i % 3)), Ok(i % 3));
                        }
                    };
                    if starter {
                        briefly();
                    }
                    go.send(()).unwrap();
                    let since = Instant::now();
                    runtime.block_on(woken).unwrap();
                    longest_woken.fetch_max(since.elapsed().as_nanos() as u64, SeqCst);
                    if !starter {
                        briefly();
                    }
                    if starter {
                        runtime.block_on(blocks_for(60)).unwrap();
                    }
                }
            });
        }
    });
    drop(parked);
    let brief_calls = monitor_runtime::monitor("isolated::watchdog_quiet::brief").unwrap();
    assert_eq!(brief_calls.stats().timeouts, 0);
    // A poll timed from before the spell would have run for seconds.
    let longest_woken = Duration::from_nanos(longest_woken.load(SeqCst));
    for poll in kept_blocked_polls("isolated::watchdog_quiet::wakes_after_quiet") {
        assert!(
            poll.blocked_for <= longest_woken,
            "{poll:?}, {longest_woken:?}"
        );
    }
    for poll in kept_blocked_polls("isolated::watchdog_quiet::brief") {
        assert!(poll.blocked_for < Duration::from_secs(1), "{poll:?}");
    }
    let function = "isolated::watchdog_quiet::blocks_for";
    eventually("every blocking poll reported", || {
        kept_blocked_polls(function).len() == ROUNDS
    });
    for poll in kept_blocked_polls(function) {
        assert!(poll.blocked_for > poll.threshold, "{poll:?}");
        assert!(
            poll.blocked_for <= Duration::from_millis(60),
            "timed from its own start: {poll:?}"
        );
    }
}
