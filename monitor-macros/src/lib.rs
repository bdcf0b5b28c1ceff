//! Attribute macros of `monitor-runtime`. Depend on `monitor-runtime`,
//! which re-exports them; this crate only parses and generates code.
//!
//! * `attr` parses `#[monitored(...)]`'s arguments,
//! * `duration` parses duration literals (`"50ms"`, `1.5s`),
//! * `expand` generates the code: one `static` and one call into
//!   `monitor_runtime::__private`, which holds every behaviour,
//! * `stack` holds what is particular to `#[stack_on_timeout(...)]`: its
//!   arguments and its `static`,
//! * `supervised` holds `#[supervised(...)]`: its arguments and the
//!   starter it generates next to the function.

mod attr;
mod duration;
mod expand;
mod stack;
mod supervised;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// See `monitor_runtime::monitored`, which documents the keys, what runs
/// where, and what the attribute expands to.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::expand(args.into(), item.into()).into()
}

/// See `monitor_runtime::stack_on_timeout`, which documents the arguments
/// and what the attribute expands to.
#[proc_macro_attribute]
pub fn stack_on_timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    stack::expand(args.into(), item.into()).into()
}

/// See `monitor_runtime::supervised`, which documents the keys, the call
/// site, and what the attribute expands to.
#[proc_macro_attribute]
pub fn supervised(args: TokenStream, item: TokenStream) -> TokenStream {
    supervised::expand(args.into(), item.into()).into()
}
