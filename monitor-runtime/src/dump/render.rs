//! The text of a dump, laid out like Go's goroutine dump:
//!
//! ```text
//! monitor dump at 2026-05-01T10:00:00.123Z: 2 calls in flight, 2 stacks
//! call 1.0 of philosophers::philosopher (examples/philosophers.rs:21) has not returned after 1s
//!
//! call 1.0 [running on thread 'philosopher-1' (tid 4242), 1.004s]:
//!   philosophers::philosopher  examples/philosophers.rs:21  1.004s  overdue (limit 1s)
//! native stack of thread 4242, innermost first:
//!   ... 6 frames in std, system: Mutex::lock -> Mutex::lock_contended -> futex_wait -> ...
//!   philosophers::philosopher::{{closure}}
//!       examples/philosophers.rs:27
//!   ... 1 frame in monitor-runtime: stack_sync
//!   philosophers::philosopher
//!       examples/philosophers.rs:21
//!   ... 14 frames in std, system: ... -> thread::Builder::spawn_unchecked_ -> __rust_begin_short_backtrace
//! ```
//!
//! User frames are shown in full, with their file and line; every run of
//! other frames (std, dependencies, this runtime, the C library) is folded
//! into one line naming its crates and the functions nearest user code.

use std::fmt::{self, Display, Formatter, Write as _};
use std::path::Path;
use std::time::SystemTime;

use super::model::crate_of_function;
use super::{
    CallDump, CallState, Dump, DumpReason, LogicalFrame, NativeFrame, NativeStack, Origin,
    ThreadDump,
};
use crate::format::human;

/// `2026-05-01T10:00:00.123Z`.
pub(crate) fn rfc3339(time: SystemTime) -> String {
    humantime::format_rfc3339_millis(time).to_string()
}

/// The crate a folded frame belongs to, for the fold's label.
fn crate_of(frame: &NativeFrame) -> String {
    match frame.origin {
        Origin::Std => "std".into(),
        Origin::Runtime => "monitor-runtime".into(),
        Origin::System | Origin::User => "system".into(),
        Origin::Dependency if frame.file.is_none() => frame
            .function
            .as_deref()
            .map_or("a dependency", crate_of_function)
            .to_owned(),
        Origin::Dependency => frame
            .file
            .as_deref()
            .and_then(|file| {
                if let Some((_, rest)) = file.split_once("/registry/src/") {
                    // <index>/<name>-<version>/src/...
                    rest.split('/').nth(1).map(strip_version)
                } else {
                    // git/checkouts/<name>-<hash>/<rev>/src/...
                    let (_, rest) = file.split_once("/git/checkouts/")?;
                    let dir = rest.split('/').next()?;
                    Some(dir.rsplit_once('-').map_or(dir, |(name, _)| name))
                }
            })
            .unwrap_or("a dependency")
            .to_owned(),
    }
}

/// `tokio-1.38.0` -> `tokio`; `parking_lot_core-0.9.10` -> `parking_lot_core`.
fn strip_version(dir: &str) -> &str {
    let mut end = dir.len();
    for (i, _) in dir.match_indices('-') {
        if dir[i + 1..].starts_with(|c: char| c.is_ascii_digit()) {
            end = i;
            break;
        }
    }
    &dir[..end]
}

/// A function's name in a fold: its last two path segments, without
/// generics: `std::sys::sync::mutex::futex::Mutex::lock_contended` ->
/// `Mutex::lock_contended`, `<alloc::boxed::Box<F,A> as
/// core::ops::function::FnOnce<Args>>::call_once` -> `Box::call_once`.
fn short_name(frame: &NativeFrame) -> String {
    let Some(name) = frame.function.as_deref() else {
        return "?".into();
    };
    let segments: Vec<String> = split_top_level(name)
        .into_iter()
        .enumerate()
        .map(|(i, segment)| match segment.strip_prefix('<') {
            // `<Type as Trait>::f` or `<Type>::f`: the type's last segment.
            Some(inner) if i == 0 => {
                let inner = inner.strip_suffix('>').unwrap_or(inner);
                let ty = split_as(inner);
                let last = split_top_level(ty).pop().unwrap_or(ty);
                strip_generics(last)
            }
            // A turbofish, `f::<T>`: dropped with the other generics.
            _ => strip_generics(segment),
        })
        .map(|s| s.replace("{{vtable.shim}}", ""))
        .filter(|s| !s.is_empty())
        .collect();
    // `f::{{closure}}::{{closure}}`: name `f`, and say it is a closure.
    let is_closure = |s: &String| s == "{{closure}}" || s.starts_with("{closure#");
    let named = segments
        .iter()
        .rposition(|s| !is_closure(s))
        .map_or(0, |last| last + 1);
    let from = named.saturating_sub(2);
    let mut short = segments[from..named].join("::");
    if named < segments.len() {
        short.push_str("::{{closure}}");
    }
    short
}

/// Splits at `::` outside of `<...>` (the `>` of `->` closes nothing).
fn split_top_level(name: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0i32, 0);
    let bytes = name.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'<' => depth += 1,
            b'>' if i == 0 || bytes[i - 1] != b'-' => depth -= 1,
            b':' if depth == 0 && bytes.get(i + 1) == Some(&b':') => {
                parts.push(&name[start..i]);
                i += 2;
                start = i;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    parts.push(&name[start..]);
    parts
}

/// The type of `Type as Trait` (outside of `<...>`).
fn split_as(inner: &str) -> &str {
    let mut depth = 0i32;
    for (i, c) in inner.char_indices() {
        match c {
            '<' => depth += 1,
            '>' if !inner[..i].ends_with('-') => depth -= 1,
            ' ' if depth == 0 && inner[i..].starts_with(" as ") => return &inner[..i],
            _ => {}
        }
    }
    inner
}

fn strip_generics(segment: &str) -> String {
    let mut out = String::with_capacity(segment.len());
    let mut depth = 0i32;
    let mut previous = ' ';
    for c in segment.chars() {
        let arrow = previous == '-';
        previous = c;
        match c {
            '<' => depth += 1,
            '>' if !arrow => depth -= 1,
            _ if depth == 0 => out.push(c),
            _ => {}
        }
    }
    out
}

/// Where a fold is: which side of it is user code.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Side {
    /// Innermost frames, called by user code: name the outermost ones.
    Inner,
    /// Between user frames.
    Middle,
    /// Outermost frames (thread start, executor), calling user code: name
    /// the innermost ones.
    Outer,
    /// No user frame at all.
    All,
}

/// One line for a run of non-user frames.
fn write_fold(f: &mut Formatter<'_>, run: &[NativeFrame], side: Side) -> fmt::Result {
    // std first, then dependencies, this runtime, the C library.
    let mut crates: Vec<(Origin, String)> = Vec::new();
    for frame in run.iter().rev() {
        let krate = (frame.origin, crate_of(frame));
        if !crates.contains(&krate) {
            crates.push(krate);
        }
    }
    let rank = |origin: Origin| match origin {
        Origin::Std => 0,
        Origin::Dependency => 1,
        Origin::Runtime => 2,
        Origin::System | Origin::User => 3,
    };
    crates.sort_by_key(|(origin, _)| rank(*origin));
    let crates: Vec<String> = crates.into_iter().map(|(_, krate)| krate).collect();
    // In call order (outermost first), consecutive repeats merged (inlined
    // frames of one function).
    let mut names: Vec<String> = Vec::new();
    for frame in run.iter().rev() {
        let name = short_name(frame);
        if names.last() != Some(&name) {
            names.push(name);
        }
    }
    const SHOWN: usize = 3;
    let shown = if names.len() <= SHOWN {
        names.join(" -> ")
    } else {
        match side {
            Side::Inner => format!("{} -> ...", names[..SHOWN].join(" -> ")),
            Side::Outer => format!("... -> {}", names[names.len() - SHOWN..].join(" -> ")),
            Side::Middle | Side::All => format!(
                "{} -> {} -> ... -> {}",
                names[0],
                names[1],
                names[names.len() - 1]
            ),
        }
    };
    writeln!(
        f,
        "  ... {} frame{} in {}: {shown}",
        run.len(),
        if run.len() == 1 { "" } else { "s" },
        crates.join(", ")
    )
}

/// The frames of a native stack: user frames in full, the rest folded.
fn write_native(f: &mut Formatter<'_>, frames: &[NativeFrame], truncated: bool) -> fmt::Result {
    let user: Vec<usize> = frames
        .iter()
        .enumerate()
        .filter(|(_, frame)| frame.origin == Origin::User)
        .map(|(i, _)| i)
        .collect();
    let cwd = std::env::current_dir().ok();
    let (Some(&first), Some(&last)) = (user.first(), user.last()) else {
        if !frames.is_empty() {
            write_fold(f, frames, Side::All)?;
        }
        return write_truncated(f, truncated);
    };
    if first > 0 {
        write_fold(f, &frames[..first], Side::Inner)?;
    }
    let mut i = first;
    while i <= last {
        let frame = &frames[i];
        if frame.origin == Origin::User {
            write_user_frame(f, frame, cwd.as_deref())?;
            i += 1;
        } else {
            let end = (i..=last)
                .find(|&j| frames[j].origin == Origin::User)
                .unwrap_or(last + 1);
            write_fold(f, &frames[i..end], Side::Middle)?;
            i = end;
        }
    }
    if last + 1 < frames.len() {
        write_fold(f, &frames[last + 1..], Side::Outer)?;
    }
    write_truncated(f, truncated)
}

fn write_truncated(f: &mut Formatter<'_>, truncated: bool) -> fmt::Result {
    if truncated {
        writeln!(
            f,
            "  ... outer frames not captured (the stack is deeper than the capture copies)"
        )?;
    }
    Ok(())
}

fn write_user_frame(f: &mut Formatter<'_>, frame: &NativeFrame, cwd: Option<&Path>) -> fmt::Result {
    writeln!(f, "  {}", frame.function.as_deref().unwrap_or("?"))?;
    let Some(file) = frame.file.as_deref() else {
        return writeln!(
            f,
            "      ?  (no debug info: set `debug = \"line-tables-only\"` in the Cargo profile)"
        );
    };
    // Relative to the working directory, where that is shorter.
    let file = cwd
        .and_then(|cwd| Path::new(file).strip_prefix(cwd).ok())
        .and_then(Path::to_str)
        .unwrap_or(file);
    match frame.line {
        Some(line) => writeln!(f, "      {file}:{line}"),
        None => writeln!(f, "      {file}"),
    }
}

impl Display for CallState {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            CallState::Running {
                thread,
                name: Some(name),
            } => write!(f, "running on thread '{name}' (tid {thread})"),
            CallState::Running { thread, name: None } => {
                write!(f, "running on thread {thread}")
            }
            CallState::Waiting => f.write_str("waiting"),
        }
    }
}

/// The logical stack, in aligned columns.
fn write_logical(f: &mut Formatter<'_>, stack: &[LogicalFrame]) -> fmt::Result {
    // `src/x.rs:17 awaiting (defined at :14)` for a call parked at an
    // `.await`, else `src/x.rs:14`.
    let place = |frame: &LogicalFrame| match frame.awaiting {
        Some(at) => format!(
            "{}:{} awaiting (defined at :{})",
            frame.file, at.line, frame.line
        ),
        None => format!("{}:{}", frame.file, frame.line),
    };
    let function_width = stack.iter().map(|s| s.function.len()).max().unwrap_or(0);
    let place_width = stack.iter().map(|s| place(s).len()).max().unwrap_or(0);
    for frame in stack {
        write!(
            f,
            "  {:function_width$}  {:place_width$}  {}",
            frame.function,
            place(frame),
            human(frame.elapsed),
        )?;
        match (frame.overdue, frame.report_after) {
            (true, Some(limit)) => writeln!(f, "  overdue (limit {})", human(limit))?,
            (true, None) => writeln!(f, "  overdue")?,
            _ => writeln!(f)?,
        }
    }
    Ok(())
}

impl Display for CallDump {
    /// One block: the call's id, state and age; its logical stack; the
    /// native stack of its thread.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "call {} [{}, {}]:",
            self.id,
            self.state,
            human(self.elapsed)
        )?;
        if !self.folded.is_empty() {
            const NAMED: usize = 8;
            let n = self.folded.len();
            write!(
                f,
                "and {n} more call{} stuck at the same place:",
                if n == 1 { "" } else { "s" }
            )?;
            for id in self.folded.iter().take(NAMED) {
                write!(f, " {id}")?;
            }
            if n > NAMED {
                write!(f, " ...")?;
            }
            writeln!(f)?;
        }
        write_logical(f, &self.stack)?;
        if let Some(points) = &self.await_points {
            writeln!(f, "await points (tokio task dump):")?;
            for line in points.lines() {
                writeln!(f, "  {line}")?;
            }
        }
        match (&self.native, self.state.thread()) {
            (Some(NativeStack::Captured { frames, truncated }), Some(tid)) => {
                writeln!(f, "native stack of thread {tid}, innermost first:")?;
                write_native(f, frames, *truncated)
            }
            (Some(NativeStack::Captured { frames, truncated }), None) => {
                writeln!(f, "native stack, innermost first:")?;
                write_native(f, frames, *truncated)
            }
            (Some(NativeStack::Unavailable { error }), _) => {
                writeln!(f, "native stack unavailable: {error}")
            }
            (None, _) => Ok(()),
        }
    }
}

impl DumpReason {
    /// The lines that say why the dump was taken (none if requested).
    pub(crate) fn write_lines(&self, f: &mut impl fmt::Write) -> fmt::Result {
        match self {
            DumpReason::Requested => Ok(()),
            DumpReason::Overdue { calls } => {
                for call in calls {
                    writeln!(
                        f,
                        "call {} of {} ({}:{}) has not returned after {}",
                        call.id,
                        call.function,
                        call.file,
                        call.line,
                        human(call.limit)
                    )?;
                }
                Ok(())
            }
            DumpReason::Stall { stalled_for } => writeln!(
                f,
                "stall: no call has returned for {} while calls are in flight",
                human(*stalled_for)
            ),
            DumpReason::StalledWorker {
                worker,
                silent_for,
                thread,
                native,
            } => {
                write!(
                    f,
                    "worker {worker} stalled: no heartbeat for {}",
                    human(*silent_for)
                )?;
                match thread {
                    Some(tid) => writeln!(f, " (thread {tid})")?,
                    None => writeln!(f)?,
                }
                match native {
                    Some(NativeStack::Captured { frames, truncated }) => {
                        write!(f, "{}", NativeBlock(frames, *truncated))
                    }
                    Some(NativeStack::Unavailable { error }) => {
                        writeln!(f, "    native stack unavailable: {error}")
                    }
                    None => Ok(()),
                }
            }
            DumpReason::BlockedPoll { polls } => {
                for poll in polls {
                    writeln!(
                        f,
                        "call {} of {} ({}:{}) has blocked thread {} in a single poll for {} \
                         (threshold {}): no timeout can interrupt blocking code in an async \
                         function; move it to `tokio::task::spawn_blocking` or a sync \
                         `#[monitored]` function",
                        poll.id,
                        poll.function,
                        poll.file,
                        poll.line,
                        poll.thread,
                        human(poll.blocked_for),
                        human(poll.threshold),
                    )?;
                }
                Ok(())
            }
            DumpReason::Deadlock(deadlock) => writeln!(f, "{deadlock}"),
            DumpReason::LockOrder(inversion) => writeln!(f, "{inversion}"),
            DumpReason::Drain {
                grace,
                before_deadline,
                calls,
            } => {
                writeln!(
                    f,
                    "drain: {} call{} still in flight {} before the end of the {} grace period; \
                     the process will not wait for {}:",
                    calls.len(),
                    if calls.len() == 1 { "" } else { "s" },
                    human(*before_deadline),
                    human(*grace),
                    if calls.len() == 1 { "it" } else { "them" },
                )?;
                for call in calls {
                    writeln!(f, "  {call}")?;
                }
                Ok(())
            }
            DumpReason::Leak(leak) => {
                writeln!(f, "{leak}")?;
                for call in &leak.oldest {
                    writeln!(f, "  oldest: {call}")?;
                }
                Ok(())
            }
            DumpReason::Signal { signal } => writeln!(
                f,
                "{} received: a dump of every thread; the process runs on",
                signal_name(*signal)
            ),
            DumpReason::Panic {
                message,
                location,
                thread,
            } => {
                write!(f, "panic")?;
                if let Some(thread) = thread {
                    write!(f, " on thread '{thread}'")?;
                }
                if let Some(location) = location {
                    write!(f, " at {location}")?;
                }
                match message {
                    Some(message) => writeln!(f, ": {message}"),
                    None => writeln!(f),
                }
            }
        }
    }
}

impl ThreadDump {
    /// `thread 'name' (tid 4242) [sleeping]`.
    fn write_title(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "thread '{name}' (tid {})", self.thread)?,
            None => write!(f, "thread {}", self.thread)?,
        }
        write!(f, " [{}]", self.state)
    }
}

impl Display for ThreadDump {
    /// A title line, then the native stack (user frames in full, the rest
    /// folded), or why there is none. A thread that runs calls names them
    /// instead: its stack is written under them.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.write_title(f)?;
        if let Some((first, rest)) = self.calls.split_first() {
            write!(f, ": runs call {first}")?;
            for id in rest {
                write!(f, ", {id}")?;
            }
            return writeln!(f, " (its native stack is under the call)");
        }
        match &self.native {
            Some(NativeStack::Captured { frames, truncated }) => {
                writeln!(f, ":")?;
                write_native(f, frames, *truncated)
            }
            Some(NativeStack::Unavailable { error }) => {
                writeln!(f, ": native stack unavailable: {error}")
            }
            None => writeln!(f),
        }
    }
}

/// The threads' part of a dump's text (`threads.rs`).
fn write_threads(f: &mut Formatter<'_>, threads: &[ThreadDump]) -> fmt::Result {
    if threads.is_empty() {
        return Ok(());
    }
    writeln!(f, "\nthreads ({}):", threads.len())?;
    for thread in threads {
        writeln!(f)?;
        thread.fmt(f)?;
    }
    Ok(())
}

/// `SIGQUIT` for 3; `signal 12` for a signal without a name here.
fn signal_name(signal: i32) -> String {
    match signal {
        3 => "SIGQUIT".into(),
        signal => format!("signal {signal}"),
    }
}

/// A native stack, as the dump writes it under a call.
struct NativeBlock<'a>(&'a [NativeFrame], bool);

impl Display for NativeBlock<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write_native(f, self.0, self.1)
    }
}

impl Dump {
    /// The first line of the text.
    pub(crate) fn header(&self) -> String {
        let mut header = format!(
            "monitor dump at {}: {} call{} in flight, {} stack{}",
            rfc3339(self.taken_at),
            self.in_flight,
            if self.in_flight == 1 { "" } else { "s" },
            self.calls.len(),
            if self.calls.len() == 1 { "" } else { "s" },
        );
        if !self.threads.is_empty() {
            let n = self.threads.len();
            let _ = write!(header, ", {n} thread{}", if n == 1 { "" } else { "s" });
        }
        if let DumpReason::Requested = self.reason {
        } else {
            header.push('\n');
            let _ = self.reason.write_lines(&mut header);
            header.pop();
        }
        let omitted = &self.omitted;
        if omitted.stacks_shown_before > 0 {
            let n = omitted.stacks_shown_before;
            let _ = write!(
                header,
                "\n{n} other stack{} in flight not shown again (a report shortly before showed the \
                 calls then in flight; only the calls this report is about are shown)",
                if n == 1 { "" } else { "s" }
            );
        }
        if omitted.reports_merged > 0 {
            let n = omitted.reports_merged;
            let _ = write!(
                header,
                "\n{n} report{} of this kind held back by the rate limit (one a second) and \
                 merged into this one",
                if n == 1 { "" } else { "s" }
            );
        }
        if omitted.overdue_calls > 0 || omitted.dumps > 0 {
            let _ = write!(
                header,
                "\nleft out since the last report: {} overdue call{} not named, {} dump{} dropped \
                 (the dump queue was full or the sink was stuck)",
                omitted.overdue_calls,
                if omitted.overdue_calls == 1 { "" } else { "s" },
                omitted.dumps,
                if omitted.dumps == 1 { "" } else { "s" },
            );
        }
        header
    }
}

impl Display for Dump {
    /// Go's layout: a header, then one block per stack, separated by blank
    /// lines.
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        writeln!(f, "{}", self.header())?;
        for call in &self.calls {
            writeln!(f)?;
            call.fmt(f)?;
        }
        write_threads(f, &self.threads)?;
        if !self.lock_waits.is_empty() {
            writeln!(f, "\nlock waits ({}):", self.lock_waits.len())?;
            for wait in &self.lock_waits {
                writeln!(f, "  {wait}")?;
            }
        }
        Ok(())
    }
}

/// Writes `value` into a `String` (for sinks that write the text at once).
pub(super) fn text(value: &impl Display) -> String {
    let mut text = String::new();
    let _ = write!(text, "{value}");
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::native::Frame;

    fn frame(function: &str, file: Option<&str>) -> NativeFrame {
        NativeFrame::from_frame(
            Frame {
                ip: 0,
                function: Some(function.into()),
                file: file.map(Into::into),
                line: Some(1),
            },
            &["app"],
        )
    }

    #[test]
    fn dates() {
        use std::time::Duration;
        let at = |secs| rfc3339(SystemTime::UNIX_EPOCH + Duration::from_secs(secs));
        assert_eq!(at(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00.000Z");
        assert_eq!(at(1_700_000_000), "2023-11-14T22:13:20.000Z");
    }

    #[test]
    fn fold_crates() {
        let tokio = frame(
            "tokio::runtime::park::Inner::park",
            Some("/home/u/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/tokio-1.38.0/src/runtime/park.rs"),
        );
        assert_eq!(crate_of(&tokio), "tokio");
        // Without debug info: by the function's crate.
        let tokio = frame("tokio::runtime::park::Inner::park", None);
        assert_eq!(crate_of(&tokio), "tokio");
    }

    #[test]
    fn short_names() {
        let name = |n| short_name(&frame(n, None));
        assert_eq!(
            name("std::sys::sync::mutex::futex::Mutex::lock_contended"),
            "Mutex::lock_contended"
        );
        assert_eq!(
            name("<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once"),
            "Box::call_once"
        );
        assert_eq!(
            name("std::sync::poison::mutex::Mutex<T>::lock"),
            "Mutex::lock"
        );
        assert_eq!(name("syscall"), "syscall");
        assert_eq!(
            name("std::sys::backtrace::__rust_end_short_backtrace::<std::panicking::panic_handler::{closure#0}, !>"),
            "backtrace::__rust_end_short_backtrace"
        );
        assert_eq!(
            name("std::panicking::panic_handler::{closure#0}"),
            "panicking::panic_handler::{{closure}}"
        );
        assert_eq!(
            name("<std::sys::thread::unix::Thread>::new::thread_start"),
            "new::thread_start"
        );
        assert_eq!(
            name("core::ops::function::FnOnce::call_once{{vtable.shim}}"),
            "FnOnce::call_once"
        );
        assert_eq!(
            name("<fn() -> core::result::Result<(), alloc::string::String> as core::ops::function::FnOnce<()>>::call_once"),
            "Result::call_once"
        );
        assert_eq!(
            name("std::thread::Builder::spawn_unchecked_::{{closure}}::{{closure}}"),
            "Builder::spawn_unchecked_::{{closure}}"
        );
    }
}
