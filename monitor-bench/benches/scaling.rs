//! How the cost of calls in flight grows with their number: the CPU the
//! watchdog thread spends while N calls wait, none of them overdue, and the
//! memory each call in flight holds.
//!
//! Run: `cargo bench -p monitor-bench --bench scaling` (or with the
//! numbers of calls to park: `-- 10000 100000`). For each N and each kind
//! of call it parks N calls (their first poll returns `Pending`, they are
//! never woken), lets the watchdog settle for a second, then reads the
//! watchdog thread's CPU time (`/proc/self/task/TID/schedstat`) over
//! five seconds, and the process's resident memory before and after
//! parking. Then it times one sync call, which ends the watchdog's quiet
//! spell (it starts the ticks), and the call after it. The calls are polled by hand with a no-op waker, so no
//! executor's memory is counted; the futures themselves are, and are
//! shown apart.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monitor_runtime::{monitored, stack_on_timeout, Error};

/// A call with a timeout (a watchdog deadline) and a cap, that waits.
#[monitored(timeout = "600s", max_active = 1000000)]
async fn monitored_wait() -> Result<(), Error> {
    std::future::pending::<()>().await;
    Ok(())
}

/// A call reported if it runs past its deadline, that waits.
#[stack_on_timeout(600s)]
async fn guarded_wait() {
    std::future::pending::<()>().await
}

/// A sync call with a cap: the call that ends a quiet spell starts the
/// watchdog's ticks.
#[monitored(max_active = 1000000)]
fn sync_call(x: u64) -> Result<u64, Error> {
    Ok(x)
}

/// Kernel thread id of the thread named `name`.
fn thread_named(name: &str) -> Option<String> {
    std::fs::read_dir("/proc/self/task")
        .ok()?
        .find_map(|entry| {
            let entry = entry.ok()?;
            let comm = std::fs::read_to_string(entry.path().join("comm")).ok()?;
            (comm.trim() == name).then(|| entry.file_name().to_string_lossy().into_owned())
        })
}

/// Nanoseconds thread `tid` has run on a CPU.
fn cpu_ns(tid: &str) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/schedstat")).unwrap();
    stat.split_whitespace().next().unwrap().parse().unwrap()
}

/// Resident memory of the process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Parks `n` calls made by `make`; measures; drops them.
fn measure<F: Future>(kind: &str, n: usize, make: impl Fn() -> F) {
    let mut cx = Context::from_waker(Waker::noop());
    // The function's first call registers its monitor: not what is timed.
    sync_call(0).unwrap();
    // Allocated, not yet touched: not resident until the calls are made.
    let mut calls: Vec<F> = Vec::with_capacity(n);
    let before = rss();
    for _ in 0..n {
        calls.push(make());
        // SAFETY: `calls` never grows past its capacity, so it never moves
        // what it holds; the futures are dropped in place with it.
        let call = unsafe { Pin::new_unchecked(calls.last_mut().unwrap()) };
        assert!(matches!(call.poll(&mut cx), Poll::Pending));
    }
    let after = rss();
    let future_bytes = std::mem::size_of::<F>() as f64;
    std::thread::sleep(Duration::from_secs(1));
    let tid = thread_named("monitor-watch").expect("the watchdog runs");
    let (cpu0, t0) = (cpu_ns(&tid), Instant::now());
    std::thread::sleep(Duration::from_secs(5));
    let (cpu1, t1) = (cpu_ns(&tid), Instant::now());
    let share = (cpu1 - cpu0) as f64 / (t1 - t0).as_nanos() as f64;
    let per_call = (after - before) as f64 / n as f64;
    // The watchdog keeps quiet by now (every call parked): the next call
    // starts its ticks, the one after finds them running.
    let first = Instant::now();
    std::hint::black_box(sync_call(std::hint::black_box(1))).unwrap();
    let first = first.elapsed();
    let next = Instant::now();
    std::hint::black_box(sync_call(std::hint::black_box(2))).unwrap();
    let next = next.elapsed();
    println!(
        "{kind:>16} {n:>7} in flight: watchdog {:>7.3} % of a core; \
         {per_call:>6.1} bytes resident per call: the future {future_bytes}, \
         the runtime's share {:.1}; the call that ends the quiet spell {:.1} µs, \
         the next {:.1} µs",
        share * 100.0,
        per_call - future_bytes,
        first.as_secs_f64() * 1e6,
        next.as_secs_f64() * 1e6,
    );
    drop(calls);
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let [kind, n] = &args[..]
        && kind.parse::<usize>().is_err()
        && let Ok(n) = n.parse::<usize>()
    {
        // One measurement, in a fresh process: records are never freed,
        // so a second measurement in the same process would reuse them.
        let mut cx = Context::from_waker(Waker::noop());
        // Start the watchdog before measuring.
        let _ = std::pin::pin!(guarded_wait()).poll(&mut cx);
        match kind.as_str() {
            "stack_on_timeout" => measure(kind, n, guarded_wait),
            "monitored" => measure(kind, n, monitored_wait),
            _ => panic!("kind: stack_on_timeout or monitored"),
        }
        return;
    }
    let counts: Vec<usize> = args.iter().filter_map(|a| a.parse().ok()).collect();
    let counts = if counts.is_empty() {
        vec![10_000, 100_000]
    } else {
        counts
    };
    let me = std::env::current_exe().unwrap();
    for &n in &counts {
        for kind in ["stack_on_timeout", "monitored"] {
            let status = std::process::Command::new(&me)
                .args([kind, &n.to_string()])
                .status()
                .unwrap();
            assert!(status.success());
        }
    }
}
