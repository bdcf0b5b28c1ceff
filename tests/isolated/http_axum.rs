//! The `axum` feature over real HTTP on loopback: a server on an ephemeral
//! port, `monitor_demo::Client` (hyper-util's) as the client. The overdue call the debug router shows
//! is reported to the dump sink too: the test keeps those dumps
//! (`kept_dumps`), so that nothing reaches stderr.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::routing::get;
use axum::Router;
use monitor_demo::{kept_dumps, serve_on_loopback};
use monitor_runtime::dump::DumpReason;
use monitor_runtime::{monitored, stack_on_timeout, Error};
use tokio::sync::{Notify, Semaphore};

#[derive(Clone)]
struct Held {
    entered: Arc<AtomicUsize>,
    release: Arc<Semaphore>,
}

#[monitored(max_active = 10)]
async fn held(State(held): State<Held>) -> Result<&'static str, Error> {
    held.entered.fetch_add(1, Ordering::SeqCst);
    let _permit = held.release.acquire().await.unwrap();
    Ok("done")
}

async fn eventually(what: &str, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < Duration::from_secs(20), "never: {what}");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_burst_of_100_gets_10_answers_and_90_busy() {
    monitor_demo::own_process!();
    let state = Held {
        entered: Arc::new(AtomicUsize::new(0)),
        release: Arc::new(Semaphore::new(0)),
    };
    let base = serve_on_loopback(
        Router::new()
            .route("/held", get(held))
            .with_state(state.clone()),
    )
    .await;
    let client = monitor_demo::Client::new();
    let refused = Arc::new(AtomicUsize::new(0));
    let requests: Vec<_> = (0..100)
        .map(|_| {
            let (client, url, refused) = (client.clone(), format!("{base}/held"), refused.clone());
            tokio::spawn(async move {
                let response = client.get(url).await;
                let status = response.status.as_u16();
                let retry_after = response
                    .headers
                    .get("retry-after")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = response.text();
                if status == 503 {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
                (status, retry_after, body)
            })
        })
        .collect();

    // The 10 admitted calls hold on the semaphore while the other 90 are
    // answered at once.
    eventually("90 refusals", || refused.load(Ordering::SeqCst) == 90).await;
    eventually("10 calls in", || state.entered.load(Ordering::SeqCst) == 10).await;
    assert_eq!(
        monitor_runtime::monitor("isolated::http_axum::held")
            .unwrap()
            .stats()
            .in_flight,
        10
    );
    state.release.add_permits(10);

    let mut answers = Vec::new();
    for request in requests {
        answers.push(
            tokio::time::timeout(Duration::from_secs(20), request)
                .await
                .expect("a request hung")
                .unwrap(),
        );
    }
    let ok: Vec<_> = answers.iter().filter(|a| a.0 == 200).collect();
    let busy: Vec<_> = answers.iter().filter(|a| a.0 == 503).collect();
    assert_eq!((ok.len(), busy.len()), (10, 90), "{answers:?}");
    assert!(ok.iter().all(|a| a.2 == "done"));
    for (_, retry_after, body) in busy {
        assert_eq!(retry_after.as_deref(), Some("1"));
        // Generic: the monitor's name and cap are for the logs only.
        assert_eq!(body, "service busy");
    }
    assert_eq!(state.entered.load(Ordering::SeqCst), 10);
    let stats = monitor_runtime::monitor("isolated::http_axum::held")
        .unwrap()
        .stats();
    assert_eq!((stats.calls, stats.busy, stats.completed), (100, 90, 10));
}

#[monitored(timeout = "100ms")]
async fn slow() -> Result<&'static str, Error> {
    tokio::time::sleep(Duration::from_secs(30)).await;
    Ok("late")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_handler_gets_504_at_its_deadline() {
    monitor_demo::own_process!();
    let base = serve_on_loopback(Router::new().route("/slow", get(slow))).await;
    let client = monitor_demo::Client::new();
    // A first request opens the connection; the second is timed.
    let _ = client.get(format!("{base}/slow")).await;
    let start = Instant::now();
    let response = client.get(format!("{base}/slow")).await;
    let took = start.elapsed();
    assert_eq!(response.status.as_u16(), 504);
    assert_eq!(response.text(), "timed out");
    assert!(took >= Duration::from_millis(100), "{took:?}");
    // The aim is +50 ms; the bound is generous for a loaded machine: the
    // point is that the response does not wait for the 30 s body.
    assert!(took < Duration::from_millis(1_000), "{took:?}");
}

/// The line of `stuck`'s `.await`, noted on that line.
static STUCK_AT: AtomicU32 = AtomicU32::new(0);

#[stack_on_timeout(10ms)]
async fn stuck(State(gate): State<Arc<Notify>>) -> &'static str {
    let waiting = gate.notified();
    let ((), ()) = (STUCK_AT.store(line!(), Ordering::SeqCst), waiting.await);
    "unstuck"
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debug_router_shows_monitors_and_calls_in_flight() {
    monitor_demo::own_process!();
    let kept = kept_dumps();
    let gate = Arc::new(Notify::new());
    let app = Router::new()
        .route("/stuck", get(stuck))
        .nest("/debug/monitor", monitor_runtime::http::router())
        .with_state(gate.clone());
    // `held` needs its own state: mount it through a nested router.
    let held_state = Held {
        entered: Arc::new(AtomicUsize::new(0)),
        release: Arc::new(Semaphore::new(100)),
    };
    let app = app.nest(
        "/h",
        Router::new()
            .route("/held", get(held))
            .with_state(held_state),
    );
    let base = serve_on_loopback(app).await;
    let client = monitor_demo::Client::new();
    let _ = client.get(format!("{base}/h/held")).await;
    let waiting = tokio::spawn(monitor_demo::get_text(format!("{base}/stuck")));
    tokio::time::sleep(Duration::from_millis(50)).await;

    let page = monitor_demo::get_json(format!("{base}/debug/monitor?format=json")).await;
    let monitor = page["monitors"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "isolated::http_axum::held")
        .expect("the monitor is listed");
    assert_eq!(monitor["max_active"], 10);
    assert!(monitor["calls"].as_u64().unwrap() >= 1);
    for key in [
        "in_flight",
        "busy",
        "timeouts",
        "alerts",
        "blocked_polls",
        "p50",
        "p99",
    ] {
        assert!(monitor.get(key).is_some(), "{key} missing: {monitor}");
    }
    let call = page["calls"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["function"] == "isolated::http_axum::stuck")
        .expect("the stuck call is listed");
    assert!(call["elapsed"].as_f64().unwrap() >= 0.04, "{call}");
    assert_eq!(call["stack"][0]["function"], "isolated::http_axum::stuck");
    assert_eq!(call["stack"][0]["overdue"], true);
    let stuck_at = STUCK_AT.load(Ordering::SeqCst);
    assert_eq!(call["stack"][0]["awaiting"]["line"], stuck_at, "{call}");

    let html = client.get(format!("{base}/debug/monitor")).await;
    assert_eq!(html.headers["content-type"], "text/html; charset=utf-8");
    let html = html.text();
    assert!(html.contains("<table id=\"monitors\">"));
    assert!(html.contains("<td>isolated::http_axum::held</td>"));
    assert!(html.contains("<b>isolated::http_axum::stuck</b>"));
    // Where it waits, then where it is defined.
    let awaiting = format!("tests/isolated/http_axum.rs:{stuck_at} awaiting (defined at :");
    assert!(html.contains(&awaiting), "{html}");
    assert!(html.contains("<th>blocked polls</th>"), "{html}");
    // Links work wherever the router is nested.
    assert!(html.contains("href=\"/debug/monitor/stacks\""), "{html}");

    let text = monitor_demo::get_text(format!("{base}/debug/monitor/stacks")).await;
    assert!(text.starts_with("monitor dump at "), "{text}");
    assert!(text.contains("isolated::http_axum::stuck"), "{text}");

    let dump: serde_json::Value = client
        .get(format!(
            "{base}/debug/monitor/stacks?format=json&native=false"
        ))
        .await
        .json();
    assert!(dump["in_flight"].as_u64().unwrap() >= 1);
    assert!(dump["calls"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["function"] == "isolated::http_axum::stuck" && c["native"].is_null()));

    // The watchdog reported the overdue call to the sink.
    eventually("the overdue report of the stuck call is kept", || {
        kept.lock().unwrap().iter().any(|dump| {
            matches!(&dump.reason, DumpReason::Overdue { calls }
                if calls.iter().any(|c| c.function == "isolated::http_axum::stuck"))
        })
    })
    .await;

    gate.notify_one();
    assert_eq!(waiting.await.unwrap(), "unstuck");
}

/// A thread waits for a lock another holds (no cycle, just a holder that
/// does not let go): the page, its JSON and the text dump show who waits,
/// where, and who holds the lock since where.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_debug_page_shows_who_waits_for_a_lock() {
    monitor_demo::own_process!();
    use monitor_runtime::sync::Mutex;

    let ledger = Arc::new(Mutex::with_name(0u64, "ledger"));
    // The keeper holds the ledger until told to let go.
    let (taken, is_taken) = std::sync::mpsc::channel();
    let (release, released) = std::sync::mpsc::channel::<()>();
    let held_line = line!() + 6;
    let keeper = std::thread::Builder::new()
        .name("ledger keeper".into())
        .spawn({
            let ledger = ledger.clone();
            move || {
                let _held = ledger.lock().unwrap();
                taken.send(()).unwrap();
                released.recv().unwrap();
            }
        })
        .unwrap();
    is_taken.recv().unwrap();
    let wait_line = line!() + 5;
    let waiter = std::thread::Builder::new()
        .name("ledger reader".into())
        .spawn({
            let ledger = ledger.clone();
            move || *ledger.lock().unwrap()
        })
        .unwrap();
    let base =
        serve_on_loopback(Router::new().nest("/debug/monitor", monitor_runtime::http::router()))
            .await;

    let mut wait = serde_json::Value::Null;
    let start = Instant::now();
    while wait.is_null() {
        assert!(start.elapsed() < Duration::from_secs(20), "never listed");
        let page = monitor_demo::get_json(format!("{base}/debug/monitor?format=json")).await;
        if let Some(found) = page["lock_waits"]
            .as_array()
            .unwrap()
            .iter()
            .find(|w| w["lock"]["lock"] == "ledger")
        {
            wait = found.clone();
        }
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    assert_eq!(wait["waiter"]["name"], "ledger reader", "{wait}");
    assert_eq!(wait["exclusive"], true);
    assert_eq!(wait["lock"]["at"]["line"], wait_line, "{wait}");
    assert_eq!(wait["held_by"][0]["at"]["line"], held_line, "{wait}");
    // The keeper does not wait: its name comes from the kernel.
    assert_eq!(wait["held_by"][0]["holder"]["name"], "ledger keeper");

    let html = monitor_demo::get_text(format!("{base}/debug/monitor")).await;
    assert!(html.contains("<table id=\"lock-waits\">"), "{html}");
    assert!(html.contains("<td>ledger</td>"), "{html}");

    let text = monitor_demo::get_text(format!("{base}/debug/monitor/stacks?native=false")).await;
    let expected = format!(
        "thread {} 'ledger reader' waits for lock \"ledger\" at {}:{wait_line}:",
        wait["waiter"]["tid"],
        file!()
    );
    assert!(text.contains("lock waits ("), "{text}");
    assert!(text.contains(&expected), "{expected}\n{text}");
    assert!(
        text.contains(&format!("since {}:{held_line}:", file!())),
        "{text}"
    );

    release.send(()).unwrap();
    keeper.join().unwrap();
    assert_eq!(waiter.join().unwrap(), 0);
}
