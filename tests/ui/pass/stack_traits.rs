//! `#[stack_on_timeout]` in traits: methods of trait impls, sync and async
//! (`async fn` in traits, whose futures stay `Send` where the trait asks),
//! default methods, and methods of `#[async_trait]` impls, where the future
//! `async_trait` makes is watched.
#![deny(warnings)]

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use monitor_runtime::stack_on_timeout;

trait Repo {
    fn get(&self, id: usize) -> impl Future<Output = Option<String>> + Send;
    async fn put(&mut self, value: String) -> usize;
    fn len(&self) -> usize;

    /// A default method.
    #[stack_on_timeout(1s)]
    async fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[derive(Default)]
struct Memory {
    values: Vec<String>,
}

impl Repo for Memory {
    #[stack_on_timeout(1s)]
    async fn get(&self, id: usize) -> Option<String> {
        tokio::task::yield_now().await;
        self.values.get(id).cloned()
    }

    #[stack_on_timeout(1s)]
    async fn put(&mut self, value: String) -> usize {
        self.values.push(value);
        self.values.len() - 1
    }

    #[stack_on_timeout(1s)]
    fn len(&self) -> usize {
        self.values.len()
    }
}

#[async_trait]
trait Service {
    async fn call(&self, input: u32) -> Result<u32, String>;
    async fn slow(&self) -> u32;
    async fn shared(self: Arc<Self>) -> usize;
}

struct Double;

#[async_trait]
impl Service for Double {
    /// Doubles.
    #[stack_on_timeout(1s, name = "double.call")]
    async fn call(&self, input: u32) -> Result<u32, String> {
        if input == 0 {
            return Err("zero".to_owned());
        }
        tokio::task::yield_now().await;
        Ok(input * 2)
    }

    #[stack_on_timeout(1ms)]
    async fn slow(&self) -> u32 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        7
    }

    #[stack_on_timeout(1s)]
    async fn shared(self: Arc<Self>) -> usize {
        Arc::strong_count(&self)
    }
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main]
pub(crate) async fn main() {
    let mut repo = Memory::default();
    assert!(repo.is_empty().await);
    let id = repo.put("a".to_owned()).await;
    assert_eq!(assert_send(repo.get(id)).await.as_deref(), Some("a"));
    assert_eq!(repo.len(), 1);
    assert!(!repo.is_empty().await);

    let service: Arc<dyn Service + Send + Sync> = Arc::new(Double);
    let future = assert_send(service.call(21));
    assert_eq!(future.await, Ok(42));
    assert_eq!(service.call(0).await, Err("zero".to_owned()));
    // Overdue: reported, and it still runs to the end.
    assert_eq!(service.slow().await, 7);
    assert_eq!(Arc::new(Double).shared().await, 1);
}
