//! `#[monitored]` end to end: the behaviours of the monitor through the
//! function shapes users annotate.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use monitor_runtime::{monitored, Error, FromMonitorError};
use tokio::sync::Notify;

#[monitored(timeout = "30ms")]
async fn waits_for(signal: Arc<Notify>) -> Result<&'static str, Error> {
    signal.notified().await;
    Ok("notified")
}

#[tokio::test]
async fn an_async_fn_times_out_and_is_named_after_its_path() {
    let started = Instant::now();
    let result = waits_for(Arc::new(Notify::new())).await;
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(started.elapsed() >= Duration::from_millis(30));
    let monitor = monitor_runtime::monitor("calls::monitor_attribute::waits_for")
        .expect("named after its path");
    assert_eq!(monitor.stats().timeouts, 1);
    assert_eq!(monitor.stats().in_flight, 0);
}

#[derive(Debug)]
enum AppError {
    Monitor(Error),
    Parse(std::num::ParseIntError),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Monitor(e)
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

#[monitored(max_active = 4, name = "tests.parse")]
fn parse(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = input.parse()?;
    Ok(n * 2)
}

#[test]
fn early_return_and_question_mark_keep_their_meaning() {
    assert_eq!(parse("").unwrap(), 0);
    assert_eq!(parse("21").unwrap(), 42);
    match parse("x") {
        Err(AppError::Parse(e)) => assert_eq!(e.to_string(), "invalid digit found in string"),
        Err(AppError::Monitor(e)) => panic!("unexpected {e}"),
        Ok(n) => panic!("parsed {n}"),
    }
    let stats = monitor_runtime::monitor("tests.parse").unwrap().stats();
    assert_eq!((stats.calls, stats.completed), (3, 3));
}

struct Pool {
    served: AtomicUsize,
}

impl Pool {
    #[monitored(max_active = 1)]
    async fn serve(&self, release: Arc<Notify>) -> Result<usize, Error> {
        release.notified().await;
        Ok(self.served.fetch_add(1, Ordering::SeqCst) + 1)
    }

    #[monitored(max_active = 1)]
    fn reset(&mut self) -> Result<(), Error> {
        *self.served.get_mut() = 0;
        Ok(())
    }
}

#[tokio::test]
async fn a_method_on_a_shared_receiver_has_one_cap_for_all_instances() {
    let pool = Arc::new(Pool {
        served: AtomicUsize::new(0),
    });
    let other = Pool {
        served: AtomicUsize::new(0),
    };
    let release = Arc::new(Notify::new());
    let first = {
        let (pool, release) = (pool.clone(), release.clone());
        tokio::spawn(async move { pool.serve(release).await })
    };
    while monitor_runtime::monitor("calls::monitor_attribute::serve")
        .is_none_or(|m| m.stats().in_flight == 0)
    {
        tokio::task::yield_now().await;
    }
    // One monitor per function item: another instance is refused too.
    assert!(matches!(
        other.serve(release.clone()).await,
        Err(Error::Busy { .. })
    ));
    release.notify_one();
    assert_eq!(first.await.unwrap().unwrap(), 1);
    let mut owned = Pool {
        served: AtomicUsize::new(3),
    };
    owned.reset().unwrap();
    assert_eq!(owned.served.into_inner(), 0);
}

#[monitored(max_active = 1)]
fn generic<T>(value: T, then: impl FnOnce() -> Result<(), Error>) -> Result<T, Error>
where
    T: Clone + Send + std::fmt::Debug + 'static,
{
    then()?;
    Ok(value.clone())
}

#[test]
fn generic_instantiations_share_one_monitor() {
    // The inner call of another instantiation is refused: same monitor.
    let nested = generic(1u8, || generic("s", || Ok(())).map(|_| ()));
    assert!(matches!(nested, Err(Error::Busy { .. })));
    assert_eq!(generic(String::from("x"), || Ok(())).unwrap(), "x");
}

#[monitored(timeout = "20ms", max_active = 1)]
fn sync_with_timeout(sleep: Duration) -> Result<Duration, Error> {
    std::thread::sleep(sleep);
    Ok(sleep)
}

#[test]
fn a_sync_fn_with_a_timeout_returns_at_the_deadline() {
    assert_eq!(sync_with_timeout(Duration::ZERO).unwrap(), Duration::ZERO);
    let started = Instant::now();
    let late = sync_with_timeout(Duration::from_millis(300));
    assert!(matches!(late, Err(Error::Timeout { .. })));
    assert!(
        started.elapsed() < Duration::from_millis(250),
        "{:?}",
        started.elapsed()
    );
    // The stuck body still holds the only slot.
    assert!(matches!(
        sync_with_timeout(Duration::ZERO),
        Err(Error::Busy { .. })
    ));
}

#[monitored(timeout = "20ms", on_timeout = detach)]
async fn detached(done: Arc<Notify>) -> Result<(), Error> {
    tokio::time::sleep(Duration::from_millis(60)).await;
    done.notify_one();
    Ok(())
}

#[tokio::test]
async fn a_detached_body_runs_on_after_the_caller_times_out() {
    let done = Arc::new(Notify::new());
    let result = detached(done.clone()).await;
    assert!(matches!(result, Err(Error::Timeout { .. })));
    tokio::time::timeout(Duration::from_secs(5), done.notified())
        .await
        .expect("the body finished in its own task");
}

/// A user type that carries rejections.
#[derive(Debug, PartialEq)]
enum Reply {
    Ok(u32),
    Unavailable(String),
}

impl FromMonitorError for Reply {
    fn from_monitor_error(error: Error) -> Self {
        Reply::Unavailable(error.to_string())
    }
}

#[monitored(max_active = 1)]
fn reply(inner: bool) -> Reply {
    if inner {
        return match reply(false) {
            Reply::Unavailable(why) => Reply::Unavailable(why),
            Reply::Ok(_) => Reply::Ok(0),
        };
    }
    Reply::Ok(1)
}

#[test]
fn a_user_type_carries_the_rejection() {
    assert_eq!(reply(false), Reply::Ok(1));
    match reply(true) {
        Reply::Unavailable(why) => assert!(why.contains("busy"), "{why}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

#[monitored(timeout = "1s", max_active = 8)]
async fn handler_like(id: u64) -> Result<String, Error> {
    tokio::task::yield_now().await;
    Ok(id.to_string())
}

#[test]
fn the_future_stays_send_for_spawning_and_handlers() {
    fn assert_send<T: Send + 'static>(_: &T) {}
    let future = handler_like(1);
    assert_send(&future);
    let rt = tokio::runtime::Runtime::new().unwrap();
    let spawned = rt.block_on(async { tokio::spawn(future).await });
    assert_eq!(spawned.unwrap().unwrap(), "1");
}
