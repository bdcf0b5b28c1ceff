//! The debug page (feature `axum`), in the spirit of Go's `net/http/pprof`.
//!
//! [`router()`] serves, under whatever prefix it is nested at (the page is
//! the prefix itself, `/debug/monitor`, without a trailing slash: axum's
//! `nest` does not route `/debug/monitor/`):
//!
//! | path | what |
//! |---|---|
//! | `/` | an HTML page: every monitor and supervisor with live stats, the waits for locks of [`sync`](crate::sync) with their holders, and the calls in flight with their logical stacks and ages; it reloads itself every 2 s |
//! | `/?format=json` | the same as JSON |
//! | `/stacks` | the text dump ([`dump()`](crate::dump())'s `Display`), like `/debug/pprof/goroutine?debug=2`; `?native=false` leaves out native stacks |
//! | `/stacks?format=json` | the dump as JSON (its `Serialize`) |
//!
//! Nothing is served unless you mount the router.
//!
//! **It reveals code paths (function names, files, lines) and what the
//! service is doing: never expose it publicly.** Bind it to loopback, or put
//! it behind authentication.
use std::fmt::Write as _;
use std::time::Duration;

use crate::format::human;

use ::axum::extract::{OriginalUri, Query};
use ::axum::http::{header, StatusCode};
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::get;
use ::axum::Router;
use serde::{Deserialize, Serialize};

use crate::sync::LockWait;
use crate::{
    dump::CallDump, dump::Dump, dump::DumpOptions, monitor::Stats, supervisor::Supervisor,
    supervisor::SupervisorStats, Monitor,
};

/// The debug page's routes, to nest under any prefix.
///
/// **It reveals code paths and what the service is doing: never expose it
/// publicly** (bind to 127.0.0.1, or put it behind authentication). See the
/// [module](crate::http) for the routes.
///
/// ```
/// use axum::Router;
///
/// // Then serve `app` on 127.0.0.1 only, e.g.
/// // `axum::serve(TcpListener::bind("127.0.0.1:3000").await?, app)`.
/// let app: Router = Router::new().nest("/debug/monitor", monitor_runtime::http::router());
/// # let _ = app;
/// ```
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    Router::new()
        .route("/", get(index))
        .route("/stacks", get(stacks))
}

#[derive(Deserialize)]
struct Params {
    format: Option<String>,
    native: Option<bool>,
}

impl Params {
    fn json(&self) -> bool {
        self.format.as_deref() == Some("json")
    }
}

/// One monitor on the page.
#[derive(Serialize)]
struct MonitorRow {
    name: String,
    max_active: Option<usize>,
    timeout: Option<f64>,
    in_flight: usize,
    calls: u64,
    completed: u64,
    busy: u64,
    timeouts: u64,
    panics: u64,
    cancelled: u64,
    alerts: u64,
    p50: f64,
    p99: f64,
    max: f64,
}

impl MonitorRow {
    fn new(monitor: &Monitor) -> Self {
        let s: Stats = monitor.stats();
        MonitorRow {
            name: monitor.name().to_owned(),
            max_active: monitor.max_active(),
            timeout: monitor.timeout().map(|d| d.as_secs_f64()),
            in_flight: s.in_flight,
            calls: s.calls,
            completed: s.completed,
            busy: s.busy,
            timeouts: s.timeouts,
            panics: s.panics,
            cancelled: s.cancelled,
            alerts: s.alerts,
            p50: s.latency.p50.as_secs_f64(),
            p99: s.latency.p99.as_secs_f64(),
            max: s.latency.max.as_secs_f64(),
        }
    }
}

#[derive(Serialize)]
struct SupervisorRow {
    name: String,
    starts: u64,
    restarts: u64,
    missed_heartbeats: u64,
    stall_restarts: u64,
    panic_restarts: u64,
    error_restarts: u64,
    gave_up: bool,
    running: bool,
}

impl SupervisorRow {
    fn new(supervisor: &Supervisor) -> Self {
        let s: SupervisorStats = supervisor.stats();
        SupervisorRow {
            name: supervisor.name().to_owned(),
            starts: s.starts,
            restarts: s.restarts,
            missed_heartbeats: s.missed_heartbeats,
            stall_restarts: s.stall_restarts,
            panic_restarts: s.panic_restarts,
            error_restarts: s.error_restarts,
            gave_up: s.gave_up,
            running: s.running,
        }
    }
}

#[derive(Serialize)]
struct Page {
    monitors: Vec<MonitorRow>,
    supervisors: Vec<SupervisorRow>,
    in_flight: usize,
    calls: Vec<CallDump>,
    lock_waits: Vec<LockWait>,
}

fn page() -> Page {
    let mut monitors: Vec<MonitorRow> = crate::monitors().iter().map(MonitorRow::new).collect();
    monitors.sort_by(|a, b| a.name.cmp(&b.name));
    let mut supervisors: Vec<SupervisorRow> = crate::supervisor::supervisors()
        .iter()
        .map(SupervisorRow::new)
        .collect();
    supervisors.sort_by(|a, b| a.name.cmp(&b.name));
    // Logical stacks only: no signal sent to any thread, fast.
    let dump = DumpOptions::new().native_stacks(false).take();
    Page {
        monitors,
        supervisors,
        in_flight: dump.in_flight,
        calls: dump.calls,
        lock_waits: dump.lock_waits,
    }
}

async fn index(OriginalUri(uri): OriginalUri, Query(params): Query<Params>) -> Response {
    let page = page();
    if params.json() {
        return json(&page);
    }
    (
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        html(&page, uri.path().trim_end_matches('/')),
    )
        .into_response()
}

async fn stacks(Query(params): Query<Params>) -> Response {
    let options = DumpOptions::new().native_stacks(params.native.unwrap_or(true));
    // Native stacks wait up to `answer_within` for threads to answer.
    let dump: Dump = match tokio::task::spawn_blocking(move || options.take()).await {
        Ok(dump) => dump,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    if params.json() {
        return json(&dump);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        dump.to_string(),
    )
        .into_response()
}

fn json(value: &impl Serialize) -> Response {
    match serde_json::to_string(value) {
        Ok(body) => ([(header::CONTENT_TYPE, "application/json")], body).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    }
}

fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

fn secs(s: f64) -> String {
    human(Duration::from_secs_f64(s)).to_string()
}

fn html(page: &Page, base: &str) -> String {
    let mut h = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"2\">\
         <title>monitors</title><style>body{font-family:sans-serif}table{border-collapse:collapse}\
         td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}td:first-child{text-align:left}\
         .hot{background:#fdd}pre{background:#f6f6f6;padding:6px}</style></head><body>",
    );
    let base = escape(base);
    let _ = write!(
        h,
        "<p>Reloads every 2 s. <a href=\"{base}/stacks\">full dump (text)</a> · \
         <a href=\"{base}?format=json\">JSON</a></p>"
    );
    h.push_str(
        "<h1>Monitors</h1><table id=\"monitors\"><tr><th>monitor</th><th>in flight</th><th>max active</th>\
         <th>timeout</th><th>calls</th><th>busy</th><th>timeouts</th><th>alerts</th><th>p50</th><th>p99</th></tr>",
    );
    for m in &page.monitors {
        let hot = m.max_active.is_some_and(|max| m.in_flight >= max);
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if hot { " class=\"hot\"" } else { "" },
            escape(&m.name),
            m.in_flight,
            m.max_active.map_or("-".into(), |n| n.to_string()),
            m.timeout.map_or("-".into(), secs),
            m.calls,
            m.busy,
            m.timeouts,
            m.alerts,
            secs(m.p50),
            secs(m.p99),
        );
    }
    h.push_str("</table>");
    if !page.supervisors.is_empty() {
        h.push_str(
            "<h1>Supervisors</h1><table id=\"supervisors\"><tr><th>supervisor</th><th>running</th>\
             <th>starts</th><th>restarts</th><th>missed heartbeats</th><th>gave up</th></tr>",
        );
        for s in &page.supervisors {
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&s.name),
                s.running,
                s.starts,
                s.restarts,
                s.missed_heartbeats,
                s.gave_up
            );
        }
        h.push_str("</table>");
    }
    if !page.lock_waits.is_empty() {
        h.push_str(
            "<h1>Lock waits</h1><table id=\"lock-waits\"><tr><th>waiter</th><th>lock</th>\
             <th>waits at</th><th>for</th><th>held by</th></tr>",
        );
        for w in &page.lock_waits {
            let held_by: Vec<String> = w.held_by.iter().map(|holder| holder.to_string()).collect();
            let _ = write!(
                h,
                "<tr><td>{}</td><td>{}{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&w.waiter.to_string()),
                escape(&w.lock.lock),
                if w.exclusive { "" } else { " (read)" },
                w.lock
                    .at
                    .as_ref()
                    .map_or(String::new(), |at| escape(&at.to_string())),
                human(w.waited),
                escape(&held_by.join(", ")),
            );
        }
        h.push_str("</table>");
    }
    let _ = write!(
        h,
        "<h1>Calls in flight ({})</h1><div id=\"calls\">",
        page.in_flight
    );
    for call in &page.calls {
        let _ = write!(
            h,
            "<div class=\"call\"><b>{}</b> for {} ({})<pre>",
            escape(call.function),
            human(call.elapsed),
            escape(&format!("{:?}", call.state)),
        );
        for frame in &call.stack {
            let _ = writeln!(
                h,
                "{}{}\n    {}:{} for {}",
                escape(frame.function),
                if frame.overdue { " (overdue)" } else { "" },
                escape(frame.file),
                frame.line,
                human(frame.elapsed),
            );
        }
        h.push_str("</pre></div>");
    }
    h.push_str("</div></body></html>");
    h
}
