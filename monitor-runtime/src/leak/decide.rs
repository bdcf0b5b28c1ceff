//! The leak decision, a pure function of the samples: no clock, no state,
//! unit-tested with plain numbers.
//!
//! A count leaks when it keeps rising over the window and never goes back
//! to where it was: split the window's samples into four quarters; the
//! lowest count of each quarter (its floor) must rise strictly from one
//! quarter to the next, and the last quarter's floor must be above every
//! count of the first quarter. A busy function whose level is steady, however
//! high and however much it jitters, has floors that do not keep rising;
//! a function that piles up calls raises its floor in every quarter.

/// Quarters of a window.
const PARTS: usize = 4;

/// Samples a window needs before anything is decided: two per quarter.
pub(crate) const MIN_SAMPLES: usize = 2 * PARTS;

/// A rise found by [`rising`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Rise {
    /// The last sample.
    pub(crate) count: usize,
    /// The last sample above the window's lowest.
    pub(crate) growth: usize,
}

/// Whether `samples` (oldest first, evenly spaced, covering one window)
/// keep rising; `None` with fewer than [`MIN_SAMPLES`].
pub(crate) fn rising(samples: &[usize]) -> Option<Rise> {
    let n = samples.len();
    if n < MIN_SAMPLES {
        return None;
    }
    let quarter = |i: usize| &samples[i * n / PARTS..(i + 1) * n / PARTS];
    let floors: Vec<usize> = (0..PARTS)
        .map(|i| quarter(i).iter().copied().min().unwrap_or(0))
        .collect();
    let first_high = quarter(0).iter().copied().max().unwrap_or(0);
    let keeps_rising = floors.windows(2).all(|pair| pair[0] < pair[1]);
    if !keeps_rising || floors[PARTS - 1] <= first_high {
        return None;
    }
    let count = samples[n - 1];
    let low = samples.iter().copied().min().unwrap_or(0);
    Some(Rise {
        count,
        growth: count - low,
    })
}

/// Whether to raise an alert now for a count that rises (`rise`), having
/// alerted at `alerted` before (and not seen it stop rising since): once
/// per rise, and again each time the count doubles.
pub(crate) fn alert_again(rise: Rise, alerted: Option<usize>) -> bool {
    match alerted {
        None => true,
        Some(before) => rise.count >= before.saturating_mul(2).max(before + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_that_piles_up_leaks() {
        // One call more every sample, as a leak started every 50 ms and
        // sampled every 50 ms.
        let samples: Vec<usize> = (0..11).collect();
        assert_eq!(
            rising(&samples),
            Some(Rise {
                count: 10,
                growth: 10
            })
        );
        // On top of a busy level that jitters.
        let jitter = [3, 0, 2, 1, 3, 0, 1, 2, 3, 1, 0];
        let samples: Vec<usize> = (0..11).map(|i| 20 + 2 * i + jitter[i]).collect();
        assert!(rising(&samples).is_some(), "{samples:?}");
    }

    #[test]
    fn a_steady_busy_level_never_leaks() {
        // Many calls, a constant level.
        assert_eq!(rising(&[50; 11]), None);
        // A level that jitters, even when the jitter happens to rise.
        assert_eq!(rising(&[7, 8, 6, 8, 7, 8, 8, 7, 8, 8, 8]), None);
        assert_eq!(rising(&[0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 8]), None);
        // Up, and back down to where it was.
        assert_eq!(rising(&[0, 2, 4, 6, 8, 10, 8, 6, 4, 2, 0]), None);
        // A step: a burst that stays is not a rise that keeps on.
        assert_eq!(rising(&[0, 0, 0, 0, 0, 0, 9, 9, 9, 9, 9]), None);
    }

    #[test]
    fn the_floor_must_clear_the_first_quarter() {
        // The floors rise, but the last quarter dips to a count the
        // first quarter had: it went back to where it was.
        assert_eq!(rising(&[0, 9, 1, 2, 3, 4, 5, 6, 9, 9, 9]), None);
    }

    #[test]
    fn too_few_samples_decide_nothing() {
        assert_eq!(rising(&[0, 1, 2, 3, 4, 5, 6]), None);
        assert!(rising(&[0, 1, 2, 3, 4, 5, 6, 7]).is_some());
    }

    #[test]
    fn alerts_once_per_rise_then_on_each_doubling() {
        let rise = |count| Rise { count, growth: 1 };
        assert!(alert_again(rise(10), None));
        assert!(!alert_again(rise(19), Some(10)));
        assert!(alert_again(rise(20), Some(10)));
        assert!(alert_again(rise(1), Some(0)));
    }
}
