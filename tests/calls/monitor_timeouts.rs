//! The timeout of a pending async call, armed in the call's record in the
//! table of calls in flight and fired by the watchdog: it wakes the task
//! that polled the call last, never before the deadline, and whatever
//! number of calls wait at once.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use monitor_runtime::{Error, Monitor};

fn multi_thread() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_time()
        .build()
        .unwrap()
}

#[test]
fn a_call_polled_first_elsewhere_times_out_in_the_task_that_awaits_it() {
    let monitor = Monitor::builder("timeouts.moved")
        .timeout(Duration::from_millis(20))
        .build();
    let mut call = Box::pin(monitor.call_async(std::future::pending::<()>()));
    // The first poll arms the timeout with a waker that wakes nobody.
    let mut cx = Context::from_waker(Waker::noop());
    assert!(call.as_mut().poll(&mut cx).is_pending());
    // The task that awaits it now must be the one woken at the deadline.
    let rt = multi_thread();
    let began = Instant::now();
    let out = rt.block_on(async {
        let task = tokio::spawn(call);
        tokio::time::timeout(Duration::from_secs(5), task).await
    });
    let out = out
        .expect("the call was never woken at its deadline")
        .unwrap();
    assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
    assert!(began.elapsed() < Duration::from_secs(5));
    let stats = monitor.stats();
    assert_eq!((stats.timeouts, stats.in_flight), (1, 0));
}

/// Pending until dropped; counts its polls.
struct Pending(u32);

impl Future for Pending {
    type Output = ();
    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        self.0 += 1;
        Poll::Pending
    }
}

#[test]
fn many_pending_calls_each_time_out_at_their_deadline_never_before() {
    let rt = multi_thread();
    let results = rt.block_on(async {
        let tasks: Vec<_> = (0..64u64)
            .map(|i| {
                let after = Duration::from_millis(2 + i % 16 * 3);
                let monitor = Monitor::builder(format!("timeouts.many.{i}"))
                    .timeout(after)
                    .build();
                tokio::spawn(async move {
                    let began = Instant::now();
                    let out = monitor.call_async(Pending(0)).await;
                    (after, began.elapsed(), out, monitor.stats().in_flight)
                })
            })
            .collect();
        let mut results = Vec::new();
        for task in tasks {
            results.push(
                tokio::time::timeout(Duration::from_secs(10), task)
                    .await
                    .expect("a pending call was never timed out")
                    .unwrap(),
            );
        }
        results
    });
    for (after, took, out, in_flight) in results {
        assert!(matches!(out, Err(Error::Timeout { .. })), "{out:?}");
        assert!(
            took >= after,
            "timed out after {took:?}, before its {after:?}"
        );
        assert_eq!(in_flight, 0);
    }
}
