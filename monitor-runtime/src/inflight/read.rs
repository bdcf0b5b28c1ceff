//! The reading side of the table of calls in flight: consistent copies of
//! records (the seqlock's reader), and the walks the watchdog, the dump,
//! the drain and the leak watch make over them.

use std::collections::HashMap;
use std::sync::atomic::{fence, Ordering};
use std::time::Duration;

use super::record::{poll_began, unpack_at, POLL_REPORTED, REPORTED};
use super::{deadline, Arena, CallSite, Record, ARENAS};
use crate::clock;

/// A consistent copy of one record.
#[derive(Clone, Debug)]
pub(crate) struct Snapshot {
    pub(crate) id: CallId,
    pub(crate) site: &'static CallSite,
    pub(crate) started_ns: u64,
    pub(crate) thread: i32,
    pub(crate) parent: Option<CallId>,
    /// The parent's index in the [`snapshot`] this came from (found by its
    /// record and state, not by its id, which repeats after 2^31 calls of
    /// a thread).
    pub(crate) parent_at: Option<usize>,
    pub(crate) deadline_ns: u64,
    pub(crate) reported: bool,
    /// The tokio task of the call, if known (see `Record::task`).
    pub(crate) task: u64,
    /// The `.await` it is parked at: `(line, column)` in its site's file.
    pub(crate) awaiting: Option<(u32, u32)>,
    /// Its poll in progress, stamped at its start ([`super::poll_stamp`]);
    /// 0 outside a poll.
    polled_since: u32,
    /// Its sequence word as read, for marking it reported.
    seq_word: u32,
    key: (usize, u32),
    parent_key: Option<(usize, u32)>,
}

/// A call still in flight when a drain ends, or is about to
/// ([`DrainReport::left`](crate::DrainReport::left)); also one of the
/// oldest calls of a leaking function ([`Leak::oldest`](crate::leak::Leak::oldest)).
///
/// ```
/// let report = monitor_runtime::drain::DrainReport::default();
/// assert!(report.left.is_empty());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[non_exhaustive]
pub struct Straggler {
    /// The call.
    pub id: CallId,
    /// Its function.
    pub function: &'static str,
    /// The function's file.
    pub file: &'static str,
    /// The function's line.
    pub line: u32,
    /// How long it had run.
    #[serde(serialize_with = "crate::format::seconds")]
    pub elapsed: Duration,
}

impl Straggler {
    pub(crate) fn of(call: &Snapshot, now_ns: u64) -> Self {
        Straggler {
            id: call.id,
            function: call.site.function,
            file: call.site.file,
            line: call.site.line,
            elapsed: Duration::from_nanos(now_ns.saturating_sub(call.started_ns)),
        }
    }
}

impl std::fmt::Display for Straggler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "call {} of {} ({}:{}), running for {}",
            self.id,
            self.function,
            self.file,
            self.line,
            crate::format::human(self.elapsed)
        )
    }
}

/// A call's id: its thread arena and its number there.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId {
    /// The arena (one per thread that has made annotated calls).
    pub arena: u32,
    /// The call's number in that arena: its low 31 bits (a thread's
    /// numbers start again after 2^31 calls).
    pub seq: u64,
}

impl std::fmt::Display for CallId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.arena, self.seq)
    }
}

fn read(record: &'static Record) -> Option<Snapshot> {
    let state = record.state.load(Ordering::Acquire);
    if state & 1 == 0 {
        return None;
    }
    let site = record.site.load(Ordering::Relaxed);
    let started_ns = record.started.load(Ordering::Relaxed);
    let thread = record.thread.load(Ordering::Relaxed);
    let parent = record.parent.load(Ordering::Relaxed);
    let parent_state = record.parent_state.load(Ordering::Relaxed);
    let task = record.task.load(Ordering::Relaxed);
    let awaiting = record.awaiting.load(Ordering::Relaxed);
    let polled_since = record.polled_since.load(Ordering::Relaxed);
    let seq = record.seq.load(Ordering::Relaxed);
    fence(Ordering::Acquire);
    if record.state.load(Ordering::Relaxed) != state || site.is_null() {
        return None;
    }
    // SAFETY: sites are statics.
    let site: &'static CallSite = unsafe { &*site };
    Some(Snapshot {
        id: CallId {
            arena: record.arena().id,
            seq: u64::from(seq & !REPORTED),
        },
        site,
        started_ns,
        thread,
        parent: None,
        parent_at: None,
        deadline_ns: deadline(site, started_ns),
        reported: seq & REPORTED != 0,
        task,
        // A call being polled is not parked anywhere.
        awaiting: (awaiting != 0 && thread == 0).then(|| unpack_at(awaiting)),
        polled_since,
        seq_word: seq,
        key: (record as *const Record as usize, state),
        parent_key: (!parent.is_null()).then_some((parent as usize, parent_state)),
    })
}

/// Calls `f` on every record of every arena. Holds the arena list's lock
/// (which only a thread's first annotated call takes) and allocates
/// nothing.
fn for_each_record(mut f: impl FnMut(&'static Record)) {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    for arena in arenas.iter() {
        arena.records().for_each(&mut f);
    }
}

/// Calls `f` on every arena. Holds the arena list's lock, as
/// [`for_each_record`] does.
fn for_each_arena(mut f: impl FnMut(&'static Arena)) {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    for arena in arenas.iter() {
        f(arena);
    }
}

/// Every call in flight now, parents resolved, oldest first.
pub(crate) fn snapshot() -> Vec<Snapshot> {
    let mut calls = Vec::new();
    for_each_record(|record| calls.extend(read(record)));
    calls.sort_by_key(|c| (c.started_ns, c.id));
    let at: HashMap<(usize, u32), usize, KeyHash> =
        calls.iter().enumerate().map(|(i, c)| (c.key, i)).collect();
    for i in 0..calls.len() {
        let parent_at = calls[i].parent_key.and_then(|key| at.get(&key).copied());
        calls[i].parent_at = parent_at;
        calls[i].parent = parent_at.map(|p| calls[p].id);
    }
    calls
}

/// A fast hash for records' keys (FxHash's step): a dump hashes every call
/// in flight, and SipHash's resistance to chosen keys is not needed for
/// addresses and state words.
type KeyHash = std::hash::BuildHasherDefault<KeyHasher>;

#[derive(Default)]
struct KeyHasher(u64);

impl std::hash::Hasher for KeyHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            self.write_u64(u64::from(byte));
        }
    }

    fn write_u32(&mut self, word: u32) {
        self.write_u64(u64::from(word));
    }

    fn write_usize(&mut self, word: usize) {
        self.write_u64(word as u64);
    }

    fn write_u64(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x517c_c1b7_2722_0a95);
    }
}

/// Calls whose report deadline passed at `now_ns` and that are not yet
/// reported; each is marked reported, so it is returned once.
///
/// Reads only the arenas whose hint ([`Arena::next_due`]) has come: with
/// many calls in flight and none overdue, a tick reads one word per thread,
/// not every record.
pub(crate) fn due(now_ns: u64) -> Vec<Snapshot> {
    let mut due = Vec::new();
    let mut look: Vec<&'static Arena> = Vec::new();
    for_each_arena(|arena| {
        if arena.next_due.load(Ordering::Relaxed) <= now_ns {
            arena.next_due.store(u64::MAX, Ordering::SeqCst);
            look.push(arena);
        }
    });
    if look.is_empty() {
        return due;
    }
    // Pairs with the light fence in `begin` between publishing a call and
    // reading the hint: a call that read the hint before the reset above
    // is seen by the reads below.
    crate::fence::heavy();
    // Taken for the first call past its deadline as counted from the
    // coarse reading at its start.
    let mut history = None;
    for arena in look {
        let mut next = u64::MAX;
        for record in arena.records() {
            if record.state.load(Ordering::Relaxed) & 1 == 0
                || record.seq.load(Ordering::Relaxed) & REPORTED != 0
            {
                continue;
            }
            // SAFETY: sites are statics.
            let Some(site) = (unsafe { record.site.load(Ordering::Relaxed).as_ref() }) else {
                continue;
            };
            let started = record.started.load(Ordering::Relaxed);
            let deadline = deadline(site, started);
            if deadline == 0 {
                continue;
            }
            // That deadline allows the coarse reading at the call's start
            // a tick of lag; a watchdog scheduled late can make it lag
            // more: counted from the latest that reading can have been
            // taken, the report is never early.
            let deadline = if deadline > now_ns {
                deadline
            } else {
                let history = history.get_or_insert_with(clock::history);
                match history.read_by(started..started + 1) {
                    // Still the clock's reading (it cannot be, a tick past
                    // the deadline): look again at the next tick.
                    u64::MAX => now_ns + clock::TICK.as_nanos() as u64,
                    by => by.saturating_add(site.report_ns - clock::TICK.as_nanos() as u64),
                }
            };
            if deadline > now_ns {
                next = next.min(deadline);
                continue;
            }
            // Marked reported only if still the call read: the sequence
            // word is the call's own.
            if let Some(call) = read(record)
                && call.deadline_ns != 0
                && call.started_ns == started
                && std::ptr::eq(call.site, site)
                && !call.reported
                && record
                    .seq
                    .compare_exchange(
                        call.seq_word,
                        call.seq_word | REPORTED,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    )
                    .is_ok()
            {
                due.push(call);
            } else {
                // Changed while read: look again next time.
                next = next.min(deadline);
            }
        }
        arena.next_due.fetch_min(next, Ordering::Relaxed);
    }
    due
}

/// Fires the timeouts of pending async calls that passed at `now_ns`
/// (precise nanoseconds): their wakers go to `wake`. Returns the earliest
/// timeout still armed, as far as the arenas' hints tell (`u64::MAX`: none).
///
/// Reads only the arenas whose hint ([`Arena::next_timeout`]) has come, as
/// [`due`] does: with many calls pending and none timing out, a tick reads
/// one word per thread.
pub(crate) fn fire_timeouts(now_ns: u64, wake: &mut Vec<std::task::Waker>) -> u64 {
    let mut next = u64::MAX;
    let mut look: Vec<&'static Arena> = Vec::new();
    for_each_arena(|arena| {
        let hint = arena.next_timeout.load(Ordering::Relaxed);
        if hint <= now_ns {
            arena.next_timeout.store(u64::MAX, Ordering::SeqCst);
            look.push(arena);
        } else {
            next = next.min(hint);
        }
    });
    if look.is_empty() {
        return next;
    }
    // Pairs with the light fence in `arm` between storing a timeout and
    // reading the hint: a call that read the hint before the reset above
    // is seen by the reads below.
    crate::fence::heavy();
    for arena in look {
        let mut later = u64::MAX;
        for cell in arena.timer_cells() {
            match cell.fire(now_ns) {
                Ok(waker) => wake.extend(waker),
                Err(at) => later = later.min(at),
            }
        }
        arena.next_timeout.fetch_min(later, Ordering::Relaxed);
        next = next.min(arena.next_timeout.load(Ordering::Relaxed));
    }
    next
}

/// A poll found blocking its thread: the call, and the threshold its
/// poll ran past.
pub(crate) struct Blocked {
    pub(crate) call: Snapshot,
    pub(crate) threshold: Duration,
    /// How long the poll had run when found (at least).
    pub(crate) blocked_for: Duration,
}

/// Async calls whose poll in progress has run longer than its threshold
/// (`block_after`, or the call's timeout if that is shorter), as of
/// `now_ns`; of the nested polls on one thread, only the innermost that
/// ran past its threshold (the others are blocked by it). Each poll is
/// returned once. Read-only but for that mark.
pub(crate) fn blocked(now_ns: u64, block_after: Duration) -> Vec<Blocked> {
    // A poll is timed from the latest its coarse reading can have been
    // taken, however late the watchdog replaced it: never overstated.
    let history = clock::history();
    let ran = |stamp: u32| {
        poll_began(stamp, now_ns).map_or(0, |began| now_ns.saturating_sub(history.read_by(began)))
    };
    let mut found: Vec<(&'static Record, Blocked)> = Vec::new();
    // Only the polls in progress: each thread's chain, innermost first
    // (`Arena::polling`, then `Record::outer`), not every record; a poll
    // missed this tick through a stale link is found at the next.
    for_each_arena(|arena| {
        for this in chain(arena.polling.load(Ordering::Relaxed)) {
            let since = this.polled_since.load(Ordering::Relaxed);
            if since == 0 || ran(since) == 0 {
                continue;
            }
            let Some(call) = read(this) else { continue };
            let threshold = call
                .site
                .timeout
                .map_or(block_after, |t| t.min(block_after));
            if call.polled_since == 0 || call.thread == 0 {
                continue;
            }
            let ran = ran(call.polled_since);
            if ran > threshold.as_nanos() as u64 {
                // The innermost poll of this thread past its threshold:
                // the polls around it are blocked by it, and counted
                // through it: marked as reported, so that none of them
                // counts again when this call ends inside it (the same
                // poll of the same task).
                let blocked_for = Duration::from_nanos(ran);
                found.push((
                    this,
                    Blocked {
                        call,
                        threshold,
                        blocked_for,
                    },
                ));
                mark_outer_reported(this.outer.load(Ordering::Relaxed));
                break;
            }
        }
    });
    found
        .into_iter()
        .filter(|(record, blocked)| mark_reported(record, blocked.call.polled_since))
        .map(|(_, blocked)| blocked)
        .collect()
}

/// Marks the polls in progress from `record` outwards as reported: they
/// are blocked by a poll inside them that is.
fn mark_outer_reported(record: *mut Record) {
    for this in chain(record) {
        let since = this.polled_since.load(Ordering::Relaxed);
        if since != 0 {
            mark_reported(this, since);
        }
    }
}

/// Marks the poll stamped `since` as reported, if it is still in progress
/// and was not yet: whether this did.
fn mark_reported(record: &Record, since: u32) -> bool {
    since & POLL_REPORTED == 0
        && record
            .polled_since
            .compare_exchange(
                since,
                since | POLL_REPORTED,
                Ordering::Relaxed,
                Ordering::Relaxed,
            )
            .is_ok()
}

/// A thread's chain of polls in progress from `record` outwards (through
/// `Record::outer`), at most [`MAX_CHAIN`] links. The chain is read while
/// its thread moves on, so a link may be stale: each record is read as any
/// other.
fn chain(mut record: *mut Record) -> impl Iterator<Item = &'static Record> {
    std::iter::from_fn(move || {
        // SAFETY: records are leaked, never freed.
        let this: &'static Record = unsafe { record.as_ref() }?;
        record = this.outer.load(Ordering::Relaxed);
        Some(this)
    })
    .take(MAX_CHAIN)
}

/// How many links of a thread's chain of polls [`blocked`] follows at
/// most (deeper nesting is not a realistic program; a stale link could
/// otherwise lead round a cycle).
const MAX_CHAIN: usize = 1024;

/// Calls `f` with the address and state word (`generation << 1 | in_use`)
/// of every record, free or not. Read-only: the stall detector compares
/// two walks to learn whether any call ended in between, without a shared
/// write on the calls' path.
pub(crate) fn for_each_state(mut f: impl FnMut(usize, u32)) {
    for_each_record(|record| {
        f(
            record as *const Record as usize,
            record.state.load(Ordering::Acquire),
        )
    });
}

/// Whether, between two reads of a record's state word that saw `old` and
/// then `new`, some call on that record ended: `begin` turns a free `s`
/// into `s + 3` (in use, next generation) and `end` turns that into
/// `s + 2`. For the stall detector, which compares [`for_each_state`]
/// walks.
pub(crate) fn ended_between(old: u32, new: u32) -> bool {
    if old & 1 == 1 {
        new != old
    } else {
        new != old && new != old.wrapping_add(3)
    }
}

/// Whether a call with a report deadline (`#[stack_on_timeout]`) is in
/// flight, reported or not. Read-only but for the arenas' flags.
pub(crate) fn any_reportable() -> bool {
    fn found(arena: &'static Arena) -> bool {
        arena.records().any(|record| {
            record.state.load(Ordering::Relaxed) & 1 == 1
                // SAFETY: sites are statics.
                && unsafe { record.site.load(Ordering::Relaxed).as_ref() }
                    .is_some_and(|site| site.report_ns != 0)
        })
    }
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    // Only the arenas whose flag is set are read, up to the first such
    // call. One that has none any more has its flag cleared (then, as for
    // `due`'s hint: a heavy fence and a second look, against a call that
    // set the flag before it was cleared), so it is not read again until
    // such a call begins there.
    for arena in arenas.iter() {
        if !arena.reportable.load(Ordering::Relaxed) {
            continue;
        }
        if found(arena) {
            return true;
        }
        arena.reportable.store(false, Ordering::SeqCst);
        crate::fence::heavy();
        if found(arena) {
            arena.reportable.store(true, Ordering::Relaxed);
            return true;
        }
    }
    false
}

/// How many calls are in flight now. Read-only.
pub(crate) fn count_in_flight() -> usize {
    let mut n = 0;
    for_each_record(|record| n += (record.state.load(Ordering::Acquire) & 1) as usize);
    n
}

/// Whether any call is in flight. Read-only; stops at the first call
/// found, so with calls in flight it reads a few records, not all of them.
pub(crate) fn any_in_flight() -> bool {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    arenas.iter().any(|arena| {
        arena
            .records()
            .any(|record| record.state.load(Ordering::Relaxed) & 1 == 1)
    })
}

/// Whether a poll of an async call is in progress on any thread: one word
/// per thread ([`Arena::polling`]). Read-only. The watchdog keeps the
/// coarse clock while polls run; it stops it only after this said no
/// after the clock's stop and a heavy fence (see `AsyncCall::poll_scope`).
pub(crate) fn any_polling() -> bool {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    arenas
        .iter()
        .any(|arena| !arena.polling.load(Ordering::Relaxed).is_null())
}

/// No call in flight comes due for its report before this (coarse
/// nanoseconds; `u64::MAX`: none), as far as the arenas' hints tell:
/// early, never late. One word per thread.
pub(crate) fn next_due() -> u64 {
    let arenas = ARENAS.lock().unwrap_or_else(|e| e.into_inner());
    arenas
        .iter()
        .map(|arena| arena.next_due.load(Ordering::Relaxed))
        .min()
        .unwrap_or(u64::MAX)
}
