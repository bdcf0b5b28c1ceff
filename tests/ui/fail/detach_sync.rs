use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s, on_timeout = detach)]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
