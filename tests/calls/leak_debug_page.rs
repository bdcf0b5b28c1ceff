//! The debug page charts the calls in flight per function over time: the
//! JSON carries the series (`history`), the HTML draws each as an inline
//! SVG sparkline, and a name from the program is escaped, never markup.

use std::sync::mpsc::{channel, Receiver};
use std::time::{Duration, Instant};

use axum::Router;
use monitor_runtime::{monitored, Error, Monitor};

#[monitored]
fn parked(wait: Receiver<()>) -> Result<(), Error> {
    let _ = wait.recv();
    Ok(())
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_shows_calls_in_flight_over_time() {
    let mut releases = Vec::new();
    let mut threads = Vec::new();
    for _ in 0..3 {
        let (release, wait) = channel();
        releases.push(release);
        threads.push(std::thread::spawn(move || parked(wait)));
    }
    // A run-time monitor whose name is markup.
    let evil = Monitor::builder("<script>alert(1)</script>").build();
    let (release, wait) = channel::<()>();
    releases.push(release);
    let held = evil.clone();
    threads.push(std::thread::spawn(move || {
        held.call(move || {
            let _ = wait.recv();
        })
    }));
    let parked_name = concat!(module_path!(), "::parked");
    let ready = Instant::now();
    // In the table of calls in flight (a call takes its monitor's slot a
    // moment before it is in the table).
    let in_table = || {
        let dump = monitor_runtime::dump::DumpOptions::new()
            .native_stacks(false)
            .take();
        dump.calls
            .iter()
            .filter(|c| c.function == parked_name)
            .count()
    };
    while in_table() < 3 || evil.stats().in_flight < 1 {
        assert!(ready.elapsed() < Duration::from_secs(10));
        tokio::time::sleep(Duration::from_millis(5)).await;
    }

    let app = Router::new().nest("/debug/monitor", monitor_runtime::http::router());
    let base = monitor_demo::serve_on_loopback(app).await;

    // The first point is taken as the router is built.
    let began = Instant::now();
    let json = loop {
        let json = monitor_demo::get_json(format!("{base}/debug/monitor?format=json")).await;
        let has_point = json["history"]["functions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["function"] == parked_name);
        if has_point {
            break json;
        }
        assert!(
            began.elapsed() < Duration::from_secs(10),
            "no history: {json}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let history = &json["history"];
    assert_eq!(history["every"], 5.0);
    let points = history["at"].as_array().unwrap().len();
    assert!(points >= 1);
    let series = history["functions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["function"] == parked_name)
        .unwrap();
    let counts = series["in_flight"].as_array().unwrap();
    assert_eq!(counts.len(), points, "one count per point");
    assert_eq!(counts.last().unwrap(), 3);
    #[cfg(target_os = "linux")]
    assert!(history["threads"][0].as_u64().unwrap() >= 4);

    let html = monitor_demo::get_text(format!("{base}/debug/monitor")).await;
    assert!(html.contains("<table id=\"history\">"), "{html}");
    assert!(html.contains("<svg class=\"spark\""), "{html}");
    assert!(html.contains("<polyline"), "{html}");
    assert!(
        html.contains(&format!("<tr><td>{parked_name}</td><td>3</td>")),
        "{html}"
    );
    assert!(
        html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"),
        "{html}"
    );
    assert!(!html.contains("<script>"), "a name became markup");

    drop(releases);
    for t in threads {
        t.join().unwrap().unwrap();
    }
}
