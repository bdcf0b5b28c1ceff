//! A dump sink that panics inside the panic hook's dump does not abort the
//! process: the panic that started it stays catchable, and the dump goes
//! to stderr instead. Run in a child process (an abort would kill the test
//! runner); the parent reads the child's output, so nothing is printed.

use std::process::Command;

use monitor_runtime::{
    dump::{install_panic_hook, set_dump_sink, DumpSink},
    stack_on_timeout,
};

#[stack_on_timeout(1h)]
fn explode() {
    panic!("boom in explode");
}

#[test]
fn a_sink_that_panics_in_the_panic_hook_aborts_nothing() {
    monitor_demo::own_process!();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "dump_sink_panic::child_panics_with_a_panicking_sink",
            "--ignored",
            "--nocapture",
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        !stderr.contains("aborting"),
        "the process aborted:\n{stderr}"
    );
    assert!(
        out.status.success(),
        "the child failed ({}):\n{stdout}\n{stderr}",
        out.status
    );
    assert!(
        stdout.contains("the original panic was caught"),
        "{stdout}\n{stderr}"
    );
    // The sink's panic is said, and the dump falls back to stderr.
    assert!(stderr.contains("boom in the sink"), "{stderr}");
    assert!(
        stderr.contains("the dump sink panicked; the dump goes to stderr"),
        "{stderr}"
    );
    let dump = stderr.find("monitor dump at ").expect(&stderr);
    assert!(
        stderr[dump..].contains("  isolated::dump_sink_panic::explode "),
        "{stderr}"
    );
}

/// Run by `a_sink_that_panics_in_the_panic_hook_aborts_nothing` in a child
/// process.
#[test]
#[ignore = "helper: run in a child process by a_sink_that_panics_in_the_panic_hook_aborts_nothing"]
fn child_panics_with_a_panicking_sink() {
    monitor_demo::own_process!();
    install_panic_hook();
    set_dump_sink(DumpSink::custom(|_| panic!("boom in the sink"))).unwrap();
    let caught = std::panic::catch_unwind(explode);
    assert!(caught.is_err());
    println!("the original panic was caught");
}
