//! Each test of `tests/isolated/` in a process of its own: the test
//! binary runs itself once per test, so that a test may set what holds
//! for the whole process (a dump sink, a hook, a policy, a drain, the
//! count of its threads) while the suite builds and links one binary.

use std::process::Command;

/// Set in the child that runs one test.
const CHILD: &str = "MONITOR_DEMO_OWN_PROCESS";

/// Runs the calling test in a child process of its own and returns from
/// it with the child's result, or, in that child, goes on with the test.
///
/// The first statement of a test (`#[test]` or `#[tokio::test]`, async or
/// not) whose body sets process-wide state. The child is this test binary
/// run with the test's name (`--exact`, ignored tests included); its
/// output is printed through the harness's capture, and the test fails
/// unless that one test ran and passed.
///
/// ```no_run
/// #[test]
/// fn sets_the_dump_sink() {
///     monitor_demo::own_process!();
///     // ... set the sink, provoke a dump ...
/// }
/// ```
#[macro_export]
macro_rules! own_process {
    () => {
        fn own_process_marker() {}
        if $crate::run_in_own_process(::std::any::type_name_of_val(&own_process_marker)) {
            return;
        }
    };
}

/// The test whose marker function has the path `marker` (its module path,
/// as `own_process!` finds it): in the parent, runs it in a child and
/// returns `true` when it passed (panics when not); in the child, returns
/// `false`, so that the test goes on there.
#[doc(hidden)]
pub fn run_in_own_process(marker: &str) -> bool {
    if std::env::var_os(CHILD).is_some() {
        return false;
    }
    let name = test_name(marker);
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = Command::new(exe)
        .args([
            name.as_str(),
            "--exact",
            "--include-ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .output()
        .expect("the test binary runs");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    print!("{stdout}");
    eprint!("{stderr}");
    assert!(out.status.success(), "{name} failed in its own process");
    assert!(
        stdout.contains("test result: ok. 1 passed"),
        "{name} did not run in its own process"
    );
    true
}

/// `isolated::dump_sinks::the_test` of
/// `isolated::dump_sinks::the_test::{{closure}}::own_process_marker`:
/// without the crate's name (the harness names tests from the crate
/// root), the async blocks and the marker.
fn test_name(marker: &str) -> String {
    let path: Vec<&str> = marker
        .split("::")
        .skip(1)
        .filter(|segment| *segment != "{{closure}}")
        .collect();
    path[..path.len() - 1].join("::")
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_test_is_named_from_the_crate_root_without_async_blocks() {
        assert_eq!(
            super::test_name("isolated::dump_sinks::t::{{closure}}::own_process_marker"),
            "dump_sinks::t"
        );
        assert_eq!(super::test_name("isolated::t::own_process_marker"), "t");
    }
}
