//! The supervisor's loop: start an instance, watch its heartbeat and its
//! end, act on the restart policy's decision; run as a task (async
//! workers) or on a thread of its own (thread workers).

use std::future::Future;
use std::pin::pin;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;

use super::instance::Instance;
use super::policy::{self, Decision, History};
use super::pulse::{Look, Pulse};
use super::wait::{block_on, Sleep};
use super::{Cause, Heartbeat, StopSignal, Supervisor, SupervisorBuilder, SupervisorError};
use crate::dump::{self, DumpOptions};
use crate::format::human;
use crate::native::Tid;

/// Runs the supervisor of `start`'s instances as a task of `runtime`; its
/// result comes on the channel returned.
pub(super) fn on_task(
    runtime: &tokio::runtime::Handle,
    supervisor: Supervisor,
    spec: SupervisorBuilder,
    start: impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError> + Send + 'static,
) -> oneshot::Receiver<Result<(), SupervisorError>> {
    let (done, result) = oneshot::channel();
    let run = supervise(supervisor, spec, start);
    runtime.spawn(async move {
        let _ = done.send(run.await);
    });
    result
}

/// Runs the supervisor of `start`'s instances on a thread of its own,
/// `monitor-sup`; its result comes on the channel returned.
pub(super) fn on_thread(
    supervisor: Supervisor,
    spec: SupervisorBuilder,
    start: impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError> + Send + 'static,
) -> Result<oneshot::Receiver<Result<(), SupervisorError>>, SupervisorError> {
    let (done, result) = oneshot::channel();
    let run = supervise(supervisor.clone(), spec, start);
    let spawned = std::thread::Builder::new()
        .name("monitor-sup".into())
        .spawn(move || {
            let _ = done.send(block_on(run));
        });
    if let Err(error) = spawned {
        supervisor.unregister();
        return Err(SupervisorError::Spawn {
            name: supervisor.0.name.clone(),
            error: error.to_string(),
        });
    }
    Ok(result)
}

enum Event {
    Exit(Option<Cause>),
    Look,
    Shutdown,
}

/// The supervisor's loop: start, watch, decide, restart.
async fn supervise(
    supervisor: Supervisor,
    spec: SupervisorBuilder,
    mut start: impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError>,
) -> Result<(), SupervisorError> {
    let result = run(&supervisor, &spec, &mut start).await;
    let state = &supervisor.0;
    state.running.store(false, Ordering::Relaxed);
    supervisor.unregister();
    result
}

async fn run(
    supervisor: &Supervisor,
    spec: &SupervisorBuilder,
    start: &mut impl FnMut(Heartbeat, StopSignal) -> Result<Instance, SupervisorError>,
) -> Result<(), SupervisorError> {
    let state = &*supervisor.0;
    let name = state.name.as_str();
    let look_every = (spec.heartbeat / 4).max(Duration::from_millis(1));
    let policy = spec.policy();
    let mut history = History::default();
    loop {
        if state.shutdown.is_stopped() {
            return Ok(());
        }
        let pulse = Arc::new(Pulse::new());
        let mut instance = start(Heartbeat(pulse.clone()), StopSignal::new())?;
        let starts = state.starts.fetch_add(1, Ordering::Relaxed) + 1;
        tracing::info!(target: "monitor_runtime", supervisor = name, starts, "worker of supervisor {name} started");

        let mut last_beat = Instant::now();
        let mut next_look = last_beat + look_every;
        let cause = loop {
            let mut sleep = pin!(Sleep::new(next_look));
            let mut shutdown = pin!(state.shutdown.stopped());
            let event = std::future::poll_fn(|cx| {
                if let Poll::Ready(cause) = instance.exit.as_mut().poll(cx) {
                    return Poll::Ready(Event::Exit(cause));
                }
                if shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Event::Shutdown);
                }
                sleep.as_mut().poll(cx).map(|()| Event::Look)
            })
            .await;
            match event {
                Event::Exit(cause) => break cause.unwrap_or(Cause::Exit),
                Event::Shutdown => {
                    instance
                        .shut_down(name, supervisor.grace_now(spec.grace))
                        .await;
                    tracing::info!(target: "monitor_runtime", supervisor = name, "supervisor {name} stopped");
                    return Ok(());
                }
                Event::Look => {
                    let now = Instant::now();
                    next_look = now + look_every;
                    match pulse.look() {
                        Look::Beat => last_beat = now,
                        Look::Stalled => {}
                        Look::Quiet => {
                            let silent_for = now.saturating_duration_since(last_beat);
                            if silent_for < spec.heartbeat {
                                continue;
                            }
                            if !pulse.claim_stall() {
                                // A beat came between the look and the claim.
                                last_beat = now;
                                continue;
                            }
                            state.missed.fetch_add(1, Ordering::Relaxed);
                            tracing::warn!(
                                target: "monitor_runtime",
                                supervisor = name,
                                silent_ms = silent_for.as_millis() as u64,
                                timeout_ms = spec.heartbeat.as_millis() as u64,
                                "worker of supervisor {name} missed its heartbeat: none for {}",
                                human(silent_for),
                            );
                            if let Some(options) = &spec.dump {
                                let tid = instance
                                    .tid
                                    .as_ref()
                                    .map(|tid| tid.load(Ordering::Relaxed))
                                    .filter(|&tid| tid != 0)
                                    .map(Tid);
                                write_dump(name, silent_for, tid, options.clone(), spec.heartbeat)
                                    .await;
                            }
                            instance.kill();
                            break Cause::Stall { silent_for };
                        }
                    }
                }
            }
        };

        let delay = match policy.decide(&mut history, &cause, Instant::now(), policy::random()) {
            Decision::End => {
                tracing::info!(target: "monitor_runtime", supervisor = name, %cause, "worker of supervisor {name} {cause}; not restarted");
                return match cause {
                    Cause::Exit => Ok(()),
                    cause => Err(SupervisorError::WorkerFailed {
                        name: name.to_owned(),
                        cause,
                    }),
                };
            }
            Decision::GiveUp => {
                state.gave_up.store(true, Ordering::Relaxed);
                let error = SupervisorError::GaveUp {
                    name: name.to_owned(),
                    restarts: spec.max_restarts,
                    within: spec.within,
                    last: cause,
                };
                tracing::error!(target: "monitor_runtime", supervisor = name, "{error}");
                return Err(error);
            }
            Decision::Restart { delay } => delay,
        };
        state.restarts.fetch_add(1, Ordering::Relaxed);
        let by_cause = match cause {
            Cause::Stall { .. } => Some(&state.stall_restarts),
            Cause::Panic { .. } => Some(&state.panic_restarts),
            Cause::Error { .. } => Some(&state.error_restarts),
            _ => None,
        };
        if let Some(counter) = by_cause {
            counter.fetch_add(1, Ordering::Relaxed);
        }
        tracing::warn!(
            target: "monitor_runtime",
            supervisor = name,
            %cause,
            delay_ms = delay.as_millis() as u64,
            "worker of supervisor {name} {cause}; restarting{}",
            if delay.is_zero() { String::new() } else { format!(" in {}", human(delay)) },
        );
        if !delay.is_zero() {
            let mut sleep = pin!(Sleep::new(Instant::now() + delay));
            let mut shutdown = pin!(state.shutdown.stopped());
            let stopped = std::future::poll_fn(|cx| {
                if shutdown.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(true);
                }
                sleep.as_mut().poll(cx).map(|()| false)
            })
            .await;
            if stopped {
                return Ok(());
            }
        }
    }
}

/// Takes and writes the dump of a stalled worker on the dump worker
/// (capturing native stacks blocks), and waits for it, bounded: the worker
/// is stopped once its stack is captured and the sink has had a short
/// while to write it, or once the bounds are over, whichever comes first.
/// Whatever the sink does (blocks, panics), the restart is late by at
/// most [`taken_within`] and [`written_within`]; the dump may follow.
async fn write_dump(
    name: &str,
    silent_for: Duration,
    tid: Option<Tid>,
    options: DumpOptions,
    heartbeat: Duration,
) {
    let (taken_tx, taken) = oneshot::channel::<()>();
    let (written_tx, written) = oneshot::channel::<()>();
    dump::submit(dump::Job::StalledWorker {
        worker: name.to_owned(),
        silent_for,
        thread: tid,
        options,
        taken: taken_tx,
        written: written_tx,
    });
    // `Err`: the dump was dropped or panicked; the worker is stopped all
    // the same.
    match within(taken, taken_within(heartbeat)).await {
        Some(Ok(())) => {}
        Some(Err(_)) => return,
        None => {
            tracing::warn!(
                target: "monitor_runtime",
                supervisor = name,
                "the dump of supervisor {name}'s stalled worker was not taken within {}; \
                 restarting without waiting for it",
                human(taken_within(heartbeat)),
            );
            return;
        }
    }
    if within(written, written_within(heartbeat)).await.is_none() {
        tracing::warn!(
            target: "monitor_runtime",
            supervisor = name,
            "the dump sink did not write the dump of supervisor {name}'s stalled worker within {}; \
             restarting without waiting for it",
            human(written_within(heartbeat)),
        );
    }
}

/// How long a supervisor waits for the dump of its stalled worker to be
/// taken: the first capture of a process loads debug info (a second or
/// so), and the dump worker may be busy with another dump.
fn taken_within(heartbeat: Duration) -> Duration {
    (heartbeat * 4).max(Duration::from_secs(2))
}

/// How long a supervisor waits for the sink once the dump is taken: half
/// a heartbeat, at most a second. A sink writes in microseconds to
/// milliseconds; one that blocks delays no restart by more.
fn written_within(heartbeat: Duration) -> Duration {
    (heartbeat / 2).min(Duration::from_secs(1))
}

/// `receiver`'s value, or `None` once `limit` has passed.
async fn within<T>(
    receiver: oneshot::Receiver<T>,
    limit: Duration,
) -> Option<Result<T, oneshot::error::RecvError>> {
    let mut receiver = pin!(receiver);
    let mut sleep = pin!(Sleep::new(Instant::now() + limit));
    std::future::poll_fn(|cx| {
        if let Poll::Ready(value) = receiver.as_mut().poll(cx) {
            return Poll::Ready(Some(value));
        }
        sleep.as_mut().poll(cx).map(|()| None)
    })
    .await
}
