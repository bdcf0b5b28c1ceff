//! Async free functions: `?`, early `return`, `.await` in the body, and
//! every way to write a duration.
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

async fn source(input: &str) -> &str {
    tokio::task::yield_now().await;
    input
}

#[monitored]
async fn no_limits() -> Result<(), Error> {
    Ok(())
}

#[rustfmt::skip]
#[monitored(timeout = 1s)]
async fn one_line() -> Result<(), Error> { Ok(()) }

#[monitored(timeout = "2s", max_active = 10, alert = "1m")]
async fn parse(input: &str) -> Result<u32, AppError> {
    if input.is_empty() {
        return Ok(0);
    }
    let n: u32 = source(input).await.parse()?;
    Ok(n + 1)
}

#[monitored(timeout = 250ms, max_active = 4, alert = 1h)]
async fn into_error() -> Result<u8, AppError> {
    Err(Error::Busy {
        monitor: "elsewhere".into(),
        max_active: 1,
    })?;
    Ok(1)
}

#[monitored(timeout = "1500us")]
async fn micros() -> Result<(), Error> {
    Ok(())
}

#[monitored(timeout = "3µs", max_active = 4, alert = 2min)]
async fn micro_sign() -> Result<(), Error> {
    Ok(())
}

#[monitored(timeout = 10ms)]
async fn too_slow() -> Result<(), Error> {
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    Ok(())
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    no_limits().await.unwrap();
    one_line().await.unwrap();
    assert_eq!(parse("41").await.unwrap(), 42);
    assert_eq!(parse("").await.unwrap(), 0);
    assert!(matches!(parse("x").await, Err(AppError::Parse(_))));
    assert!(matches!(into_error().await, Err(AppError::Monitor(_))));
    micros().await.unwrap();
    let _ = micro_sign().await;
    assert!(matches!(too_slow().await, Err(Error::Timeout { .. })));
}
