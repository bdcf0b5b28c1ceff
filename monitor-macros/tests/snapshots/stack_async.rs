/// Works.
pub async fn work(&self, x: u32) -> Result<impl Display, Error> {
    static __MONITOR_SITE: ::monitor_runtime::__private::CallSite = ::monitor_runtime::__private::CallSite::new(
            "jobs.work",
            ::core::file!(),
            ::core::line!(),
        )
        .report_after(::monitor_runtime::__private::Duration::from_millis(250));
    ::monitor_runtime::__private::stack_async(
            &__MONITOR_SITE,
            async move {
                #[allow(unreachable_code, clippy::empty_loop)]
                if false {
                    let __monitor_fake_return: Result<_, Error> = loop {};
                    return __monitor_fake_return;
                }
                let y = ::monitor_runtime::__private::awaiting(
                        ::core::line!(),
                        ::core::column!(),
                        self.fetch(x),
                    )
                    .await?;
                Ok(y)
            },
        )
        .await
}
