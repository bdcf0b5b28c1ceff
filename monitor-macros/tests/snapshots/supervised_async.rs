pub async fn poller(beat: Heartbeat, stop: StopSignal) -> Result<(), Error> {
    poll(beat, stop).await
}
///Starts [`poller`](poller()) under a supervisor: see `spawn`.
#[allow(non_camel_case_types, dead_code)]
pub struct poller {}
impl poller {
    ///Starts [`poller`](poller()) under a supervisor (`#[supervised]`): each instance in a tokio task of the current runtime. Dropping the handle stops it.
    pub fn spawn() -> ::core::result::Result<
        ::monitor_runtime::supervisor::SupervisorHandle,
        ::monitor_runtime::supervisor::SupervisorError,
    > {
        Self::builder().spawn(poller)
    }
    ///The supervisor of [`poller`](poller()) as `#[supervised]` configures it, to change before `spawn`.
    #[allow(dead_code)]
    pub fn builder() -> ::monitor_runtime::supervisor::SupervisorBuilder {
        ::monitor_runtime::supervisor::Supervisor::builder(
                ::core::concat!(::core::module_path!(), "::poller"),
            )
            .heartbeat(::monitor_runtime::__private::Duration::from_millis(100))
            .max_restarts(5, ::monitor_runtime::__private::Duration::from_secs(10))
    }
}
