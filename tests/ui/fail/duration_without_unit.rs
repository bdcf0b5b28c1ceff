use monitor_runtime::{monitored, Error};

#[monitored(timeout = 50)]
fn bare() -> Result<(), Error> {
    Ok(())
}

#[monitored(timeout = "50")]
fn string() -> Result<(), Error> {
    Ok(())
}

fn main() {}
