//! A dump as a goroutine profile in pprof's format (feature `pprof`): the
//! gzip-compressed `profile.proto` that `go tool pprof`, Pyroscope,
//! Grafana and Parca read, and the text of Go's `?debug=1`.
//!
//! One sample per thread of the dump ([`Dump::threads`]) and per call in
//! flight that no listed thread runs (a waiting async call, or every call
//! of a dump without threads). A thread's stack is its native stack; a
//! call without one shows its logical stack (the annotated calls, each at
//! its function's line). Labels: `thread`, `tid`, `state`, `call_id` and
//! `age` (of the innermost call), and `error` where no stack could be
//! captured. The messages are declared with prost's derive
//! (`profile_proto.rs`), which encodes them; nothing here encodes protobuf
//! by hand.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write as _;
use std::time::UNIX_EPOCH;

use prost::Message;

use super::profile_proto as protos;
use flate2::write::GzEncoder;
use flate2::Compression;

use super::{CallDump, CallState, Dump, LogicalFrame, NativeFrame, NativeStack, ThreadDump};
use crate::format::human;
use crate::inflight::CallId;
use crate::native::Tid;

/// One place of a stack, as a profile's location holds it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Place<'a> {
    function: &'a str,
    file: &'a str,
    line: u32,
}

/// Where an annotated call shows in the profile: its function, file and
/// line — the line of the `.await` it is parked at when it waits at one,
/// else the line of the function.
fn logical_place(frame: &LogicalFrame) -> Place<'_> {
    Place {
        function: frame.function,
        file: frame.file,
        line: frame.awaiting.map_or(frame.line, |at| at.line),
    }
}

fn native_place(frame: &NativeFrame) -> Place<'_> {
    Place {
        function: frame.function.as_deref().unwrap_or("?"),
        file: frame.file.as_deref().unwrap_or(""),
        line: frame.line.unwrap_or(0),
    }
}

/// One stack of the profile: a thread, or a call that no listed thread
/// runs; innermost place first.
struct Sample<'a> {
    places: Vec<Place<'a>>,
    count: i64,
    labels: Vec<(&'static str, String)>,
    /// Who it stands for, for the `?debug=1` text.
    who: String,
}

/// The place a stack that could not be captured shows.
const UNAVAILABLE: Place<'static> = Place {
    function: "(native stack unavailable)",
    file: "",
    line: 0,
};

/// The stack of a native capture, or of `call`'s logical frames when there
/// is no capture, with an `error` label when the capture failed.
fn stack_of<'a>(
    native: Option<&'a NativeStack>,
    call: Option<&'a CallDump>,
    labels: &mut Vec<(&'static str, String)>,
) -> Vec<Place<'a>> {
    if let Some(NativeStack::Captured { frames, .. }) = native
        && !frames.is_empty()
    {
        return frames.iter().map(native_place).collect();
    }
    if let Some(NativeStack::Unavailable { error }) = native {
        labels.push(("error", error.to_string()));
    }
    match call {
        Some(call) => call.stack.iter().map(logical_place).collect(),
        None => vec![UNAVAILABLE],
    }
}

fn thread_sample<'a>(thread: &'a ThreadDump, calls: &HashMap<CallId, &'a CallDump>) -> Sample<'a> {
    let mut labels = Vec::with_capacity(6);
    if let Some(name) = &thread.name {
        labels.push(("thread", name.clone()));
    }
    labels.push(("tid", thread.thread.to_string()));
    labels.push(("state", thread.state.to_string()));
    let innermost = thread.calls.first().and_then(|id| calls.get(id).copied());
    if !thread.calls.is_empty() {
        let ids: Vec<String> = thread.calls.iter().map(ToString::to_string).collect();
        labels.push(("call_id", ids.join(",")));
    }
    if let Some(call) = innermost {
        labels.push(("age", human(call.elapsed).to_string()));
    }
    let places = stack_of(thread.native.as_ref(), innermost, &mut labels);
    let who = match &thread.name {
        Some(name) => format!("thread '{name}' ({})", thread.thread),
        None => format!("thread {}", thread.thread),
    };
    Sample {
        places,
        count: 1,
        labels,
        who,
    }
}

fn call_sample(call: &CallDump) -> Sample<'_> {
    let mut labels = Vec::with_capacity(6);
    if let CallState::Running { thread, name } = &call.state {
        if let Some(name) = name {
            labels.push(("thread", name.clone()));
        }
        labels.push(("tid", thread.to_string()));
        labels.push(("state", "running".to_owned()));
    } else {
        labels.push(("state", "waiting".to_owned()));
    }
    labels.push(("call_id", call.id.to_string()));
    labels.push(("age", human(call.elapsed).to_string()));
    let places = stack_of(call.native.as_ref(), Some(call), &mut labels);
    Sample {
        places,
        count: call.count() as i64,
        labels,
        who: format!("call {}", call.id),
    }
}

/// One sample per listed thread, then one per call that no listed thread
/// runs.
fn samples(dump: &Dump) -> Vec<Sample<'_>> {
    let calls: HashMap<CallId, &CallDump> = if dump.threads.is_empty() {
        HashMap::new()
    } else {
        dump.calls
            .iter()
            .filter(|call| call.state.is_running())
            .map(|call| (call.id, call))
            .collect()
    };
    let listed: std::collections::HashSet<Tid> = dump.threads.iter().map(|t| t.thread).collect();
    let mut samples: Vec<Sample<'_>> = dump
        .threads
        .iter()
        .map(|thread| thread_sample(thread, &calls))
        .collect();
    samples.extend(
        dump.calls
            .iter()
            .filter(|call| call.state.thread().is_none_or(|tid| !listed.contains(&tid)))
            .map(call_sample),
    );
    samples
}

/// The string table, functions and locations of a profile, each entry
/// once.
#[derive(Default)]
struct Tables<'a> {
    strings: HashMap<&'a str, i64>,
    owned: HashMap<String, i64>,
    functions: HashMap<(i64, i64), u64>,
    locations: HashMap<(u64, u32), u64>,
    profile: protos::Profile,
}

/// A function's name as pprof shows it: `<Type as Trait>::f` and
/// `<Type>::f` become `Type::f`, since pprof drops everything between
/// angle brackets when it shortens a name (`::f` would be left). The full
/// name stays the function's `system_name`.
fn display_name(name: &str) -> std::borrow::Cow<'_, str> {
    if !name.starts_with('<') {
        return name.into();
    }
    let (mut depth, mut as_at, mut close) = (0usize, None, None);
    for (i, c) in name.char_indices() {
        match c {
            '<' => depth += 1,
            // Not the arrow of `fn() -> T`.
            '>' if name[..i].ends_with('-') => {}
            '>' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ' ' if depth == 1 && as_at.is_none() && name[i..].starts_with(" as ") => {
                as_at = Some(i);
            }
            _ => {}
        }
    }
    match close {
        Some(close) => format!("{}{}", &name[1..as_at.unwrap_or(close)], &name[close + 1..]).into(),
        None => name.into(),
    }
}

impl<'a> Tables<'a> {
    fn string(&mut self, text: &'a str) -> i64 {
        if let Some(&id) = self.strings.get(text) {
            return id;
        }
        let id = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.to_owned());
        self.strings.insert(text, id);
        id
    }

    fn owned_string(&mut self, text: String) -> i64 {
        if let Some(&id) = self.owned.get(&text) {
            return id;
        }
        let id = self.profile.string_table.len() as i64;
        self.profile.string_table.push(text.clone());
        self.owned.insert(text, id);
        id
    }

    fn location(&mut self, place: Place<'a>) -> u64 {
        let system_name = self.string(place.function);
        let file = self.string(place.file);
        let next = self.profile.function.len() as u64 + 1;
        let function = *self.functions.entry((system_name, file)).or_insert(next);
        if function == next {
            let name = match display_name(place.function) {
                std::borrow::Cow::Borrowed(name) => self.string(name),
                std::borrow::Cow::Owned(name) => self.owned_string(name),
            };
            self.profile.function.push(protos::Function {
                id: function,
                name,
                system_name,
                filename: file,
                start_line: 0,
            });
        }
        let next = self.profile.location.len() as u64 + 1;
        let location = *self.locations.entry((function, place.line)).or_insert(next);
        if location == next {
            self.profile.location.push(protos::Location {
                id: location,
                line: vec![protos::Line {
                    function_id: function,
                    line: i64::from(place.line),
                }],
            });
        }
        location
    }
}

impl Dump {
    /// The dump as a goroutine profile in pprof's format: a
    /// gzip-compressed `profile.proto`, what Go serves at
    /// `/debug/pprof/goroutine`, and what `go tool pprof`, Pyroscope,
    /// Grafana and Parca read (feature `pprof`).
    ///
    /// One sample per thread ([`Dump::threads`]: take the dump with
    /// [`all_threads`](super::DumpOptions::all_threads)) and per call in
    /// flight that no listed thread runs, of type `goroutine`/`count`.
    /// Locations carry function, file and line; labels say `thread`,
    /// `tid`, `state`, `call_id`, `age` and, where no stack could be
    /// captured, `error`.
    ///
    /// ```
    /// use monitor_runtime::dump::DumpOptions;
    ///
    /// let profile = DumpOptions::new().all_threads(true).take().to_pprof();
    /// assert_eq!(&profile[..2], &[0x1f, 0x8b]); // gzip
    /// std::fs::write(std::env::temp_dir().join("goroutine.pb.gz"), &profile).unwrap();
    /// // go tool pprof -top goroutine.pb.gz
    /// ```
    pub fn to_pprof(&self) -> Vec<u8> {
        let samples = samples(self);
        let mut tables = Tables::default();
        tables.string("");
        let kind = tables.string("goroutine");
        let count = tables.string("count");
        let mut encoded_samples = Vec::with_capacity(samples.len());
        for sample in samples {
            let location_id = sample
                .places
                .iter()
                .map(|&place| tables.location(place))
                .collect();
            let label = sample
                .labels
                .into_iter()
                .map(|(key, value)| protos::Label {
                    key: tables.string(key),
                    str: tables.owned_string(value),
                })
                .collect();
            encoded_samples.push(protos::Sample {
                location_id,
                value: vec![sample.count],
                label,
            });
        }
        let comment = tables.string("monitor-runtime: every thread and call in flight");
        let mut profile = tables.profile;
        profile.sample = encoded_samples;
        profile.sample_type = vec![protos::ValueType {
            ty: kind,
            unit: count,
        }];
        profile.period_type = Some(protos::ValueType {
            ty: kind,
            unit: count,
        });
        profile.period = 1;
        profile.comment = vec![comment];
        profile.time_nanos = self
            .taken_at
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| since.as_nanos() as i64);
        // Level 1: at the default level, compression took most of the
        // time of a profile of 10,000 calls (`benches/dump.rs`).
        let mut gzip = GzEncoder::new(Vec::new(), Compression::fast());
        // Writing into a `Vec` cannot fail.
        let _ = gzip.write_all(&profile.encode_to_vec());
        gzip.finish().unwrap_or_default()
    }

    /// The text of Go's `/debug/pprof/goroutine?debug=1`: identical stacks
    /// counted, the largest count first, each with who it stands for and
    /// its places, innermost first, the fields of each place separated by
    /// tabs (feature `pprof`):
    ///
    /// ```text
    /// goroutine profile: total 9
    /// 3 @ thread 'pool-1' (4243), thread 'pool-2' (4244), thread 'pool-3' (4245)
    /// #  syscall  :0
    /// #  std::sys::pal::unix::futex::futex_wait  /rustc/.../library/std/src/sys/pal/unix/futex.rs:72
    /// #  app::pool_worker  /src/app/src/main.rs:40
    /// ```
    ///
    /// ```
    /// use monitor_runtime::dump::DumpOptions;
    ///
    /// let text = DumpOptions::new().all_threads(true).take().to_pprof_text();
    /// assert!(text.starts_with("goroutine profile: total "));
    /// ```
    pub fn to_pprof_text(&self) -> String {
        let samples = samples(self);
        let total: i64 = samples.iter().map(|sample| sample.count).sum();
        let mut groups: Vec<(&[Place<'_>], i64, Vec<&str>)> = Vec::new();
        let mut at: HashMap<&[Place<'_>], usize> = HashMap::new();
        for sample in &samples {
            let i = *at.entry(&sample.places).or_insert_with(|| {
                groups.push((&sample.places, 0, Vec::new()));
                groups.len() - 1
            });
            groups[i].1 += sample.count;
            groups[i].2.push(&sample.who);
        }
        groups.sort_by_key(|(_, count, _)| std::cmp::Reverse(*count));
        let mut text = format!("goroutine profile: total {total}\n");
        const NAMED: usize = 8;
        for (places, count, who) in groups {
            let _ = write!(text, "{count} @ {}", who[..who.len().min(NAMED)].join(", "));
            if who.len() > NAMED {
                let _ = write!(text, ", ... {} more", who.len() - NAMED);
            }
            text.push('\n');
            for place in places {
                let _ = writeln!(text, "#\t{}\t{}:{}", place.function, place.file, place.line);
            }
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::display_name;

    #[test]
    fn names_pprof_can_shorten() {
        assert_eq!(
            display_name("<std::sys::sync::condvar::futex::Condvar>::wait"),
            "std::sys::sync::condvar::futex::Condvar::wait"
        );
        assert_eq!(
            display_name(
                "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"
            ),
            "alloc::boxed::Box<F,A>::call_once"
        );
        assert_eq!(
            display_name("<fn() -> core::result::Result<(), E> as core::ops::function::FnOnce<()>>::call_once"),
            "fn() -> core::result::Result<(), E>::call_once"
        );
        assert_eq!(display_name("app::handler"), "app::handler");
        assert_eq!(display_name("<broken"), "<broken");
    }
}
