//! The lock-order check: every blocking or awaiting acquisition made
//! while the thread or task holds other locks of this module adds the
//! edges "held → taken" to one process-wide graph of lock numbers
//! (`LockState::order_id`, never reused). An edge that closes a cycle is
//! a [`LockOrderInversion`], reported once per distinct cycle.
//!
//! Cost, with the check on: a pair seen before is found in a small cache
//! in the thread's local storage (no lock, no walk); the graph's mutex is
//! taken, and the graph walked, only the first time a thread sees a pair
//! (a pair already in the graph is then a lookup there). The held set is
//! read from thread-local storage (std locks) or from the task's record,
//! which the thread's cache finds without a lookup (tokio locks; see
//! `held/`). With the check off, one relaxed load per acquisition.

use std::cell::Cell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::panic::Location;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

use super::graph::LockState;
use super::held::{self, Entry};
use super::holder::label;
use super::inversion::{LockOrderInversion, OrderEdge};
use super::report::{waiter, CodeSite, LockSite};

static CHECKING: AtomicBool = AtomicBool::new(cfg!(debug_assertions));

/// Turns the lock-order check on or off, for every lock of this module,
/// at any time. On by default in debug builds (`debug_assertions`), off
/// in release builds. With the feature `plain-locks` there is nothing to
/// check, and it stays off.
///
/// While it is on, each blocking or awaiting acquisition (`lock`, `read`,
/// `write`, their `_owned`, `_checked` and `blocking_` forms; not the
/// `try_` ones, which cannot wait) made while the thread or task holds
/// other locks of this module records that those were taken first. An
/// acquisition that closes a cycle of such orders (`a` then `b` here, `b`
/// then `a` there) is reported at once, before it waits, as a
/// [`LockOrderInversion`], once per distinct cycle: in
/// [`lock_order_inversions`], on the debug page, and as a dump
/// ([`DumpReason::LockOrder`](crate::dump::DumpReason::LockOrder)) to the
/// sink set with [`set_dump_sink`](crate::dump::set_dump_sink), one dump
/// per kind of cycle (the same lock names, places in the code and thread
/// names, none for tasks: other locks inverted by the same code are one
/// bug). The
/// [`DeadlockPolicy`](crate::sync::DeadlockPolicy) applies: under
/// `Panic`, the acquisition that closed the cycle panics once it has the
/// lock (its guard unwinds; a deadlock it closes is reported first).
/// Locks taken while the check is off are not seen.
///
/// ```
/// use monitor_runtime::sync::{lock_order_checking, set_lock_order_checking};
///
/// set_lock_order_checking(false);
/// assert!(!lock_order_checking());
/// set_lock_order_checking(true);
/// assert_eq!(lock_order_checking(), !cfg!(feature = "plain-locks"));
/// ```
pub fn set_lock_order_checking(on: bool) {
    CHECKING.store(on, Ordering::Relaxed);
}

/// Whether the lock-order check is on (see [`set_lock_order_checking`]).
///
/// ```
/// let _ = monitor_runtime::sync::lock_order_checking();
/// ```
#[inline]
pub fn lock_order_checking() -> bool {
    // No bookkeeping with `plain-locks` (as `acquire::TRACK`).
    !cfg!(feature = "plain-locks") && CHECKING.load(Ordering::Relaxed)
}

/// How many distinct lock-order cycles were reported since the process
/// started.
///
/// ```
/// let before = monitor_runtime::sync::lock_order_inversion_count();
/// assert!(monitor_runtime::sync::lock_order_inversion_count() >= before);
/// ```
pub fn lock_order_inversion_count() -> u64 {
    REPORTED.load(Ordering::Relaxed)
}

/// The lock-order inversions reported so far, oldest first (the last 64
/// of them).
///
/// ```
/// for inversion in monitor_runtime::sync::lock_order_inversions() {
///     println!("{inversion}");
/// }
/// ```
pub fn lock_order_inversions() -> Vec<LockOrderInversion> {
    KEPT.lock()
        .unwrap_or_else(|e| e.into_inner())
        .iter()
        .cloned()
        .collect()
}

static REPORTED: AtomicU64 = AtomicU64::new(0);
static KEPT: Mutex<VecDeque<LockOrderInversion>> = Mutex::new(VecDeque::new());

/// How many reports [`lock_order_inversions`] keeps.
const KEPT_LEN: usize = 64;

/// Pairs this thread has seen in the graph: a direct-mapped cache.
const CACHE: usize = 256;

thread_local! {
    static KNOWN: [Cell<(u64, u64)>; CACHE] = const { [const { Cell::new((0, 0)) }; CACHE] };
}

#[inline]
fn cache_slot(from: u64, to: u64) -> usize {
    // Lock numbers are small and consecutive: `to` in the high half, so
    // that one multiply spreads both over the top byte (the pairs of one
    // lock to its neighbours land 0x7f slots apart, not on one).
    let mixed = (from ^ to.rotate_left(32)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    (mixed >> 56) as usize % CACHE
}

#[inline]
fn known(from: u64, to: u64) -> bool {
    KNOWN
        .try_with(|known| known[cache_slot(from, to)].get() == (from, to))
        .unwrap_or(false)
}

fn remember(from: u64, to: u64) {
    let _ = KNOWN.try_with(|known| known[cache_slot(from, to)].set((from, to)));
}

/// `holder` (a thread or task) is about to take `lock` at `at` with a
/// blocking or awaiting acquisition: adds the edges from what it holds,
/// and returns the first new cycle they close. Nothing if the check is
/// off (one load, inline). The fast path: every pair "held → `lock`" is
/// in this thread's cache (or nothing is held), read from the thread's
/// stack and the task's record without a lock or a write.
#[inline(always)]
pub(crate) fn check(
    lock: &LockState,
    holder: u64,
    at: &'static Location<'static>,
) -> Option<Found> {
    if !lock_order_checking() {
        return None;
    }
    let no_std = held::none_on_thread();
    if no_std && !held::async_used() {
        return None;
    }
    let known = if no_std {
        known_task_pairs(lock.order_id(), holder)
    } else {
        known_pairs(lock, holder)
    };
    if known {
        return None;
    }
    check_held(lock, holder, at)
}

/// Whether a blocking acquisition of the std lock `lock` by this thread
/// (or its task) adds no edge to the order graph: every pair "held →
/// `lock`" is known (or nothing is held). Such an acquisition closes no
/// new cycle: the lock may take its fast path (with the check on). `me`:
/// the acquisition's `task_holder()`.
#[inline(always)]
pub(crate) fn known_std(lock: &LockState, me: u64) -> bool {
    nothing_held() || known_pairs(lock, me)
}

/// A tokio lock was taken by `holder` at `at` without a wait: whether
/// that is all on record, as one look at the task's record (the check
/// off: nothing to record; or no std lock held and every pair "held →
/// `lock`" known: no new cycle, and the entry pushed). `false`: nothing
/// was done, the caller checks ([`check`]) and pushes as after a wait.
#[inline(always)]
pub(crate) fn took_known_async(
    lock: &LockState,
    holder: u64,
    at: &'static Location<'static>,
) -> bool {
    if !lock_order_checking() {
        return true;
    }
    held::none_on_thread() && push_if_known(lock, holder, at)
}

/// [`took_known_async`] of a task that holds no std lock.
#[inline(never)]
fn push_if_known(lock: &LockState, task: u64, at: &'static Location<'static>) -> bool {
    let to = lock.order_id();
    held::push_async_if(lock, task, at, |from| from == to || known(from, to))
}

/// Whether the thread holds no std lock, and no tokio lock was ever
/// recorded: then there is no pair to check.
#[inline(always)]
fn nothing_held() -> bool {
    held::none_on_thread() && !held::async_used()
}

/// Whether every pair "held → `lock`" is in this thread's cache: the
/// std locks of the thread, and the tokio locks of `holder` (the
/// acquisition's `task_holder()`: the task, or the thread outside one).
#[inline(never)]
fn known_pairs(lock: &LockState, holder: u64) -> bool {
    let to = lock.order_id();
    let known_pair = |from: u64| from == to || known(from, to);
    held::all_of_thread(known_pair)
        && (!held::async_used() || held::all_of_holder(holder, known_pair))
}

/// [`known_pairs`] of a task that holds no std lock: its record alone.
/// A leaf, so that it saves no registers.
#[inline(never)]
fn known_task_pairs(to: u64, task: u64) -> bool {
    held::all_of_holder(task, |from| from == to || known(from, to))
}

/// A pair not in this thread's cache: each edge looked up in the graph,
/// added there if new.
#[cold]
#[inline(never)]
fn check_held(lock: &LockState, holder: u64, at: &'static Location<'static>) -> Option<Found> {
    let to = lock.order_id();
    let mut found = None;
    held::each_of_thread(|from| edge(from, lock, to, holder, at, &mut found));
    if held::async_used() {
        // Under the task's record's lock (`add_edge` takes the graph's
        // mutex, never a record's, and runs no user code).
        held::each_of_holder(holder, |from| edge(from, lock, to, holder, at, &mut found));
    }
    found
}

/// The edge `from → to`: a lookup in this thread's cache, else in the
/// graph (added there if new). The first cycle found goes to `found`.
/// `from` is marked a source: the graph has an edge from it, which its
/// release marks on the lock (a pair found in the cache was marked so
/// when it went in: lock numbers are never reused).
fn edge(
    from: &mut Entry,
    lock: &LockState,
    to: u64,
    holder: u64,
    at: &'static Location<'static>,
    found: &mut Option<Found>,
) {
    if from.id == to {
        return;
    }
    from.source = true;
    if known(from.id, to) {
        return;
    }
    let inversion = add_edge(from, lock, to, holder, at);
    remember(from.id, to);
    if found.is_none() {
        *found = inversion;
    }
}

/// An edge of the graph, as first seen.
struct Edge {
    to: u64,
    from_name: &'static str,
    from_at: &'static Location<'static>,
    to_name: &'static str,
    to_at: &'static Location<'static>,
    holder: u64,
    label: Option<Box<str>>,
}

/// A cycle's kind: each edge's thread name (none for a task) and its two
/// locks by name (empty if unnamed) and place in the code (`file`, line,
/// column), sorted. Cycles of other locks of one kind are one bug: an
/// inversion in a function that runs for every request, on each
/// request's own locks.
type Kind = Vec<(
    Option<Box<str>>,
    [(&'static str, &'static str, u32, u32); 2],
)>;

/// The graph: edges out of each lock, the locks with edges into each,
/// the cycles reported (as their sorted edges; of locks still alive),
/// and their kinds (as many as the code has places, whatever the locks).
struct Graph {
    out: BTreeMap<u64, Vec<Edge>>,
    into: BTreeMap<u64, Vec<u64>>,
    reported: BTreeSet<Vec<(u64, u64)>>,
    kinds: BTreeSet<Kind>,
}

static GRAPH: Mutex<Graph> = Mutex::new(Graph {
    out: BTreeMap::new(),
    into: BTreeMap::new(),
    reported: BTreeSet::new(),
    kinds: BTreeSet::new(),
});

/// A new cycle, closed by an acquisition.
pub(crate) struct Found {
    pub(crate) inversion: LockOrderInversion,
    /// No cycle of its [`Kind`] was found before: it is the one dumped,
    /// as lockdep reports a pair of lock classes once. The others are in
    /// [`lock_order_inversions`] and the count, and the policy applies to
    /// each.
    pub(crate) first_of_its_kind: bool,
}

/// Adds `from → to` if the graph does not have it; returns the cycle it
/// closes if that cycle was not reported before.
#[cold]
#[inline(never)]
fn add_edge(
    from: &Entry,
    lock: &LockState,
    to: u64,
    holder: u64,
    at: &'static Location<'static>,
) -> Option<Found> {
    let mut graph = GRAPH.lock().unwrap_or_else(|e| e.into_inner());
    if graph
        .out
        .get(&from.id)
        .is_some_and(|edges| edges.iter().any(|edge| edge.to == to))
    {
        return None;
    }
    lock.mark_ordered();
    let path = graph.path(to, from.id);
    graph.out.entry(from.id).or_default().push(Edge {
        to,
        from_name: from.name,
        from_at: from.at,
        to_name: lock.name,
        to_at: at,
        holder,
        label: label(holder),
    });
    graph.into.entry(to).or_default().push(from.id);
    let path = path?;
    let mut cycle: Vec<(u64, u64)> = std::iter::once((from.id, to)).chain(path).collect();
    let mut key = cycle.clone();
    key.sort_unstable();
    if !graph.reported.insert(key) {
        return None;
    }
    let place = |name, at: &'static Location<'static>| (name, at.file(), at.line(), at.column());
    let mut kind: Kind = Vec::with_capacity(cycle.len());
    let edges = cycle
        .drain(..)
        .filter_map(|(a, b)| {
            let edge = graph.out.get(&a)?.iter().find(|edge| edge.to == b)?;
            kind.push((
                edge.label.clone(),
                [
                    place(edge.from_name, edge.from_at),
                    place(edge.to_name, edge.to_at),
                ],
            ));
            Some(OrderEdge {
                by: waiter(edge.holder, edge.label.clone()),
                held: site(edge.from_name, a, edge.from_at),
                taken: site(edge.to_name, b, edge.to_at),
            })
        })
        .collect();
    kind.sort_unstable();
    let first_of_its_kind = graph.kinds.insert(kind);
    drop(graph);
    let inversion = LockOrderInversion { edges };
    REPORTED.fetch_add(1, Ordering::Relaxed);
    let mut kept = KEPT.lock().unwrap_or_else(|e| e.into_inner());
    if kept.len() == KEPT_LEN {
        kept.pop_front();
    }
    kept.push_back(inversion.clone());
    Some(Found {
        inversion,
        first_of_its_kind,
    })
}

fn site(name: &'static str, id: u64, at: &'static Location<'static>) -> LockSite {
    LockSite {
        lock: if name.is_empty() {
            format!("#{id}")
        } else {
            name.to_owned()
        },
        at: Some(CodeSite::from(at)),
    }
}

impl Graph {
    /// The shortest path of edges from `start` to `goal`, if any.
    fn path(&self, start: u64, goal: u64) -> Option<Vec<(u64, u64)>> {
        let mut came_from: BTreeMap<u64, u64> = BTreeMap::new();
        let mut queue = VecDeque::from([start]);
        let mut seen = BTreeSet::from([start]);
        while let Some(at) = queue.pop_front() {
            if at == goal {
                let mut path = Vec::new();
                let mut node = goal;
                while node != start {
                    let prev = came_from[&node];
                    path.push((prev, node));
                    node = prev;
                }
                path.reverse();
                return Some(path);
            }
            for edge in self.out.get(&at).into_iter().flatten() {
                if seen.insert(edge.to) {
                    came_from.insert(edge.to, at);
                    queue.push_back(edge.to);
                }
            }
        }
        None
    }
}

/// Lock number `id` drops: its edges leave the graph (a new lock never
/// gets its number, so nothing else could match them).
pub(crate) fn forget(id: u64) {
    let mut graph = GRAPH.lock().unwrap_or_else(|e| e.into_inner());
    let graph = &mut *graph;
    if let Some(edges) = graph.out.remove(&id) {
        for edge in edges {
            if let Some(into) = graph.into.get_mut(&edge.to) {
                into.retain(|&from| from != id);
                if into.is_empty() {
                    graph.into.remove(&edge.to);
                }
            }
        }
    }
    if let Some(froms) = graph.into.remove(&id) {
        for from in froms {
            if let Some(out) = graph.out.get_mut(&from) {
                out.retain(|edge| edge.to != id);
                if out.is_empty() {
                    graph.out.remove(&from);
                }
            }
        }
    }
    // Its cycles can never close again (no lock gets its number): their
    // keys would only grow the set, lock after lock.
    graph
        .reported
        .retain(|cycle| !cycle.iter().any(|&(a, b)| a == id || b == id));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dropped_locks_edges_leave_the_graph() {
        let a = LockState::new("");
        let b = LockState::new("");
        let (ia, ib) = (a.order_id(), b.order_id());
        assert_ne!(ia, ib);
        let from = Entry {
            id: ia,
            name: "",
            at: Location::caller(),
            source: true,
        };
        assert!(add_edge(&from, &b, ib, 1, Location::caller()).is_none());
        assert!(GRAPH.lock().unwrap().out.contains_key(&ia));
        drop(b);
        let graph = GRAPH.lock().unwrap();
        assert!(!graph.out.contains_key(&ia));
        assert!(!graph.into.contains_key(&ib));
    }

    #[test]
    fn a_dropped_locks_cycles_leave_the_graph_and_one_kind_is_dumped_once() {
        let entry = |lock: &LockState| Entry {
            id: lock.order_id(),
            name: "",
            at: Location::caller(),
            source: true,
        };
        let (mut cycles, mut first) = (0, 0);
        for _ in 0..20 {
            let a = LockState::new("");
            let b = LockState::new("");
            let at = Location::caller();
            assert!(add_edge(&entry(&a), &b, b.order_id(), 1, at).is_none());
            let found = add_edge(&entry(&b), &a, a.order_id(), 2, at).expect("a cycle");
            cycles += 1;
            first += usize::from(found.first_of_its_kind);
            let ids = [a.order_id(), b.order_id()];
            drop((a, b));
            let graph = GRAPH.lock().unwrap();
            assert!(
                !graph.reported.iter().any(|cycle| cycle
                    .iter()
                    .any(|(x, y)| ids.contains(x) || ids.contains(y))),
                "the cycle of dropped locks is still kept"
            );
        }
        assert_eq!((cycles, first), (20, 1), "each cycle found, one dumped");
    }

    #[test]
    fn numbers_are_never_reused() {
        let first = LockState::new("").order_id();
        let second = LockState::new("").order_id();
        assert!(second > first);
    }
}
