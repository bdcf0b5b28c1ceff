use std::rc::Rc;

use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s)]
fn work(shared: Rc<u32>) -> Result<u32, Error> {
    Ok(*shared)
}

fn main() {}
