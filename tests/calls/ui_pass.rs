//! The compile-and-run cases of the attributes (`ui/pass`), one module each,
//! each run by a test that calls its `main`: what trybuild's `pass` did, built
//! with the other tests. Two cases need to be crate roots (`crate = "crate::..."`
//! paths) and are test targets of their own (`ui_pass_crate_path`,
//! `ui_pass_stack_crate_path` in Cargo.toml); the compile-fail cases are
//! trybuild's, in `tests/ui` (package `monitor-ui`).

#[path = "../ui/pass/async_fn.rs"]
mod async_fn;
#[test]
fn async_fn() {
    async_fn::main();
}

#[path = "../ui/pass/async_fn_in_trait.rs"]
mod async_fn_in_trait;
#[test]
fn async_fn_in_trait() {
    async_fn_in_trait::main();
}

#[path = "../ui/pass/async_trait.rs"]
mod async_trait;
#[test]
fn async_trait() {
    async_trait::main();
}

#[path = "../ui/pass/attributes.rs"]
mod attributes;
#[test]
fn attributes() {
    attributes::main();
}

#[path = "../ui/pass/axum_handlers.rs"]
mod axum_handlers;
#[test]
fn axum_handlers() {
    axum_handlers::main();
}

#[path = "../ui/pass/custom_return.rs"]
mod custom_return;
#[test]
fn custom_return() {
    custom_return::main();
}

#[path = "../ui/pass/deprecated_paths.rs"]
mod deprecated_paths;
#[test]
fn deprecated_paths() {
    deprecated_paths::main();
}

#[path = "../ui/pass/generics.rs"]
mod generics;
#[test]
fn generics() {
    generics::main();
}

#[path = "../ui/pass/impl_trait.rs"]
mod impl_trait;
#[test]
fn impl_trait() {
    impl_trait::main();
}

#[path = "../ui/pass/methods.rs"]
mod methods;
#[test]
fn methods() {
    methods::main();
}

#[path = "../ui/pass/send_future.rs"]
mod send_future;
#[test]
fn send_future() {
    send_future::main();
}

#[path = "../ui/pass/stack_async.rs"]
mod stack_async;
#[test]
fn stack_async() {
    stack_async::main();
}

#[path = "../ui/pass/stack_methods.rs"]
mod stack_methods;
#[test]
fn stack_methods() {
    stack_methods::main();
}

#[path = "../ui/pass/stack_sync.rs"]
mod stack_sync;
#[test]
fn stack_sync() {
    stack_sync::main();
}

#[path = "../ui/pass/stack_traits.rs"]
mod stack_traits;
#[test]
fn stack_traits() {
    stack_traits::main();
}

#[path = "../ui/pass/stack_with_monitored.rs"]
mod stack_with_monitored;
#[test]
fn stack_with_monitored() {
    stack_with_monitored::main();
}

#[path = "../ui/pass/supervised.rs"]
mod supervised;
#[test]
fn supervised() {
    supervised::main();
}

#[path = "../ui/pass/sync_fn.rs"]
mod sync_fn;
#[test]
fn sync_fn() {
    sync_fn::main();
}

#[path = "../ui/pass/unsafe_fn.rs"]
mod unsafe_fn;
#[test]
fn unsafe_fn() {
    unsafe_fn::main();
}
