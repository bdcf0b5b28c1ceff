//! `#[supervised(heartbeat = "100ms", ...)]`: its arguments, and the
//! thin starter it generates next to the function. The function itself is
//! emitted unchanged (it can still be called, and tested, directly); a
//! struct of the same name (types and functions live in different
//! namespaces) carries `spawn()`, so the call site reads
//! `let handle = poller::spawn()?;`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, Lit, LitStr, Path, Token};

use crate::attr;
use crate::duration;
use crate::expand::{self, Errors};

mod kw {
    syn::custom_keyword!(heartbeat);
    syn::custom_keyword!(max_restarts);
    syn::custom_keyword!(within);
    syn::custom_keyword!(restart);
    syn::custom_keyword!(grace);
    syn::custom_keyword!(name);
    syn::custom_keyword!(permanent);
    syn::custom_keyword!(transient);
    syn::custom_keyword!(temporary);
}

/// Every key, as the docs list them.
const KEYS: &[&str] = &[
    "heartbeat",
    "max_restarts",
    "within",
    "restart",
    "grace",
    "name",
    "crate",
];

/// The arguments; durations in nanoseconds.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) heartbeat: Option<u64>,
    pub(crate) max_restarts: Option<u32>,
    pub(crate) within: Option<u64>,
    pub(crate) restart: Option<&'static str>,
    pub(crate) grace: Option<u64>,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::heartbeat) {
                let key = input.parse::<kw::heartbeat>()?.span;
                attr::set(
                    &mut args.heartbeat,
                    key,
                    "heartbeat",
                    input,
                    duration::parse,
                )?;
            } else if lookahead.peek(kw::max_restarts) {
                let key = input.parse::<kw::max_restarts>()?.span;
                attr::set(&mut args.max_restarts, key, "max_restarts", input, count)?;
            } else if lookahead.peek(kw::within) {
                let key = input.parse::<kw::within>()?.span;
                attr::set(&mut args.within, key, "within", input, duration::parse)?;
            } else if lookahead.peek(kw::restart) {
                let key = input.parse::<kw::restart>()?.span;
                attr::set(&mut args.restart, key, "restart", input, restart)?;
            } else if lookahead.peek(kw::grace) {
                let key = input.parse::<kw::grace>()?.span;
                attr::set(&mut args.grace, key, "grace", input, duration::parse)?;
            } else if lookahead.peek(kw::name) {
                let key = input.parse::<kw::name>()?.span;
                attr::set(&mut args.name, key, "name", input, attr::name)?;
            } else if lookahead.peek(Token![crate]) {
                let key = input.parse::<Token![crate]>()?.span;
                attr::set(&mut args.krate, key, "crate", input, attr::krate)?;
            } else if input.peek(Ident::peek_any) {
                return Err(attr::unknown_key(&input.call(Ident::parse_any)?, KEYS));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
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
    let lit: Lit = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    match &lit {
        Lit::Int(int) if matches!(int.suffix(), "" | "u32") => int
            .base10_parse::<u32>()
            .map_err(|_| syn::Error::new(int.span(), "`max_restarts` is too large")),
        _ => Err(syn::Error::new(lit.span(), EXPECTED)),
    }
}

fn restart(input: ParseStream<'_>) -> syn::Result<&'static str> {
    const EXPECTED: &str = "`restart` is `permanent` (always; the default), `transient` \
                            (after a failure only) or `temporary` (never)";
    let value = |text: &str, span| match text {
        "permanent" => Ok("Permanent"),
        "transient" => Ok("Transient"),
        "temporary" => Ok("Temporary"),
        other => Err(syn::Error::new(
            span,
            format!("unknown `restart` value `{other}`: {EXPECTED}"),
        )),
    };
    if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        return value(&lit.value(), lit.span());
    }
    if input.peek(Ident::peek_any) {
        let ident = input.call(Ident::parse_any)?;
        return value(&ident.unraw().to_string(), ident.span());
    }
    Err(input.error(EXPECTED))
}

/// Expands `#[supervised(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::or_original(item, |item| {
        let mut errors = Errors::default();
        let args = syn::parse2::<Args>(args).map_err(|e| errors.push(e));
        let func = expand::parse_fn(item, "supervised").map_err(|e| errors.push(e));
        if let Ok(func) = &func {
            errors.extend(check(func));
        }
        errors.finish()?;
        match (args, func) {
            (Ok(args), Ok(func)) => Ok(generate(&args, &func)),
            _ => unreachable!("an error was pushed"),
        }
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
    let krate = expand::krate(args.krate.as_ref(), None);
    let name = expand::function_name(args.name.as_ref(), ident);
    let mut builder = quote!(#krate::Supervisor::builder(#name));
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
        builder.extend(quote!(.restart(#krate::Restart::#restart)));
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
            #vis fn spawn() -> ::core::result::Result<#krate::SupervisorHandle, #krate::SupervisorError> {
                Self::builder().#spawn(#call)
            }

            #[doc = #doc_builder]
            #[allow(dead_code)]
            #vis fn builder() -> #krate::SupervisorBuilder {
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
    }
}
