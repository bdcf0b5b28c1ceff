use monitor_runtime::{monitored, Error};

struct Db;

impl Db {
    #[monitored(timeout = 1s)]
    fn query(&self) -> Result<u32, Error> {
        Ok(1)
    }

    #[monitored(timeout = 1s)]
    fn update(&mut self) -> Result<u32, Error> {
        Ok(1)
    }
}

fn main() {}
