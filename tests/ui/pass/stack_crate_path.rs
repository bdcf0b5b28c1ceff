//! `crate = "..."`: the runtime reached through a re-export.
#![deny(warnings)]

mod reexport {
    pub mod rt {
        pub use monitor_runtime::*;
    }
}

#[reexport::rt::stack_on_timeout(1s, crate = "crate::reexport::rt")]
fn sync_fn() -> u32 {
    1
}

#[reexport::rt::stack_on_timeout(crate = "reexport::rt", timeout = 1s)]
async fn async_fn() -> u32 {
    2
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    assert_eq!(sync_fn(), 1);
    assert_eq!(async_fn().await, 2);
}
