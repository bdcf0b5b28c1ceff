//! Doc comments, other attributes, inner attributes and visibility are
//! kept.
#![deny(warnings)]

use monitor_runtime::{monitored, Error};

mod inner {
    use super::*;

    /// Visible in the crate only.
    #[monitored(max_active = 1)]
    #[must_use = "the count matters"]
    #[inline]
    pub(crate) fn count() -> Result<u32, Error> {
        #![allow(clippy::unnecessary_wraps)]
        Ok(1)
    }

    #[monitored]
    #[cfg(any())]
    pub(crate) fn compiled_out() -> Result<u32, Error> {
        compile_error!("cfg is kept");
    }

    #[monitored(timeout = 1s)]
    #[allow(unused_variables)]
    pub(super) fn unused(x: u32) -> Result<(), Error> {
        let y = 5;
        Ok(())
    }

    #[allow(dead_code)]
    #[monitored]
    fn never_called() -> Result<(), Error> {
        Ok(())
    }
}

/// Documented.
#[monitored(timeout = 1s)]
#[doc(alias = "docs")]
pub async fn documented() -> Result<(), Error> {
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    assert_eq!(inner::count(), Ok(1));
    inner::unused(1).unwrap();
    documented().await.unwrap();
}
