use monitor_runtime::{monitored, Error};

#[monitored(max_active = -1)]
fn negative() -> Result<(), Error> {
    Ok(())
}

#[monitored(max_active = 99999999999999999999999)]
fn too_large() -> Result<(), Error> {
    Ok(())
}

fn main() {}
