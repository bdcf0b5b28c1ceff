//! How a monitor is set up: [`MonitorBuilder`], `const` so that
//! `#[monitored]` keeps one in a `static`.

use std::time::Duration;

use super::Monitor;
#[cfg(doc)]
use crate::error::Error;
use crate::error::Name;

/// How a monitor is set up. Built with [`Monitor::builder`] (or
/// [`MonitorBuilder::new`] in `const` context, which is what `#[monitored]` does).
///
/// ```
/// use monitor_runtime::Monitor;
/// use std::time::Duration;
///
/// let monitor = Monitor::builder("payments")
///     .timeout(Duration::from_millis(50))
///     .max_active(10)
///     .alert(Duration::from_secs(100))
///     .build();
/// assert_eq!(monitor.name(), "payments");
/// assert_eq!(monitor.max_active(), Some(10));
/// assert_eq!(monitor.timeout(), Some(Duration::from_millis(50)));
/// ```
#[derive(Clone, Debug)]
pub struct MonitorBuilder {
    pub(super) name: Name,
    pub(super) timeout: Option<Duration>,
    pub(super) alert: Option<Duration>,
    pub(super) max_active: Option<usize>,
    pub(super) at: (&'static str, u32),
    pub(super) span: bool,
    pub(super) dump_on_timeout: bool,
}

impl MonitorBuilder {
    /// A monitor with no limit at all, named `name`.
    pub const fn new(name: &'static str) -> Self {
        MonitorBuilder {
            name: Name::new_static(name),
            timeout: None,
            alert: None,
            max_active: None,
            at: ("", 0),
            span: false,
            dump_on_timeout: false,
        }
    }

    /// A monitor named at run time.
    pub fn with_name(name: impl Into<Name>) -> Self {
        MonitorBuilder {
            name: name.into(),
            timeout: None,
            alert: None,
            max_active: None,
            at: ("", 0),
            span: false,
            dump_on_timeout: false,
        }
    }

    /// Callers give up on a call after `timeout` with [`Error::Timeout`].
    /// `Duration::ZERO` gives an async body one poll, and a sync body none.
    pub const fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// At most `max_active` calls run at once; more fail at once with
    /// [`Error::Busy`]. `0` refuses every call.
    pub const fn max_active(mut self, max_active: usize) -> Self {
        self.max_active = Some(max_active);
        self
    }

    /// Raise an [`Alert`](crate::monitor::Alert) when a call was refused as Busy and
    /// no call has completed for `alert` since.
    pub const fn alert(mut self, alert: Duration) -> Self {
        self.alert = Some(alert);
        self
    }

    /// Where the guarded code is (`file!()`, `line!()`), shown in dumps of
    /// calls in flight. `#[monitored]` sets it to the function.
    pub const fn at(mut self, file: &'static str, line: u32) -> Self {
        self.at = (file, line);
        self
    }

    /// Each call runs inside a `tracing` span named `monitored`, with the
    /// fields `monitor` and `outcome` (`ok`, `busy`, `timeout`, `panic`,
    /// `cancelled`, `shutting_down`); off unless set here, by
    /// `#[monitored(span = true)]`, or for every monitor by
    /// [`set_spans`](super::set_spans). See [`set_spans`](super::set_spans)
    /// for what the span covers.
    ///
    /// ```
    /// use monitor_runtime::Monitor;
    ///
    /// let monitor = Monitor::builder("traced").span(true).build();
    /// assert_eq!(monitor.call(|| 1), Ok(1)); // inside a span `monitored`
    /// ```
    pub const fn span(mut self, span: bool) -> Self {
        self.span = span;
        self
    }

    /// A call still running at the [`timeout`](Self::timeout) is reported
    /// in a dump, with its stack, as `#[stack_on_timeout]` reports a call
    /// at its deadline (`#[monitored(timeout = .., dump_on_timeout = true)]`
    /// sets it). Without a timeout it does nothing.
    ///
    /// ```
    /// use monitor_runtime::Monitor;
    /// use std::time::Duration;
    ///
    /// let monitor = Monitor::builder("reported")
    ///     .timeout(Duration::from_secs(5))
    ///     .dump_on_timeout(true)
    ///     .build();
    /// assert_eq!(monitor.call(|| 1), Ok(1));
    /// ```
    pub const fn dump_on_timeout(mut self, dump: bool) -> Self {
        self.dump_on_timeout = dump;
        self
    }

    /// When a call is reported as overdue: at the timeout, if
    /// [`dump_on_timeout`](Self::dump_on_timeout) asks for it.
    pub(super) const fn report_after(&self) -> Option<Duration> {
        match self.timeout {
            Some(after) if self.dump_on_timeout => Some(after),
            _ => None,
        }
    }

    pub(crate) fn name_value(&self) -> Name {
        self.name.clone()
    }

    /// Starts a monitor with this configuration.
    pub fn build(self) -> Monitor {
        Monitor::new(self)
    }
}
