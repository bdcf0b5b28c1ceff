//! The debug page (feature `axum`), in the spirit of Go's `net/http/pprof`.
//!
//! [`router()`] serves, under whatever prefix it is nested at (the page is
//! the prefix itself, `/debug/monitor`, without a trailing slash: axum's
//! `nest` does not route `/debug/monitor/`):
//!
//! | path | what |
//! |---|---|
//! | `/` | an HTML page: every monitor and supervisor with live stats, a chart per function of its calls in flight over the last 5 minutes (a point every 5 s, from when the router was built), the waits for locks of [`sync`](crate::sync) with their holders, the lock-order inversions reported ([`lock_order_inversions`](crate::sync::lock_order_inversions)), and the calls in flight with their logical stacks and ages; it reloads itself every 2 s |
//! | `/?format=json` | the same as JSON; the chart's data is `history`: `every` (seconds between points), `at` (each point's time, seconds since the UNIX epoch), `functions` (`[{"function", "in_flight": [..]}]`) and `threads` |
//! | `/stacks` | the text dump ([`dump()`](crate::dump())'s `Display`), like `/debug/pprof/goroutine?debug=2`; `?native=false` leaves out native stacks |
//! | `/stacks?format=json` | the dump as JSON (its `Serialize`) |
//! | `/stacks?threads=all` | every thread of the process, not only those that run calls ([`DumpOptions::all_threads`]); combines with the others |
//! | `/pprof/goroutine` | (feature `pprof`) every thread and call in flight as a goroutine profile in pprof's format (`Dump::to_pprof`): `go tool pprof -top http://127.0.0.1:PORT/debug/monitor/pprof/goroutine` |
//! | `/pprof/goroutine?debug=1` | the same as Go's text: identical stacks counted (`Dump::to_pprof_text`) |
//! | `/pprof/goroutine?debug=2` | the full text dump of every thread, like `/stacks?threads=all` |
//!
//! Nothing is served unless you mount the router.
//!
//! **It reveals code paths (function names, files, lines) and what the
//! service is doing: never expose it publicly.** So it answers loopback
//! peers only, and every other peer gets `403 Forbidden` with a body that
//! says how to allow it. The peer's address comes from axum's
//! [`ConnectInfo<SocketAddr>`](::axum::extract::ConnectInfo): serve the app
//! with
//! [`into_make_service_with_connect_info::<SocketAddr>()`](::axum::Router::into_make_service_with_connect_info),
//! or every request is refused (the page cannot tell who asks). To serve
//! more, say so with a [`RouterBuilder`]: [`allow`](RouterBuilder::allow) a
//! trusted network, or [`authorize`](RouterBuilder::authorize) requests
//! with your own check.
//!
//! Behind a reverse proxy on the same host every client looks like
//! loopback: there, add an [`authorize`](RouterBuilder::authorize) check,
//! or do not route the page through the proxy.
use std::fmt::Write as _;
use std::sync::Arc;
use std::time::Duration;

use crate::format::human;

use ::axum::extract::{OriginalUri, Query};
use ::axum::http::request::Parts;
use ::axum::http::{header, StatusCode};
use ::axum::middleware::from_fn_with_state;
use ::axum::response::{IntoResponse, Response};
use ::axum::routing::get;
use ::axum::Router;
use serde::{Deserialize, Serialize};

use crate::sync::{LockOrderInversion, LockWait};
use crate::{
    dump::CallDump, dump::Dump, dump::DumpOptions, monitor::Stats, supervisor::Supervisor,
    supervisor::SupervisorStats, Monitor,
};

mod access;

use access::{guard, Access};
pub use access::{Network, NetworkError};

/// The debug page's routes, to nest under any prefix, for loopback peers
/// only: the same as `RouterBuilder::new().build()`.
///
/// **It reveals code paths and what the service is doing: never expose it
/// publicly.** Any other peer gets `403 Forbidden`, and so does every
/// request when the app is not served with its peers' addresses
/// ([`into_make_service_with_connect_info::<SocketAddr>()`](::axum::Router::into_make_service_with_connect_info)).
/// See the [module](crate::http) for the routes, and [`RouterBuilder`] to
/// serve more peers.
///
/// ```
/// use std::net::SocketAddr;
/// use axum::Router;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> std::io::Result<()> {
/// let app: Router = Router::new().nest("/debug/monitor", monitor_runtime::http::router());
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
/// tokio::spawn(async move {
///     axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await
/// });
/// # Ok(())
/// # }
/// ```
pub fn router<S: Clone + Send + Sync + 'static>() -> Router<S> {
    RouterBuilder::new().build()
}

/// A debug page that serves more than loopback peers: trusted networks,
/// and your own checks on each request.
///
/// A request is served when its peer is loopback or in an
/// [`allow`](RouterBuilder::allow)ed network (or any peer, after
/// [`allow_any_peer`](RouterBuilder::allow_any_peer)), **and** every
/// [`authorize`](RouterBuilder::authorize) check returns `true`. Anything
/// else gets `403 Forbidden`.
///
/// ```
/// use axum::Router;
/// use monitor_runtime::http::RouterBuilder;
///
/// // The office network, and a token on every request.
/// let page = RouterBuilder::new()
///     .allow("10.20.0.0/16".parse::<monitor_runtime::http::Network>().unwrap())
///     .authorize(|parts| {
///         parts.headers.get("x-debug-token").is_some_and(|t| t == "s3cret")
///     })
///     .build();
/// let app: Router = Router::new().nest("/debug/monitor", page);
/// # let _ = app;
/// ```
#[derive(Clone)]
pub struct RouterBuilder {
    access: Access,
}

impl Default for RouterBuilder {
    fn default() -> Self {
        RouterBuilder::new()
    }
}

impl std::fmt::Debug for RouterBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterBuilder")
            .field("networks", &self.access.networks)
            .field("any_peer", &self.access.any_peer)
            .field("checks", &self.access.checks.len())
            .finish()
    }
}

impl RouterBuilder {
    /// Loopback peers only, no check: what [`router()`] builds.
    ///
    /// ```
    /// let page: axum::Router = monitor_runtime::http::RouterBuilder::new().build();
    /// # let _ = page;
    /// ```
    pub fn new() -> Self {
        RouterBuilder {
            access: Access::loopback_only(),
        }
    }

    /// Also serves peers in `network` (a [`Network`], or a single
    /// [`IpAddr`](std::net::IpAddr)). Loopback stays allowed.
    ///
    /// ```
    /// use monitor_runtime::http::{Network, RouterBuilder};
    /// use std::net::{IpAddr, Ipv4Addr};
    ///
    /// let page: axum::Router = RouterBuilder::new()
    ///     .allow("10.0.0.0/8".parse::<Network>().unwrap())
    ///     .allow(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)))
    ///     .build();
    /// # let _ = page;
    /// ```
    pub fn allow(mut self, network: impl Into<Network>) -> Self {
        self.access.networks.push(network.into());
        self
    }

    /// Serves every peer, wherever it is, and needs no peer address (no
    /// `ConnectInfo`): for an app that already guards the page (an
    /// [`authorize`](RouterBuilder::authorize) check, a layer of your own,
    /// a listener no one else reaches).
    ///
    /// ```
    /// use monitor_runtime::http::RouterBuilder;
    ///
    /// let page: axum::Router = RouterBuilder::new()
    ///     .allow_any_peer()
    ///     .authorize(|parts| parts.headers.get("authorization").is_some_and(|v| v == "Bearer s3cret"))
    ///     .build();
    /// # let _ = page;
    /// ```
    pub fn allow_any_peer(mut self) -> Self {
        self.access.any_peer = true;
        self
    }

    /// Adds a check on each request's parts (method, URI, headers,
    /// extensions): the page is served only if it returns `true`, after
    /// the peer's address passed. With several checks, each must pass.
    ///
    /// ```
    /// use monitor_runtime::http::RouterBuilder;
    ///
    /// let token = std::env::var("DEBUG_TOKEN").unwrap_or_else(|_| "s3cret".into());
    /// let page: axum::Router = RouterBuilder::new()
    ///     .authorize(move |parts| {
    ///         parts.headers.get("x-debug-token").is_some_and(|t| t.as_bytes() == token.as_bytes())
    ///     })
    ///     .build();
    /// # let _ = page;
    /// ```
    pub fn authorize<F>(mut self, check: F) -> Self
    where
        F: Fn(&Parts) -> bool + Send + Sync + 'static,
    {
        self.access.checks.push(Arc::new(check));
        self
    }

    /// The page's routes, guarded by these rules, to nest under any prefix.
    ///
    /// ```
    /// use axum::Router;
    ///
    /// let app: Router = Router::new()
    ///     .nest("/debug/monitor", monitor_runtime::http::RouterBuilder::new().build());
    /// # let _ = app;
    /// ```
    pub fn build<S: Clone + Send + Sync + 'static>(self) -> Router<S> {
        // The chart's history: sampled by the watchdog from now on.
        crate::leak::keep_history();
        let router = Router::new()
            .route("/", get(index))
            .route("/stacks", get(stacks));
        #[cfg(feature = "pprof")]
        let router = router.route("/pprof/goroutine", get(goroutine));
        router.route_layer(from_fn_with_state(Arc::new(self.access), guard))
    }
}

#[derive(Deserialize)]
struct Params {
    format: Option<String>,
    native: Option<bool>,
    threads: Option<String>,
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
    blocked_polls: u64,
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
            blocked_polls: s.blocked_polls,
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
    /// Distinct lock-order cycles reported since the start.
    lock_order_inversion_count: u64,
    /// The last ones reported, oldest first.
    lock_order_inversions: Vec<LockOrderInversion>,
    history: crate::leak::Series,
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
        lock_order_inversion_count: crate::sync::lock_order_inversion_count(),
        lock_order_inversions: crate::sync::lock_order_inversions(),
        history: crate::leak::history(),
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
    let all_threads = match params.threads.as_deref() {
        None => false,
        Some("all") => true,
        Some(_) => {
            return (
                StatusCode::BAD_REQUEST,
                "`threads` takes one value: `all` (every thread of the process)",
            )
                .into_response()
        }
    };
    let options = DumpOptions::new()
        .native_stacks(params.native.unwrap_or(true))
        .all_threads(all_threads);
    let dump = match take_blocking(options).await {
        Ok(dump) => dump,
        Err(response) => return response,
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

/// Takes a dump on a blocking thread: native stacks wait up to
/// `answer_within` for threads to answer.
async fn take_blocking(options: DumpOptions) -> Result<Dump, Response> {
    tokio::task::spawn_blocking(move || options.take())
        .await
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response())
}

#[cfg(feature = "pprof")]
#[derive(Deserialize)]
struct GoroutineParams {
    debug: Option<u8>,
}

/// Go's `/debug/pprof/goroutine`: the profile, or with `?debug=1` its
/// text, with `?debug=2` the full dump; of every thread and call in flight.
#[cfg(feature = "pprof")]
async fn goroutine(Query(params): Query<GoroutineParams>) -> Response {
    let dump = match take_blocking(DumpOptions::new().all_threads(true)).await {
        Ok(dump) => dump,
        Err(response) => return response,
    };
    let text = |body: String| {
        ([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], body).into_response()
    };
    match params.debug.unwrap_or(0) {
        0 => (
            [
                (header::CONTENT_TYPE, "application/octet-stream"),
                (
                    header::CONTENT_DISPOSITION,
                    "attachment; filename=\"goroutine\"",
                ),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            dump.to_pprof(),
        )
            .into_response(),
        1 => text(dump.to_pprof_text()),
        _ => text(dump.to_string()),
    }
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

/// Width and height of a sparkline, in pixels.
const SPARK_W: f64 = 240.0;
const SPARK_H: f64 = 28.0;

/// Calls in flight per function over the history: one row per function,
/// an inline SVG sparkline (no script, nothing fetched).
fn chart(h: &mut String, history: &crate::leak::Series) {
    if history.functions.is_empty() && history.threads.iter().all(Option::is_none) {
        return;
    }
    let span = history.every * history.at.len().saturating_sub(1) as u32;
    let _ = write!(
        h,
        "<h1>In flight over time</h1><p>The last {}, a point every {}.</p>\
         <table id=\"history\"><tr><th>function</th><th>now</th><th>max</th><th>over time</th></tr>",
        human(span),
        human(history.every),
    );
    let threads: Vec<usize> = history.threads.iter().map(|n| n.unwrap_or(0)).collect();
    let rows = history
        .functions
        .iter()
        .map(|f| (escape(&f.function), &f.in_flight[..]))
        .chain(
            (!threads.is_empty() && history.threads.iter().any(Option::is_some))
                .then(|| ("<i>threads of the process</i>".to_owned(), &threads[..])),
        );
    for (name, counts) in rows {
        let now = counts.last().copied().unwrap_or(0);
        let max = counts.iter().copied().max().unwrap_or(0);
        let _ = write!(
            h,
            "<tr><td>{name}</td><td>{now}</td><td>{max}</td><td>{}</td></tr>",
            sparkline(counts, max)
        );
    }
    h.push_str("</table>");
}

/// An inline SVG polyline of `counts`, scaled to `max`. Numbers only: no
/// text of the program's goes into it.
fn sparkline(counts: &[usize], max: usize) -> String {
    let mut svg = format!(
        "<svg class=\"spark\" width=\"{SPARK_W}\" height=\"{SPARK_H}\" \
         viewBox=\"0 0 {SPARK_W} {SPARK_H}\" role=\"img\"><polyline fill=\"none\" \
         stroke=\"#c33\" stroke-width=\"1.5\" points=\""
    );
    let steps = counts.len().saturating_sub(1).max(1) as f64;
    let top = max.max(1) as f64;
    for (i, &n) in counts.iter().enumerate() {
        let x = SPARK_W * i as f64 / steps;
        let y = SPARK_H - 1.0 - (SPARK_H - 2.0) * n as f64 / top;
        let _ = write!(svg, "{x:.1},{y:.1} ");
    }
    svg.push_str("\"/></svg>");
    svg
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
         <th>timeout</th><th>calls</th><th>busy</th><th>timeouts</th><th>alerts</th><th>blocked polls</th><th>p50</th><th>p99</th></tr>",
    );
    for m in &page.monitors {
        let hot = m.max_active.is_some_and(|max| m.in_flight >= max);
        let _ = write!(
            h,
            "<tr{}><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            if hot { " class=\"hot\"" } else { "" },
            escape(&m.name),
            m.in_flight,
            m.max_active.map_or("-".into(), |n| n.to_string()),
            m.timeout.map_or("-".into(), secs),
            m.calls,
            m.busy,
            m.timeouts,
            m.alerts,
            m.blocked_polls,
            secs(m.p50),
            secs(m.p99),
        );
    }
    h.push_str("</table>");
    chart(&mut h, &page.history);
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
                if w.condvar {
                    " (condvar)"
                } else if w.exclusive {
                    ""
                } else {
                    " (read)"
                },
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
    if page.lock_order_inversion_count > 0 {
        let _ = write!(
            h,
            "<h1>Lock-order inversions ({})</h1><div id=\"lock-order\">",
            page.lock_order_inversion_count
        );
        for inversion in page.lock_order_inversions.iter().rev() {
            let _ = write!(h, "<pre>{}</pre>", escape(&inversion.to_string()));
        }
        h.push_str("</div>");
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
            // Parked at an `.await`: its line, then the function's.
            let place = match frame.awaiting {
                Some(at) => format!(
                    "{}:{} awaiting (defined at :{})",
                    frame.file, at.line, frame.line
                ),
                None => format!("{}:{}", frame.file, frame.line),
            };
            let _ = writeln!(
                h,
                "{}{}\n    {} for {}",
                escape(frame.function),
                if frame.overdue { " (overdue)" } else { "" },
                escape(&place),
                human(frame.elapsed),
            );
        }
        h.push_str("</pre></div>");
    }
    h.push_str("</div></body></html>");
    h
}
