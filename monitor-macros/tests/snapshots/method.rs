pub(crate) async fn flush(self: Arc<Self>) -> Result<(), Error> {
    static __MONITOR: my_app::monitor::__private::StaticMonitor = my_app::monitor::__private::StaticMonitor::new(
        my_app::monitor::monitor::MonitorBuilder::new(
                ::core::concat!(::core::module_path!(), "::flush"),
            )
            .at(::core::file!(), ::core::line!())
            .timeout(my_app::monitor::__private::Duration::from_secs(5)),
    );
    my_app::monitor::__private::detach(
            &__MONITOR,
            async move {
                #[allow(unreachable_code, clippy::empty_loop)]
                if false {
                    let __monitor_fake_return: Result<(), Error> = loop {};
                    return __monitor_fake_return;
                }
                my_app::monitor::__private::awaiting(
                        ::core::line!(),
                        ::core::column!(),
                        self.sink.flush(),
                    )
                    .await
            },
        )
        .await
}
