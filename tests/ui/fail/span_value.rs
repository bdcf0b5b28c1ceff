use monitor_runtime::{monitored, Error};

#[monitored(span = yes)]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
