//! An unused monitored function is still reported as dead code.
#![deny(dead_code)]

use monitor_runtime::{monitored, Error};

#[monitored]
fn unused_sync() -> Result<u32, Error> {
    Ok(1)
}

#[monitored(timeout = 1s)]
async fn unused_async() -> Result<(), Error> {
    Ok(())
}

fn main() {}
