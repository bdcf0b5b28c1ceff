//! [`Error`] as an HTTP response (feature `axum`).
//!
//! [`Error::Busy`] becomes `503 Service Unavailable` with a `Retry-After`
//! header (1 s by default), [`Error::Timeout`] becomes
//! `504 Gateway Timeout`; the body is the error's text. Change the codes or
//! the delay once for the process with [`Responses`].
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
use std::sync::atomic::{AtomicU16, AtomicU64, Ordering};
use std::time::Duration;

use ::axum::http::{header, HeaderValue, StatusCode};
use ::axum::response::{IntoResponse, Response};

use crate::{Error, FromMonitorError};

static BUSY_STATUS: AtomicU16 = AtomicU16::new(503);
static TIMEOUT_STATUS: AtomicU16 = AtomicU16::new(504);
static RETRY_AFTER_SECS: AtomicU64 = AtomicU64::new(1);

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
}

impl Default for Responses {
    fn default() -> Self {
        Responses {
            busy: StatusCode::SERVICE_UNAVAILABLE,
            timeout: StatusCode::GATEWAY_TIMEOUT,
            retry_after: Duration::from_secs(1),
        }
    }
}

impl Responses {
    /// The settings in force now.
    ///
    /// ```
    /// let now = monitor_runtime::axum::Responses::current();
    /// assert_eq!(now.timeout.as_u16(), 504);
    /// ```
    pub fn current() -> Self {
        let code = |a: &AtomicU16, d| StatusCode::from_u16(a.load(Ordering::Relaxed)).unwrap_or(d);
        Responses {
            busy: code(&BUSY_STATUS, StatusCode::SERVICE_UNAVAILABLE),
            timeout: code(&TIMEOUT_STATUS, StatusCode::GATEWAY_TIMEOUT),
            retry_after: Duration::from_secs(RETRY_AFTER_SECS.load(Ordering::Relaxed)),
        }
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

    /// Makes these the settings of every response built from now on.
    ///
    /// ```
    /// monitor_runtime::axum::Responses::default().install();
    /// ```
    pub fn install(self) {
        BUSY_STATUS.store(self.busy.as_u16(), Ordering::Relaxed);
        TIMEOUT_STATUS.store(self.timeout.as_u16(), Ordering::Relaxed);
        let secs = self.retry_after.as_secs() + u64::from(self.retry_after.subsec_nanos() > 0);
        RETRY_AFTER_SECS.store(secs, Ordering::Relaxed);
    }
}

/// `503` with `Retry-After` for [`Error::Busy`], `504` for
/// [`Error::Timeout`] (see [`Responses`]), the error's text as the body.
///
/// ```
/// use axum::{http::StatusCode, response::IntoResponse};
/// use monitor_runtime::Error;
/// use std::time::Duration;
///
/// let late = Error::Timeout { monitor: "db".into(), after: Duration::from_millis(50) };
/// assert_eq!(late.into_response().status(), StatusCode::GATEWAY_TIMEOUT);
/// ```
impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let settings = Responses::current();
        let status = match &self {
            Error::Busy { .. } => settings.busy,
            Error::Timeout { .. } => settings.timeout,
        };
        let mut response = (status, self.to_string()).into_response();
        if matches!(self, Error::Busy { .. }) && !settings.retry_after.is_zero() {
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
