use monitor_runtime::{monitored, Error};

#[monitored(timeout = "fast")]
fn fast() -> Result<(), Error> {
    Ok(())
}

#[monitored(alert = 5 parsecs)]
fn far() -> Result<(), Error> {
    Ok(())
}

#[monitored(timeout = 5y)]
fn long() -> Result<(), Error> {
    Ok(())
}

fn main() {}
