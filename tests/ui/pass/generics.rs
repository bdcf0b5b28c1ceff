//! Generic functions and methods, with `where` clauses and lifetimes.
#![deny(warnings)]

use std::fmt::Debug;

use monitor_runtime::{monitored, Error};

#[monitored(max_active = 2)]
fn first<'a, T>(items: &'a [T]) -> Result<Option<&'a T>, Error>
where
    T: Debug,
{
    Ok(items.first())
}

#[monitored]
fn longest<'a>(a: &'a str, b: &'a str) -> Result<&'a str, Error> {
    Ok(if a.len() >= b.len() { a } else { b })
}

#[monitored(timeout = 1s)]
fn sum<T, I>(items: I) -> Result<T, Error>
where
    I: IntoIterator<Item = T> + Send + 'static,
    T: std::iter::Sum<T> + Send + 'static,
{
    Ok(items.into_iter().sum())
}

// Bounds in both places on purpose: the attribute must keep both.
#[allow(clippy::multiple_bound_locations)]
#[monitored(timeout = 1s)]
async fn describe<T: Debug>(value: T) -> Result<String, Error>
where
    T: Send,
{
    tokio::task::yield_now().await;
    Ok(format!("{value:?}"))
}

#[monitored(timeout = 1s, on_timeout = detach)]
async fn describe_detached<T>(value: T) -> Result<String, Error>
where
    T: Debug + Send + 'static,
{
    Ok(format!("{value:?}"))
}

struct Store<K> {
    keys: Vec<K>,
}

impl<K> Store<K>
where
    K: PartialEq + Clone,
{
    #[monitored]
    fn contains<Q>(&self, key: &Q) -> Result<bool, Error>
    where
        K: PartialEq<Q>,
        Q: ?Sized,
    {
        Ok(self.keys.iter().any(|k| k == key))
    }

    #[monitored(timeout = 1s)]
    async fn get(&self, index: usize) -> Result<Option<K>, Error> {
        Ok(self.keys.get(index).cloned())
    }

    #[monitored]
    fn keys(&self) -> Result<&[K], Error> {
        Ok(&self.keys)
    }
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    assert_eq!(first(&[1, 2]), Ok(Some(&1)));
    assert_eq!(longest("ab", "c"), Ok("ab"));
    assert_eq!(sum(vec![1, 2, 3]), Ok(6));
    assert_eq!(describe(5).await.unwrap(), "5");
    assert_eq!(describe_detached("x").await.unwrap(), "\"x\"");
    let store = Store {
        keys: vec!["a".to_owned()],
    };
    assert_eq!(store.contains("a"), Ok(true));
    assert_eq!(store.get(0).await, Ok(Some("a".to_owned())));
    assert_eq!(store.keys().map(<[_]>::len), Ok(1));
}
