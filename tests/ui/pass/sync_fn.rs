//! Sync free functions, with and without a timeout, with `?` and an early
//! `return` in the body.
#![deny(warnings)]

use monitor_runtime::{monitored, Error};

// The fields are read only through `Debug`, which dead-code analysis ignores.
#[allow(dead_code)]
#[derive(Debug)]
enum AppError {
    Monitor(Error),
    Parse(std::num::ParseIntError),
}

impl From<Error> for AppError {
    fn from(e: Error) -> Self {
        AppError::Monitor(e)
    }
}

impl From<std::num::ParseIntError> for AppError {
    fn from(e: std::num::ParseIntError) -> Self {
        AppError::Parse(e)
    }
}

#[monitored]
fn no_limits() -> Result<(), Error> {
    Ok(())
}

#[rustfmt::skip]
#[monitored(timeout = 1s)]
fn one_line() -> Result<(), Error> { no_limits() }

#[monitored(max_active = 4)]
fn parse(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = input.trim().parse()?;
    Ok(n * 2)
}

#[monitored(timeout = "1s", max_active = 2, alert = 10s, name = "files.parse_owned")]
fn parse_owned(input: String) -> Result<u32, AppError> {
    if input.is_empty() {
        return Ok(0);
    }
    Ok(input.parse::<u32>()?)
}

#[monitored(timeout = 500ms)]
fn static_str(input: &'static str) -> Result<usize, Error> {
    Ok(input.len())
}

#[monitored(timeout = 1.5s)]
fn callback(f: Box<dyn Fn(&str) -> usize + Send>) -> Result<usize, Error> {
    Ok(f("four"))
}

#[monitored]
fn unit_body(out: &mut Vec<u32>) -> Result<(), Error> {
    out.push(1);
    Ok(())
}

pub(crate) fn main() {
    no_limits().unwrap();
    one_line().unwrap();
    assert_eq!(parse("21").unwrap(), 42);
    assert_eq!(parse("").unwrap(), 0);
    assert!(matches!(parse("x"), Err(AppError::Parse(_))));
    assert_eq!(parse_owned("7".to_owned()).unwrap(), 7);
    assert!(matches!(
        parse_owned("y".to_owned()),
        Err(AppError::Parse(_))
    ));
    assert!(monitor_runtime::monitor("files.parse_owned").is_some());
    assert_eq!(static_str("abc"), Ok(3));
    assert_eq!(callback(Box::new(|s: &str| s.len())), Ok(4));
    let mut out = Vec::new();
    unit_body(&mut out).unwrap();
    assert_eq!(out, [1]);
    if let Err(AppError::Monitor(e)) = parse("1") {
        panic!("{e}");
    }
}
