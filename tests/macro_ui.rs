//! Compile tests of `#[monitored]` and `#[stack_on_timeout]` (`stack_*`):
//! `ui/pass` must compile and run, `ui/fail` must fail with the checked-in
//! `.stderr`. Regenerate those with `TRYBUILD=overwrite cargo test --test
//! macro_ui`, then read every diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
