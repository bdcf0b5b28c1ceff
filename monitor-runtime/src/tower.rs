//! The monitor as a tower [`Layer`] (feature `tower`): any tower
//! [`Service`] — an axum route or router, a tonic service, a hyper service —
//! gets what `#[monitored]` gives a function.
//!
//! [`MonitorLayer`] wraps a [`Monitor`]: each request is one call of that
//! monitor, with its timeout, its cap on requests in flight that fails fast
//! with [`Error::Busy`] (no queue, no backpressure through `poll_ready`), its
//! stall alerts, its stats, its `metrics` and its line on the debug page,
//! under the monitor's name. It replaces the stack users build from tower's
//! own layers (`Timeout`, `ConcurrencyLimit`, `LoadShed`) at a fraction of
//! its cost per request (see the README's benchmarks).
//!
//! Rejections reach the caller in one of two ways:
//! - [`MonitorLayer::new`]: as errors, boxed ([`BoxError`], as tower's own
//!   `Timeout` and `LoadShed` do); downcast to [`Error`] to tell them apart.
//!   This fits tonic and `tower::ServiceBuilder` stacks with an error handler.
//! - [`MonitorLayer::respond`]: as responses, built by the response type's
//!   [`FromMonitorError`], and the service keeps its own error type. This is
//!   what axum's `Router::route_layer` and `Router::layer` need; with the
//!   feature `axum`, a rejection is the 503 or 504 of [`crate::axum`].
//!
//! ```
//! use std::time::Duration;
//! use monitor_runtime::{tower::MonitorLayer, Error, Monitor};
//! use tower::{service_fn, Layer, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let monitor = Monitor::builder("users.lookup")
//!     .timeout(Duration::from_millis(50))
//!     .max_active(10)
//!     .build();
//! let service = MonitorLayer::new(monitor.clone())
//!     .layer(service_fn(|id: u32| async move { Ok::<_, std::convert::Infallible>(id * 2) }));
//! assert_eq!(service.clone().oneshot(21).await.unwrap(), 42);
//!
//! let stuck = MonitorLayer::new(monitor.clone()).layer(service_fn(|_: u32| async {
//!     std::future::pending::<Result<u32, std::convert::Infallible>>().await
//! }));
//! let error = stuck.oneshot(1).await.unwrap_err();
//! assert!(matches!(error.downcast_ref::<Error>(), Some(Error::Timeout { .. })));
//! assert_eq!(monitor.stats().completed, 1);
//! assert_eq!(monitor.stats().timeouts, 1);
//! # }
//! ```

use std::fmt;
use std::marker::PhantomData;
use std::task::{Context, Poll};

use tower_layer::Layer;
use tower_service::Service;

use crate::monitor::{Call, Output};
use crate::{Error, FromMonitorError, Monitor};

/// The error type of a [`MonitorService`] made by [`MonitorLayer::new`]: the
/// inner service's errors and the monitor's [`Error`], boxed, as tower's
/// middleware does.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Rejections as boxed errors ([`MonitorLayer::new`]).
#[derive(Debug)]
pub enum Fail {}

/// Rejections as responses, through [`FromMonitorError`]
/// ([`MonitorLayer::respond`]).
#[derive(Debug)]
pub enum Respond {}

/// Runs every request of the services it wraps as a call of one
/// [`Monitor`]. See the [module docs](self).
///
/// With axum (feature `axum` too):
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use std::time::Duration;
/// use axum::{routing::get, Router};
/// use monitor_runtime::{tower::MonitorLayer, Monitor};
///
/// let users = Monitor::builder("api.users")
///     .timeout(Duration::from_secs(2))
///     .max_active(64)
///     .build();
/// let app: Router = Router::new()
///     .route("/users", get(|| async { "[]" }))
///     // Busy is a 503, a timeout a 504, as for `#[monitored]` handlers.
///     .route_layer(MonitorLayer::new(users).respond());
/// # let _ = app;
/// # }
/// ```
pub struct MonitorLayer<R = Fail> {
    monitor: Monitor,
    _rejections: PhantomData<fn() -> R>,
}

impl MonitorLayer {
    /// Each request of the wrapped service is a call of `monitor`; its
    /// rejections are [`BoxError`]s holding an [`Error`].
    ///
    /// ```
    /// use monitor_runtime::{tower::MonitorLayer, Monitor};
    ///
    /// let layer = MonitorLayer::new(Monitor::builder("rpc").max_active(8).build());
    /// assert_eq!(layer.monitor().name(), "rpc");
    /// ```
    pub fn new(monitor: Monitor) -> Self {
        MonitorLayer {
            monitor,
            _rejections: PhantomData,
        }
    }

    /// Rejections become responses, made by the response type's
    /// [`FromMonitorError`], and the service keeps its error type (what
    /// axum's `route_layer` needs).
    ///
    /// ```
    /// use monitor_runtime::{tower::MonitorLayer, Error, FromMonitorError, Monitor};
    /// use tower::{service_fn, Layer, ServiceExt};
    ///
    /// #[derive(Debug, PartialEq)]
    /// enum Reply {
    ///     Done,
    ///     Later,
    /// }
    /// impl FromMonitorError for Reply {
    ///     fn from_monitor_error(_: Error) -> Self {
    ///         Reply::Later
    ///     }
    /// }
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let closed = Monitor::builder("closed").max_active(0).build();
    /// let service = MonitorLayer::new(closed)
    ///     .respond()
    ///     .layer(service_fn(|()| async { Ok::<_, std::io::Error>(Reply::Done) }));
    /// assert_eq!(service.oneshot(()).await.unwrap(), Reply::Later);
    /// # }
    /// ```
    pub fn respond(self) -> MonitorLayer<Respond> {
        MonitorLayer {
            monitor: self.monitor,
            _rejections: PhantomData,
        }
    }
}

impl<R> MonitorLayer<R> {
    /// The monitor every request is a call of.
    ///
    /// ```
    /// use monitor_runtime::{tower::MonitorLayer, Monitor};
    ///
    /// let layer = MonitorLayer::new(Monitor::builder("rpc").build());
    /// assert_eq!(layer.monitor().stats().calls, 0);
    /// ```
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }
}

impl From<Monitor> for MonitorLayer {
    fn from(monitor: Monitor) -> Self {
        MonitorLayer::new(monitor)
    }
}

impl<R> Clone for MonitorLayer<R> {
    fn clone(&self) -> Self {
        MonitorLayer {
            monitor: self.monitor.clone(),
            _rejections: PhantomData,
        }
    }
}

impl<R> fmt::Debug for MonitorLayer<R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorLayer")
            .field("monitor", &self.monitor.name())
            .finish()
    }
}

impl<S, R> Layer<S> for MonitorLayer<R> {
    type Service = MonitorService<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        MonitorService {
            inner,
            monitor: self.monitor.clone(),
            _rejections: PhantomData,
        }
    }
}

/// A service whose every request is a call of a [`Monitor`]; made by
/// [`MonitorLayer`].
///
/// ```
/// use monitor_runtime::{tower::MonitorLayer, Monitor};
/// use tower::{service_fn, Layer};
///
/// let service = MonitorLayer::new(Monitor::builder("echo").build())
///     .layer(service_fn(|s: String| async move { Ok::<_, std::io::Error>(s) }));
/// assert_eq!(service.monitor().name(), "echo");
/// ```
pub struct MonitorService<S, R = Fail> {
    inner: S,
    monitor: Monitor,
    _rejections: PhantomData<fn() -> R>,
}

impl<S, R> MonitorService<S, R> {
    /// The monitor every request is a call of.
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The wrapped service.
    pub fn inner(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn inner_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The wrapped service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S: Clone, R> Clone for MonitorService<S, R> {
    fn clone(&self) -> Self {
        MonitorService {
            inner: self.inner.clone(),
            monitor: self.monitor.clone(),
            _rejections: PhantomData,
        }
    }
}

impl<S: fmt::Debug, R> fmt::Debug for MonitorService<S, R> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MonitorService")
            .field("inner", &self.inner)
            .field("monitor", &self.monitor.name())
            .finish()
    }
}

impl<S, Request> Service<Request> for MonitorService<S, Fail>
where
    S: Service<Request>,
    S::Error: Into<BoxError>,
{
    type Response = S::Response;
    type Error = BoxError;
    type Future = Call<S::Future, Fail>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        Call::new(self.monitor.clone(), self.inner.call(request))
    }
}

impl<S, Request> Service<Request> for MonitorService<S, Respond>
where
    S: Service<Request>,
    S::Response: FromMonitorError,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Call<S::Future, Respond>;

    #[inline]
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    #[inline]
    fn call(&mut self, request: Request) -> Self::Future {
        Call::new(self.monitor.clone(), self.inner.call(request))
    }
}

impl<T, E: Into<BoxError>> Output<Result<T, E>> for Fail {
    type Out = Result<T, BoxError>;
    #[inline]
    fn ok(value: Result<T, E>) -> Self::Out {
        value.map_err(Into::into)
    }
    fn err(error: Error) -> Self::Out {
        Err(Box::new(error))
    }
}

impl<T: FromMonitorError, E> Output<Result<T, E>> for Respond {
    type Out = Result<T, E>;
    #[inline]
    fn ok(value: Result<T, E>) -> Self::Out {
        value
    }
    fn err(error: Error) -> Self::Out {
        Ok(T::from_monitor_error(error))
    }
}
