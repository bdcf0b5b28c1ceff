//! An unused annotated function is still reported as dead code.
#![deny(dead_code)]

use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
fn unused_sync() -> u32 {
    1
}

#[stack_on_timeout(5s)]
async fn unused_async() {}

fn main() {}
