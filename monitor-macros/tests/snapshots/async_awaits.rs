async fn quotes(ids: Vec<u64>) -> Vec<Quote> {
    static __MONITOR: ::monitor_runtime::__private::StaticMonitor = ::monitor_runtime::__private::StaticMonitor::new(
        ::monitor_runtime::monitor::MonitorBuilder::new(
                ::core::concat!(::core::module_path!(), "::quotes"),
            )
            .at(::core::file!(), ::core::line!()),
    );
    ::monitor_runtime::__private::cancel(
            &__MONITOR,
            async move {
                #[allow(unreachable_code, clippy::empty_loop)]
                if false {
                    let __monitor_fake_return: Vec<Quote> = loop {};
                    return __monitor_fake_return;
                }
                let first = async {
                    ::monitor_runtime::__private::awaiting(
                            ::core::line!(),
                            ::core::column!(),
                            fetch(ids[0]),
                        )
                        .await
                };
                let rest = join_all(
                    ids[1..]
                        .iter()
                        .map(|&id| async move {
                            ::monitor_runtime::__private::awaiting(
                                    ::core::line!(),
                                    ::core::column!(),
                                    fetch(id),
                                )
                                .await
                        }),
                );
                let (first, mut rest) = tokio::join!(first, rest.into_future());
                fn helper() -> impl Future<Output = ()> {
                    async { tick().await }
                }
                ::monitor_runtime::__private::awaiting(
                        ::core::line!(),
                        ::core::column!(),
                        helper(),
                    )
                    .await;
                rest.push(first);
                rest
            },
        )
        .await
}
