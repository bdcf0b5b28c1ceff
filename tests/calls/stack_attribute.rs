//! `#[stack_on_timeout]` end to end: an annotated function behaves exactly
//! like the plain one (values, `?`, panics, `&mut self`), also when it
//! overruns its deadline, and it combines with `#[monitored]` in either
//! order without weakening the monitor.
//!
//! What is written at the deadline (the dump, the `tracing` event) is
//! tested with the dump; here an overdue call only has to run on unchanged.

use std::panic::{self, AssertUnwindSafe};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread;
use std::time::Duration;

use monitor_runtime::{monitored, stack_on_timeout, Error};
use tokio::sync::Notify;

#[derive(Debug, PartialEq)]
enum AppError {
    Empty,
    Parse(std::num::ParseIntError),
}

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

#[stack_on_timeout(5s)]
fn parse(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Err(AppError::Empty);
    }
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

fn parse_plain(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Err(AppError::Empty);
    }
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

#[stack_on_timeout(5s)]
async fn parse_async(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Err(AppError::Empty);
    }
    tokio::task::yield_now().await;
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

async fn parse_async_plain(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Err(AppError::Empty);
    }
    tokio::task::yield_now().await;
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

#[test]
fn an_async_fn_future_is_two_words_and_the_awaits_larger() {
    let plain = std::mem::size_of_val(&parse_async_plain("1"));
    let annotated = std::mem::size_of_val(&parse_async("1"));
    // The call site and the record's handle, a word each; the `.await`
    // the call is parked at, 4 bytes, padded to a word; the annotated
    // function's own state.
    assert!(
        annotated <= plain + 32,
        "{annotated} bytes against the plain fn's {plain}"
    );
}

#[test]
fn a_sync_fn_returns_what_the_plain_fn_returns() {
    for input in ["21", " 4 ", "", "x", "99999999999"] {
        assert_eq!(parse(input), parse_plain(input), "{input:?}");
    }
}

#[tokio::test]
async fn an_async_fn_returns_what_the_plain_fn_returns() {
    for input in ["21", " 4 ", "", "x", "99999999999"] {
        assert_eq!(parse_async(input).await, parse_plain(input), "{input:?}");
    }
}

#[derive(Debug, PartialEq)]
struct Payload(u32);

#[stack_on_timeout(5s)]
fn panics(code: u32) -> u32 {
    if code > 0 {
        panic::panic_any(Payload(code));
    }
    code
}

#[stack_on_timeout(5s)]
async fn panics_async(code: u32) -> u32 {
    tokio::task::yield_now().await;
    if code > 0 {
        panic::panic_any(Payload(code));
    }
    code
}

/// The payload a panic carries out of `f`.
fn payload<T: std::fmt::Debug>(f: impl FnOnce() -> T) -> Payload {
    *panic::catch_unwind(AssertUnwindSafe(f))
        .expect_err("the panic propagates")
        .downcast::<Payload>()
        .expect("with its own payload")
}

#[test]
fn a_panic_propagates_unchanged() {
    assert_eq!(panics(0), 0);
    assert_eq!(payload(|| panics(7)), Payload(7));
    // The call ended with the panic: the next one runs as usual.
    assert_eq!(panics(0), 0);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(panics_async(0)), 0);
    assert_eq!(payload(|| runtime.block_on(panics_async(8))), Payload(8));
    assert_eq!(runtime.block_on(panics_async(0)), 0);
}

#[derive(Default)]
struct Counter {
    count: u32,
    log: Vec<String>,
}

impl Counter {
    #[stack_on_timeout(5s)]
    fn bump(&mut self, by: u32) -> u32 {
        self.count += by;
        self.count
    }

    #[stack_on_timeout(5s)]
    async fn record(&mut self, entry: &str) -> usize {
        tokio::task::yield_now().await;
        self.log.push(entry.to_owned());
        self.log.len()
    }

    #[stack_on_timeout(5s)]
    fn last(&self) -> Option<&str> {
        self.log.last().map(String::as_str)
    }
}

#[tokio::test]
async fn methods_on_mut_self_mutate() {
    let mut counter = Counter::default();
    assert_eq!(counter.bump(2), 2);
    assert_eq!(counter.bump(3), 5);
    assert_eq!(counter.count, 5);
    assert_eq!(counter.record("a").await, 1);
    assert_eq!(counter.record("b").await, 2);
    assert_eq!(counter.log, ["a", "b"]);
    assert_eq!(counter.last(), Some("b"));
}

#[stack_on_timeout(10ms)]
fn overruns(values: &mut Vec<u32>) -> usize {
    thread::sleep(Duration::from_millis(100));
    values.push(1);
    values.len()
}

#[stack_on_timeout(10ms)]
async fn overruns_async(values: &mut Vec<u32>) -> usize {
    tokio::time::sleep(Duration::from_millis(100)).await;
    values.push(2);
    values.len()
}

#[tokio::test]
async fn an_overdue_call_runs_on_and_returns_its_value() {
    let mut values = Vec::new();
    assert_eq!(overruns(&mut values), 1);
    assert_eq!(overruns_async(&mut values).await, 2);
    assert_eq!(values, [1, 2]);
}

// `#[monitored]` and `#[stack_on_timeout]` together, in both orders: the
// monitor admits one call at a time, and a second one is Busy.

#[monitored(max_active = 1, name = "stack.monitored_first")]
#[stack_on_timeout(5s)]
fn monitored_first(entered: mpsc::Sender<()>, release: mpsc::Receiver<()>) -> Result<u32, Error> {
    entered.send(()).unwrap();
    release.recv().unwrap();
    Ok(1)
}

#[stack_on_timeout(5s)]
#[monitored(max_active = 1, name = "stack.stack_first")]
fn stack_first(entered: mpsc::Sender<()>, release: mpsc::Receiver<()>) -> Result<u32, Error> {
    entered.send(()).unwrap();
    release.recv().unwrap();
    Ok(2)
}

type Blocking = fn(mpsc::Sender<()>, mpsc::Receiver<()>) -> Result<u32, Error>;

/// Holds the only slot of `f`'s monitor on another thread, checks that a
/// second call is Busy, then lets the first return.
fn busy_while_one_runs(f: Blocking, expected: u32) {
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    let first = thread::spawn(move || f(entered_tx, release_rx));
    entered.recv().unwrap();

    let (unused_tx, _) = mpsc::channel();
    let (_, unused_rx) = mpsc::channel();
    let second = f(unused_tx, unused_rx);
    assert!(
        matches!(second, Err(Error::Busy { max_active: 1, .. })),
        "{second:?}"
    );

    release.send(()).unwrap();
    assert_eq!(first.join().unwrap(), Ok(expected));
    // The slot is free again.
    let (entered_tx, _entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    release.send(()).unwrap();
    assert_eq!(f(entered_tx, release_rx), Ok(expected));
}

#[test]
fn sync_with_monitored_first_is_still_capped() {
    busy_while_one_runs(monitored_first, 1);
    let stats = monitor_runtime::monitor("stack.monitored_first")
        .unwrap()
        .stats();
    assert_eq!((stats.completed, stats.busy), (2, 1));
}

#[test]
fn sync_with_stack_first_is_still_capped() {
    busy_while_one_runs(stack_first, 2);
    let stats = monitor_runtime::monitor("stack.stack_first")
        .unwrap()
        .stats();
    assert_eq!((stats.completed, stats.busy), (2, 1));
}

#[monitored(max_active = 1, name = "stack.monitored_first_async")]
#[stack_on_timeout(5s)]
async fn monitored_first_async(release: Arc<Notify>) -> Result<u32, Error> {
    release.notified().await;
    Ok(3)
}

#[stack_on_timeout(5s)]
#[monitored(max_active = 1, name = "stack.stack_first_async")]
async fn stack_first_async(release: Arc<Notify>) -> Result<u32, Error> {
    release.notified().await;
    Ok(4)
}

#[tokio::test]
async fn async_with_monitored_first_is_still_capped() {
    let release = Arc::new(Notify::new());
    let first = tokio::spawn(monitored_first_async(release.clone()));
    // The monitor exists from the first call on.
    let monitor = loop {
        match monitor_runtime::monitor("stack.monitored_first_async") {
            Some(monitor) if monitor.stats().in_flight == 1 => break monitor,
            _ => tokio::task::yield_now().await,
        }
    };
    let second = monitored_first_async(release.clone()).await;
    assert!(
        matches!(second, Err(Error::Busy { max_active: 1, .. })),
        "{second:?}"
    );
    release.notify_one();
    assert_eq!(first.await.unwrap(), Ok(3));
    release.notify_one();
    assert_eq!(monitored_first_async(release).await, Ok(3));
    let stats = monitor.stats();
    assert_eq!((stats.completed, stats.busy), (2, 1));
}

#[tokio::test]
async fn async_with_stack_first_is_still_capped() {
    let release = Arc::new(Notify::new());
    let first = tokio::spawn(stack_first_async(release.clone()));
    // The monitor exists from the first call on.
    let monitor = loop {
        match monitor_runtime::monitor("stack.stack_first_async") {
            Some(monitor) if monitor.stats().in_flight == 1 => break monitor,
            _ => tokio::task::yield_now().await,
        }
    };
    let second = stack_first_async(release.clone()).await;
    assert!(
        matches!(second, Err(Error::Busy { max_active: 1, .. })),
        "{second:?}"
    );
    release.notify_one();
    assert_eq!(first.await.unwrap(), Ok(4));
    release.notify_one();
    assert_eq!(stack_first_async(release).await, Ok(4));
    let stats = monitor.stats();
    assert_eq!((stats.completed, stats.busy), (2, 1));
}
