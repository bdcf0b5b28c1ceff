//! A monitored async function's future is `Send` when its body is, so it
//! can be spawned (and an axum handler stays a handler).
#![deny(warnings)]

use std::sync::Arc;

use monitor_runtime::{monitored, Error};

fn assert_send<T: Send>(_: T) {}

#[monitored(timeout = 1s, max_active = 10)]
async fn fetch(id: u64) -> Result<u64, Error> {
    tokio::task::yield_now().await;
    Ok(id)
}

#[monitored(timeout = 1s, on_timeout = detach)]
async fn detached(data: Arc<Vec<u8>>) -> Result<usize, Error> {
    tokio::task::yield_now().await;
    Ok(data.len())
}

struct Service {
    base: u64,
}

impl Service {
    #[monitored]
    async fn get(&self, id: u64) -> Result<u64, Error> {
        tokio::task::yield_now().await;
        Ok(self.base + id)
    }
}

#[tokio::main]
pub(crate) async fn main() {
    assert_send(fetch(1));
    assert_send(detached(Arc::new(vec![1])));
    let service = Service { base: 1 };
    assert_send(service.get(1));
    let spawned = tokio::spawn(fetch(2));
    assert_eq!(spawned.await.unwrap(), Ok(2));
    assert_eq!(
        tokio::spawn(detached(Arc::new(vec![1, 2]))).await.unwrap(),
        Ok(2)
    );
}
