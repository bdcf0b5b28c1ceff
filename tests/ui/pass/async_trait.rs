//! Under `#[async_trait]`: `#[monitored]` goes on the method inside the
//! `#[async_trait]` impl. `async_trait` expands first, and `#[monitored]`
//! then monitors the boxed future it makes (not the call that makes it).
#![deny(warnings)]

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use monitor_runtime::{monitored, Error};

#[async_trait]
trait Service {
    async fn call(&self, input: u32) -> Result<u32, Error>;
    async fn slow(&self) -> Result<(), Error>;
    async fn detached(self: Arc<Self>) -> Result<(), Error>;
}

struct Double;

#[async_trait]
impl Service for Double {
    /// Doubles.
    #[monitored(timeout = 1s, max_active = 4, name = "double.call")]
    async fn call(&self, input: u32) -> Result<u32, Error> {
        if input == 0 {
            return Ok(0);
        }
        tokio::task::yield_now().await;
        Ok(input * 2)
    }

    #[monitored(timeout = 10ms, name = "double.slow")]
    async fn slow(&self) -> Result<(), Error> {
        tokio::time::sleep(Duration::from_secs(5)).await;
        Ok(())
    }

    #[monitored(timeout = 1s, on_timeout = detach)]
    async fn detached(self: Arc<Self>) -> Result<(), Error> {
        Ok(())
    }
}

fn assert_send<T: Send>(_: &T) {}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    let service: Arc<dyn Service + Send + Sync> = Arc::new(Double);
    let future = service.call(21);
    assert_send(&future);
    assert_eq!(future.await, Ok(42));
    assert_eq!(service.call(0).await, Ok(0));
    // The future is monitored, not the call that makes it: the timeout
    // applies while it runs.
    assert!(matches!(service.slow().await, Err(Error::Timeout { .. })));
    let stats = monitor_runtime::monitor("double.call").unwrap().stats();
    assert_eq!(stats.completed, 2);
    Arc::new(Double).detached().await.unwrap();
}
