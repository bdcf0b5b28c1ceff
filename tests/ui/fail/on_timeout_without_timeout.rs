use monitor_runtime::{monitored, Error};

#[monitored(max_active = 1, on_timeout = detach)]
async fn work() -> Result<(), Error> {
    Ok(())
}

fn main() {}
