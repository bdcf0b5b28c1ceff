fn work(x: u32) -> u32 {
    static __MONITOR_SITE: ::monitor_runtime::__private::CallSite = ::monitor_runtime::__private::CallSite::new(
            ::core::concat!(::core::module_path!(), "::work"),
            ::core::file!(),
            ::core::line!(),
        )
        .report_after(::monitor_runtime::__private::Duration::from_secs(5));
    ::monitor_runtime::__private::stack_sync(&__MONITOR_SITE, move || -> u32 { x + 1 })
}
