use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s, on_timeout = sometimes)]
async fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
