use monitor_runtime::{monitored, Error};

#[monitored(timout = "50ms")]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {
    work().unwrap();
}
