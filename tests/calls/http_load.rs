//! A load run over loopback: the same handler with and without
//! `#[monitored]`, 100,000 requests each, 64 at a time, in alternating
//! rounds. It reports the throughput of both; it asserts nothing on time
//! (machines are noisy), only that every request was answered.
//!
//! `cargo test --release --test calls http_load -- --ignored --nocapture`

use std::time::{Duration, Instant};

use axum::routing::get;
use axum::Router;
use monitor_runtime::{monitored, Error};

async fn plain() -> Result<&'static str, Error> {
    Ok("ok")
}

#[monitored(timeout = "1s", max_active = 1000)]
async fn annotated() -> Result<&'static str, Error> {
    Ok("ok")
}

const REQUESTS: usize = 100_000;
const CONCURRENCY: usize = 64;
const ROUNDS: usize = 4;

async fn run(client: &monitor_demo::Client, url: &str, requests: usize) -> Duration {
    let start = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|i| {
            let (client, url) = (client.clone(), url.to_owned());
            let n = requests / CONCURRENCY + usize::from(i < requests % CONCURRENCY);
            tokio::spawn(async move {
                for _ in 0..n {
                    // The whole body is read before `get` returns.
                    assert_eq!(client.get(&url).await.status, 200);
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
    start.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
#[ignore = "a load run: cargo test --release --test calls http_load -- --ignored --nocapture"]
async fn annotated_handler_throughput_against_plain() {
    let app = Router::new()
        .route("/plain", get(plain))
        .route("/annotated", get(annotated));
    let base = monitor_demo::serve_on_loopback(app).await;
    let client = monitor_demo::Client::new();
    run(&client, &format!("{base}/plain"), 2_000).await; // warm up
    run(&client, &format!("{base}/annotated"), 2_000).await;

    let (mut plain_time, mut annotated_time) = (Duration::ZERO, Duration::ZERO);
    for round in 0..ROUNDS {
        let per_round = REQUESTS / ROUNDS;
        let (first, second) = if round % 2 == 0 {
            ("plain", "annotated")
        } else {
            ("annotated", "plain")
        };
        for which in [first, second] {
            let took = run(&client, &format!("{base}/{which}"), per_round).await;
            if which == "plain" {
                plain_time += took;
            } else {
                annotated_time += took;
            }
        }
    }
    let rate = |t: Duration| REQUESTS as f64 / t.as_secs_f64();
    let (p, a) = (rate(plain_time), rate(annotated_time));
    println!(
        "{REQUESTS} requests each, {CONCURRENCY} at a time: plain {p:.0} req/s, \
         #[monitored] {a:.0} req/s, ratio {:.3}",
        a / p
    );
    let stats = monitor_runtime::monitor("calls::http_load::annotated")
        .unwrap()
        .stats();
    assert_eq!(stats.completed as usize, REQUESTS + 2_000);
    assert_eq!((stats.busy, stats.timeouts), (0, 0));
}
