//! [`Error`] as an HTTP response (feature `axum`).
//!
//! [`Error::Busy`] becomes `503 Service Unavailable` with a `Retry-After`
//! header (1 s by default) and the body `service busy`, [`Error::Timeout`]
//! becomes `504 Gateway Timeout` with the body `timed out`, and
//! [`Error::ShuttingDown`] (a [`drain`](crate::drain()) began) becomes
//! `503 Service Unavailable` with the same `Retry-After` and the body
//! `shutting down`, so that a client or a load balancer sends the request
//! elsewhere or comes back after the restart. The bodies are
//! generic on purpose: the error's text names the monitor and its limits,
//! which are internals, not the client's business. That text goes to a
//! `tracing` event instead (target `monitor_runtime`, fields `monitor`,
//! `status` and `error`; DEBUG for busy, as a burst refuses thousands of
//! calls a second, INFO for timeouts). Change the codes, the bodies or the
//! delay once for the process with [`Responses`].
//!
//! A `#[monitored]` handler returns `Result<impl IntoResponse, Error>`, its
//! own error type (with `From<Error>`), or an axum
//! [`Response`], which implements
//! [`FromMonitorError`]:
//!
//! ```
//! use axum::{response::{IntoResponse, Response}, routing::get, Router};
//! use monitor_runtime::{monitored, Error};
//!
//! #[monitored(timeout = "50ms", max_active = 10)]
//! async fn report() -> Result<String, Error> {
//!     Ok("done".into())
//! }
//!
//! #[monitored(max_active = 10)]
//! async fn raw() -> Response {
//!     "done".into_response()
//! }
//!
//! let app: Router = Router::new().route("/report", get(report)).route("/raw", get(raw));
//! # let _ = app;
//! ```
use std::sync::{PoisonError, RwLock};
use std::time::Duration;

use ::axum::http::{header, HeaderValue, StatusCode};
use ::axum::response::{IntoResponse, Response};

use crate::{Error, FromMonitorError};

/// The settings in force. A lock rather than atomics: the bodies are two
/// words each, and a response must never mix two settings. Only a rejection
/// reads it (never a call that runs), and readers do not block each other.
static SETTINGS: RwLock<Responses> = RwLock::new(Responses::DEFAULT);

/// How [`Error`] turns into a response, for the whole process.
///
/// ```
/// use axum::{http::StatusCode, response::IntoResponse};
/// use monitor_runtime::{axum::Responses, Error};
/// use std::time::Duration;
///
/// Responses::default()
///     .busy(StatusCode::TOO_MANY_REQUESTS)
///     .retry_after(Duration::from_secs(5))
///     .install();
/// let busy = Error::Busy { monitor: "db".into(), max_active: 4 }.into_response();
/// assert_eq!(busy.status(), StatusCode::TOO_MANY_REQUESTS);
/// assert_eq!(busy.headers()["retry-after"], "5");
/// # Responses::default().install();
/// ```
///
/// The bodies are `service busy` and `timed out` unless set:
///
/// ```
/// use axum::{body::to_bytes, response::IntoResponse};
/// use monitor_runtime::{axum::Responses, Error};
///
/// Responses::default().busy_body("busy, please retry").install();
/// let busy = Error::Busy { monitor: "db".into(), max_active: 4 }.into_response();
/// # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
/// let body = to_bytes(busy.into_body(), 1024).await.unwrap();
/// assert_eq!(body, "busy, please retry");
/// # });
/// # Responses::default().install();
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Responses {
    /// The status of [`Error::Busy`] (default 503).
    pub busy: StatusCode,
    /// The status of [`Error::Timeout`] (default 504).
    pub timeout: StatusCode,
    /// The `Retry-After` of [`Error::Busy`], in whole seconds, rounded up
    /// (default 1 s); zero leaves the header out.
    pub retry_after: Duration,
    /// The body of [`Error::Busy`] (default `service busy`), sent as
    /// `text/plain; charset=utf-8`.
    pub busy_body: &'static str,
    /// The body of [`Error::Timeout`] (default `timed out`), sent as
    /// `text/plain; charset=utf-8`.
    pub timeout_body: &'static str,
    /// The status of [`Error::ShuttingDown`] (default 503), sent with the
    /// `Retry-After` of [`retry_after`](Self::retry_after).
    pub shutting_down: StatusCode,
    /// The body of [`Error::ShuttingDown`] (default `shutting down`), sent
    /// as `text/plain; charset=utf-8`.
    pub shutting_down_body: &'static str,
}

impl Default for Responses {
    fn default() -> Self {
        Responses::DEFAULT
    }
}

impl Responses {
    const DEFAULT: Responses = Responses {
        busy: StatusCode::SERVICE_UNAVAILABLE,
        timeout: StatusCode::GATEWAY_TIMEOUT,
        retry_after: Duration::from_secs(1),
        busy_body: "service busy",
        timeout_body: "timed out",
        shutting_down: StatusCode::SERVICE_UNAVAILABLE,
        shutting_down_body: "shutting down",
    };

    /// The settings in force now.
    ///
    /// ```
    /// let now = monitor_runtime::axum::Responses::current();
    /// assert_eq!(now.timeout.as_u16(), 504);
    /// ```
    pub fn current() -> Self {
        *SETTINGS.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sets the status of [`Error::Busy`].
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().busy(axum::http::StatusCode::TOO_MANY_REQUESTS);
    /// assert_eq!(r.busy.as_u16(), 429);
    /// ```
    pub fn busy(mut self, status: StatusCode) -> Self {
        self.busy = status;
        self
    }

    /// Sets the status of [`Error::Timeout`].
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().timeout(axum::http::StatusCode::SERVICE_UNAVAILABLE);
    /// assert_eq!(r.timeout.as_u16(), 503);
    /// ```
    pub fn timeout(mut self, status: StatusCode) -> Self {
        self.timeout = status;
        self
    }

    /// Sets the `Retry-After` of [`Error::Busy`].
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// # use std::time::Duration;
    /// let r = Responses::default().retry_after(Duration::from_secs(2));
    /// assert_eq!(r.retry_after, Duration::from_secs(2));
    /// ```
    pub fn retry_after(mut self, after: Duration) -> Self {
        self.retry_after = after;
        self
    }

    /// Sets the body of [`Error::Busy`]'s response. Keep internals out of
    /// it: the client sees it, the logs get the detail. A body made at run
    /// time can be leaked once for the process (`String::leak`).
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().busy_body("busy, try again in a second");
    /// assert_eq!(r.busy_body, "busy, try again in a second");
    /// assert_eq!(r.timeout_body, "timed out");
    /// ```
    pub fn busy_body(mut self, body: &'static str) -> Self {
        self.busy_body = body;
        self
    }

    /// Sets the body of [`Error::Timeout`]'s response.
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().timeout_body("took too long");
    /// assert_eq!(r.timeout_body, "took too long");
    /// assert_eq!(r.busy_body, "service busy");
    /// ```
    pub fn timeout_body(mut self, body: &'static str) -> Self {
        self.timeout_body = body;
        self
    }

    /// Sets the status of [`Error::ShuttingDown`].
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().shutting_down(axum::http::StatusCode::GONE);
    /// assert_eq!(r.shutting_down.as_u16(), 410);
    /// ```
    pub fn shutting_down(mut self, status: StatusCode) -> Self {
        self.shutting_down = status;
        self
    }

    /// Sets the body of [`Error::ShuttingDown`]'s response.
    ///
    /// ```
    /// # use monitor_runtime::axum::Responses;
    /// let r = Responses::default().shutting_down_body("restarting, try again");
    /// assert_eq!(r.shutting_down_body, "restarting, try again");
    /// ```
    pub fn shutting_down_body(mut self, body: &'static str) -> Self {
        self.shutting_down_body = body;
        self
    }

    /// Makes these the settings of every response built from now on.
    ///
    /// ```
    /// monitor_runtime::axum::Responses::default().install();
    /// ```
    pub fn install(self) {
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        let settings = Responses {
            retry_after: Duration::from_secs(secs),
            ..self
        };
        *SETTINGS.write().unwrap_or_else(PoisonError::into_inner) = settings;
    }
}

/// `503` with `Retry-After` and `service busy` for [`Error::Busy`], `504`
/// and `timed out` for [`Error::Timeout`], `503` with `Retry-After` and
/// `shutting down` for [`Error::ShuttingDown`] (see [`Responses`]); the
/// error's text goes to a `tracing` event, not to the client.
///
/// ```
/// use axum::{http::StatusCode, response::IntoResponse};
/// use monitor_runtime::Error;
/// use std::time::Duration;
///
/// let late = Error::Timeout { monitor: "db".into(), after: Duration::from_millis(50) };
/// assert_eq!(late.into_response().status(), StatusCode::GATEWAY_TIMEOUT);
///
/// let closing = Error::ShuttingDown { monitor: "db".into() }.into_response();
/// assert_eq!(closing.status(), StatusCode::SERVICE_UNAVAILABLE);
/// assert!(closing.headers().contains_key("retry-after"));
/// ```
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let settings = Responses::current();
        let (status, body) = match &self {
            Error::Busy { .. } => (settings.busy, settings.busy_body),
            Error::Timeout { .. } => (settings.timeout, settings.timeout_body),
            Error::ShuttingDown { .. } => (settings.shutting_down, settings.shutting_down_body),
        };
        // The detail for the operator; the client gets the generic body.
        match &self {
            Error::Busy { .. } | Error::ShuttingDown { .. } => tracing::debug!(
                target: "monitor_runtime",
                monitor = self.monitor(),
                status = status.as_u16(),
                error = %self,
                "rejection answered over HTTP"
            ),
            Error::Timeout { .. } => tracing::info!(
                target: "monitor_runtime",
                monitor = self.monitor(),
                status = status.as_u16(),
                error = %self,
                "rejection answered over HTTP"
            ),
        }
        let mut response = (status, body).into_response();
        if matches!(self, Error::Busy { .. } | Error::ShuttingDown { .. })
            && !settings.retry_after.is_zero()
        {
            response.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from(settings.retry_after.as_secs()),
            );
        }
        response
    }
}

/// A handler that returns an axum `Response` can be `#[monitored]`: a
/// rejection becomes [`Error`]'s response.
///
/// ```
/// use axum::response::{IntoResponse, Response};
/// use monitor_runtime::{Error, FromMonitorError};
///
/// let r = Response::from_monitor_error(Error::Busy { monitor: "db".into(), max_active: 1 });
/// assert_eq!(r.status().as_u16(), 503);
/// ```
impl FromMonitorError for Response {
    fn from_monitor_error(error: Error) -> Self {
        error.into_response()
    }
}
