//! The restart policy: when a worker that ended is started again
//! ([`Restart`]), how long to wait first ([`Backoff`]), and the decision
//! itself ([`Policy::decide`]): a pure function of the restarts so far and
//! the time, so it is tested here without threads or sleeping. The run
//! loop (`run.rs`) only acts on what it returns.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use super::Cause;
use crate::clock;

/// When a worker that ended is started again, as in OTP.
///
/// ```
/// use monitor_runtime::supervisor::Restart;
/// assert_eq!(Restart::default(), Restart::Permanent);
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Restart {
    /// Always: after a stall, a panic, an error, and a normal return.
    #[default]
    Permanent,
    /// After a failure only (stall, panic, error); a normal return ends
    /// the supervisor with `Ok`.
    Transient,
    /// Never: the supervisor ends when the worker does (with
    /// [`SupervisorError::WorkerFailed`] if it failed).
    ///
    /// [`SupervisorError::WorkerFailed`]: super::SupervisorError::WorkerFailed
    Temporary,
}

/// How long to wait before a restart.
///
/// ```
/// use std::time::Duration;
/// use monitor_runtime::supervisor::Backoff;
/// let backoff = Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1));
/// let first = backoff.delay(1);
/// assert!(first >= Duration::from_millis(5) && first <= Duration::from_millis(10));
/// assert!(backoff.delay(30) <= Duration::from_secs(1));
/// assert_eq!(Backoff::Fixed(Duration::from_millis(3)).delay(7), Duration::from_millis(3));
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Backoff {
    /// Restart at once.
    #[default]
    None,
    /// Always the same delay.
    Fixed(Duration),
    /// `base`, doubled for each restart within the intensity period, at
    /// most `max`, then multiplied by a random factor in [0.5, 1] (jitter,
    /// so that supervisors restarted together spread out).
    Exponential {
        /// The first delay.
        base: Duration,
        /// The longest delay.
        max: Duration,
    },
}

impl Backoff {
    /// Exponential backoff with jitter from `base` up to `max`.
    ///
    /// ```
    /// use std::time::Duration;
    /// let backoff = monitor_runtime::supervisor::Backoff::exponential(Duration::from_millis(10), Duration::from_secs(1));
    /// assert!(backoff.delay(3) <= Duration::from_millis(40));
    /// ```
    pub fn exponential(base: Duration, max: Duration) -> Self {
        Backoff::Exponential { base, max }
    }

    /// The delay before the `restart`-th restart (1-based) of the current
    /// intensity period.
    ///
    /// ```
    /// use std::time::Duration;
    /// assert_eq!(monitor_runtime::supervisor::Backoff::None.delay(1), Duration::ZERO);
    /// ```
    pub fn delay(&self, restart: u32) -> Duration {
        self.delay_with(restart, random())
    }

    /// [`delay`](Self::delay) with the jitter drawn from `random`, any
    /// word: the same arguments give the same delay.
    fn delay_with(&self, restart: u32, random: u64) -> Duration {
        match *self {
            Backoff::None => Duration::ZERO,
            Backoff::Fixed(delay) => delay,
            Backoff::Exponential { base, max } => {
                let doublings = restart.saturating_sub(1).min(31);
                let full = base.saturating_mul(1 << doublings).min(max);
                // Jitter in [0.5, 1].
                let random = random >> 11;
                let factor = 0.5 + 0.5 * (random as f64 / (1u64 << 53) as f64);
                full.mul_f64(factor)
            }
        }
    }
}

/// A random word for the backoff's jitter, from the clock.
pub(super) fn random() -> u64 {
    splitmix(clock::now_ns())
}

fn splitmix(seed: u64) -> u64 {
    let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The restart policy a supervisor was built with.
#[derive(Clone, Copy, Debug)]
pub(super) struct Policy {
    /// When an instance that ended is restarted.
    pub(super) restart: Restart,
    /// The restarts allowed within `within` (the restart intensity).
    pub(super) max_restarts: u32,
    /// The intensity period.
    pub(super) within: Duration,
    /// The delay before each restart.
    pub(super) backoff: Backoff,
}

/// When the restarts of the current intensity period happened, oldest
/// first.
#[derive(Debug, Default)]
pub(super) struct History(VecDeque<Instant>);

/// What to do once a worker instance ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Decision {
    /// Not restarted, by the restart type or the cause: the supervisor
    /// ends.
    End,
    /// All `max_restarts` restarts within the period are used: the
    /// supervisor gives up.
    GiveUp,
    /// Start a new instance after `delay`.
    Restart {
        /// The backoff before the new instance.
        delay: Duration,
    },
}

impl Policy {
    /// What to do now that an instance ended with `cause`, at `now`, after
    /// the restarts in `history` (a restart decided here is recorded
    /// there; restarts older than the period are forgotten). `random`
    /// draws the backoff's jitter ([`random`] in the run loop).
    ///
    /// Pure: reads no clock, starts no thread, never sleeps. The same
    /// arguments give the same decision.
    pub(super) fn decide(
        &self,
        history: &mut History,
        cause: &Cause,
        now: Instant,
        random: u64,
    ) -> Decision {
        let restart = !matches!(
            (self.restart, cause),
            (Restart::Temporary, _) | (_, Cause::Cancelled) | (Restart::Transient, Cause::Exit)
        );
        if !restart {
            return Decision::End;
        }
        let restarts = &mut history.0;
        while restarts
            .front()
            .is_some_and(|t| now.saturating_duration_since(*t) >= self.within)
        {
            restarts.pop_front();
        }
        if restarts.len() >= self.max_restarts as usize {
            return Decision::GiveUp;
        }
        restarts.push_back(now);
        Decision::Restart {
            delay: self.backoff.delay_with(restarts.len() as u32, random),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);
    const S: Duration = Duration::from_secs(1);

    fn policy(restart: Restart, max_restarts: u32, within: Duration, backoff: Backoff) -> Policy {
        Policy {
            restart,
            max_restarts,
            within,
            backoff,
        }
    }

    fn error() -> Cause {
        Cause::Error {
            message: "broken".to_owned(),
        }
    }

    const RESTART_NOW: Decision = Decision::Restart {
        delay: Duration::ZERO,
    };

    #[test]
    fn exponential_backoff_grows_and_is_capped() {
        let backoff = Backoff::exponential(Duration::from_millis(8), Duration::from_millis(100));
        for n in 1..40 {
            let full = Duration::from_millis(8 << (n - 1).min(10)).min(Duration::from_millis(100));
            let delay = backoff.delay(n);
            assert!(delay <= full && delay >= full / 2, "{n}: {delay:?}");
        }
    }

    #[test]
    fn the_restart_type_and_the_cause_decide_whether_to_restart() {
        use Restart::{Permanent, Temporary, Transient};
        let stall = Cause::Stall { silent_for: S };
        let panic = Cause::Panic { message: None };
        let causes = [stall, panic, error(), Cause::Exit, Cause::Cancelled];
        // Restarted after: stall, panic, error, exit, cancel.
        let table = [
            (Permanent, [true, true, true, true, false]),
            (Transient, [true, true, true, false, false]),
            (Temporary, [false, false, false, false, false]),
        ];
        let now = Instant::now();
        for (restart, restarted) in table {
            for (cause, restarted) in causes.iter().zip(restarted) {
                let mut history = History::default();
                let policy = policy(restart, 3, 5 * S, Backoff::None);
                let decision = policy.decide(&mut history, cause, now, 0);
                let case = format!("{restart:?} after {cause:?}");
                let expected = [Decision::End, RESTART_NOW][usize::from(restarted)];
                assert_eq!(decision, expected, "{case}");
                assert_eq!(history.0.len(), usize::from(restarted), "{case}");
            }
        }
    }

    #[test]
    fn gives_up_after_max_restarts_within_the_period() {
        let policy = policy(Restart::Permanent, 3, 5 * S, Backoff::None);
        let t0 = Instant::now();
        let mut history = History::default();
        for n in 0..3u32 {
            let decision = policy.decide(&mut history, &error(), t0 + n * S, 0);
            assert_eq!(decision, RESTART_NOW, "failure {n}");
        }
        let fourth = policy.decide(&mut history, &error(), t0 + 3 * S, 0);
        assert_eq!(fourth, Decision::GiveUp);
        // A normal return gives up too: it is restarted, so it counts.
        let exit = policy.decide(&mut history, &Cause::Exit, t0 + 4 * S, 0);
        assert_eq!(exit, Decision::GiveUp);
    }

    #[test]
    fn restarts_older_than_the_period_no_longer_count() {
        let policy = policy(Restart::Permanent, 3, 5 * S, Backoff::None);
        let t0 = Instant::now();
        let mut history = History::default();
        let mut fail_at = |at: Instant| policy.decide(&mut history, &error(), at, 0);
        for n in 0..3u32 {
            assert_eq!(fail_at(t0 + n * S), RESTART_NOW);
        }
        // The restart at t0 is exactly one period old: forgotten.
        assert_eq!(fail_at(t0 + 5 * S), RESTART_NOW);
        // Those at t0 + 1 s, t0 + 2 s and t0 + 5 s still count.
        assert_eq!(fail_at(t0 + 5 * S + 500 * MS), Decision::GiveUp);
        // At t0 + 6 s, the one at t0 + 1 s is forgotten.
        assert_eq!(fail_at(t0 + 6 * S), RESTART_NOW);
    }

    #[test]
    fn no_restart_allowed_gives_up_at_the_first_failure() {
        let policy = policy(Restart::Permanent, 0, 5 * S, Backoff::None);
        let mut history = History::default();
        let first = policy.decide(&mut history, &error(), Instant::now(), 0);
        assert_eq!(first, Decision::GiveUp);
    }

    #[test]
    fn the_backoff_doubles_with_each_restart_of_the_period() {
        let backoff = Backoff::exponential(10 * MS, S);
        let policy = policy(Restart::Permanent, 10, 60 * S, backoff);
        let t0 = Instant::now();
        let mut history = History::default();
        // A random word of 0 is the smallest jitter factor: exactly half.
        for (n, half) in [5u32, 10, 20, 40].into_iter().enumerate() {
            let now = t0 + n as u32 * S;
            let delay = half * MS;
            assert_eq!(
                policy.decide(&mut history, &error(), now, 0),
                Decision::Restart { delay }
            );
        }
        // A new period starts over from `base`.
        let later = t0 + 120 * S;
        assert_eq!(
            policy.decide(&mut history, &error(), later, 0),
            Decision::Restart { delay: 5 * MS }
        );
        // The largest random word: (almost) the full delay, never more.
        let Decision::Restart { delay } = policy.decide(&mut history, &error(), later, u64::MAX)
        else {
            panic!("restarted");
        };
        assert!(delay > 19 * MS && delay <= 20 * MS, "{delay:?}");
    }

    #[test]
    fn fixed_and_no_backoff_ignore_the_restart_count() {
        let t0 = Instant::now();
        for (backoff, delay) in [
            (Backoff::Fixed(3 * MS), 3 * MS),
            (Backoff::None, Duration::ZERO),
        ] {
            let policy = policy(Restart::Permanent, 5, 60 * S, backoff);
            let mut history = History::default();
            for n in 0..5u32 {
                let decision = policy.decide(&mut history, &error(), t0 + n * S, u64::MAX);
                assert_eq!(
                    decision,
                    Decision::Restart { delay },
                    "{backoff:?}, restart {n}"
                );
            }
        }
    }

    #[test]
    fn the_same_arguments_give_the_same_decision() {
        let policy = policy(Restart::Permanent, 3, 5 * S, Backoff::exponential(MS, S));
        let t0 = Instant::now();
        let (mut a, mut b) = (History::default(), History::default());
        for n in 0..5u32 {
            let random = 0x0123_4567_89ab_cdef_u64.rotate_left(n);
            let now = t0 + n * 700 * MS;
            assert_eq!(
                policy.decide(&mut a, &error(), now, random),
                policy.decide(&mut b, &error(), now, random),
                "failure {n}"
            );
        }
    }
}
