//! The dining philosophers' deadlock (as in `examples/philosophers.rs`):
//! the dump written when they overrun their deadline names this file and
//! the line of the blocking `lock()` for both threads, as the first user
//! frame of each native stack. A binary of its own: the philosophers stay
//! deadlocked until the process exits.

use std::sync::{Arc, Barrier, Mutex};
use std::thread;
use std::time::Duration;

use monitor_demo::dump_channel;
use monitor_runtime::{
    dump::{CallState, DumpReason, NativeStack, Origin},
    stack_on_timeout,
};

type Fork = Arc<Mutex<()>>;

#[stack_on_timeout(300ms)]
fn philosopher(left: Fork, right: Fork, both_seated: Arc<Barrier>) {
    let _left = left.lock().unwrap();
    both_seated.wait();
    let _right = right.lock().unwrap(); // blocks here
}

/// The line of the `// blocks here` comment above.
fn blocking_line() -> u32 {
    let source = include_str!("dump_philosophers.rs");
    let at = source
        .lines()
        .position(|line| line.trim_end().ends_with("// blocks here"))
        .expect("the marker");
    at as u32 + 1
}

#[test]
fn both_philosophers_point_at_their_second_lock() {
    monitor_demo::own_process!();
    let dumps = dump_channel();
    let forks: [Fork; 2] = Default::default();
    let both_seated = Arc::new(Barrier::new(2));
    for (i, (left, right)) in [(0, 1), (1, 0)].into_iter().enumerate() {
        let (left, right) = (forks[left].clone(), forks[right].clone());
        let both_seated = both_seated.clone();
        thread::Builder::new()
            .name(format!("philosopher-{}", i + 1))
            .spawn(move || philosopher(left, right, both_seated))
            .unwrap();
    }

    let dump = dumps
        .recv_timeout(Duration::from_secs(20))
        .expect("a dump when the philosophers overrun 300ms");
    let text = dump.to_string();
    let DumpReason::Overdue { calls } = &dump.reason else {
        panic!("not an overdue report:\n{text}")
    };
    assert!(
        calls
            .iter()
            .all(|c| c.function == "isolated::dump_philosophers::philosopher"),
        "{text}"
    );
    assert!(text.contains("has not returned after 300ms"), "{text}");

    let line = blocking_line();
    let place = format!("tests/isolated/dump_philosophers.rs:{line}");
    let blocks: Vec<_> = dump
        .calls
        .iter()
        .filter(|c| c.function == "isolated::dump_philosophers::philosopher")
        .collect();
    assert_eq!(blocks.len(), 2, "{text}");
    let mut names = Vec::new();
    for block in blocks {
        let CallState::Running { name, .. } = &block.state else {
            panic!("a philosopher is not on its thread:\n{text}")
        };
        names.push(name.clone().unwrap_or_default());
        let Some(NativeStack::Captured { frames, .. }) = &block.native else {
            panic!("no native stack for {}:\n{text}", block.id)
        };
        // User code first: the first user frame is the blocking line; only
        // std and the C library are inside it.
        let first_user = frames
            .iter()
            .position(|f| f.origin == Origin::User)
            .unwrap_or_else(|| panic!("no user frame:\n{text}"));
        let frame = &frames[first_user];
        assert!(
            frame
                .file
                .as_deref()
                .is_some_and(|f| f.ends_with("tests/isolated/dump_philosophers.rs")),
            "{text}"
        );
        assert_eq!(frame.line, Some(line), "{text}");
        assert!(
            frames[..first_user]
                .iter()
                .all(|f| matches!(f.origin, Origin::Std | Origin::System)),
            "{text}"
        );
        assert!(
            frames[..first_user]
                .iter()
                .any(|f| f.function.as_deref().is_some_and(|f| f.contains("lock"))),
            "{text}"
        );
    }
    names.sort();
    assert_eq!(names, ["philosopher-1", "philosopher-2"], "{text}");
    // Both stacks show the line, with the thread's name, in the text.
    assert_eq!(text.matches(&place).count(), 2, "{text}");
    assert!(
        text.contains("[running on thread 'philosopher-1' (tid "),
        "{text}"
    );
    println!("{text}");
}
