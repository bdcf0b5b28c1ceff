//! Methods taking `self`, `&self`, `&mut self` and `self: Arc<Self>`,
//! sync and async.
#![deny(warnings)]

use std::sync::Arc;

use monitor_runtime::{monitored, Error};

#[derive(Clone, Default)]
struct Counter {
    count: u64,
}

impl Counter {
    #[monitored]
    fn get(&self) -> Result<u64, Error> {
        Ok(self.count)
    }

    #[monitored(max_active = 1)]
    fn bump(&mut self) -> Result<u64, Error> {
        self.count += 1;
        Ok(self.count)
    }

    #[monitored(timeout = 1s)]
    fn into_count(self) -> Result<u64, Error> {
        Ok(self.count)
    }

    #[monitored(timeout = 1s)]
    fn shared(self: Arc<Self>) -> Result<u64, Error> {
        Ok(self.count)
    }

    #[monitored(timeout = 1s)]
    fn make(count: u64) -> Result<Self, Error> {
        Ok(Counter { count })
    }

    #[monitored(timeout = 1s)]
    async fn get_async(&self) -> Result<u64, Error> {
        tokio::task::yield_now().await;
        Ok(self.count)
    }

    #[monitored(timeout = 1s, max_active = 3)]
    async fn bump_async(&mut self) -> Result<u64, Error> {
        tokio::task::yield_now().await;
        self.count += 1;
        Ok(self.count)
    }

    #[monitored(timeout = 1s, on_timeout = detach)]
    async fn shared_async(self: Arc<Self>) -> Result<u64, Error> {
        tokio::task::yield_now().await;
        Ok(self.count)
    }

    #[monitored(timeout = 1s, on_timeout = cancel)]
    async fn into_count_async(self) -> Result<u64, Error> {
        Ok(self.count)
    }
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    let mut counter = Counter::default();
    assert_eq!(counter.bump(), Ok(1));
    assert_eq!(counter.get(), Ok(1));
    assert_eq!(counter.bump_async().await, Ok(2));
    assert_eq!(counter.get_async().await, Ok(2));
    assert_eq!(Arc::new(counter.clone()).shared(), Ok(2));
    assert_eq!(Arc::new(counter.clone()).shared_async().await, Ok(2));
    assert_eq!(counter.clone().into_count_async().await, Ok(2));
    assert_eq!(counter.into_count(), Ok(2));
    assert_eq!(Counter::make(5).map(|c| c.count), Ok(5));
}
