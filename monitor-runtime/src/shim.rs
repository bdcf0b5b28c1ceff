//! Shims so that the state machines build under `loom` for model checking
//! (`RUSTFLAGS="--cfg loom" cargo test --release --test loom_gate`).

#[cfg(loom)]
pub(crate) use loom::sync::{atomic, Mutex};
#[cfg(not(loom))]
pub(crate) use std::sync::{atomic, Mutex};
