//! `#[stack_on_timeout]` with `#[monitored]`, in either order, sync and
//! async, on free functions, methods and `#[async_trait]` methods: each
//! attribute keeps the other, and the monitor still refuses calls.
#![deny(warnings)]

use std::sync::Arc;

use async_trait::async_trait;
use monitor_runtime::{monitored, stack_on_timeout, Error};

#[monitored(max_active = 4)]
#[stack_on_timeout(1s)]
fn monitored_first(x: u32) -> Result<u32, Error> {
    Ok(x + 1)
}

#[stack_on_timeout(1s)]
#[monitored(max_active = 4)]
fn stack_first(x: &str) -> Result<usize, Error> {
    Ok(x.len())
}

#[monitored(timeout = 1s)]
#[stack_on_timeout(1s)]
fn monitored_first_on_worker(x: u32) -> Result<u32, Error> {
    Ok(x * 2)
}

#[stack_on_timeout(1s)]
#[monitored(timeout = 1s)]
fn stack_first_on_worker(x: u32) -> Result<u32, Error> {
    Ok(x * 3)
}

#[monitored(timeout = 1s, max_active = 4)]
#[stack_on_timeout(1s)]
async fn monitored_first_async(x: &str) -> Result<usize, Error> {
    tokio::task::yield_now().await;
    Ok(x.len())
}

#[stack_on_timeout(1s)]
#[monitored(timeout = 1s, on_timeout = detach)]
async fn stack_first_async(x: Arc<str>) -> Result<usize, Error> {
    tokio::task::yield_now().await;
    Ok(x.len())
}

struct Counter {
    count: u32,
}

impl Counter {
    #[monitored]
    #[stack_on_timeout(1s)]
    fn bump(&mut self) -> Result<u32, Error> {
        self.count += 1;
        Ok(self.count)
    }

    #[stack_on_timeout(1s)]
    #[monitored]
    async fn bump_async(&mut self) -> Result<u32, Error> {
        self.count += 1;
        Ok(self.count)
    }
}

#[async_trait]
trait Service {
    async fn monitored_first(&self, input: u32) -> Result<u32, Error>;
    async fn stack_first(&self, input: u32) -> Result<u32, Error>;
}

struct Double;

#[async_trait]
impl Service for Double {
    #[monitored(timeout = 1s, max_active = 4, name = "svc.monitored_first")]
    #[stack_on_timeout(1s)]
    async fn monitored_first(&self, input: u32) -> Result<u32, Error> {
        tokio::task::yield_now().await;
        Ok(input * 2)
    }

    #[stack_on_timeout(1s)]
    #[monitored(timeout = 1s, max_active = 4, name = "svc.stack_first")]
    async fn stack_first(&self, input: u32) -> Result<u32, Error> {
        tokio::task::yield_now().await;
        Ok(input * 2)
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main]
pub(crate) async fn main() {
    assert_eq!(monitored_first(1), Ok(2));
    assert_eq!(stack_first("abc"), Ok(3));
    assert_eq!(monitored_first_on_worker(2), Ok(4));
    assert_eq!(stack_first_on_worker(2), Ok(6));
    assert_eq!(assert_send(monitored_first_async("ab")).await, Ok(2));
    let spawned = tokio::spawn(stack_first_async(Arc::from("abcd")));
    assert_eq!(spawned.await.unwrap(), Ok(4));

    let mut counter = Counter { count: 0 };
    assert_eq!(counter.bump(), Ok(1));
    assert_eq!(counter.bump_async().await, Ok(2));

    let service: Arc<dyn Service + Send + Sync> = Arc::new(Double);
    assert_eq!(assert_send(service.monitored_first(2)).await, Ok(4));
    assert_eq!(assert_send(service.stack_first(3)).await, Ok(6));
    // The future is monitored, not the call that makes it.
    for name in ["svc.monitored_first", "svc.stack_first"] {
        let monitor = monitor_runtime::monitor(name).unwrap();
        assert_eq!(monitor.stats().completed, 1, "{name}");
    }
}
