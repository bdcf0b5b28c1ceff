//! `crate = "..."`: the runtime reached through a re-export.
#![deny(warnings)]

mod reexport {
    pub mod rt {
        pub use monitor_runtime::*;
    }
}

use monitor_runtime::Error;

#[reexport::rt::monitored(crate = "crate::reexport::rt", timeout = 1s, max_active = 2)]
fn sync_fn() -> Result<(), Error> {
    Ok(())
}

#[reexport::rt::monitored(crate = "reexport::rt", timeout = 1s)]
async fn async_fn() -> Result<(), Error> {
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    sync_fn().unwrap();
    async_fn().await.unwrap();
}
