use monitor_runtime::{monitored, Error};

#[monitored(max_active = "ten")]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
