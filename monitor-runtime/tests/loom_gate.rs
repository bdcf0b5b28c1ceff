//! Model checks of the slot and stall-clock state machine (`Gate`).
//!
//! Run: `RUSTFLAGS="--cfg loom" cargo test -p monitor-runtime --release --test loom_gate`
#![cfg(loom)]

use loom::sync::atomic::{AtomicUsize, Ordering};
use loom::sync::Arc;
use loom::thread;
use monitor_runtime::Gate;

/// Explores every interleaving with up to three preemptions per execution,
/// which is where concurrency bugs hide in practice and keeps CI in minutes.
fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// However admissions and exits interleave, no more than `cap` bodies run at
/// once, a slot is refused only while `cap` are really held, and every slot
/// comes back.
#[test]
fn the_cap_is_never_exceeded_and_no_slot_leaks() {
    model(|| {
        let gate = Arc::new(Gate::new());
        let running = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let threads: Vec<_> = (0..3)
            .map(|_| {
                let (gate, running, admitted) = (gate.clone(), running.clone(), admitted.clone());
                thread::spawn(move || {
                    if gate.try_enter(2).is_some() {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        assert!(now <= 2, "{now} bodies under a cap of 2");
                        let n = admitted.fetch_add(1, Ordering::SeqCst);
                        running.fetch_sub(1, Ordering::SeqCst);
                        // Completions and cancellations give slots back alike.
                        if n % 2 == 0 {
                            gate.exit_completed();
                        } else {
                            gate.exit();
                        }
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        assert_eq!(gate.active(), 0, "a slot leaked");
        assert!(
            admitted.load(Ordering::SeqCst) >= 2,
            "refused with free slots"
        );
    });
}

/// A stall raises at most one alert; a completion that ends the stall
/// before the watchdog claims it prevents the alert; a new stall after a
/// completion gets its own alert.
#[test]
fn one_alert_per_stall_and_none_after_progress() {
    model(|| {
        let gate = Arc::new(Gate::new());
        assert_eq!(gate.on_busy(|| 5), Some(5));
        assert_eq!(gate.on_busy(|| 9), None, "a stall is started once");

        let watchdogs: Vec<_> = (0..2)
            .map(|_| {
                let gate = gate.clone();
                thread::spawn(move || gate.claim_alert(5))
            })
            .collect();
        let worker = {
            let gate = gate.clone();
            thread::spawn(move || {
                gate.on_progress();
                gate.on_busy(|| 6)
            })
        };
        let claims = watchdogs
            .into_iter()
            .map(|t| t.join().unwrap())
            .filter(|&claimed| claimed)
            .count();
        let second = worker.join().unwrap();
        assert!(claims <= 1, "two alerts for one stall");
        // The second stall began after the first ended; it is still alertable
        // exactly once.
        if second == Some(6) {
            let raw = gate.raw_stall();
            assert!(gate.claim_alert(6), "stall word {raw}, claims {claims}");
            assert!(!gate.claim_alert(6));
        }
        // Once progress ended the first stall, it can no longer alert.
        assert!(!gate.claim_alert(5));
    });
}
