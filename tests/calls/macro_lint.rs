//! The expansions pass `clippy::all` and `clippy::pedantic`: CI runs
//! `cargo clippy --all-targets -- -D warnings` over this file (as
//! pin-project's `tests/lint` does). Every shape users write, once.
#![deny(clippy::all, clippy::pedantic)]

use std::sync::Arc;

use monitor_runtime::{monitored, stack_on_timeout, Error};

#[monitored(timeout = "50ms", max_active = 10, alert = "1s")]
async fn async_fn(id: u64) -> Result<u64, Error> {
    if id == 0 {
        return Err(Error::Busy {
            monitor: "lint".into(),
            max_active: 1,
        });
    }
    Ok(id)
}

#[monitored(max_active = 2)]
fn sync_fn(input: &str) -> Result<usize, Error> {
    Ok(input.len())
}

#[monitored(timeout = "1s")]
fn sync_with_timeout(input: String) -> Result<usize, Error> {
    Ok(input.len())
}

#[monitored(timeout = "50ms", on_timeout = detach)]
async fn detached(input: Arc<str>) -> Result<usize, Error> {
    Ok(input.len())
}

#[stack_on_timeout(5s)]
fn guarded(values: &[u32]) -> u32 {
    values.iter().sum()
}

#[stack_on_timeout(5s)]
#[monitored(max_active = 4)]
async fn both(id: u64) -> Result<u64, Error> {
    async_fn(id).await
}

struct Service {
    calls: u64,
}

impl Service {
    #[monitored(max_active = 1)]
    fn count(&mut self) -> Result<u64, Error> {
        self.calls += 1;
        Ok(self.calls)
    }

    #[stack_on_timeout(1s)]
    async fn read(&self) -> u64 {
        self.calls
    }
}

#[test]
fn annotated_shapes_run() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(rt.block_on(async_fn(3)), Ok(3));
    assert_eq!(sync_fn("abc"), Ok(3));
    assert_eq!(sync_with_timeout("abcd".into()), Ok(4));
    assert_eq!(rt.block_on(detached("ab".into())), Ok(2));
    assert_eq!(guarded(&[1, 2]), 3);
    assert_eq!(rt.block_on(both(5)), Ok(5));
    let mut service = Service { calls: 0 };
    assert_eq!(service.count(), Ok(1));
    assert_eq!(rt.block_on(service.read()), 1);
    rt.block_on(async { supervised_async::spawn().unwrap().stop().await })
        .unwrap();
    supervised_sync::spawn().unwrap().join_blocking().unwrap();
}

#[monitor_runtime::supervised(heartbeat = "100ms", max_restarts = 5, within = "10s")]
async fn supervised_async(
    beat: monitor_runtime::supervisor::Heartbeat,
    stop: monitor_runtime::supervisor::StopSignal,
) -> Result<(), Error> {
    while !stop.is_stopped() {
        beat.beat();
        tokio::task::yield_now().await;
    }
    Ok(())
}

#[monitor_runtime::supervised(heartbeat = 1s, restart = transient)]
fn supervised_sync(
    beat: &monitor_runtime::supervisor::Heartbeat,
    stop: &monitor_runtime::supervisor::StopSignal,
) -> Result<(), String> {
    beat.beat();
    if stop.is_stopped() {
        return Err("stopped before it began".into());
    }
    Ok(())
}
