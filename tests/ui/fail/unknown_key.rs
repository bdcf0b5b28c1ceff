use monitor_runtime::{monitored, Error};

#[monitored(speed = 5)]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {
    // The function is kept despite the error: no "cannot find" below.
    work().unwrap();
}
