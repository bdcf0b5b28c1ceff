//! Compile-fail tests of `#[monitored]`, `#[stack_on_timeout]` and
//! `#[supervised]`: each file of `fail/` must fail to compile with its
//! checked-in `.stderr`. Regenerate those with `TRYBUILD=overwrite cargo test
//! -p monitor-ui`, then read every diff.
//!
//! The cases that must compile and run (`pass/`) are the root package's:
//! modules of `tests/ui_pass.rs`, each run by a test that calls its `main`,
//! and two crate roots of their own (`ui_pass_*` in its Cargo.toml). They
//! share the other tests' dependencies instead of building them again in
//! trybuild's directory; and trybuild, with no case to run, only checks (no
//! code generation, no link).

#[test]
fn ui() {
    trybuild::TestCases::new().compile_fail("fail/*.rs");
}
