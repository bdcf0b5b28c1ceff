use monitor_runtime::{supervised, supervisor::Heartbeat};

#[supervised(hearbeat = "100ms")]
fn near_miss(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

#[supervised(max_restarts = 5)]
fn no_heartbeat(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

#[supervised(heartbeat = 1s, restart = sometimes)]
fn unknown_restart(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

fn main() {}
