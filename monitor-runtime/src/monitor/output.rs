//! How a call's result reaches its caller: as `Result<T, Error>` (the
//! [`Monitor`](super::Monitor) methods) or merged into the body's own
//! return type (`#[monitored]`). One home for the sync path
//! (`monitor/mod.rs`) and the async one (`monitor/call.rs`).

use crate::error::{Error, FromMonitorError};

/// How a call's result reaches the caller: wrapped in `Result<T, Error>`
/// ([`Wrap`], for the [`Monitor`](super::Monitor) methods) or merged into a return type
/// that can carry the error ([`Merge`], for `#[monitored]`).
pub trait Output<T> {
    /// What the caller gets.
    type Out;
    #[doc(hidden)]
    fn ok(value: T) -> Self::Out;
    #[doc(hidden)]
    fn err(error: Error) -> Self::Out;
}

/// Output as `Result<T, monitor_runtime::Error>`.
#[derive(Debug)]
pub enum Wrap {}

/// Output as the body's own type, which carries errors through
/// [`FromMonitorError`].
#[derive(Debug)]
pub enum Merge {}

impl<T> Output<T> for Wrap {
    type Out = Result<T, Error>;
    #[inline]
    fn ok(value: T) -> Self::Out {
        Ok(value)
    }
    fn err(error: Error) -> Self::Out {
        Err(error)
    }
}

impl<T: FromMonitorError> Output<T> for Merge {
    type Out = T;
    #[inline]
    fn ok(value: T) -> T {
        value
    }
    fn err(error: Error) -> T {
        T::from_monitor_error(error)
    }
}
