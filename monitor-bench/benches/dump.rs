//! The time to take a dump: logical stacks of 1,000 and 10,000 calls in
//! flight (async calls waiting to be polled), taking alone and taking plus
//! the text; and native stacks of 100 threads blocked in calls.
//! `dump/all_threads`: every thread of a process with 100 plain threads
//! (no annotation) parked, warm, against listing them without stacks.
//! `dump/pprof`: the goroutine profile of 10,000 calls
//! in flight, against taking the dump it is made from.
//!
//! Run: `cargo bench -p monitor-bench --bench dump`

use std::future::Future;
use std::hint::black_box;
use std::pin::Pin;
use std::sync::mpsc::channel;
use std::sync::{Arc, Barrier};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use monitor_runtime::__private::{stack_async, stack_sync, CallSite};
use monitor_runtime::dump::DumpOptions;

static OUTER: CallSite =
    CallSite::new("bench::handler", file!(), line!()).report_after(Duration::from_secs(3600));
static INNER: CallSite =
    CallSite::new("bench::lookup", file!(), line!()).report_after(Duration::from_secs(3600));

type Parked = Pin<Box<dyn Future<Output = ()>>>;

/// `n` calls in flight, each `handler -> lookup`, waiting forever; they end
/// when the returned futures are dropped.
fn park(n: usize) -> Vec<Parked> {
    let mut cx = Context::from_waker(Waker::noop());
    (0..n)
        .map(|_| {
            let mut call: Parked = Box::pin(stack_async(&OUTER, async {
                stack_async(&INNER, std::future::pending::<()>()).await
            }));
            assert_eq!(call.as_mut().poll(&mut cx), Poll::Pending);
            call
        })
        .collect()
}

fn logical(c: &mut Criterion) {
    let mut group = c.benchmark_group("dump/logical");
    let options = DumpOptions::new().native_stacks(false);
    for n in [1_000, 10_000] {
        let parked = park(n);
        group.bench_with_input(BenchmarkId::new("take", n), &n, |b, _| {
            b.iter(|| black_box(options.take()))
        });
        group.bench_with_input(BenchmarkId::new("take+text", n), &n, |b, _| {
            b.iter(|| black_box(options.take().to_string()))
        });
        drop(parked);
    }
    group.finish();
}

fn native(c: &mut Criterion) {
    const THREADS: usize = 100;
    let mut group = c.benchmark_group("dump/native");
    group.sample_size(10);
    let ready = Arc::new(Barrier::new(THREADS + 1));
    let mut releases = Vec::new();
    let threads: Vec<_> = (0..THREADS)
        .map(|_| {
            let (release, wait) = channel::<()>();
            releases.push(release);
            let ready = ready.clone();
            std::thread::spawn(move || {
                stack_sync(&OUTER, || {
                    ready.wait();
                    let _ = wait.recv();
                })
            })
        })
        .collect();
    ready.wait();
    // The first capture loads debug info: not measured here (see the
    // dump tests for its cost).
    let first = std::time::Instant::now();
    let dump = DumpOptions::new().take();
    eprintln!(
        "first dump with native stacks of {THREADS} threads: {:?}",
        first.elapsed()
    );
    assert_eq!(
        dump.calls.iter().filter(|c| c.native.is_some()).count(),
        THREADS
    );
    let options = DumpOptions::new();
    group.bench_with_input(BenchmarkId::new("take", THREADS), &THREADS, |b, _| {
        b.iter(|| black_box(options.take()))
    });
    group.finish();
    drop(releases);
    for thread in threads {
        thread.join().unwrap();
    }
}

fn all_threads(c: &mut Criterion) {
    const THREADS: usize = 100;
    let mut group = c.benchmark_group("dump/all_threads");
    group.sample_size(10);
    let mut releases = Vec::new();
    let threads: Vec<_> = (0..THREADS)
        .map(|i| {
            let (release, wait) = channel::<()>();
            releases.push(release);
            std::thread::Builder::new()
                .name(format!("plain-{i}"))
                .spawn(move || {
                    let _ = wait.recv();
                })
                .unwrap()
        })
        .collect();
    let options = DumpOptions::new().all_threads(true);
    // Warm: the first capture loads debug info.
    let dump = options.take();
    assert!(dump.threads.len() > THREADS);
    group.bench_with_input(BenchmarkId::new("list", THREADS), &THREADS, |b, _| {
        let list = DumpOptions::new().all_threads(true).native_stacks(false);
        b.iter(|| black_box(list.take()))
    });
    group.bench_with_input(BenchmarkId::new("take", THREADS), &THREADS, |b, _| {
        b.iter(|| black_box(options.take()))
    });
    group.bench_with_input(BenchmarkId::new("take+text", THREADS), &THREADS, |b, _| {
        b.iter(|| black_box(options.take().to_string()))
    });
    group.finish();
    drop(releases);
    for thread in threads {
        thread.join().unwrap();
    }
}

fn pprof(c: &mut Criterion) {
    const CALLS: usize = 10_000;
    let mut group = c.benchmark_group("dump/pprof");
    let parked = park(CALLS);
    let options = DumpOptions::new().native_stacks(false);
    let dump = options.take();
    assert_eq!(dump.calls.len(), CALLS);
    group.bench_with_input(BenchmarkId::new("take", CALLS), &CALLS, |b, _| {
        b.iter(|| black_box(options.take()))
    });
    group.bench_with_input(BenchmarkId::new("to_pprof", CALLS), &CALLS, |b, _| {
        b.iter(|| black_box(dump.to_pprof()))
    });
    group.bench_with_input(BenchmarkId::new("to_pprof_text", CALLS), &CALLS, |b, _| {
        b.iter(|| black_box(dump.to_pprof_text()))
    });
    group.finish();
    drop(parked);
}

criterion_group!(benches, logical, native, all_threads, pprof);
criterion_main!(benches);
