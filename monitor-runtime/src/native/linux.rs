//! Capture on Linux: sample under a lock, then symbolize outside it.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use framehop::FrameAddress;

use super::signal::Sampler;
use super::symbolize::symbolize;
use super::unwind::{Addresses, Unwinding};
use super::{CaptureError, Frame, Stack, Tid};

/// Serializes captures: one set of slots, one unwinder.
static STATE: Mutex<Option<(Sampler, Unwinding)>> = Mutex::new(None);

type State = MutexGuard<'static, Option<(Sampler, Unwinding)>>;

fn state() -> Result<State, CaptureError> {
    let mut state = STATE.lock().unwrap_or_else(PoisonError::into_inner);
    if state.is_none() {
        *state = Some((Sampler::new()?, Unwinding::new()));
    }
    Ok(state)
}

pub(super) fn prepare() -> Result<(), CaptureError> {
    let mut state = state()?;
    let (_, unwinding) = state.as_mut().expect("initialized by state()");
    unwinding.refresh();
    drop(state);
    let here = FrameAddress::InstructionPointer(prepare as fn() -> _ as usize as u64);
    symbolize(here, &mut Vec::new());
    Ok(())
}

pub(super) fn capture(tids: &[Tid], answer_within: Duration) -> Vec<Result<Stack, CaptureError>> {
    let mut addresses: Vec<Option<Addresses>> = Vec::new();
    addresses.resize_with(tids.len(), || None);
    let results = match state() {
        Ok(mut state) => {
            let (sampler, unwinding) = state.as_mut().expect("initialized by state()");
            unwinding.refresh();
            sampler.sample(tids, answer_within, |i, sample| {
                addresses[i] = Some(unwinding.unwind(&sample));
            })
        }
        Err(error) => return tids.iter().map(|_| Err(error.clone())).collect(),
    };
    // Symbolization takes the longest and needs no state: outside the lock,
    // and once per address (threads blocked alike share most of theirs).
    let mut known: HashMap<(u64, bool), Vec<Frame>> = HashMap::new();
    results
        .into_iter()
        .zip(addresses)
        .map(|(result, addresses)| {
            result?;
            let addresses = addresses.expect("a sample for each answer");
            let mut frames = Vec::with_capacity(addresses.frames.len());
            for &address in &addresses.frames {
                let key = (address.address(), address.is_return_address());
                frames.extend_from_slice(known.entry(key).or_insert_with(|| {
                    let mut frames = Vec::new();
                    symbolize(address, &mut frames);
                    frames
                }));
            }
            Ok(Stack {
                frames,
                truncated: addresses.truncated,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc::{channel, Receiver};
    use std::time::Instant;

    use super::super::current_tid;
    use super::*;

    #[inline(never)]
    fn wait_for(release: &Receiver<()>) {
        release.recv().unwrap();
    }

    #[test]
    fn captures_a_blocked_thread() {
        let (tid_tx, tid_rx) = channel();
        let (release_tx, release_rx) = channel();
        let handle = std::thread::spawn(move || {
            tid_tx.send(current_tid()).unwrap();
            wait_for(&release_rx);
        });
        let tid = tid_rx.recv().unwrap();
        let give_up = Instant::now() + Duration::from_secs(10);
        loop {
            let stack = capture(&[tid], Duration::from_secs(1))
                .pop()
                .unwrap()
                .unwrap();
            let named = |f: &Frame| {
                f.function
                    .as_deref()
                    .is_some_and(|f| f.ends_with("wait_for"))
            };
            let receiving = |f: &Frame| f.function.as_deref().is_some_and(|f| f.contains("recv"));
            if stack.frames.iter().any(named) && stack.frames.iter().any(receiving) {
                break;
            }
            assert!(Instant::now() < give_up, "{stack}");
        }
        release_tx.send(()).unwrap();
        handle.join().unwrap();
    }
}
