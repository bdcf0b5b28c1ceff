use monitor_runtime::{monitored, stack_on_timeout, supervised, supervisor::Heartbeat, Error};

#[monitored(timeout)]
async fn no_value() -> Result<(), Error> {
    Ok(())
}

#[monitored(max_active = 2, alert, timeout = "1s")]
async fn no_value_before_a_comma() -> Result<(), Error> {
    Ok(())
}

#[monitored(max_active =)]
fn no_value_after_eq() -> Result<(), Error> {
    Ok(())
}

#[stack_on_timeout(timeout)]
fn stack() {}

#[supervised(heartbeat = "100ms", restart)]
fn worker(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

fn main() {}
