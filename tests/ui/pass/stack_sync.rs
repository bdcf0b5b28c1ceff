//! `#[stack_on_timeout]` on sync free functions: every way to write the
//! deadline, any return type (nothing is ever refused, so `()`, `u32` and
//! references work), early `return`, `?`, generics, `impl Trait`, `unsafe
//! fn`, and attributes kept.
#![deny(warnings)]

use std::fmt::{Debug, Display};
use std::num::ParseIntError;

use monitor_runtime::stack_on_timeout;

#[stack_on_timeout(5s)]
fn unit() {}

#[stack_on_timeout("5s")]
fn plus_one(x: u32) -> u32 {
    x + 1
}

#[stack_on_timeout(timeout = 1.5s)]
fn parse(input: &str) -> Result<u32, ParseIntError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

#[stack_on_timeout(250ms, name = "sync.first_word")]
fn first_word(text: &str) -> &str {
    text.split(' ').next().unwrap_or("")
}

#[stack_on_timeout(timeout = "1m")]
fn longest<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.len() >= b.len() {
        a
    } else {
        b
    }
}

#[stack_on_timeout(1s)]
fn first<T>(items: &[T]) -> Option<&T>
where
    T: Debug,
{
    let first = items.first()?;
    Some(first)
}

#[stack_on_timeout(1s)]
fn show(x: impl Display) -> impl Display {
    format!("<{x}>")
}

#[stack_on_timeout(1s)]
fn boxed(x: impl Into<String>) -> Box<impl Display> {
    Box::new(x.into())
}

#[stack_on_timeout(1s)]
fn mutate(values: &mut Vec<u32>) {
    values.push(1);
}

#[stack_on_timeout(1s)]
fn diverges() -> ! {
    panic!("never returns")
}

/// # Safety
/// `ptr` must be valid for reads.
#[stack_on_timeout(1s)]
unsafe fn read(ptr: *const u32) -> u32 {
    unsafe { *ptr }
}

#[stack_on_timeout(1s)]
fn r#type() -> &'static str {
    "type"
}

mod inner {
    use super::*;

    /// Visible in the crate only.
    #[stack_on_timeout(1s)]
    #[must_use = "the count matters"]
    #[inline]
    pub(crate) fn count() -> u32 {
        #![allow(clippy::let_and_return)]
        let count = 1;
        count
    }

    #[stack_on_timeout(1s)]
    #[cfg(any())]
    pub(crate) fn compiled_out() {
        compile_error!("cfg is kept");
    }

    #[allow(dead_code)]
    #[stack_on_timeout(1s)]
    fn never_called() {}
}

pub(crate) fn main() {
    unit();
    assert_eq!(plus_one(1), 2);
    assert_eq!(parse("21"), Ok(42));
    assert_eq!(parse(""), Ok(0));
    assert!(parse("x").is_err());
    assert_eq!(first_word("hello world"), "hello");
    assert_eq!(longest("ab", "c"), "ab");
    assert_eq!(first(&[1, 2]), Some(&1));
    assert_eq!(first::<u8>(&[]), None);
    assert_eq!(show(5).to_string(), "<5>");
    assert_eq!(boxed("x").to_string(), "x");
    let mut values = Vec::new();
    mutate(&mut values);
    assert_eq!(values, [1]);
    let _: fn() -> ! = diverges;
    let x = 5;
    assert_eq!(unsafe { read(&x) }, 5);
    assert_eq!(r#type(), "type");
    assert_eq!(inner::count(), 1);
}
