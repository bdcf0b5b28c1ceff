//! `#[supervised(heartbeat = "100ms", ...)]`: its arguments, and the
//! thin starter it generates next to the function. The function itself is
//! emitted unchanged (it can still be called, and tested, directly); a
//! struct of the same name (types and functions live in different
//! namespaces) carries `spawn()`, so the call site reads
//! `let handle = poller::spawn()?;`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn};

use crate::args::{self, Key, Keys, Shared};
use crate::duration;
use crate::expand;

mod kw {
    syn::custom_keyword!(heartbeat);
    syn::custom_keyword!(max_restarts);
    syn::custom_keyword!(within);
    syn::custom_keyword!(restart);
    syn::custom_keyword!(grace);
}

/// The arguments; durations in nanoseconds.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) heartbeat: Option<u64>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) within: Option<u64>,
    pub(crate) restart: Option<&'static str>,
    pub(crate) grace: Option<u64>,
    pub(crate) shared: Shared,
}

impl Keys for Args {
    const KEYS: &'static [Key<Self>] = &[
        Key {
            name: Some("heartbeat"),
            example: "heartbeat = \"100ms\"",
            peek: |lookahead| lookahead.peek(kw::heartbeat),
            value: |args, value| value.set(&mut args.heartbeat, duration::parse),
        },
        Key {
            name: Some("max_restarts"),
            example: "max_restarts = 5",
            peek: |lookahead| lookahead.peek(kw::max_restarts),
            value: |args, value| value.set(&mut args.max_restarts, count),
        },
        Key {
            name: Some("within"),
            example: "within = \"10s\"",
            peek: |lookahead| lookahead.peek(kw::within),
            value: |args, value| value.set(&mut args.within, duration::parse),
        },
        Key {
            name: Some("restart"),
            example: "restart = transient",
            peek: |lookahead| lookahead.peek(kw::restart),
            value: |args, value| value.set(&mut args.restart, restart),
        },
        Key {
            name: Some("grace"),
            example: "grace = \"1s\"",
            peek: |lookahead| lookahead.peek(kw::grace),
            value: |args, value| value.set(&mut args.grace, duration::parse),
        },
        Key::NAME,
        Key::CRATE,
    ];

    fn shared(&mut self) -> &mut Shared {
        &mut self.shared
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let args: Args = args::parse(input)?;
        if args.heartbeat.is_none() {
            return Err(syn::Error::new(
                Span::call_site(),
                "`#[supervised]` needs a heartbeat timeout, e.g. `#[supervised(heartbeat = \"100ms\")]`",
            ));
        }
        Ok(args)
    }
}

fn count(input: ParseStream<'_>) -> syn::Result<u32> {
    const EXPECTED: &str = "`max_restarts` takes an integer literal, like `max_restarts = 5`";
    let (count, _) = args::integer(input, "max_restarts", "u32", EXPECTED, 0..=u32::MAX)?;
    Ok(count)
}

fn restart(input: ParseStream<'_>) -> syn::Result<&'static str> {
    const EXPECTED: &str = "`restart` is `permanent` (always; the default), `transient` \
                            (after a failure only) or `temporary` (never)";
    const RESTARTS: &[(&str, &str)] = &[
        ("permanent", "Permanent"),
        ("transient", "Transient"),
        ("temporary", "Temporary"),
    ];
    let (restart, _) = args::choice(input, "restart", RESTARTS, EXPECTED)?;
    Ok(restart)
}

/// Expands `#[supervised(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::attribute("supervised", args, item, check, |args: Args, func| {
        Ok(generate(&args, &func))
    })
}

/// What the starter cannot work with: generics, `self`, and arguments
/// other than the heartbeat and the stop signal.
fn check(func: &ItemFn) -> Option<syn::Error> {
    let sig = &func.sig;
    if let Some(constness) = &sig.constness {
        return Some(syn::Error::new(
            constness.span,
            "`#[supervised]` does not apply to a `const fn`: the worker runs at run time",
        ));
    }
    if !sig.generics.params.is_empty() {
        return Some(syn::Error::new(
            sig.generics.span(),
            "`#[supervised]` needs a function without generic parameters: the supervisor \
             starts it with nothing but a `Heartbeat` (and a `StopSignal`)",
        ));
    }
    if let Some(FnArg::Receiver(receiver)) = sig.inputs.first() {
        return Some(syn::Error::new(
            receiver.span(),
            "`#[supervised]` applies to free functions, not methods: move the worker to a free \
             function that takes `(beat: Heartbeat, stop: StopSignal)`",
        ));
    }
    if sig.inputs.is_empty() || sig.inputs.len() > 2 {
        return Some(syn::Error::new(
            sig.paren_token.span.join(),
            "a `#[supervised]` worker takes `(beat: Heartbeat)` or \
             `(beat: Heartbeat, stop: StopSignal)`: the supervisor passes nothing else; \
             share state through a `static` or start the supervisor by hand with \
             `Supervisor::builder(..)`",
        ));
    }
    None
}

fn generate(args: &Args, func: &ItemFn) -> TokenStream {
    let ident = &func.sig.ident;
    let vis = &func.vis;
    let krate = expand::krate(&args.shared, None);
    let name = expand::function_name(&args.shared, ident);
    let mut builder = quote!(#krate::supervisor::Supervisor::builder(#name));
    if let Some(nanos) = args.heartbeat {
        let heartbeat = expand::duration(&krate, nanos);
        builder.extend(quote!(.heartbeat(#heartbeat)));
    }
    if args.max_restarts.is_some() || args.within.is_some() {
        let restarts = Literal::u32_unsuffixed(args.max_restarts.unwrap_or(3));
        let within = expand::duration(&krate, args.within.unwrap_or(5_000_000_000));
        builder.extend(quote!(.max_restarts(#restarts, #within)));
    }
    if let Some(restart) = args.restart {
        let restart = Ident::new(restart, Span::call_site());
        builder.extend(quote!(.restart(#krate::supervisor::Restart::#restart)));
    }
    if let Some(nanos) = args.grace {
        let grace = expand::duration(&krate, nanos);
        builder.extend(quote!(.grace(#grace)));
    }
    // By value, or by reference (`beat: &Heartbeat`, for a sync worker
    // that only calls `beat()`, as `clippy::needless_pass_by_value` asks).
    let pass = |arg: &FnArg, name: TokenStream| match arg {
        FnArg::Typed(typed) if matches!(*typed.ty, syn::Type::Reference(_)) => quote!(&#name),
        _ => name,
    };
    let inputs: Vec<&FnArg> = func.sig.inputs.iter().collect();
    let by_value = inputs
        .iter()
        .all(|arg| matches!(arg, FnArg::Typed(t) if !matches!(*t.ty, syn::Type::Reference(_))));
    let call = if inputs.len() == 2 && by_value {
        quote_spanned!(ident.span()=> #ident)
    } else {
        let beat = pass(inputs[0], quote!(__monitor_beat));
        match inputs.get(1) {
            Some(stop) => {
                let stop = pass(stop, quote!(__monitor_stop));
                quote_spanned!(ident.span()=> |__monitor_beat, __monitor_stop| #ident(#beat, #stop))
            }
            None => quote_spanned!(ident.span()=> |__monitor_beat, _| #ident(#beat)),
        }
    };
    let spawn = if func.sig.asyncness.is_some() {
        quote!(spawn)
    } else {
        quote!(spawn_thread)
    };
    let doc_spawn = format!(
        "Starts [`{ident}`]({ident}()) under a supervisor (`#[supervised]`): {} \
         Dropping the handle stops it.",
        if func.sig.asyncness.is_some() {
            "each instance in a tokio task of the current runtime."
        } else {
            "each instance on a thread of its own."
        }
    );
    let doc_builder = format!(
        "The supervisor of [`{ident}`]({ident}()) as `#[supervised]` configures it, \
         to change before `spawn`."
    );
    let doc_struct = format!("Starts [`{ident}`]({ident}()) under a supervisor: see `spawn`.");
    quote! {
        #func

        #[doc = #doc_struct]
        #[allow(non_camel_case_types, dead_code)]
        #vis struct #ident {}

        impl #ident {
            #[doc = #doc_spawn]
            #vis fn spawn() -> ::core::result::Result<#krate::supervisor::SupervisorHandle, #krate::supervisor::SupervisorError> {
                Self::builder().#spawn(#call)
            }

            #[doc = #doc_builder]
            #[allow(dead_code)]
            #vis fn builder() -> #krate::supervisor::SupervisorBuilder {
                #builder
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(tokens: TokenStream) -> String {
        match syn::parse2::<Args>(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn arguments() {
        let args: Args = syn::parse2(quote!(
            heartbeat = "100ms",
            max_restarts = 5,
            within = 10s,
            restart = transient,
            grace = 1s
        ))
        .unwrap();
        assert_eq!(args.heartbeat, Some(100_000_000));
        assert_eq!(args.max_restarts, Some(5));
        assert_eq!(args.within, Some(10_000_000_000));
        assert_eq!(args.restart, Some("Transient"));
        assert_eq!(args.grace, Some(1_000_000_000));
    }

    #[test]
    fn errors() {
        assert!(error(quote!()).contains("needs a heartbeat timeout"));
        assert!(error(quote!(heartbeat = 1s, heartbeat = 2s)).contains("duplicate `heartbeat`"));
        assert!(error(quote!(heartbeat = 1s, restart = sometimes))
            .starts_with("unknown `restart` value `sometimes`"));
        assert!(error(quote!(heartbeat = 1s, max_restarts = "5")).contains("integer literal"));
        assert_eq!(
            error(quote!(hearbeat = 1s)),
            "unknown key `hearbeat`: did you mean `heartbeat`? The keys are `heartbeat`, \
             `max_restarts`, `within`, `restart`, `grace`, `name`, `crate`"
        );
        assert_eq!(
            error(quote!(heartbeat = 1s, max_restarts = -3)),
            format!(
                "`max_restarts` takes a whole number from 0 to {}; `-3` is negative",
                u32::MAX
            )
        );
        assert!(error(quote!(heartbeat = 1s, max_restarts = 5000000000))
            .ends_with("`5000000000` is too large"));
        assert_eq!(
            error(quote!(heartbeat)),
            "`heartbeat` takes a value, like `heartbeat = \"100ms\"`"
        );
        assert_eq!(
            error(quote!(heartbeat = 1s, restart)),
            "`restart` takes a value, like `restart = transient`"
        );
    }
}
