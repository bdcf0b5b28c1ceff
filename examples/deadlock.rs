//! The dining philosophers with `monitor_runtime::sync` locks: each takes
//! the fork on their left, then the one on their right. They all get their
//! left fork, and nobody eats again. The deadlock is reported the moment
//! it forms, with both lines, first with threads, then with tokio tasks,
//! while a cook on another thread keeps working (Go's detector stays
//! silent as long as any goroutine runs).
//!
//! Run: `cargo run --example deadlock`

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, Receiver};
use std::sync::{Arc, Barrier, Mutex as StdMutex};
use std::thread;
use std::time::{Duration, Instant};

use monitor_runtime::sync::{AsyncMutex, Mutex};
use monitor_runtime::{
    dump::{set_dump_sink, Dump, DumpReason, DumpSink},
    stack_on_timeout,
};

const PHILOSOPHERS: usize = 5;
const NAMES: [&str; PHILOSOPHERS] = ["fork 0", "fork 1", "fork 2", "fork 3", "fork 4"];

/// A philosopher's meal: an annotated call, so the report shows it as
/// the philosopher's logical stack.
#[stack_on_timeout(1h)]
fn dine(seat: usize, forks: &[Mutex<()>], seated: &Barrier) {
    let _left = forks[seat].lock().unwrap();
    seated.wait();
    let _right = forks[(seat + 1) % PHILOSOPHERS].lock().unwrap();
    println!("philosopher {seat} eats");
}

fn dine_on_threads() {
    let forks: Arc<Vec<Mutex<()>>> = Arc::new(NAMES.map(|name| Mutex::with_name((), name)).into());
    let seated = Arc::new(Barrier::new(PHILOSOPHERS));
    for seat in 0..PHILOSOPHERS {
        let (forks, seated) = (forks.clone(), seated.clone());
        thread::Builder::new()
            .name(format!("philosopher {seat}"))
            .spawn(move || dine(seat, &forks, &seated))
            .unwrap();
    }
}

fn dine_on_tasks(runtime: &tokio::runtime::Runtime) {
    let forks: Arc<Vec<AsyncMutex<()>>> =
        Arc::new(NAMES.map(|name| AsyncMutex::with_name((), name)).into());
    let seated = Arc::new(tokio::sync::Barrier::new(PHILOSOPHERS));
    for seat in 0..PHILOSOPHERS {
        let (forks, seated) = (forks.clone(), seated.clone());
        runtime.spawn(async move {
            let _left = forks[seat].lock().await;
            seated.wait().await;
            let _right = forks[(seat + 1) % PHILOSOPHERS].lock().await;
            println!("philosopher {seat} eats");
        });
    }
}

fn main() {
    let (reports, reported) = channel::<Instant>();
    let reports = StdMutex::new(reports);
    set_dump_sink(DumpSink::custom(move |dump: &Dump| {
        if let DumpReason::Deadlock(_) = dump.reason {
            eprintln!("{dump}");
            let _ = reports.lock().unwrap().send(Instant::now());
        }
    }))
    .unwrap();

    // The cook: other work that goes on all along.
    let meals = Arc::new(AtomicU64::new(0));
    {
        let meals = meals.clone();
        thread::spawn(move || loop {
            meals.fetch_add(1, Ordering::Relaxed);
            thread::sleep(Duration::from_millis(1));
        });
    }

    let wait_for_report = |what: &str, since: Instant, reported: &Receiver<Instant>| {
        let at = reported
            .recv_timeout(Duration::from_secs(5))
            .unwrap_or_else(|_| panic!("no report for the {what}"));
        let cooked = meals.load(Ordering::Relaxed);
        thread::sleep(Duration::from_millis(20));
        println!(
            "{what}: deadlock reported {:?} after the philosophers sat down; meanwhile the cook works on ({} meals in the next 20 ms)\n",
            at.saturating_duration_since(since),
            meals.load(Ordering::Relaxed) - cooked
        );
    };

    let since = Instant::now();
    dine_on_threads();
    wait_for_report("threads", since, &reported);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let since = Instant::now();
    dine_on_tasks(&runtime);
    wait_for_report("tasks", since, &reported);

    // The philosophers wait forever, as they would with plain locks.
    std::process::exit(0);
}
