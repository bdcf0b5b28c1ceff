//! The debug page shows the lock-order inversions reported, with every
//! place in the code, in its HTML and its JSON.
#![cfg(not(feature = "plain-locks"))]

use axum::Router;
use monitor_demo::{kept_dumps, serve_on_loopback};
use monitor_runtime::sync::{set_lock_order_checking, Mutex};

#[tokio::test]
async fn the_page_lists_the_inversions() {
    kept_dumps();
    set_lock_order_checking(true);
    let (orders, stock) = (
        Mutex::with_name((), "page orders"),
        Mutex::with_name((), "page stock"),
    );
    let first = line!() + 2;
    {
        let _orders = orders.lock().unwrap();
        let _stock = stock.lock().unwrap();
    }
    let second = line!() + 2;
    {
        let _stock = stock.lock().unwrap();
        let _orders = orders.lock().unwrap();
    }
    let base =
        serve_on_loopback(Router::new().nest("/debug/monitor", monitor_runtime::http::router()))
            .await;
    let page = monitor_demo::get_json(format!("{base}/debug/monitor?format=json")).await;
    assert!(page["lock_order_inversion_count"].as_u64().unwrap() >= 1);
    let inversion = page["lock_order_inversions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["edges"][0]["taken"]["lock"] == "page orders")
        .expect("listed")
        .clone();
    assert_eq!(
        inversion["edges"][0]["held"]["at"]["line"], second,
        "{inversion}"
    );
    assert_eq!(inversion["edges"][0]["taken"]["at"]["line"], second + 1);
    assert_eq!(inversion["edges"][1]["held"]["at"]["line"], first);
    assert_eq!(inversion["edges"][1]["taken"]["at"]["line"], first + 1);

    let html = monitor_demo::get_text(format!("{base}/debug/monitor")).await;
    assert!(html.contains("<div id=\"lock-order\">"), "{html}");
    assert!(html.contains("took lock &quot;page orders&quot;"), "{html}");
    for line in [first, first + 1, second, second + 1] {
        assert!(
            html.contains(&format!("{}:{line}:", file!())),
            "line {line}: {html}"
        );
    }
}
