//! A return type of the user's that implements `FromMonitorError`.
#![deny(warnings)]

use monitor_runtime::{monitored, Error, FromMonitorError};

#[derive(Debug, PartialEq)]
enum Reply {
    Done(u32),
    TryAgain,
    Failed(String),
}

impl FromMonitorError for Reply {
    fn from_monitor_error(error: Error) -> Self {
        match error {
            Error::Busy { .. } => Reply::TryAgain,
            other => Reply::Failed(other.to_string()),
        }
    }
}

#[monitored(max_active = 1)]
fn work(n: u32) -> Reply {
    if n == 0 {
        return Reply::Failed("zero".into());
    }
    Reply::Done(n)
}

#[monitored(timeout = 10ms)]
async fn slow() -> Reply {
    tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    Reply::Done(0)
}

#[monitored(timeout = 1s)]
fn on_worker(n: u32) -> Reply {
    Reply::Done(n)
}

#[tokio::main(flavor = "current_thread")]
pub(crate) async fn main() {
    assert_eq!(work(7), Reply::Done(7));
    assert_eq!(work(0), Reply::Failed("zero".into()));
    assert!(matches!(slow().await, Reply::Failed(_)));
    assert_eq!(on_worker(3), Reply::Done(3));
}
