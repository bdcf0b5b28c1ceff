//! The errors a monitored call can fail with, and how they reach a caller's
//! own return type.

use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// The name of a monitor: borrowed for the monitors that `#[monitored]`
/// declares, shared for the ones built at run time. Cloning it never
/// allocates.
///
/// ```
/// use monitor_runtime::Name;
/// let name = Name::from("db");
/// assert_eq!(&*name, "db");
/// assert_eq!(name, Name::from(String::from("db")));
/// ```
#[derive(Clone)]
pub struct Name(pub(crate) NameRepr);

#[derive(Clone)]
pub(crate) enum NameRepr {
    Static(&'static str),
    Shared(Arc<str>),
}

impl Name {
    /// A name known at compile time.
    pub const fn new_static(name: &'static str) -> Self {
        Name(NameRepr::Static(name))
    }

    /// The name as a string slice.
    pub fn as_str(&self) -> &str {
        match &self.0 {
            NameRepr::Static(s) => s,
            NameRepr::Shared(s) => s,
        }
    }
}

impl Deref for Name {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&'static str> for Name {
    fn from(name: &'static str) -> Self {
        Name::new_static(name)
    }
}

impl From<String> for Name {
    fn from(name: String) -> Self {
        Name(NameRepr::Shared(name.into()))
    }
}

impl PartialEq for Name {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for Name {}

impl PartialEq<str> for Name {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Name {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Debug for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Name {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a monitored call did not run its body to the end for the caller.
///
/// The variants carry what a caller needs to act: which monitor refused the
/// call and the limit that was hit.
///
/// ```
/// use monitor_runtime::{Error, Monitor};
///
/// let monitor = Monitor::builder("db").max_active(1).build();
/// let inner = monitor.clone();
/// let outer = monitor.call(|| inner.call(|| ()));
/// let err = outer.unwrap().unwrap_err();
/// assert!(matches!(err, Error::Busy { max_active: 1, .. }));
/// assert_eq!(
///     err.to_string(),
///     "monitor `db` is busy: 1 of 1 calls in flight; retry later or raise `max_active`"
/// );
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The cap on calls in flight was reached; the call was refused at once.
    Busy {
        /// The monitor that refused the call.
        monitor: Name,
        /// Its cap on calls in flight.
        max_active: usize,
    },
    /// The call did not finish before its deadline.
    Timeout {
        /// The monitor whose deadline passed.
        monitor: Name,
        /// The configured timeout.
        after: Duration,
    },
    /// The process, or this monitor, drains ([`drain`](crate::drain()),
    /// [`Monitor::drain`](crate::Monitor::drain)): new calls are refused at
    /// once while the calls in flight finish.
    ShuttingDown {
        /// The monitor that refused the call.
        monitor: Name,
    },
}

impl Error {
    /// The name of the monitor that produced this error.
    ///
    /// ```
    /// # use monitor_runtime::Error;
    /// # use std::time::Duration;
    /// let err = Error::Timeout { monitor: "db".into(), after: Duration::from_millis(5) };
    /// assert_eq!(err.monitor(), "db");
    /// ```
    pub fn monitor(&self) -> &str {
        match self {
            Error::Busy { monitor, .. }
            | Error::Timeout { monitor, .. }
            | Error::ShuttingDown { monitor } => monitor,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Busy {
                monitor,
                max_active,
            } => write!(
                f,
                "monitor `{monitor}` is busy: {max_active} of {max_active} calls in flight; \
                 retry later or raise `max_active`"
            ),
            Error::Timeout { monitor, after } => write!(
                f,
                "monitor `{monitor}`: call did not finish within its timeout of {}; \
                 raise `timeout` or find what the call waits on (see `monitor_runtime::dump`)",
                crate::format::human(*after)
            ),
            Error::ShuttingDown { monitor } => write!(
                f,
                "monitor `{monitor}` is shutting down (a drain began): new calls are refused; \
                 send the call to another instance, or retry once this one has restarted"
            ),
        }
    }
}

impl std::error::Error for Error {}

/// A return type that can carry a rejection ([`Error::Busy`],
/// [`Error::Timeout`], [`Error::ShuttingDown`]) from `#[monitored]`.
///
/// `Result<T, E>` implements it whenever `E: From<monitor_runtime::Error>`.
/// Implement it for your own types (an HTTP response, a status enum) to
/// annotate functions that return them.
///
/// ```
/// use monitor_runtime::{Error, FromMonitorError};
///
/// #[derive(Debug, PartialEq)]
/// enum Reply {
///     Done(u32),
///     TryAgain,
/// }
///
/// impl FromMonitorError for Reply {
///     fn from_monitor_error(_: Error) -> Self {
///         Reply::TryAgain
///     }
/// }
///
/// #[monitor_runtime::monitored(max_active = 1)]
/// fn work() -> Reply {
///     Reply::Done(7)
/// }
///
/// assert_eq!(work(), Reply::Done(7));
/// ```
#[diagnostic::on_unimplemented(
    message = "`#[monitored]` cannot return a rejection through `{Self}`",
    label = "this return type cannot carry `monitor_runtime::Error`",
    note = "return `Result<T, E>` where `E: From<monitor_runtime::Error>` (for example `Result<T, monitor_runtime::Error>`), or implement `monitor_runtime::FromMonitorError` for `{Self}`"
)]
pub trait FromMonitorError {
    /// Builds the value a caller receives when the monitor refuses or
    /// abandons the call.
    fn from_monitor_error(error: Error) -> Self;
}

impl<T, E: From<Error>> FromMonitorError for Result<T, E> {
    fn from_monitor_error(error: Error) -> Self {
        Err(E::from(error))
    }
}
