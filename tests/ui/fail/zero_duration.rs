use monitor_runtime::{monitored, Error};

#[monitored(timeout = 0ms)]
fn bare() -> Result<(), Error> {
    Ok(())
}

#[monitored(alert = "0s")]
fn string() -> Result<(), Error> {
    Ok(())
}

fn main() {}
