fn indexer(beat: Heartbeat) -> Result<(), String> {
    index(&beat)
}
///Starts [`indexer`](indexer()) under a supervisor: see `spawn`.
#[allow(non_camel_case_types, dead_code)]
struct indexer {}
impl indexer {
    ///Starts [`indexer`](indexer()) under a supervisor (`#[supervised]`): each instance on a thread of its own. Dropping the handle stops it.
    fn spawn() -> ::core::result::Result<
        ::monitor_runtime::supervisor::SupervisorHandle,
        ::monitor_runtime::supervisor::SupervisorError,
    > {
        Self::builder().spawn_thread(|__monitor_beat, _| indexer(__monitor_beat))
    }
    ///The supervisor of [`indexer`](indexer()) as `#[supervised]` configures it, to change before `spawn`.
    #[allow(dead_code)]
    fn builder() -> ::monitor_runtime::supervisor::SupervisorBuilder {
        ::monitor_runtime::supervisor::Supervisor::builder(
                ::core::concat!(::core::module_path!(), "::indexer"),
            )
            .heartbeat(::monitor_runtime::__private::Duration::from_secs(1))
            .restart(::monitor_runtime::supervisor::Restart::Transient)
            .grace(::monitor_runtime::__private::Duration::from_millis(50))
    }
}
