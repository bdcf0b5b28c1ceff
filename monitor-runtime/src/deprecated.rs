//! The crate-root paths of 0.1, kept for one release (see CHANGELOG.md):
//! each is deprecated and names its new home. Hidden from the docs.

#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::CallDump`")]
#[doc(hidden)]
pub type CallDump = crate::dump::CallDump;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::CallState`")]
#[doc(hidden)]
pub type CallState = crate::dump::CallState;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::Dump`")]
#[doc(hidden)]
pub type Dump = crate::dump::Dump;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::DumpOptions`")]
#[doc(hidden)]
pub type DumpOptions = crate::dump::DumpOptions;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::DumpReason`")]
#[doc(hidden)]
pub type DumpReason = crate::dump::DumpReason;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::DumpSink`")]
#[doc(hidden)]
pub type DumpSink = crate::dump::DumpSink;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::DumpSinkError`")]
#[doc(hidden)]
pub type DumpSinkError = crate::dump::DumpSinkError;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::LogicalFrame`")]
#[doc(hidden)]
pub type LogicalFrame = crate::dump::LogicalFrame;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::NativeFrame`")]
#[doc(hidden)]
pub type NativeFrame = crate::dump::NativeFrame;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::NativeStack`")]
#[doc(hidden)]
pub type NativeStack = crate::dump::NativeStack;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::Origin`")]
#[doc(hidden)]
pub type Origin = crate::dump::Origin;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::OverdueCall`")]
#[doc(hidden)]
pub type OverdueCall = crate::dump::OverdueCall;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::CallId`")]
#[doc(hidden)]
pub type CallId = crate::dump::CallId;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::CallSite`")]
#[doc(hidden)]
pub type CallSite = crate::dump::CallSite;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::CaptureError`")]
#[doc(hidden)]
pub type CaptureError = crate::dump::CaptureError;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::Frame`")]
#[doc(hidden)]
pub type Frame = crate::dump::Frame;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::Stack`")]
#[doc(hidden)]
pub type Stack = crate::dump::Stack;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::supervisor::Backoff`")]
#[doc(hidden)]
pub type Backoff = crate::supervisor::Backoff;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::supervisor::Cause`")]
#[doc(hidden)]
pub type Cause = crate::supervisor::Cause;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::supervisor::Heartbeat`")]
#[doc(hidden)]
pub type Heartbeat = crate::supervisor::Heartbeat;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::supervisor::Restart`")]
#[doc(hidden)]
pub type Restart = crate::supervisor::Restart;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::StopSignal`"
)]
#[doc(hidden)]
pub type StopSignal = crate::supervisor::StopSignal;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::Supervisor`"
)]
#[doc(hidden)]
pub type Supervisor = crate::supervisor::Supervisor;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::SupervisorBuilder`"
)]
#[doc(hidden)]
pub type SupervisorBuilder = crate::supervisor::SupervisorBuilder;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::SupervisorError`"
)]
#[doc(hidden)]
pub type SupervisorError = crate::supervisor::SupervisorError;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::SupervisorHandle`"
)]
#[doc(hidden)]
pub type SupervisorHandle = crate::supervisor::SupervisorHandle;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::SupervisorStats`"
)]
#[doc(hidden)]
pub type SupervisorStats = crate::supervisor::SupervisorStats;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Alert`")]
#[doc(hidden)]
pub type Alert = crate::monitor::Alert;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Alerts`")]
#[doc(hidden)]
pub type Alerts = crate::monitor::Alerts;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Latency`")]
#[doc(hidden)]
pub type Latency = crate::monitor::Latency;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Stats`")]
#[doc(hidden)]
pub type Stats = crate::monitor::Stats;
#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::monitor::MonitorBuilder`"
)]
#[doc(hidden)]
pub type Config = crate::monitor::MonitorBuilder;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Call`")]
#[doc(hidden)]
pub type Call<F, O> = crate::monitor::Call<F, O>;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Detach`")]
#[doc(hidden)]
pub type Detach<F, O> = crate::monitor::Detach<F, O>;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Wrap`")]
#[doc(hidden)]
pub type Wrap = crate::monitor::Wrap;
#[deprecated(since = "0.2.0", note = "use `monitor_runtime::monitor::Merge`")]
#[doc(hidden)]
pub type Merge = crate::monitor::Merge;
// A trait and a tuple struct cannot be deprecated through an alias: the
// old paths stay, hidden.
#[doc(hidden)]
pub use crate::dump::Tid;
#[doc(hidden)]
pub use crate::monitor::Output;

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::monitor::set_alert_hook`"
)]
#[doc(hidden)]
pub fn set_alert_hook(hook: impl Fn(&crate::monitor::Alert) + Send + Sync + 'static) {
    crate::monitor::set_alert_hook(hook)
}

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::monitor::clear_alert_hook`"
)]
#[doc(hidden)]
pub fn clear_alert_hook() {
    crate::monitor::clear_alert_hook()
}

#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::set_dump_sink`")]
#[doc(hidden)]
pub fn set_dump_sink(sink: crate::dump::DumpSink) -> Result<(), crate::dump::DumpSinkError> {
    crate::dump::set_dump_sink(sink)
}

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::dump::install_panic_hook`"
)]
#[doc(hidden)]
pub fn install_panic_hook() {
    crate::dump::install_panic_hook()
}

#[deprecated(since = "0.2.0", note = "use `monitor_runtime::dump::detect_stalls`")]
#[doc(hidden)]
pub fn detect_stalls(period: std::time::Duration) {
    crate::dump::detect_stalls(period)
}

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::dump::stop_detecting_stalls`"
)]
#[doc(hidden)]
pub fn stop_detecting_stalls() {
    crate::dump::stop_detecting_stalls()
}

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::supervisor`"
)]
#[doc(hidden)]
pub fn supervisor(name: &str) -> Option<crate::supervisor::Supervisor> {
    crate::supervisor::supervisor(name)
}

#[deprecated(
    since = "0.2.0",
    note = "use `monitor_runtime::supervisor::supervisors`"
)]
#[doc(hidden)]
pub fn supervisors() -> Vec<crate::supervisor::Supervisor> {
    crate::supervisor::supervisors()
}
