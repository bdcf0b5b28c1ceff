//! A monitored call's `tracing` span (`#[monitored(span = true)]`,
//! `MonitorBuilder::span`, `monitor::set_spans`): its name and fields,
//! what the body logs nested under it, its outcome, and none when off.

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use monitor_demo::{Recorded, RecordedSpan, Recorder};
use monitor_runtime::{monitor, monitored, Error, Monitor};

/// The spans named `monitored` that `recorded` saw.
fn call_spans(recorded: &Recorded) -> Vec<RecordedSpan> {
    recorded
        .spans()
        .into_iter()
        .filter(|span| span.name == "monitored")
        .collect()
}

/// Runs `f` with a recorder as this thread's subscriber.
fn recording<T>(f: impl FnOnce() -> T) -> (T, Recorded) {
    let (recorder, recorded) = Recorder::new();
    let out = tracing::subscriber::with_default(recorder, f);
    (out, recorded)
}

/// Runs `future` on a current-thread runtime (so on this thread, under
/// its subscriber).
fn block_on<F: Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(future)
}

#[monitored(span = true, name = "spans.sync")]
fn sync_work() -> Result<u32, Error> {
    tracing::info!("inside the body");
    Ok(7)
}

#[test]
fn a_sync_call_runs_in_its_span() {
    monitor_demo::own_process!();
    let (value, recorded) = recording(sync_work);
    assert_eq!(value.unwrap(), 7);
    let spans = call_spans(&recorded);
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.target, "monitor_runtime");
    assert_eq!(span.level, tracing::Level::INFO);
    assert_eq!(span.field("monitor"), Some("spans.sync"));
    assert_eq!(span.field("outcome"), Some("ok"));
    let events = recorded.events();
    let inside = events
        .iter()
        .find(|e| e.message() == Some("inside the body"))
        .expect("the body's event");
    assert_eq!(inside.span, Some(span.id));
}

#[monitored(span = true, name = "spans.async")]
async fn async_work() -> Result<u32, Error> {
    tokio::task::yield_now().await;
    // After a `Pending`: entered again on this poll.
    tracing::info!("after an await");
    let child = tracing::info_span!("child");
    let _child = child.enter();
    tracing::info!("in the child");
    Ok(8)
}

#[test]
fn an_async_call_enters_its_span_on_every_poll() {
    monitor_demo::own_process!();
    let (value, recorded) = recording(|| block_on(async_work()));
    assert_eq!(value.unwrap(), 8);
    let spans = call_spans(&recorded);
    assert_eq!(spans.len(), 1, "{spans:?}");
    let span = &spans[0];
    assert_eq!(span.field("monitor"), Some("spans.async"));
    assert_eq!(span.field("outcome"), Some("ok"));
    let events = recorded.events();
    let after = events
        .iter()
        .find(|e| e.message() == Some("after an await"))
        .expect("the event after the await");
    assert_eq!(after.span, Some(span.id));
    let child = recorded
        .spans()
        .into_iter()
        .find(|s| s.name == "child")
        .expect("the child span");
    assert_eq!(child.parent, Some(span.id));
    let in_child = events
        .iter()
        .find(|e| e.message() == Some("in the child"))
        .expect("the event in the child");
    assert_eq!(in_child.span, Some(child.id));
}

#[monitored(span = true, timeout = "20ms", name = "spans.slow")]
async fn never_finishes() -> Result<(), Error> {
    std::future::pending::<()>().await;
    Ok(())
}

#[test]
fn outcomes_timeout_busy_panic_cancelled() {
    monitor_demo::own_process!();
    let ((), recorded) = recording(|| {
        let timed_out = block_on(never_finishes());
        assert!(matches!(timed_out, Err(Error::Timeout { .. })));

        let busy = Monitor::builder("spans.busy")
            .max_active(1)
            .span(true)
            .build();
        let inner = busy.clone();
        let refused = busy.call(|| inner.call(|| ())).unwrap();
        assert!(matches!(refused, Err(Error::Busy { .. })));

        let panics = Monitor::builder("spans.panic").span(true).build();
        let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            panics.call(|| panic!("in the body"))
        }));
        assert!(caught.is_err());

        let cancelled = Monitor::builder("spans.cancelled").span(true).build();
        let mut call = pin!(cancelled.call_async(std::future::pending::<()>()));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(call.as_mut().poll(&mut cx).is_pending());

        let blocking = Monitor::builder("spans.blocking")
            .timeout(Duration::from_millis(20))
            .span(true)
            .build();
        let late = blocking.call_blocking(|| std::thread::sleep(Duration::from_millis(200)));
        assert!(matches!(late, Err(Error::Timeout { .. })));
    });
    let outcome = |name: &str| {
        let spans: Vec<_> = call_spans(&recorded)
            .into_iter()
            .filter(|s| s.field("monitor") == Some(name))
            .map(|s| s.field("outcome").map(str::to_owned))
            .collect();
        spans
    };
    assert_eq!(outcome("spans.slow"), [Some("timeout".to_owned())]);
    // The outer call went through; the inner one was refused.
    assert_eq!(
        outcome("spans.busy"),
        [Some("ok".to_owned()), Some("busy".to_owned())]
    );
    assert_eq!(outcome("spans.panic"), [Some("panic".to_owned())]);
    assert_eq!(outcome("spans.cancelled"), [Some("cancelled".to_owned())]);
    assert_eq!(outcome("spans.blocking"), [Some("timeout".to_owned())]);
}

#[monitored(name = "spans.plain")]
fn plain() -> Result<(), Error> {
    tracing::info!("plain body");
    Ok(())
}

/// The process-wide switch and the default (off) in one test: the switch
/// is shared by the tests of this binary, which run at once.
#[test]
fn off_by_default_and_on_by_the_process_switch() {
    monitor_demo::own_process!();
    let plain_monitor = Monitor::builder("spans.plain.runtime").build();
    let ((), off) = recording(|| {
        plain().unwrap();
        plain_monitor.call(|| ()).unwrap();
        block_on(plain_monitor.call_async(async {})).unwrap();
    });
    assert!(call_spans(&off).is_empty(), "{:?}", off.spans());
    assert_eq!(
        off.events()
            .iter()
            .find(|e| e.message() == Some("plain body"))
            .unwrap()
            .span,
        None
    );

    assert!(!monitor::spans());
    monitor::set_spans(true);
    let ((), on) = recording(|| {
        plain().unwrap();
        plain_monitor.call(|| ()).unwrap();
    });
    monitor::set_spans(false);
    let names: Vec<_> = call_spans(&on)
        .into_iter()
        .map(|s| {
            (
                s.field("monitor").unwrap().to_owned(),
                s.field("outcome").unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            ("spans.plain".to_owned(), "ok".to_owned()),
            ("spans.plain.runtime".to_owned(), "ok".to_owned())
        ]
    );

    let ((), again) = recording(|| plain().unwrap());
    assert!(call_spans(&again).is_empty());
}
