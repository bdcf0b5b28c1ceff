use monitor_runtime::{monitored, Error};

#[monitored(timeout = "50ms", max_active = 2, timeout = 1s)]
fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {
    work().unwrap();
}
