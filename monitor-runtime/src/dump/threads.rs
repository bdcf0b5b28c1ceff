//! A dump of every thread of the process, as Go prints every goroutine and
//! the JVM every thread on `kill -3`: each thread once, with its name,
//! state and native stack, linked to the calls in flight it runs.
//! [`DumpOptions::all_threads`](super::DumpOptions::all_threads) asks for
//! it; `native/threads.rs` lists the threads.

use std::collections::HashMap;

use serde::Serialize;

use super::model::user_crates;
use super::prepare::prepare_once;
use super::{CallDump, DumpOptions, NativeStack};
use crate::format::display;
use crate::inflight::CallId;
use crate::native::threads::ThreadState;
use crate::native::{self, Tid};

/// One thread of the process, in a dump of every thread
/// ([`DumpOptions::all_threads`](super::DumpOptions::all_threads)).
///
/// A thread that runs calls in flight names them in [`calls`](Self::calls);
/// those calls carry the same native stack, and the text shows it once,
/// under the calls.
///
/// ```
/// use monitor_runtime::dump::DumpOptions;
///
/// let dump = DumpOptions::new().all_threads(true).take();
/// let me = dump
///     .threads
///     .iter()
///     .find(|t| t.name.as_deref() == std::thread::current().name())
///     .expect("this thread is in the dump");
/// assert!(me.calls.is_empty());
/// println!("{me}"); // "thread 'main' (tid 4242) [running]:" and its stack
/// ```
#[derive(Clone, Debug, Serialize)]
#[non_exhaustive]
pub struct ThreadDump {
    /// The thread's kernel id.
    pub thread: Tid,
    /// Its name: in full for the thread that took the dump, else the
    /// kernel's (at most 15 bytes), if it has one.
    pub name: Option<String>,
    /// What the scheduler said it was doing, as the dump began.
    #[serde(serialize_with = "display")]
    pub state: ThreadState,
    /// The innermost calls in flight that it runs, as in
    /// [`Dump::calls`](super::Dump::calls).
    pub calls: Vec<CallId>,
    /// Its native stack, or why it could not be captured; `None` when
    /// native stacks were not asked for.
    pub native: Option<NativeStack>,
}

/// Lists every thread, captures each once (if native stacks are asked
/// for), links each to the calls it runs and gives those calls its stack.
pub(super) fn take(calls: &mut [CallDump], options: &DumpOptions) -> Vec<ThreadDump> {
    let mut threads: Vec<ThreadDump> = native::threads::threads()
        .into_iter()
        .map(|thread| ThreadDump {
            thread: thread.tid,
            name: thread.name,
            state: thread.state,
            calls: Vec::new(),
            native: None,
        })
        .collect();
    let at: HashMap<Tid, usize> = threads
        .iter()
        .enumerate()
        .map(|(i, thread)| (thread.thread, i))
        .collect();
    for call in calls.iter() {
        if let Some(&i) = call.state.thread().and_then(|tid| at.get(&tid)) {
            threads[i].calls.push(call.id);
        }
    }
    if !options.native_stacks || threads.is_empty() {
        return threads;
    }
    let tids: Vec<Tid> = threads.iter().map(|thread| thread.thread).collect();
    // Sample first, load the debug info after, as for calls (`take.rs`).
    let captured = native::capture(&tids, options.answer_within);
    prepare_once();
    let user_crates = user_crates(calls);
    for (thread, result) in threads.iter_mut().zip(captured) {
        thread.native = Some(NativeStack::from_capture(result, &user_crates));
    }
    for call in calls.iter_mut() {
        if let Some(&i) = call.state.thread().and_then(|tid| at.get(&tid)) {
            call.native = threads[i].native.clone();
        }
    }
    threads
}
