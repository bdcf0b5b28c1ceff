use monitor_runtime::{monitored, Error};

#[monitored(max_active = 1)]
const fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
