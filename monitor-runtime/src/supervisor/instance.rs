//! One running instance of a worker, and how one is started: as a task of
//! a tokio runtime, or as a thread of its own.

use std::fmt;
use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::wait::Sleep;
use super::{Cause, Heartbeat, StopSignal, SupervisorError};
use crate::format::human;
use crate::native;

pub(super) type ExitFuture = Pin<Box<dyn Future<Output = Option<Cause>> + Send>>;

/// One running instance of the worker.
pub(super) struct Instance {
    /// Completes when the instance ends: `None` for `Ok`.
    pub(super) exit: ExitFuture,
    pub(super) stop: StopSignal,
    /// An async instance's task.
    pub(super) abort: Option<tokio::task::AbortHandle>,
    /// A thread instance's kernel id, once it runs.
    pub(super) tid: Option<Arc<AtomicI32>>,
}

impl Instance {
    /// Ends the instance at once: an async one is cancelled, a thread is
    /// told to stop and left to finish on its own.
    pub(super) fn kill(self) {
        self.stop.stop();
        if let Some(abort) = self.abort {
            abort.abort();
        }
    }

    /// Tells the instance to stop and gives it `grace` to return.
    pub(super) async fn shut_down(mut self, name: &str, grace: Duration) {
        self.stop.stop();
        let mut sleep = pin!(Sleep::new(Instant::now() + grace));
        let returned = std::future::poll_fn(|cx| {
            if self.exit.as_mut().poll(cx).is_ready() {
                return Poll::Ready(true);
            }
            sleep.as_mut().poll(cx).map(|()| false)
        })
        .await;
        if !returned {
            tracing::warn!(
                target: "monitor_runtime",
                supervisor = name,
                grace_ms = grace.as_millis() as u64,
                "worker of supervisor {name} did not stop within {}; {}",
                human(grace),
                if self.abort.is_some() { "cancelled" } else { "its thread is detached" },
            );
            self.kill();
        }
    }
}

/// Starts the instances of an async worker: each a task of `runtime`.
pub(super) fn task_starter<F, Fut, E>(
    runtime: tokio::runtime::Handle,
    mut worker: F,
) -> impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError> + Send + 'static
where
    F: FnMut(Heartbeat, StopSignal) -> Fut + Send + 'static,
    Fut: Future<Output = Result<(), E>> + Send + 'static,
    E: fmt::Display + Send + 'static,
{
    move |beat: Heartbeat, stop: StopSignal| {
        let task = runtime.spawn(worker(beat, stop.clone()));
        let abort = task.abort_handle();
        let exit: ExitFuture = Box::pin(async move {
            match task.await {
                Ok(Ok(())) => None,
                Ok(Err(error)) => Some(Cause::Error {
                    message: error.to_string(),
                }),
                Err(error) if error.is_panic() => Some(Cause::Panic {
                    message: crate::format::panic_message(&*error.into_panic()),
                }),
                Err(_) => Some(Cause::Cancelled),
            }
        });
        Ok(Instance {
            exit,
            stop,
            abort: Some(abort),
            tid: None,
        })
    }
}

/// Starts the instances of a sync worker: each a thread of its own, named
/// for the supervisor `name`.
pub(super) fn thread_starter<F, E>(
    name: String,
    worker: F,
) -> impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError> + Send + 'static
where
    F: Fn(Heartbeat, StopSignal) -> Result<(), E> + Send + Sync + 'static,
    E: fmt::Display + 'static,
{
    let thread_name = kernel_thread_name(&name);
    let worker = Arc::new(worker);
    move |beat: Heartbeat, stop: StopSignal| {
        let (exit_tx, exit_rx) = oneshot::channel();
        let tid = Arc::new(AtomicI32::new(0));
        let (worker, stop2, tid2) = (worker.clone(), stop.clone(), tid.clone());
        std::thread::Builder::new()
            .name(thread_name.clone())
            .spawn(move || {
                tid2.store(native::current_tid().0, Ordering::Relaxed);
                let cause = match std::panic::catch_unwind(AssertUnwindSafe(|| worker(beat, stop2)))
                {
                    Ok(Ok(())) => None,
                    Ok(Err(error)) => Some(Cause::Error {
                        message: error.to_string(),
                    }),
                    Err(panic) => Some(Cause::Panic {
                        message: crate::format::panic_message(&*panic),
                    }),
                };
                let _ = exit_tx.send(cause);
            })
            .map_err(|error| SupervisorError::Spawn {
                name: name.clone(),
                error: error.to_string(),
            })?;
        let exit: ExitFuture = Box::pin(async move { exit_rx.await.unwrap_or(None) });
        Ok(Instance {
            exit,
            stop,
            abort: None,
            tid: Some(tid),
        })
    }
}

/// At most 15 bytes: the kernel truncates longer thread names.
fn kernel_thread_name(name: &str) -> String {
    let last = name.rsplit("::").next().unwrap_or(name);
    let mut out = String::new();
    for c in last.chars() {
        if out.len() + c.len_utf8() > 15 {
            break;
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_names_fit_the_kernel() {
        assert_eq!(kernel_thread_name("app::ingest"), "ingest");
        assert_eq!(kernel_thread_name("a_very_long_worker_name").len(), 15);
    }
}
