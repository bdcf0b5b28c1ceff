//! The `.await` a parked async call waits at: every annotated frame of a
//! chain names its own, in the data, the text and the JSON; a call that
//! runs names none; an `.await` that is ready at once leaves no trace; an
//! `async` block awaited in the body shows its own `.await`.
//!
//! Each function notes the line of its `.await` with `line!()` on that
//! same line (`at(K, line!()) + future.await`), so the test knows where it
//! must be parked without counting lines.
//!
//! Tests in this binary run in parallel: each looks only at its own
//! functions.

use std::sync::atomic::{AtomicU32, Ordering::SeqCst};
use std::sync::Arc;

use monitor_runtime::dump::{AwaitPoint, CallDump, Dump, DumpOptions, LogicalFrame};
use monitor_runtime::{monitored, stack_on_timeout, Error};
use tokio::sync::{oneshot, Notify};

/// The lines the functions noted, by slot.
static LINES: [AtomicU32; 8] = [const { AtomicU32::new(0) }; 8];

/// Notes `line` in slot `slot`; 0, to add to what the `.await` gives.
fn at(slot: usize, line: u32) -> u32 {
    LINES[slot].store(line, SeqCst);
    0
}

fn line(slot: usize) -> u32 {
    LINES[slot].load(SeqCst)
}

fn logical() -> Dump {
    DumpOptions::new().native_stacks(false).take()
}

fn block<'a>(dump: &'a Dump, function: &str) -> Option<&'a CallDump> {
    dump.calls.iter().find(|c| c.function == function)
}

/// Takes dumps, letting `runtime` run in between, until one has a call of
/// `function` whose innermost frame is parked at an `.await`.
fn parked(runtime: &tokio::runtime::Runtime, function: &str) -> Dump {
    for _ in 0..1000 {
        runtime.block_on(tokio::task::yield_now());
        let dump = logical();
        if block(&dump, function).is_some_and(|c| c.stack[0].awaiting.is_some()) {
            return dump;
        }
    }
    panic!("{function} never parked:\n{}", logical());
}

#[stack_on_timeout(60s)]
async fn handler(rx: oneshot::Receiver<u32>) -> u32 {
    tokio::task::yield_now().await;
    at(0, line!()) + middle(rx).await.unwrap() + 1
}

#[monitored(max_active = 10)]
async fn middle(rx: oneshot::Receiver<u32>) -> Result<u32, Error> {
    let ready = std::future::ready(1).await;
    Ok(at(1, line!()) + leaf(rx).await? + ready)
}

#[stack_on_timeout(60s)]
#[monitored(max_active = 10)]
async fn leaf(rx: oneshot::Receiver<u32>) -> Result<u32, Error> {
    Ok(at(2, line!()) + rx.await.unwrap())
}

fn frame<'a>(call: &'a CallDump, function: &str) -> &'a LogicalFrame {
    call.stack
        .iter()
        .find(|f| f.function == function)
        .unwrap_or_else(|| panic!("no frame of {function} in {call}"))
}

#[test]
fn each_frame_of_a_chain_names_its_own_await() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, rx) = oneshot::channel();
    let task = runtime.spawn(handler(rx));
    let dump = parked(&runtime, "calls::await_points::leaf");
    let text = dump.to_string();
    let call = block(&dump, "calls::await_points::leaf").unwrap();
    let functions: Vec<&str> = call.stack.iter().map(|f| f.function).collect();
    assert_eq!(
        functions,
        [
            "calls::await_points::leaf",
            "calls::await_points::middle",
            "calls::await_points::handler"
        ],
        "{text}"
    );
    for (slot, function) in [
        (0, "calls::await_points::handler"),
        (1, "calls::await_points::middle"),
        (2, "calls::await_points::leaf"),
    ] {
        let frame = frame(call, function);
        let awaiting = frame.awaiting.unwrap_or_else(|| panic!("{text}"));
        assert_eq!(awaiting.line, line(slot), "{function}:\n{text}");
        assert!(awaiting.column > 1, "{text}");
        // The await is in the body, after the line the function is on.
        assert!(awaiting.line > frame.line, "{text}");
        // The text: `function  file:17 awaiting (defined at :14)`.
        let place = format!(
            "tests/calls/await_points.rs:{} awaiting (defined at :{})",
            awaiting.line, frame.line
        );
        let row = text
            .lines()
            .find(|row| row.trim_start().starts_with(&format!("{function} ")))
            .unwrap_or_else(|| panic!("no row of {function} in\n{text}"));
        assert!(row.contains(&place), "{row:?} lacks {place:?}:\n{text}");
    }
    // `middle`'s first `.await` was ready: the frame names the one it waits at.
    assert_ne!(frame(call, "calls::await_points::middle").awaiting, None);

    // The JSON: `"awaiting": {"line": .., "column": ..}` on each frame.
    let json = serde_json::to_value(&dump).unwrap();
    let calls = json["calls"].as_array().unwrap();
    let leaf = calls
        .iter()
        .find(|c| c["function"] == "calls::await_points::leaf")
        .unwrap();
    assert_eq!(leaf["stack"][0]["awaiting"]["line"], line(2), "{leaf}");
    assert_eq!(leaf["stack"][2]["awaiting"]["line"], line(0), "{leaf}");

    tx.send(1).unwrap();
    assert_eq!(runtime.block_on(task).unwrap(), 3);
}

/// Parks at an `.await` once, then, polled again, takes a dump from its
/// body: a call a thread runs is parked nowhere.
#[stack_on_timeout(60s)]
async fn wakes_and_looks(release: Arc<Notify>) -> Option<AwaitPoint> {
    let _ = at(3, line!()) + {
        release.notified().await;
        0
    };
    let dump = logical();
    let call = block(&dump, "calls::await_points::wakes_and_looks").expect("in flight");
    assert!(call.state.is_running(), "{dump}");
    call.stack[0].awaiting
}

#[test]
fn a_running_call_names_no_await() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let release = Arc::new(Notify::new());
    let task = runtime.spawn(wakes_and_looks(release.clone()));
    let dump = parked(&runtime, "calls::await_points::wakes_and_looks");
    let call = block(&dump, "calls::await_points::wakes_and_looks").unwrap();
    let awaiting = call.stack[0].awaiting.unwrap();
    // Parked in the block of `at(3, ..) + { .. }`: the line below.
    assert_eq!(awaiting.line, line(3) + 1, "{dump}");
    release.notify_one();
    assert_eq!(runtime.block_on(task).unwrap(), None);
}

/// Every `.await` is ready at once: the call never waits, and no frame
/// ever names an `.await`.
#[stack_on_timeout(60s)]
async fn all_ready() -> Option<AwaitPoint> {
    let a = std::future::ready(1).await;
    let b = async { std::future::ready(a).await }.await;
    let dump = logical();
    let call = block(&dump, "calls::await_points::all_ready").expect("in flight");
    assert_eq!(b, 1);
    call.stack[0].awaiting
}

#[test]
fn ready_awaits_leave_no_trace() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(all_ready()), None);
}

/// Parked inside an `async` block that the body awaits: the block's own
/// `.await` is named, not the line that awaits the block.
#[monitored]
async fn in_a_block(rx: oneshot::Receiver<u32>) -> Result<u32, Error> {
    let value = async move {
        let ready = std::future::ready(0).await;
        at(4, line!()) + rx.await.unwrap() + ready
    }
    .await;
    Ok(value)
}

#[test]
fn an_awaited_async_block_shows_its_own_await() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, rx) = oneshot::channel();
    let task = runtime.spawn(in_a_block(rx));
    let dump = parked(&runtime, "calls::await_points::in_a_block");
    let call = block(&dump, "calls::await_points::in_a_block").unwrap();
    assert_eq!(call.stack[0].awaiting.unwrap().line, line(4), "{dump}");
    tx.send(7).unwrap();
    assert_eq!(runtime.block_on(task).unwrap(), Ok(7));
}

/// Spawns a task that parks: that task's `.await`s are not this call's
/// (it is polled outside it), and note nothing on it.
#[monitored]
async fn spawns(rx: oneshot::Receiver<u32>, spawned: oneshot::Sender<()>) -> Result<u32, Error> {
    let task = tokio::spawn(async move { rx.await.unwrap() });
    let _ = spawned.send(());
    Ok(at(5, line!()) + task.await.unwrap())
}

#[test]
fn a_spawned_block_notes_nothing_on_its_spawner() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (tx, rx) = oneshot::channel();
    let (spawned_tx, spawned) = oneshot::channel();
    let task = runtime.spawn(spawns(rx, spawned_tx));
    runtime.block_on(spawned).unwrap();
    let dump = parked(&runtime, "calls::await_points::spawns");
    let call = block(&dump, "calls::await_points::spawns").unwrap();
    assert_eq!(call.stack[0].awaiting.unwrap().line, line(5), "{dump}");
    tx.send(2).unwrap();
    assert_eq!(runtime.block_on(task).unwrap(), Ok(2));
}

/// Parks at an `.await` of its body, then, woken, inside `tokio::select!`,
/// whose input the macros leave alone.
#[monitored]
async fn then_selects(
    first: oneshot::Receiver<()>,
    second: oneshot::Receiver<u32>,
) -> Result<u32, Error> {
    let _ = at(6, line!()) + first.await.map_or(0, |()| 0);
    let value = tokio::select! { value = second => value.unwrap() };
    Ok(value)
}

#[test]
fn an_await_the_macros_cannot_see_names_no_line_rather_than_an_old_one() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let (first_tx, first) = oneshot::channel();
    let (second_tx, second) = oneshot::channel();
    let task = runtime.spawn(then_selects(first, second));
    let dump = parked(&runtime, "calls::await_points::then_selects");
    let call = block(&dump, "calls::await_points::then_selects").unwrap();
    assert_eq!(call.stack[0].awaiting.unwrap().line, line(6), "{dump}");
    first_tx.send(()).unwrap();
    // Polled again, it waits in the `select!`: no line, not the old one.
    let mut last = None;
    for _ in 0..100 {
        runtime.block_on(tokio::task::yield_now());
        let dump = logical();
        let call = block(&dump, "calls::await_points::then_selects").unwrap();
        last = Some(call.stack[0].awaiting);
        if last == Some(None) {
            break;
        }
    }
    assert_eq!(last, Some(None));
    second_tx.send(5).unwrap();
    assert_eq!(runtime.block_on(task).unwrap(), Ok(5));
}
