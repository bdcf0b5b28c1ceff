use std::rc::Rc;

use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s, on_timeout = detach)]
async fn work() -> Result<usize, Error> {
    let shared = Rc::new(5);
    tokio::task::yield_now().await;
    Ok(*shared)
}

struct Db;

impl Db {
    #[monitored(timeout = 1s, on_timeout = detach)]
    async fn query(&self) -> Result<u32, Error> {
        Ok(1)
    }
}

fn main() {}
