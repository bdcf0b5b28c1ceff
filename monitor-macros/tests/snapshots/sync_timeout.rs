fn read(path: PathBuf) -> Result<Vec<u8>, Error> {
    static __MONITOR: ::monitor_runtime::__private::StaticMonitor = ::monitor_runtime::__private::StaticMonitor::new(
        ::monitor_runtime::monitor::MonitorBuilder::new("files.read")
            .at(::core::file!(), ::core::line!())
            .timeout(::monitor_runtime::__private::Duration::from_millis(1500))
            .max_active(8)
            .alert(::monitor_runtime::__private::Duration::from_secs(100)),
    );
    ::monitor_runtime::__private::blocking(
        &__MONITOR,
        move || -> Result<Vec<u8>, Error> { std::fs::read(path) },
    )
}
