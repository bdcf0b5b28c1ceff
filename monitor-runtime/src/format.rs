//! Units as people read them, shared by every report: durations in human
//! units (`350ms`, `2m05s`) for text, and in seconds for JSON; the text
//! of a panic.

use std::fmt::{self, Display, Formatter};
use std::time::{Duration, SystemTime};

use serde::Serializer;

/// A duration in human units: `350µs`, `350ms`, `1.002s`, `1s`, `2m05s`,
/// `1h02m`.
pub(crate) fn human(duration: Duration) -> Human {
    Human(duration)
}

pub(crate) struct Human(Duration);

impl Display for Human {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let d = self.0;
        let text = if d < Duration::from_micros(1) {
            format!("{}ns", d.as_nanos())
        } else if d < Duration::from_millis(1) {
            format!("{}µs", d.as_micros())
        } else if d < Duration::from_secs(1) {
            format!("{}ms", d.as_millis())
        } else if d < Duration::from_secs(60) {
            let millis = d.subsec_millis();
            let mut text = format!("{}.{millis:03}", d.as_secs());
            while text.ends_with('0') {
                text.pop();
            }
            if text.ends_with('.') {
                text.pop();
            }
            text + "s"
        } else if d < Duration::from_secs(3600) {
            format!("{}m{:02}s", d.as_secs() / 60, d.as_secs() % 60)
        } else {
            format!("{}h{:02}m", d.as_secs() / 3600, d.as_secs() % 3600 / 60)
        };
        f.pad(&text)
    }
}

pub(crate) fn seconds<S: Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_f64(duration.as_secs_f64())
}

pub(crate) fn opt_seconds<S: Serializer>(
    duration: &Option<Duration>,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    match duration {
        Some(duration) => serializer.serialize_some(&duration.as_secs_f64()),
        None => serializer.serialize_none(),
    }
}

pub(crate) fn unix_seconds<S: Serializer>(
    time: &SystemTime,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    let since = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap_or_default();
    serializer.serialize_f64(since.as_secs_f64())
}

pub(crate) fn display<S: Serializer, T: fmt::Display>(
    value: &T,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.collect_str(value)
}

/// The message a panic was raised with, if it is text (`panic!("...")`
/// gives a `&str` or a `String`).
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| (*s).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        let cases = [
            (Duration::from_nanos(500), "500ns"),
            (Duration::from_micros(350), "350µs"),
            (Duration::from_millis(350), "350ms"),
            (Duration::from_millis(1002), "1.002s"),
            (Duration::from_millis(1500), "1.5s"),
            (Duration::from_secs(1), "1s"),
            (Duration::from_secs(125), "2m05s"),
            (Duration::from_secs(3720), "1h02m"),
        ];
        for (duration, text) in cases {
            assert_eq!(human(duration).to_string(), text);
        }
    }
}
