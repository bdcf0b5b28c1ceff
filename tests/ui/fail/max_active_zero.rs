use monitor_runtime::{monitored, Error};

#[monitored(max_active = 0)]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
