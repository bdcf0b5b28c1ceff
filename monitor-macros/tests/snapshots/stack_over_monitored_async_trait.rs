fn get<'life0, 'async_trait>(
    &'life0 self,
) -> Pin<Box<dyn Future<Output = Result<u32, Error>> + Send + 'async_trait>>
where
    'life0: 'async_trait,
    Self: 'async_trait,
{
    static __MONITOR_SITE: ::monitor_runtime::__private::CallSite = ::monitor_runtime::__private::CallSite::new(
            ::core::concat!(::core::module_path!(), "::get"),
            ::core::file!(),
            ::core::line!(),
        )
        .report_after(::monitor_runtime::__private::Duration::from_secs(1));
    static __MONITOR: ::monitor_runtime::__private::StaticMonitor = ::monitor_runtime::__private::StaticMonitor::new(
        ::monitor_runtime::monitor::MonitorBuilder::new(
                ::core::concat!(::core::module_path!(), "::get"),
            )
            .at(::core::file!(), ::core::line!())
            .max_active(2),
    );
    Box::pin(
        ::monitor_runtime::__private::stack_async(
            &__MONITOR_SITE,
            ::monitor_runtime::__private::cancel(
                &__MONITOR,
                async move {
                    Ok(
                        ::monitor_runtime::__private::awaiting(
                                ::core::line!(),
                                ::core::column!(),
                                self.value(),
                            )
                            .await,
                    )
                },
            ),
        ),
    )
}
