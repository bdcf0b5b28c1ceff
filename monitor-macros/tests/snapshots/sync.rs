/// Parses a number.
pub fn parse(input: String) -> Result<u32, Error> {
    static __MONITOR: ::monitor_runtime::__private::StaticMonitor = ::monitor_runtime::__private::StaticMonitor::new(
        ::monitor_runtime::monitor::MonitorBuilder::new(
                ::core::concat!(::core::module_path!(), "::parse"),
            )
            .at(::core::file!(), ::core::line!())
            .max_active(10),
    );
    ::monitor_runtime::__private::sync(
        &__MONITOR,
        move || -> Result<u32, Error> { Ok(input.parse()?) },
    )
}
