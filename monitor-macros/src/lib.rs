//! Attribute macros of `monitor-runtime`. Depend on `monitor-runtime`,
//! which re-exports them; this crate only parses and generates code.
//!
//! * `args` parses the arguments of all three macros: the loop over
//!   `key = value`, the shared keys `name` and `crate`, the errors about
//!   keys, and the parsers of values; each macro declares its keys on it,
//! * `duration` parses duration literals (`"50ms"`, `1.5s`),
//! * `expand` holds what the expansions share: parsing the function, the
//!   item as it was plus the errors on failure, the wrapper that hands the
//!   body to `monitor_runtime::__private`, which holds every behaviour,
//! * `monitored`, `stack_on_timeout` and `supervised` hold one macro
//!   each: its arguments and the code it generates.

mod args;
mod duration;
mod expand;
mod monitored;
mod stack_on_timeout;
mod supervised;
#[cfg(test)]
mod tests;

use proc_macro::TokenStream;

/// See `monitor_runtime::monitored`, which documents the keys, what runs
/// where, and what the attribute expands to.
#[proc_macro_attribute]
pub fn monitored(args: TokenStream, item: TokenStream) -> TokenStream {
    monitored::expand(args.into(), item.into()).into()
}

/// See `monitor_runtime::stack_on_timeout`, which documents the arguments
/// and what the attribute expands to.
#[proc_macro_attribute]
pub fn stack_on_timeout(args: TokenStream, item: TokenStream) -> TokenStream {
    stack_on_timeout::expand(args.into(), item.into()).into()
}

/// See `monitor_runtime::supervised`, which documents the keys, the call
/// site, and what the attribute expands to.
#[proc_macro_attribute]
pub fn supervised(args: TokenStream, item: TokenStream) -> TokenStream {
    supervised::expand(args.into(), item.into()).into()
}
