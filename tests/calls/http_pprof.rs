//! The debug page's goroutine profile (`/pprof/goroutine`, feature
//! `pprof`) and `/stacks?threads=all`, served on loopback: a plain thread
//! parked in `recv()`, an annotated call stuck in `recv()` on another, and
//! an async annotated call waiting to be polled. The profile is decoded
//! with the messages it was encoded with (the runtime's
//! `dump/profile_proto.rs`, included here) and, in CI, read by the real
//! `go tool pprof` (`-raw` and `-top`; `cargo test --test calls http_pprof --
//! --ignored`, with Go installed: `apt-get install golang-go`).
#![cfg(target_os = "linux")]

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::sync::mpsc::{channel, Receiver};
use std::sync::OnceLock;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use monitor_demo::serve_on_loopback;
use monitor_runtime::stack_on_timeout;
use prost::Message;
use tower::ServiceExt;

/// The messages of `profile.proto` that the runtime encodes, as it
/// declares them.
#[allow(dead_code)]
#[path = "../../monitor-runtime/src/dump/profile_proto.rs"]
mod profile_proto;
use profile_proto::Profile;

/// The line of `recv()` in `parked`.
const PARKED_LINE: u32 = line!() + 4;

#[inline(never)]
fn parked(wake: &Receiver<()>) {
    let _ = wake.recv();
}

/// The line of `recv()` in `stuck_call`.
const STUCK_LINE: u32 = line!() + 4;

#[stack_on_timeout(3600s)]
fn stuck_call(reply: Receiver<()>) {
    let _ = reply.recv();
}

/// Where `recv()` is in `stuck_call`: the body's closure as the debug info
/// names it (`{{closure}}` on stable today, `{closure#0}` on nightly), or
/// the function it was inlined into.
const STUCK_FUNCTIONS: [&str; 3] = [
    "calls::http_pprof::stuck_call::{{closure}}",
    "calls::http_pprof::stuck_call::{closure#0}",
    "calls::http_pprof::stuck_call",
];

/// The line of the `.await` `waiting_call` is parked at.
const WAITING_LINE: u32 = line!() + 3;
#[stack_on_timeout(3600s)]
async fn waiting_call() {
    std::future::pending::<()>().await;
}

/// The page's base URL; the threads and the server live as long as the
/// process.
fn served() -> &'static str {
    static BASE: OnceLock<String> = OnceLock::new();
    BASE.get_or_init(|| {
        let (wake, wait) = channel::<()>();
        std::thread::Builder::new()
            .name("plain-parked".into())
            .spawn(move || parked(&wait))
            .unwrap();
        let (reply, replies) = channel::<()>();
        std::thread::Builder::new()
            .name("stuck-worker".into())
            .spawn(move || stuck_call(replies))
            .unwrap();
        std::mem::forget((wake, reply));
        let (base_tx, base_rx) = channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Runtime::new().unwrap();
            runtime.block_on(async move {
                tokio::spawn(waiting_call());
                let app =
                    axum::Router::new().nest("/debug/monitor", monitor_runtime::http::router());
                base_tx.send(serve_on_loopback(app).await).unwrap();
                std::future::pending::<()>().await;
            })
        });
        let base = base_rx.recv().unwrap();
        // Until both threads are seen where they wait.
        let parked_at = format!("http_pprof.rs:{PARKED_LINE}");
        let stuck_at = format!("http_pprof.rs:{STUCK_LINE}");
        monitor_demo::eventually("both threads parked", || {
            let text = monitor_runtime::dump::DumpOptions::new()
                .all_threads(true)
                .take()
                .to_string();
            text.contains(&parked_at) && text.contains(&stuck_at)
        });
        base
    })
}

async fn get(path: &str) -> (StatusCode, Vec<u8>) {
    let response = monitor_demo::Client::new()
        .get(format!("{}{path}", served()))
        .await;
    (response.status, response.body.to_vec())
}

/// One sample: its places (function's system name, line), innermost
/// first, and its labels.
struct Sample {
    places: Vec<(String, i64)>,
    labels: HashMap<String, String>,
}

fn decode(gzipped: &[u8]) -> (Profile, Vec<Sample>) {
    let mut bytes = Vec::new();
    flate2::read::GzDecoder::new(gzipped)
        .read_to_end(&mut bytes)
        .expect("gzip");
    let profile = Profile::decode(bytes.as_slice()).expect("a profile.proto");
    let s = |i: i64| profile.string_table[i as usize].clone();
    let functions: HashMap<u64, String> = profile
        .function
        .iter()
        .map(|f| (f.id, s(f.system_name)))
        .collect();
    let locations: HashMap<u64, (String, i64)> = profile
        .location
        .iter()
        .map(|l| {
            (
                l.id,
                (functions[&l.line[0].function_id].clone(), l.line[0].line),
            )
        })
        .collect();
    let samples = profile
        .sample
        .iter()
        .map(|sample| Sample {
            places: sample
                .location_id
                .iter()
                .map(|id| locations[id].clone())
                .collect(),
            labels: sample.label.iter().map(|l| (s(l.key), s(l.str))).collect(),
        })
        .collect();
    (profile, samples)
}

#[tokio::test(flavor = "multi_thread")]
async fn the_profile_names_each_thread_and_call_with_its_lines() {
    let (status, body) = get("/debug/monitor/pprof/goroutine").await;
    assert_eq!(status, StatusCode::OK);
    let (profile, samples) = decode(&body);
    let s = |i: i64| profile.string_table[i as usize].as_str();
    assert_eq!(s(profile.sample_type[0].ty), "goroutine");
    assert_eq!(s(profile.sample_type[0].unit), "count");

    let thread = |name: &str| {
        samples
            .iter()
            .find(|sample| sample.labels.get("thread").map(String::as_str) == Some(name))
            .unwrap_or_else(|| panic!("no sample for thread {name}"))
    };
    let plain = thread("plain-parked");
    assert!(
        plain
            .places
            .contains(&("calls::http_pprof::parked".into(), PARKED_LINE.into())),
        "{:?}",
        plain.places
    );
    assert_eq!(plain.labels["state"], "sleeping");
    assert!(!plain.labels.contains_key("call_id"));

    let stuck = thread("stuck-worker");
    assert!(
        STUCK_FUNCTIONS
            .iter()
            .any(|&f| stuck.places.contains(&(f.into(), STUCK_LINE.into()))),
        "{:?}",
        stuck.places
    );
    assert!(stuck.labels.contains_key("call_id"));
    assert!(stuck.labels.contains_key("age"));
    // The thread is one sample, not one more for its call.
    let stuck_call = &stuck.labels["call_id"];
    assert_eq!(
        samples
            .iter()
            .filter(|s| s.labels.get("call_id") == Some(stuck_call))
            .count(),
        1
    );

    // The waiting call: its logical stack, at the line of the `.await` it
    // is parked at.
    let waiting = samples
        .iter()
        .find(|s| s.labels.get("state").map(String::as_str) == Some("waiting"))
        .expect("a sample for the waiting call");
    assert_eq!(
        waiting.places[0],
        (
            "calls::http_pprof::waiting_call".into(),
            WAITING_LINE.into()
        )
    );
    assert!(waiting.labels.contains_key("call_id"));
}

#[tokio::test(flavor = "multi_thread")]
async fn debug_1_counts_identical_stacks_and_debug_2_is_the_full_dump() {
    let (status, body) = get("/debug/monitor/pprof/goroutine?debug=1").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("goroutine profile: total "), "{text}");
    assert!(text.contains("thread 'plain-parked' ("), "{text}");
    assert!(
        text.contains(&format!("http_pprof.rs:{PARKED_LINE}\n")),
        "{text}"
    );
    // Counts add up to the total.
    let total: u64 = text
        .lines()
        .next()
        .and_then(|l| l.rsplit(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    let counted: u64 = text
        .lines()
        .filter_map(|l| l.split_once(" @ "))
        .map(|(n, _)| n.parse::<u64>().unwrap())
        .sum();
    assert_eq!(counted, total);

    let (status, body) = get("/debug/monitor/pprof/goroutine?debug=2").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.starts_with("monitor dump at "), "{text}");
    assert!(text.contains("thread 'plain-parked' (tid "), "{text}");
}

#[tokio::test(flavor = "multi_thread")]
async fn stacks_of_all_threads_as_text_and_json() {
    let (status, body) = get("/debug/monitor/stacks?threads=all").await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(body).unwrap();
    assert!(text.contains("thread 'plain-parked' (tid "), "{text}");
    assert!(
        text.contains(&format!("http_pprof.rs:{PARKED_LINE}")),
        "{text}"
    );

    let (_, body) = get("/debug/monitor/stacks?threads=all&format=json").await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert!(json["threads"]
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["name"] == "plain-parked"));

    // Without it, threads that run no call are not listed.
    let (_, body) = get("/debug/monitor/stacks").await;
    let text = String::from_utf8(body).unwrap();
    assert!(!text.contains("thread 'plain-parked'"), "{text}");

    let (status, body) = get("/debug/monitor/stacks?threads=some").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(String::from_utf8(body).unwrap().contains("`all`"));
}

#[tokio::test]
async fn the_profile_is_not_served_to_strangers() {
    let app = axum::Router::new().nest("/debug/monitor", monitor_runtime::http::router());
    let mut request = Request::get("/debug/monitor/pprof/goroutine")
        .body(Body::empty())
        .unwrap();
    let stranger: SocketAddr = "203.0.113.9:4242".parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(stranger));
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::FORBIDDEN);
}

/// `go tool pprof` with `args` on the served profile; its stdout.
fn go_tool_pprof(args: &[&str]) -> String {
    let url = format!("{}/debug/monitor/pprof/goroutine", served());
    let tmp = std::env::temp_dir().join(format!("monitor-pprof-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    let output = std::process::Command::new("go")
        .args(["tool", "pprof"])
        .args(args)
        .arg(&url)
        .env("PPROF_TMPDIR", &tmp)
        .env("HOME", &tmp)
        .output()
        .expect("Go is installed (apt-get install golang-go)");
    assert!(
        output.status.success(),
        "go tool pprof failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

#[test]
#[ignore = "needs Go (apt-get install golang-go); .ci/run runs it"]
fn go_tool_pprof_reads_the_profile() {
    let raw = go_tool_pprof(&["-raw"]);
    let has_location = |function: &str, line: u32| {
        raw.lines().any(|l| {
            l.contains(&format!(" {function} "))
                && l.contains(&format!("tests/calls/http_pprof.rs:{line} "))
        })
    };
    assert!(raw.contains("PeriodType: goroutine count"), "{raw}");
    assert!(
        has_location("calls::http_pprof::parked", PARKED_LINE),
        "{raw}"
    );
    assert!(
        STUCK_FUNCTIONS.iter().any(|f| has_location(f, STUCK_LINE)),
        "{raw}"
    );
    assert!(raw.contains("thread:[plain-parked]"), "{raw}");
    assert!(raw.contains("thread:[stuck-worker]"), "{raw}");
    assert!(raw.contains("state:[waiting]"), "{raw}");

    let top = go_tool_pprof(&["-top"]);
    assert!(top.contains("Type: goroutine"), "{top}");
    assert!(top.contains("calls::http_pprof::parked"), "{top}");
    assert!(top.contains("calls::http_pprof::stuck_call"), "{top}");
    assert!(top.contains("calls::http_pprof::waiting_call"), "{top}");
}
