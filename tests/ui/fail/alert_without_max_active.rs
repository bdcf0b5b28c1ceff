use monitor_runtime::{monitored, Error};

#[monitored(alert = "1s")]
fn alone() -> Result<(), Error> {
    Ok(())
}

#[monitored(timeout = "50ms", alert = 100ms)]
async fn with_a_timeout() -> Result<(), Error> {
    Ok(())
}

fn main() {}
