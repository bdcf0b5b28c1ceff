//! An old crate-root path is deprecated, and the warning names the new one.
#![deny(deprecated)]

fn main() {
    let _ = monitor_runtime::Config::new("old");
    let _ = monitor_runtime::supervisors();
    let _: Option<monitor_runtime::DumpOptions> = None;
}
