//! Methods of trait impls, sync and async (`async fn` in traits).
#![deny(warnings)]

use std::sync::Arc;

use monitor_runtime::{monitored, Error};

trait Repo {
    async fn get(&self, id: u32) -> Result<String, Error>;
    async fn put(&mut self, value: String) -> Result<u32, Error>;
    async fn shared(self: Arc<Self>) -> Result<usize, Error>;
    fn len(&self) -> Result<usize, Error>;

    /// A default method, monitored once for every implementor.
    #[monitored(timeout = 1s)]
    async fn is_empty(&self) -> Result<bool, Error> {
        Ok(self.len()? == 0)
    }
}

#[derive(Default)]
struct Memory {
    values: Vec<String>,
}

impl Repo for Memory {
    #[monitored(timeout = 1s, max_active = 8)]
    async fn get(&self, id: u32) -> Result<String, Error> {
        tokio::task::yield_now().await;
        Ok(self.values[id as usize].clone())
    }

    #[monitored(timeout = 1s)]
    async fn put(&mut self, value: String) -> Result<u32, Error> {
        self.values.push(value);
        Ok(self.values.len() as u32 - 1)
    }

    #[monitored(timeout = 1s, on_timeout = detach)]
    async fn shared(self: Arc<Self>) -> Result<usize, Error> {
        Ok(self.values.len())
    }

    #[monitored(max_active = 8)]
    fn len(&self) -> Result<usize, Error> {
        Ok(self.values.len())
    }
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    let mut repo = Memory::default();
    let id = repo.put("a".to_owned()).await.unwrap();
    assert_eq!(repo.get(id).await.unwrap(), "a");
    assert_eq!(repo.len(), Ok(1));
    assert_eq!(repo.is_empty().await, Ok(false));
    assert_eq!(Arc::new(repo).shared().await, Ok(1));
}
