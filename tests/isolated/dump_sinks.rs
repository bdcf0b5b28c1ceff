//! Where dumps go: stderr by default (the panic hook's dump, read from a
//! child process), a file, and a file that cannot be opened. And how often
//! the panic hook dumps: once in a while per place.

use std::process::Command;
use std::sync::mpsc::{channel, Receiver};
use std::thread;
use std::time::{Duration, Instant};

use monitor_runtime::{
    dump::{install_panic_hook, set_dump_sink, DumpOptions, DumpReason, DumpSink, DumpSinkError},
    stack_on_timeout,
};

#[stack_on_timeout(1h)]
fn serve(release: Receiver<()>) {
    let _ = release.recv();
}

#[stack_on_timeout(1h)]
fn explode() {
    panic!("boom in explode");
}

/// A panic prints the previous hook's message, then the dump of every call
/// in flight: the panicking one and the others.
#[test]
fn the_panic_hook_prints_the_dump_after_the_panic_message() {
    monitor_demo::own_process!();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dump_sinks::child_panics_in_a_call",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "the child's test panics:\n{stderr}");
    let message = stderr.find("boom in explode").expect(&stderr);
    let dump = stderr.find("monitor dump at ").expect(&stderr);
    assert!(message < dump, "the panic message comes first:\n{stderr}");
    let dump = &stderr[dump..];
    assert!(dump.contains("panic on thread 'panicker'"), "{stderr}");
    assert!(dump.contains("tests/isolated/dump_sinks.rs"), "{stderr}");
    assert!(dump.contains(": boom in explode"), "{stderr}");
    let explode = dump.find("  isolated::dump_sinks::explode ").expect(dump);
    let serve = dump.find("  isolated::dump_sinks::serve ").expect(dump);
    assert!(
        explode < serve,
        "the panicking thread's stack first:\n{dump}"
    );
    assert!(
        dump.contains("[running on thread 'panicker' (tid "),
        "{dump}"
    );
    assert!(dump.contains("[running on thread 'server' (tid "), "{dump}");
    // Once: the hook is installed twice, and runs once.
    assert_eq!(stderr.matches("monitor dump at ").count(), 1, "{stderr}");
}

/// Run by `the_panic_hook_prints_the_dump_after_the_panic_message` in a
/// child process.
#[test]
#[ignore = "helper: run in a child process by the_panic_hook_prints_the_dump_after_the_panic_message"]
fn child_panics_in_a_call() {
    monitor_demo::own_process!();
    install_panic_hook();
    install_panic_hook();
    let (release, requests) = channel();
    let server = thread::Builder::new()
        .name("server".into())
        .spawn(move || serve(requests))
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !DumpOptions::new()
        .native_stacks(false)
        .take()
        .calls
        .iter()
        .any(|c| c.function == "isolated::dump_sinks::serve")
    {
        assert!(Instant::now() < deadline);
        thread::sleep(Duration::from_millis(2));
    }
    let panicked = thread::Builder::new()
        .name("panicker".into())
        .spawn(explode)
        .unwrap()
        .join();
    release.send(()).unwrap();
    server.join().unwrap();
    std::panic::resume_unwind(panicked.unwrap_err());
}

#[test]
fn a_file_sink_appends_and_a_bad_path_is_an_error_at_once() {
    monitor_demo::own_process!();
    let error = set_dump_sink(DumpSink::file("/nonexistent-dir/dumps.txt")).unwrap_err();
    let DumpSinkError::Open { path, source } = &error else {
        panic!("{error:?}")
    };
    assert_eq!(path.to_str(), Some("/nonexistent-dir/dumps.txt"));
    assert_eq!(source.kind(), std::io::ErrorKind::NotFound);
    assert!(
        error.to_string().contains("/nonexistent-dir/dumps.txt"),
        "{error}"
    );

    let path = std::env::temp_dir().join(format!("monitor-dumps-{}.txt", std::process::id()));
    let _ = std::fs::remove_file(&path);
    set_dump_sink(DumpSink::file(&path)).unwrap();
    let (release, requests) = channel();
    let server = thread::spawn(move || serve(requests));
    let dump = loop {
        let dump = DumpOptions::new().native_stacks(false).take();
        if dump
            .calls
            .iter()
            .any(|c| c.function == "isolated::dump_sinks::serve")
        {
            break dump;
        }
        thread::sleep(Duration::from_millis(2));
    };
    dump.emit();
    dump.emit();
    release.send(()).unwrap();
    server.join().unwrap();
    set_dump_sink(DumpSink::Stderr).unwrap();

    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    assert_eq!(text, format!("{dump}\n{dump}\n"));
    assert!(text.contains("  isolated::dump_sinks::serve "), "{text}");
}

#[stack_on_timeout(1h)]
fn fails_each_time() {
    panic!("a bug met on every request");
}

#[stack_on_timeout(1h)]
fn fails_elsewhere() {
    panic!("another bug");
}

/// A function that panics on every call (a handler whose panics the
/// runtime catches) is dumped once, not on each panic, and a panic at
/// another place has its own dump.
#[test]
fn panics_at_one_place_are_dumped_once_in_a_while() {
    monitor_demo::own_process!();
    let dumps = monitor_demo::kept_dumps();
    install_panic_hook();
    for _ in 0..20 {
        assert!(std::panic::catch_unwind(fails_each_time).is_err());
    }
    assert!(std::panic::catch_unwind(fails_elsewhere).is_err());
    let messages: Vec<Option<String>> = dumps
        .lock()
        .unwrap()
        .iter()
        .filter_map(|dump| match &dump.reason {
            DumpReason::Panic { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect();
    let expected = ["a bug met on every request", "another bug"].map(|m| Some(m.to_owned()));
    assert_eq!(messages, expected);
}
