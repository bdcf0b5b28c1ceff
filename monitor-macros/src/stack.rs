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
use syn::{Ident, ItemFn, Lit, LitStr, Path, Token};

use crate::attr;
use crate::duration;
use crate::expand::{self, Body, Errors, Takes};

mod kw {
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(name);
}

/// Every key, as the docs list them.
const KEYS: &[&str] = &["timeout", "name", "crate"];

/// The arguments: the deadline, in nanoseconds, and the optional keys.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) deadline: u64,
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut deadline = None;
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(Lit) {
                // `5s`, `"5s"`: the deadline, without a key.
                first_deadline(deadline, input.span())?;
                deadline = Some(duration::parse(input)?);
            } else if lookahead.peek(kw::timeout) {
                let key = input.parse::<kw::timeout>()?.span;
                first_deadline(deadline, key)?;
                input.parse::<Token![=]>()?;
                deadline = Some(duration::parse(input)?);
            } else if lookahead.peek(kw::name) {
                let key = input.parse::<kw::name>()?.span;
                attr::set(&mut args.name, key, "name", input, attr::name)?;
            } else if lookahead.peek(Token![crate]) {
                let key = input.parse::<Token![crate]>()?.span;
                attr::set(&mut args.krate, key, "crate", input, attr::krate)?;
            } else if input.peek(Ident::peek_any) {
                return Err(unknown_key(&input.call(Ident::parse_any)?));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        args.deadline = deadline.ok_or_else(|| {
            syn::Error::new(
                Span::call_site(),
                "`#[stack_on_timeout]` needs a deadline, e.g. `#[stack_on_timeout(5s)]`",
            )
        })?;
        Ok(args)
    }
}

/// An error at an unknown key; a key of `#[monitored]` gets a pointer to
/// it.
fn unknown_key(key: &Ident) -> syn::Error {
    let written = key.unraw().to_string();
    if !attr::KEYS.contains(&written.as_str()) {
        return attr::unknown_key(key, KEYS);
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

/// An error at `at`, a second duration or its key, if there is a deadline
/// already.
fn first_deadline(deadline: Option<u64>, at: Span) -> syn::Result<()> {
    match deadline {
        Some(_) => Err(syn::Error::new(
            at,
            "a second deadline: `#[stack_on_timeout]` takes one, like `#[stack_on_timeout(5s)]`",
        )),
        None => Ok(()),
    }
}

/// Expands `#[stack_on_timeout(args)] item`.
pub(crate) fn expand(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::or_original(item, |item| {
        let mut errors = Errors::default();
        let args = syn::parse2::<Args>(args).map_err(|e| errors.push(e));
        let func = expand::parse_fn(item, "stack_on_timeout").map_err(|e| errors.push(e));
        if let Ok(func) = &func {
            errors.extend(expand::reject_const(
                func,
                "stack_on_timeout",
                "calls are watched at run time",
            ));
        }
        errors.finish()?;
        match (args, func) {
            (Ok(args), Ok(func)) => Ok(generate(&args, &func)),
            _ => unreachable!("an error was pushed"),
        }
    })
}

fn generate(args: &Args, func: &ItemFn) -> TokenStream {
    let ident = &func.sig.ident;
    let krate = expand::krate(args.krate.as_ref(), None);
    let name = expand::function_name(args.name.as_ref(), ident);
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
        &site,
        &quote!(&__MONITOR_SITE),
        |takes, span| {
            let krate = expand::krate(args.krate.as_ref(), Some(span));
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
        assert_eq!(all.name.unwrap().value(), "db");
        assert_eq!(all.krate.unwrap().segments.len(), 2);
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
    }
}
