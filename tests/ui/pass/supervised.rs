use std::time::Duration;

use monitor_runtime::{
    supervised,
    supervisor::{Heartbeat, StopSignal},
};

/// Doc comments and attributes stay on the function.
#[supervised(heartbeat = "100ms", max_restarts = 5, within = "10s")]
#[inline(never)]
pub async fn poller(beat: Heartbeat, stop: StopSignal) -> Result<(), std::io::Error> {
    while !stop.is_stopped() {
        beat.beat();
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    Ok(())
}

#[supervised(heartbeat = 1s, restart = transient, grace = 50ms, name = "ui.indexer")]
fn indexer(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

#[supervised(heartbeat = 1s, restart = "temporary", crate = "monitor_runtime")]
async fn once(beat: Heartbeat) -> Result<(), String> {
    beat.beat();
    Ok(())
}

#[tokio::main]
pub(crate) async fn main() {
    let handle = poller::spawn().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(handle.stats().starts, 1);
    handle.stop().await.unwrap();

    once::spawn().unwrap().join().await.unwrap();

    let sync = tokio::task::spawn_blocking(|| {
        let handle = indexer::spawn().unwrap();
        assert_eq!(handle.supervisor().name(), "ui.indexer");
        handle.join_blocking()
    });
    sync.await.unwrap().unwrap();

    // The function is still a function.
    let beat_only = indexer::builder()
        .spawn_thread(|beat, _stop| indexer(beat))
        .unwrap();
    drop(beat_only);
}
