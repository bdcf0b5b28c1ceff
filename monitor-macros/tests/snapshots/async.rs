async fn fetch_user(id: u64) -> Result<impl Display, Error> {
    static __MONITOR: ::monitor_runtime::__private::StaticMonitor = ::monitor_runtime::__private::StaticMonitor::new(
        ::monitor_runtime::monitor::MonitorBuilder::new(
                ::core::concat!(::core::module_path!(), "::fetch_user"),
            )
            .at(::core::file!(), ::core::line!())
            .timeout(::monitor_runtime::__private::Duration::from_millis(50))
            .max_active(10),
    );
    ::monitor_runtime::__private::cancel(
            &__MONITOR,
            async move {
                #[allow(unreachable_code, clippy::empty_loop)]
                if false {
                    let __monitor_fake_return: Result<_, Error> = loop {};
                    return __monitor_fake_return;
                }
                let user = ::monitor_runtime::__private::awaiting(
                        ::core::line!(),
                        ::core::column!(),
                        db::get(id),
                    )
                    .await?;
                Ok(user.name)
            },
        )
        .await
}
