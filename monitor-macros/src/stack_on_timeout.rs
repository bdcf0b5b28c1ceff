//! `#[stack_on_timeout(5s)]`: its arguments, and the `static CallSite` it
//! generates. Everything else (parsing the function, how its body runs,
//! the wrapper around it) is shared with `#[monitored]` in `expand`.
//!
//! Nothing is ever refused, so unlike `#[monitored]` the return type needs
//! no way to carry an error: any function keeps its signature and its
//! behaviour, and a call still running at the deadline is reported once.

use proc_macro2::{Span, TokenStream};
use quote::{quote, quote_spanned};
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, ItemFn, Lit};

use crate::args::{self, Key, Keys, Shared, Value};
use crate::duration;
use crate::expand::{self, Body, Takes};
use crate::monitored;

mod kw {
    syn::custom_keyword!(timeout);
}

/// The arguments: the deadline, in nanoseconds, and the optional keys.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) deadline: u64,
    pub(crate) shared: Shared,
}

/// The arguments as they are parsed, the deadline perhaps missing.
#[derive(Default)]
struct Given {
    deadline: Option<u64>,
    shared: Shared,
}

impl Keys for Given {
    const KEYS: &'static [Key<Self>] = &[
        // `5s`, `"5s"`: the deadline, without a key.
        Key {
            name: None,
            example: "5s",
            peek: |lookahead| lookahead.peek(Lit),
            value: deadline,
        },
        Key {
            name: Some("timeout"),
            example: "timeout = \"5s\"",
            peek: |lookahead| lookahead.peek(kw::timeout),
            value: deadline,
        },
        Key::NAME,
        Key::CRATE,
    ];

    fn shared(&mut self) -> &mut Shared {
        &mut self.shared
    }

    /// A key of `#[monitored]` gets a pointer to it.
    fn unknown_key(key: &Ident) -> syn::Error {
        let written = key.unraw().to_string();
        if !args::names(monitored::Args::KEYS).contains(&written.as_str()) {
            return args::unknown_key(key, &args::names(Self::KEYS));
        }
        syn::Error::new(
            key.span(),
            format!(
                "`{written}` is a key of `#[monitored]`, which goes next to \
                 `#[stack_on_timeout]` on the same function; the keys of \
                 `#[stack_on_timeout]` are `timeout`, `name`, `crate`"
            ),
        )
    }
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let Given { deadline, shared } = args::parse(input)?;
        let deadline = deadline.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "`#[stack_on_timeout]` needs a deadline, e.g. `#[stack_on_timeout(5s)]`",
            )
        })?;
        Ok(Args { deadline, shared })
    }
}

/// The deadline, with or without `timeout =`: an error at the second one
/// (or its key) if there is a deadline already.
fn deadline(given: &mut Given, value: Value<'_>) -> syn::Result<()> {
    if given.deadline.is_some() {
        return Err(syn::Error::new(
            value.span,
            "a second deadline: `#[stack_on_timeout]` takes one, like `#[stack_on_timeout(5s)]`",
        ));
    }
    given.deadline = Some(value.parse(duration::parse)?);
    Ok(())
}

/// Expands `#[stack_on_timeout(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    let check = |func: &ItemFn| {
        expand::reject_const(func, "stack_on_timeout", "calls are watched at run time")
    };
    expand::attribute("stack_on_timeout", args, item, check, |args: Args, func| {
        Ok(generate(&args, &func))
    })
}

fn generate(args: &Args, func: &ItemFn) -> TokenStream {
    let ident = &func.sig.ident;
    let krate = expand::krate(&args.shared, None);
    let name = expand::function_name(&args.shared, ident);
    let at = expand::site_location(ident);
    let deadline = expand::duration(&krate, args.deadline);
    let site = quote! {
        static __MONITOR_SITE: #krate::__private::CallSite =
            #krate::__private::CallSite::new(#name, #at).report_after(#deadline);
    };
    let body = Body::of(func);
    expand::wrap(
        func,
        &body,
        &args.shared,
        &site,
        &quote!(&__MONITOR_SITE),
        |takes, span| {
            let krate = expand::krate(&args.shared, Some(span));
            match takes {
                Takes::Closure => quote_spanned!(span=> #krate::__private::stack_sync),
                Takes::Future => quote_spanned!(span=> #krate::__private::stack_async),
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(tokens: TokenStream) -> syn::Result<Args> {
        syn::parse2(tokens)
    }

    fn error(tokens: TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => panic!("expected an error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn deadlines() {
        assert_eq!(parse(quote!(5s)).unwrap().deadline, 5_000_000_000);
        assert_eq!(parse(quote!(1.5s)).unwrap().deadline, 1_500_000_000);
        assert_eq!(parse(quote!("250ms")).unwrap().deadline, 250_000_000);
        assert_eq!(
            parse(quote!(timeout = 2m)).unwrap().deadline,
            120_000_000_000
        );
        let all = parse(quote!(name = "db", 5s, crate = "my::rt",)).unwrap();
        assert_eq!(all.deadline, 5_000_000_000);
        assert_eq!(all.shared.name.unwrap().value(), "db");
        assert_eq!(all.shared.krate.unwrap().segments.len(), 2);
    }

    #[test]
    fn errors() {
        assert!(error(quote!()).contains("needs a deadline"));
        assert!(error(quote!(name = "x")).contains("needs a deadline"));
        assert!(error(quote!(5s, 6s)).starts_with("a second deadline"));
        assert!(error(quote!(5s, timeout = 6s)).starts_with("a second deadline"));
        assert!(error(quote!(timeout = 5s, "6s")).starts_with("a second deadline"));
        assert!(error(quote!(0s)).contains("greater than zero"));
        assert!(error(quote!("soon")).contains("invalid duration"));
        assert!(error(quote!(5)).contains("has no unit"));
        assert!(error(quote!(5s, name = "a", name = "b")).contains("duplicate `name`"));
        let near = error(quote!(timout = 5s));
        assert_eq!(
            near,
            "unknown key `timout`: did you mean `timeout`? The keys are `timeout`, `name`, `crate`"
        );
        assert_eq!(
            error(quote!(5s, after = 1)),
            "unknown key `after`: the keys are `timeout`, `name`, `crate`"
        );
        assert!(error(quote!(5s, max_active = 1))
            .starts_with("`max_active` is a key of `#[monitored]`"));
        assert!(error(quote!(5s 6s)).contains("expected `,`"));
        assert!(error(quote!(-5s)).contains("invalid duration `-5s`"));
        assert!(error(quote!(+)).contains("expected one of"));
        assert_eq!(
            error(quote!(timeout)),
            "`timeout` takes a value, like `timeout = \"5s\"`"
        );
    }
}
