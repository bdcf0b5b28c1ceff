//! A real Prometheus (Debian's `prometheus`) scrapes `examples/axum_server.rs`
//! and answers, through its HTTP API, the call counter and a
//! `histogram_quantile` over the latency histogram.
//!
//! Ignored by `cargo test`, since it needs the server installed; `.ci/run`
//! installs it and runs `cargo test --test calls metrics_prometheus -- --ignored`.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, TcpListener};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Kills and reaps a child process when dropped, so that a failing
/// assertion leaves no server behind.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Builds the example (a no-op when `cargo test` built it already) and
/// returns its path, next to this test's binary.
fn example(name: &str) -> PathBuf {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let status = Command::new(cargo)
        .args(["build", "--quiet", "--example", name])
        .status()
        .expect("cargo runs");
    assert!(status.success(), "building the example {name}");
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    profile_dir.join("examples").join(name)
}

/// Starts the example on a free loopback port; returns it with its address.
fn start_example() -> (Reaped, SocketAddr) {
    let mut child = Command::new(example("axum_server"))
        .arg("127.0.0.1:0")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the example starts");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "listening on http://127.0.0.1:PORT; the debug page is /debug/monitor"
    let addr = line
        .split("http://")
        .nth(1)
        .and_then(|rest| rest.split(';').next())
        .and_then(|addr| addr.parse().ok())
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (Reaped(child), addr)
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts Prometheus scraping `target` every second; returns it with its
/// API address.
fn start_prometheus(target: SocketAddr, dir: &std::path::Path) -> (Reaped, SocketAddr) {
    let config = dir.join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n\
             scrape_configs:\n  - job_name: example\n    metrics_path: /metrics\n    \
             static_configs:\n      - targets: ['{target}']\n"
        ),
    )
    .unwrap();
    let addr: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let child = Command::new("prometheus")
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.join("data").display()
        ))
        .arg(format!("--web.listen-address={addr}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus is installed (apt-get install -y prometheus)");
    (Reaped(child), addr)
}

/// The first value of an instant query, if it has one yet.
async fn query(client: &monitor_demo::Client, prometheus: SocketAddr, promql: &str) -> Option<f64> {
    let promql: String = form_urlencoded::byte_serialize(promql.as_bytes()).collect();
    let url = format!("http://{prometheus}/api/v1/query?query={promql}");
    let response = client.try_get(url).await.ok()?;
    let body: serde_json::Value = serde_json::from_slice(&response.body).ok()?;
    assert_eq!(body["status"], "success", "{promql}: {body}");
    let value = body["data"]["result"].get(0)?["value"][1].as_str()?;
    value.parse().ok().filter(|v: &f64| v.is_finite())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "needs Debian's prometheus; .ci/run installs it and runs this with --ignored"]
async fn prometheus_scrapes_the_call_counter_and_the_latency_histogram() {
    let dir = std::env::temp_dir().join(format!("monitor-prometheus-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (_example, app) = start_example();
    let client = monitor_demo::Client::new();
    // The first scrape hands the latency histogram to the monitors; the
    // exporter's text is what Prometheus will read.
    let exposition = monitor_demo::get_text(format!("http://{app}/metrics")).await;
    assert!(!exposition.contains("quantile="), "{exposition}");
    let (_prometheus, prometheus) = start_prometheus(app, &dir);

    // Steady traffic of 10 ms calls while Prometheus scrapes.
    let load = {
        let client = client.clone();
        tokio::spawn(async move {
            loop {
                let _ = client.try_get(format!("http://{app}/slow?ms=10")).await;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
    };
    let monitor = r#"monitor="axum_server::slow""#;
    let calls = format!(r#"monitor_calls_total{{{monitor},outcome="ok"}}"#);
    let p99 = format!(
        "histogram_quantile(0.99, sum by (le) \
         (rate(monitor_call_duration_seconds_bucket{{{monitor}}}[5s])))"
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    let (mut seen_calls, mut seen_p99) = (None, None);
    while Instant::now() < deadline && (seen_calls.is_none() || seen_p99.is_none()) {
        tokio::time::sleep(Duration::from_millis(500)).await;
        seen_calls = query(&client, prometheus, &calls)
            .await
            .filter(|&n| n >= 20.0);
        seen_p99 = query(&client, prometheus, &p99).await;
    }
    load.abort();
    let _ = std::fs::remove_dir_all(&dir);
    let calls = seen_calls.expect("Prometheus counted at least 20 calls of /slow");
    let p99 = seen_p99.expect("Prometheus computed a p99 from the histogram");
    // Each call sleeps 10 ms: the p99 lies in a bucket around it.
    assert!(
        (0.005..=0.05).contains(&p99),
        "p99 {p99} s over {calls} calls"
    );
}
