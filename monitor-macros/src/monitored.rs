//! `#[monitored(...)]`: its arguments, and the code it generates: the
//! signature re-emitted untouched, and a body of one `static` for the
//! monitor plus one call into the runtime's `__private` module that runs
//! the user's block, quoted once. How the body is handed over is shared
//! with `#[stack_on_timeout]`, in `expand`.

use proc_macro2::{Literal, Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::visit::Visit;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, ReceiverKind, Signature, Type};

use crate::args::{self, Key, Keys, Shared};
use crate::duration;
use crate::expand::{self, Body, Errors, Takes};

mod kw {
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(max_active);
    syn::custom_keyword!(alert);
    syn::custom_keyword!(on_timeout);
    syn::custom_keyword!(cancel);
    syn::custom_keyword!(detach);
    syn::custom_keyword!(span);
    syn::custom_keyword!(dump_on_timeout);
}

/// The arguments, validated as far as they can be without the function.
/// Durations are in nanoseconds.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) timeout: Option<u64>,
    pub(crate) max_active: Option<usize>,
    pub(crate) alert: Option<Alert>,
    pub(crate) on_timeout: Option<OnTimeout>,
    pub(crate) span: Option<bool>,
    pub(crate) dump_on_timeout: Option<Flag>,
    pub(crate) shared: Shared,
}

/// `dump_on_timeout = true`, with the span of the key, where the error
/// about a dump without a timeout points.
pub(crate) struct Flag {
    pub(crate) key: Span,
    pub(crate) on: bool,
}

/// `alert = "100s"`, with the span of the key, where the error about an
/// alert that cannot fire points.
pub(crate) struct Alert {
    pub(crate) key: Span,
    pub(crate) nanos: u64,
}

/// `on_timeout = cancel | detach`, with the spans that errors about it
/// point at: the key, and the value.
pub(crate) struct OnTimeout {
    pub(crate) key: Span,
    pub(crate) mode: Mode,
    pub(crate) value: Span,
}

/// What happens to an async body at its deadline.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// The body is dropped.
    Cancel,
    /// The body runs on in a tokio task.
    Detach,
}

impl Args {
    /// `on_timeout`, or `cancel` when it is not given.
    pub(crate) fn mode(&self) -> Mode {
        self.on_timeout.as_ref().map_or(Mode::Cancel, |o| o.mode)
    }
}

impl Keys for Args {
    const KEYS: &'static [Key<Self>] = &[
        Key {
            name: Some("timeout"),
            example: "timeout = \"50ms\"",
            peek: |lookahead| lookahead.peek(kw::timeout),
            value: |args, value| value.set(&mut args.timeout, duration::parse),
        },
        Key {
            name: Some("max_active"),
            example: "max_active = 10",
            peek: |lookahead| lookahead.peek(kw::max_active),
            value: |args, value| value.set(&mut args.max_active, max_active),
        },
        Key {
            name: Some("alert"),
            example: "alert = \"100s\"",
            peek: |lookahead| lookahead.peek(kw::alert),
            value: |args, value| {
                let key = value.span;
                value.set(&mut args.alert, |input| {
                    let nanos = duration::parse(input)?;
                    Ok(Alert { key, nanos })
                })
            },
        },
        Key::NAME,
        Key {
            name: Some("on_timeout"),
            example: "on_timeout = detach",
            peek: |lookahead| lookahead.peek(kw::on_timeout),
            value: |args, value| {
                let key = value.span;
                value.set(&mut args.on_timeout, |input| on_timeout(input, key))
            },
        },
        Key {
            name: Some("span"),
            example: "span = true",
            peek: |lookahead| lookahead.peek(kw::span),
            value: |args, value| {
                value.set(&mut args.span, |input| {
                    flag(
                        input,
                        "span",
                        "`span` is `true` (each call runs in a `tracing` span named `monitored`) \
                         or `false` (the default)",
                    )
                })
            },
        },
        Key {
            name: Some("dump_on_timeout"),
            example: "dump_on_timeout = true",
            peek: |lookahead| lookahead.peek(kw::dump_on_timeout),
            value: |args, value| {
                let key = value.span;
                value.set(&mut args.dump_on_timeout, |input| {
                    let on = flag(
                        input,
                        "dump_on_timeout",
                        "`dump_on_timeout` is `true` (a call still running at its timeout is \
                         reported in a dump) or `false` (the default)",
                    )?;
                    Ok(Flag { key, on })
                })
            },
        },
        Key::CRATE,
    ];

    fn shared(&mut self) -> &mut Shared {
        &mut self.shared
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        args::parse(input)
    }
}

fn max_active(input: ParseStream<'_>) -> syn::Result<usize> {
    const EXPECTED: &str =
        "`max_active` takes an integer literal greater than zero, like `max_active = 10`";
    match args::integer(input, "max_active", "usize", EXPECTED, 1..=usize::MAX)? {
        (0, span) => Err(syn::Error::new(
            span,
            "`max_active` must be greater than zero: with 0, every call would be refused",
        )),
        (n, _) => Ok(n),
    }
}

/// `true` or `false` (a word, or a string).
fn flag(input: ParseStream<'_>, key: &str, expected: &str) -> syn::Result<bool> {
    const VALUES: &[(&str, bool)] = &[("true", true), ("false", false)];
    Ok(args::choice(input, key, VALUES, expected)?.0)
}

/// `cancel` or `detach`: keywords, so that a value that is neither a word
/// nor a string lists them; any other word (`r#cancel` too) is unknown.
fn on_timeout(input: ParseStream<'_>, key: Span) -> syn::Result<OnTimeout> {
    const EXPECTED: &str = "`on_timeout` is `cancel` (drop the body at the deadline; the default) \
                            or `detach` (let the body run on in a tokio task)";
    const MODES: &[(&str, Mode)] = &[("cancel", Mode::Cancel), ("detach", Mode::Detach)];
    let lookahead = input.lookahead1();
    if lookahead.peek(kw::cancel) || lookahead.peek(kw::detach) || lookahead.peek(LitStr) {
        let (mode, value) = args::choice(input, "on_timeout", MODES, EXPECTED)?;
        Ok(OnTimeout { key, mode, value })
    } else if input.peek(Ident::peek_any) {
        let word = input.call(Ident::parse_any)?;
        let written = word.unraw().to_string();
        Err(args::unknown_value(
            "on_timeout",
            &written,
            word.span(),
            EXPECTED,
        ))
    } else {
        Err(lookahead.error())
    }
}

/// Expands `#[monitored(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    // The checks (`const fn` among them) run once the arguments parsed too:
    // most need them.
    let checked = |args: Args, func: ItemFn| {
        let body = Body::of(&func);
        check(&args, &func, &body)?;
        Ok(generate(&args, &func, &body))
    };
    expand::attribute("monitored", args, item, |_| None, checked)
}

/// Errors that need both the arguments and the function.
fn check(args: &Args, func: &ItemFn, body: &Body<'_>) -> syn::Result<()> {
    let mut errors = Errors::default();
    errors.extend(expand::reject_const(
        func,
        "monitored",
        "calls are monitored at run time",
    ));
    if let Some(alert) = &args.alert
        && args.max_active.is_none()
    {
        errors.push(syn::Error::new(
            alert.key,
            "`alert` needs `max_active`: an alert fires when the cap stays full (calls \
                 refused as Busy, none completing) for this long, and without `max_active` \
                 there is no cap to fill; add `max_active = N`",
        ));
    }
    if let Some(on_timeout) = &args.on_timeout {
        if args.timeout.is_none() {
            errors.push(syn::Error::new(
                on_timeout.key,
                "`on_timeout` needs `timeout`: without a deadline there is nothing to cancel or detach",
            ));
        }
        if !body.is_async() {
            let msg = match on_timeout.mode {
                Mode::Detach => {
                    "`on_timeout = detach` applies to async functions only: a sync body with a \
                     `timeout` already runs on a worker thread and keeps its slot until it returns"
                }
                Mode::Cancel => {
                    "`on_timeout` applies to async functions only: a sync body cannot be cancelled; \
                     with a `timeout` it runs on a worker thread and keeps its slot until it returns"
                }
            };
            errors.push(syn::Error::new(on_timeout.value, msg));
        }
    }
    if let Some(dump) = &args.dump_on_timeout
        && dump.on
        && args.timeout.is_none()
    {
        errors.push(syn::Error::new(
            dump.key,
            "`dump_on_timeout` needs `timeout`: the call is reported in a dump when it is \
                 still running at its timeout; add `timeout = \"..\"`",
        ));
    }
    let moves = match (body.is_async(), args.timeout, args.mode()) {
        (false, Some(_), _) => Some((
            "a sync `#[monitored]` function with a `timeout` runs its body on a worker thread \
             so that the caller can return at the deadline, so its arguments must be owned and \
             `Send + 'static`",
            "make the function `async`, or drop `timeout`",
        )),
        (true, Some(_), Mode::Detach) => Some((
            "`on_timeout = detach` moves the body of this function to a tokio task at the \
             deadline, so its arguments must be owned and `Send + 'static`",
            "or use `on_timeout = cancel`",
        )),
        _ => None,
    };
    if let Some((why, alternatives)) = moves {
        for (arg, what, fix) in borrowed_args(&func.sig) {
            let msg = format!("{why}; {what} is borrowed: {fix}, {alternatives}");
            errors.push(syn::Error::new_spanned(arg, msg));
        }
    }
    errors.finish()
}

/// The arguments whose type holds a borrow, each with how to name it and
/// how to fix it.
fn borrowed_args(sig: &Signature) -> impl Iterator<Item = (&FnArg, String, &'static str)> {
    sig.inputs.iter().filter_map(|arg| match arg {
        FnArg::Receiver(receiver) if receiver_borrows(&receiver.kind) => {
            let what = match &receiver.kind {
                ReceiverKind::Reference(_, _, Some(_)) => "`&mut self`",
                ReceiverKind::Reference(..) => "`&self`",
                _ => "`self`",
            };
            Some((
                arg,
                what.to_owned(),
                "take `self: Arc<Self>` or owned values",
            ))
        }
        FnArg::Typed(typed) if borrows(&typed.ty) => {
            let what = match &*typed.pat {
                Pat::Ident(pat) => format!("`{}`", pat.ident),
                _ => "this argument".to_owned(),
            };
            Some((
                arg,
                what,
                "take an owned value (for example `String` for `&str`, `Arc<T>` for `&T`)",
            ))
        }
        _ => None,
    })
}

/// Whether a receiver holds a borrow: `&self`, `&'a mut self`,
/// `self: &Self`, not `self`, `&'static self` or `self: Arc<Self>`.
fn receiver_borrows(kind: &ReceiverKind) -> bool {
    match kind {
        ReceiverKind::Reference(_, lifetime, _) => lifetime
            .as_ref()
            .is_none_or(|lifetime| lifetime.ident != "static"),
        ReceiverKind::Typed(_, ty) => borrows(ty),
        _ => false,
    }
}

/// Whether a type holds a reference or a lifetime other than `'static`.
/// Higher-ranked ones (`Fn(&str)`, `for<'a> ..`, `fn(&T)`) do not count.
fn borrows(ty: &Type) -> bool {
    struct Finder(bool);
    impl Visit<'_> for Finder {
        fn visit_lifetime(&mut self, lifetime: &syn::Lifetime) {
            self.0 |= lifetime.ident != "static";
        }
        fn visit_type_reference(&mut self, reference: &syn::TypeReference) {
            self.0 |= reference.lifetime.is_none();
            syn::visit::visit_type_reference(self, reference);
        }
        fn visit_parenthesized_generic_arguments(
            &mut self,
            _: &syn::ParenthesizedGenericArguments,
        ) {
        }
        fn visit_type_fn_ptr(&mut self, _: &syn::TypeFnPtr) {}
        fn visit_trait_bound(&mut self, bound: &syn::TraitBound) {
            if bound.lifetimes.is_none() {
                syn::visit::visit_trait_bound(self, bound);
            }
        }
    }
    let mut finder = Finder(false);
    finder.visit_type(ty);
    finder.0
}

fn generate(args: &Args, func: &ItemFn, body: &Body<'_>) -> TokenStream {
    let monitor = static_monitor(args, &func.sig.ident);
    let callee = |takes, span| {
        let krate = expand::krate(&args.shared, Some(span));
        match (takes, args.timeout, args.mode()) {
            (Takes::Closure, None, _) => quote_spanned!(span=> #krate::__private::sync),
            (Takes::Closure, Some(_), _) => quote_spanned!(span=> #krate::__private::blocking),
            (Takes::Future, _, Mode::Cancel) => quote_spanned!(span=> #krate::__private::cancel),
            (Takes::Future, _, Mode::Detach) => quote_spanned!(span=> #krate::__private::detach),
        }
    };
    expand::wrap(
        func,
        body,
        &args.shared,
        &monitor,
        &quote!(&__MONITOR),
        callee,
    )
}

/// The function's monitor, built in `const` context.
fn static_monitor(args: &Args, ident: &syn::Ident) -> TokenStream {
    let krate = expand::krate(&args.shared, None);
    let name = expand::function_name(&args.shared, ident);
    let at = expand::site_location(ident);
    let mut config = quote!(#krate::monitor::MonitorBuilder::new(#name).at(#at));
    if let Some(nanos) = args.timeout {
        let timeout = expand::duration(&krate, nanos);
        config.extend(quote!(.timeout(#timeout)));
    }
    if let Some(max_active) = args.max_active {
        let max_active = Literal::usize_unsuffixed(max_active);
        config.extend(quote!(.max_active(#max_active)));
    }
    if let Some(alert) = &args.alert {
        let alert = expand::duration(&krate, alert.nanos);
        config.extend(quote!(.alert(#alert)));
    }
    if args.span == Some(true) {
        config.extend(quote!(.span(true)));
    }
    if args.dump_on_timeout.as_ref().is_some_and(|dump| dump.on) {
        config.extend(quote!(.dump_on_timeout(true)));
    }
    quote! {
        static __MONITOR: #krate::__private::StaticMonitor =
            #krate::__private::StaticMonitor::new(#config);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<Args> {
        syn::parse2(tokens)
    }

    fn error(tokens: proc_macro2::TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn all_keys() {
        let args = parse(quote!(
            timeout = "50ms",
            max_active = 10,
            alert = 5s,
            name = "db",
            on_timeout = detach,
            span = true,
            dump_on_timeout = "false",
            crate = "my::rt",
        ))
        .unwrap();
        assert_eq!(args.span, Some(true));
        assert!(args.dump_on_timeout.as_ref().is_some_and(|dump| !dump.on));
        assert_eq!(args.timeout, Some(50_000_000));
        assert_eq!(args.max_active, Some(10));
        assert_eq!(args.alert.map(|alert| alert.nanos), Some(5_000_000_000));
        assert_eq!(args.shared.name.unwrap().value(), "db");
        assert_eq!(args.on_timeout.unwrap().mode, Mode::Detach);
        assert_eq!(args.shared.krate.unwrap().segments.len(), 2);
        assert!(parse(quote!()).is_ok());
        let string_mode = parse(quote!(on_timeout = "cancel")).unwrap();
        assert_eq!(string_mode.mode(), Mode::Cancel);
    }

    #[test]
    fn errors() {
        assert_eq!(
            error(quote!(timeout = 1s, timeout = 2s)),
            "duplicate `timeout`"
        );
        let unknown = error(quote!(timout = 1s));
        assert!(
            unknown.starts_with("unknown key `timout`: did you mean `timeout`?"),
            "{unknown}"
        );
        assert!(
            unknown.ends_with("`on_timeout`, `span`, `dump_on_timeout`, `crate`"),
            "{unknown}"
        );
        assert_eq!(
            error(quote!(span = yes)),
            "unknown `span` value `yes`: `span` is `true` (each call runs in a `tracing` span \
             named `monitored`) or `false` (the default)"
        );
        assert!(error(quote!(span = 1)).contains("`span` is `true`"));
        assert!(error(quote!(dump_on_timeout = maybe)).contains("`dump_on_timeout` is `true`"));
        assert!(!error(quote!(speed = 1)).contains("did you mean"));
        assert!(error(quote!(max_active = 0)).contains("greater than zero"));
        assert!(error(quote!(max_active = "ten")).contains("integer literal"));
        assert!(error(quote!(max_active = 1.5)).contains("integer literal"));
        assert!(error(quote!(on_timeout = sometimes)).contains("`cancel`"));
        assert!(error(quote!(on_timeout = "never")).contains("`detach`"));
        assert!(error(quote!(name = "")).contains("empty"));
        assert!(error(quote!(crate = "not a path")).contains("path"));
        assert!(error(quote!(timeout = 1s max_active = 2)).contains("expected `,`"));
        assert!(error(quote!(5)).contains("expected one of"));
    }

    #[test]
    fn out_of_range() {
        let max = usize::MAX;
        assert_eq!(
            error(quote!(max_active = -1)),
            format!("`max_active` takes a whole number from 1 to {max}; `-1` is negative")
        );
        assert_eq!(
            error(quote!(max_active = 99999999999999999999999)),
            format!(
                "`max_active` takes a whole number from 1 to {max}; \
                 `99999999999999999999999` is too large"
            )
        );
        assert!(error(quote!(max_active = -1.5)).contains("integer literal"));
    }

    #[test]
    fn key_without_value() {
        let expected = "`timeout` takes a value, like `timeout = \"50ms\"`";
        assert_eq!(error(quote!(timeout)), expected);
        assert_eq!(error(quote!(timeout, max_active = 1)), expected);
        assert_eq!(error(quote!(timeout =)), expected);
        assert_eq!(error(quote!(timeout =, max_active = 1)), expected);
        assert_eq!(
            error(quote!(max_active)),
            "`max_active` takes a value, like `max_active = 10`"
        );
        assert_eq!(
            error(quote!(name)),
            "`name` takes a value, like `name = \"db.fetch_user\"`"
        );
        assert_eq!(
            error(quote!(timeout = 1s, crate)),
            "`crate` takes a value, like `crate = \"my_crate::monitor\"`"
        );
    }

    #[test]
    fn alert_needs_max_active() {
        let item = quote!(
            fn work() -> Result<(), Error> {
                Ok(())
            }
        );
        let without = expand(quote!(timeout = 1s, alert = 1s), item.clone()).to_string();
        assert!(without.contains("`alert` needs `max_active`"), "{without}");
        let with = expand(quote!(max_active = 1, alert = 1s), item).to_string();
        assert!(!with.contains("compile_error"), "{with}");
    }

    #[test]
    fn dump_on_timeout_needs_timeout() {
        let item = quote!(
            fn work() -> Result<(), Error> {
                Ok(())
            }
        );
        let without = expand(quote!(dump_on_timeout = true), item.clone()).to_string();
        assert!(
            without.contains("`dump_on_timeout` needs `timeout`"),
            "{without}"
        );
        let with = expand(
            quote!(timeout = 1s, dump_on_timeout = true, span = true),
            item,
        );
        let with = with.to_string();
        assert!(!with.contains("compile_error"), "{with}");
        assert!(with.contains(". dump_on_timeout (true)"), "{with}");
        assert!(with.contains(". span (true)"), "{with}");
    }
}
