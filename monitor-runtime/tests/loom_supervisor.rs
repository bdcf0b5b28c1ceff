//! Model checks of the heartbeat's state machine (`Pulse`): a late beat
//! racing the supervisor's stall decision.
//!
//! Run: `RUSTFLAGS="--cfg loom" CARGO_TARGET_DIR=target/loom cargo test -p monitor-runtime --release --test loom_supervisor`
#![cfg(loom)]

use loom::sync::Arc;
use loom::thread;
use monitor_runtime::{Look, Pulse};

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// What the supervisor does at a look once the heartbeat timeout has
/// passed with no beat seen: restart (`true`) only if no beat came since
/// the last look. Returns the look too.
fn decide(pulse: &Pulse) -> (Look, bool) {
    match pulse.look() {
        Look::Quiet => (Look::Quiet, pulse.claim_stall()),
        look => (look, false),
    }
}

/// A worker beats twice, late (just as the timeout passes), while the
/// supervisor decides. Whatever the interleaving: either one restart and
/// the beats are ignored from then on, or no restart and the first beat is
/// seen (by the deciding look or the next one); never both, never neither.
#[test]
fn a_late_beat_is_either_seen_or_loses_to_one_restart() {
    model(|| {
        let pulse = Arc::new(Pulse::new());
        let worker = {
            let pulse = pulse.clone();
            thread::spawn(move || {
                pulse.beat();
                pulse.beat();
            })
        };
        let (look, restarted) = decide(&pulse);
        worker.join().unwrap();
        let next = pulse.look();
        if restarted {
            assert_eq!(
                next,
                Look::Stalled,
                "a claim is final: the beats are ignored"
            );
            assert!(!decide(&pulse).1, "two restarts for one stall");
        } else {
            assert!(
                look == Look::Beat || next == Look::Beat,
                "no restart, and the beat was lost ({look:?}, then {next:?})"
            );
        }
    });
}

/// No beat at all: the supervisor restarts, exactly once however often it
/// looks, and a look from another thread (a supervisor racing itself)
/// cannot make it twice.
#[test]
fn a_silent_worker_is_restarted_exactly_once() {
    model(|| {
        let pulse = Arc::new(Pulse::new());
        let looker = {
            let pulse = pulse.clone();
            thread::spawn(move || decide(&pulse).1)
        };
        let here = decide(&pulse).1;
        let there = looker.join().unwrap();
        assert!(here ^ there, "exactly one restart, got {here} and {there}");
        assert!(!decide(&pulse).1);
    });
}

/// A beat racing a claim: either the claim wins (one restart, the beat
/// is ignored) or the beat wins (no restart, and the next look sees it).
#[test]
fn a_beat_racing_the_claim_is_counted_or_ignored_never_both() {
    model(|| {
        let pulse = Arc::new(Pulse::new());
        assert_eq!(pulse.look(), Look::Quiet);
        let worker = {
            let pulse = pulse.clone();
            thread::spawn(move || pulse.beat())
        };
        let claimed = pulse.claim_stall();
        worker.join().unwrap();
        let next = pulse.look();
        if claimed {
            assert_eq!(next, Look::Stalled);
        } else {
            assert_eq!(next, Look::Beat, "the beat that beat the claim was lost");
        }
    });
}
