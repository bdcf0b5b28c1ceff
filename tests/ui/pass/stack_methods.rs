//! `#[stack_on_timeout]` on methods taking `self`, `&self`, `&mut self`
//! and `self: Arc<Self>`, sync and async, on generic types with `where`
//! clauses, returning borrows of `self`.
#![deny(warnings)]

use std::sync::Arc;

use monitor_runtime::stack_on_timeout;

#[derive(Clone, Default)]
struct Counter {
    count: u64,
    name: String,
}

impl Counter {
    #[stack_on_timeout(1s)]
    fn get(&self) -> u64 {
        self.count
    }

    #[stack_on_timeout(1s)]
    fn name(&self) -> &str {
        &self.name
    }

    #[stack_on_timeout(1s)]
    fn bump(&mut self) -> u64 {
        self.count += 1;
        self.count
    }

    #[stack_on_timeout(1s)]
    fn into_count(self) -> u64 {
        self.count
    }

    #[stack_on_timeout(1s)]
    fn shared(self: Arc<Self>) -> u64 {
        self.count
    }

    #[stack_on_timeout(1s)]
    fn make(count: u64) -> Self {
        Counter {
            count,
            ..Self::default()
        }
    }

    #[stack_on_timeout(1s)]
    async fn get_async(&self) -> u64 {
        tokio::task::yield_now().await;
        self.count
    }

    #[stack_on_timeout(1s)]
    async fn name_async(&self) -> &str {
        &self.name
    }

    #[stack_on_timeout(1s)]
    async fn bump_async(&mut self) -> u64 {
        tokio::task::yield_now().await;
        self.count += 1;
        self.count
    }

    #[stack_on_timeout(1s)]
    async fn shared_async(self: Arc<Self>) -> u64 {
        tokio::task::yield_now().await;
        self.count
    }

    #[stack_on_timeout(1s)]
    async fn into_count_async(self) -> u64 {
        self.count
    }
}

struct Store<K> {
    keys: Vec<K>,
}

impl<K> Store<K>
where
    K: PartialEq + Clone,
{
    #[stack_on_timeout(1s)]
    fn contains<Q>(&self, key: &Q) -> bool
    where
        K: PartialEq<Q>,
        Q: ?Sized,
    {
        self.keys.iter().any(|k| k == key)
    }

    #[stack_on_timeout(1s)]
    fn keys(&self) -> &[K] {
        &self.keys
    }

    #[stack_on_timeout(1s)]
    async fn get(&self, index: usize) -> Option<K> {
        self.keys.get(index).cloned()
    }
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    let mut counter = Counter::make(0);
    counter.name = "c".to_owned();
    assert_eq!(counter.bump(), 1);
    assert_eq!(counter.get(), 1);
    assert_eq!(counter.name(), "c");
    assert_eq!(counter.bump_async().await, 2);
    assert_eq!(counter.get_async().await, 2);
    assert_eq!(counter.name_async().await, "c");
    assert_eq!(Arc::new(counter.clone()).shared(), 2);
    assert_eq!(Arc::new(counter.clone()).shared_async().await, 2);
    assert_eq!(counter.clone().into_count_async().await, 2);
    assert_eq!(counter.into_count(), 2);

    let store = Store {
        keys: vec!["a".to_owned()],
    };
    assert!(store.contains("a"));
    assert_eq!(store.keys().len(), 1);
    assert_eq!(store.get(0).await.as_deref(), Some("a"));
}
