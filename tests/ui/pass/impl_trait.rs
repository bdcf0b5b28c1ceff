//! `impl Trait` in argument and return position.
#![deny(warnings)]

use std::fmt::Display;

use monitor_runtime::{monitored, Error};

#[monitored(timeout = 1s)]
async fn f(x: impl Into<u32>) -> Result<impl Display, Error> {
    let x: u32 = x.into();
    if x == 0 {
        return Ok(0);
    }
    Ok(x + 1)
}

#[monitored(max_active = 1)]
fn g(x: impl AsRef<str>) -> Result<impl Display, Error> {
    Ok(x.as_ref().len())
}

#[monitored(timeout = 1s)]
fn h(x: impl Into<String> + Send + 'static) -> Result<Box<dyn Display + Send>, Error> {
    Ok(Box::new(x.into()))
}

#[monitored(timeout = 1s)]
async fn iter(n: u32) -> Result<impl Iterator<Item = u32>, Error> {
    Ok(0..n)
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    assert_eq!(f(1u8).await.unwrap().to_string(), "2");
    assert_eq!(f(0u16).await.unwrap().to_string(), "0");
    assert_eq!(g("abc").unwrap().to_string(), "3");
    assert_eq!(h("x").unwrap().to_string(), "x");
    assert_eq!(iter(3).await.unwrap().sum::<u32>(), 3);
}
