//! `#[stack_on_timeout]` on async free functions: any return type, early
//! `return`, `?`, generics, `impl Trait`, `unsafe`, borrowed arguments, and
//! a future that stays `Send` (an axum handler stays a handler).
#![deny(warnings)]

use std::fmt::{Debug, Display};
use std::num::ParseIntError;
use std::sync::Arc;

use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
async fn unit() {}

#[stack_on_timeout("5s")]
async fn plus_one(x: u32) -> u32 {
    tokio::task::yield_now().await;
    x + 1
}

#[stack_on_timeout(timeout = 1.5s)]
async fn parse(input: &str) -> Result<u32, ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    tokio::task::yield_now().await;
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

#[stack_on_timeout(250ms, name = "async.first_word")]
async fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

// Bounds in both places on purpose: the attribute must keep both.
#[allow(clippy::multiple_bound_locations)]
#[stack_on_timeout(1s)]
async fn describe<T: Debug>(value: T) -> String
where
    T: Send,
{
    tokio::task::yield_now().await;
    format!("{value:?}")
}

#[stack_on_timeout(1s)]
async fn show(x: impl Display) -> impl Display {
    format!("<{x}>")
}

#[stack_on_timeout(1s)]
async fn iter(n: u32) -> Option<impl Iterator<Item = u32>> {
    let n = n.checked_sub(1)?;
    Some(0..n)
}

/// # Safety
/// `ptr` must be valid for reads.
#[stack_on_timeout(1s)]
async unsafe fn read(ptr: *const u32) -> u32 {
    unsafe { *ptr }
}

/// Shaped like an axum handler: shared state in, a response out.
#[stack_on_timeout(1s)]
async fn handler(state: Arc<Vec<String>>, id: usize) -> Result<String, (u16, &'static str)> {
    tokio::task::yield_now().await;
    state.get(id).cloned().ok_or((404, "not found"))
}

fn assert_send<T: Send>(value: T) -> T {
    value
}

#[tokio::main]
pub(crate) async fn main() {
    unit().await;
    assert_eq!(plus_one(1).await, 2);
    assert_eq!(parse("21").await, Ok(42));
    assert_eq!(parse("").await, Ok(0));
    assert!(parse("x").await.is_err());
    assert_eq!(first_word("hello world").await, "hello");
    assert_eq!(describe(5).await, "5");
    assert_eq!(show(5).await.to_string(), "<5>");
    assert_eq!(iter(3).await.map(Iterator::sum::<u32>), Some(1));
    assert!(iter(0).await.is_none());
    let x = 5;
    assert_eq!(unsafe { read(&x) }.await, 5);

    let state = Arc::new(vec!["a".to_owned()]);
    let future = assert_send(handler(state.clone(), 0));
    assert_eq!(tokio::spawn(future).await.unwrap().as_deref(), Ok("a"));
    assert_eq!(handler(state, 1).await, Err((404, "not found")));
    assert_eq!(assert_send(parse("1")).await, Ok(2));
    assert_eq!(assert_send(first_word("a")).await, "a");
}
