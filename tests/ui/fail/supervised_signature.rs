use monitor_runtime::{supervised, supervisor::Heartbeat};

#[supervised(heartbeat = 1s)]
fn no_heartbeat_argument() -> Result<(), String> {
    Ok(())
}

#[supervised(heartbeat = 1s)]
fn generic<T: Default>(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    let _ = T::default();
    Ok(())
}

#[supervised(heartbeat = 1s)]
fn extra(
    beat: Heartbeat,
    _stop: monitor_runtime::supervisor::StopSignal,
    _n: u32,
) -> Result<(), String> {
    beat.beat();
    Ok(())
}

fn main() {}
