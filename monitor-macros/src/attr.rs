//! The arguments of `#[monitored(...)]`: a typed [`Parse`] implementation
//! with one branch per key, in the manner of `tracing-attributes`. The
//! parsers of values and the errors about keys are shared with
//! `#[stack_on_timeout]` (`stack.rs`).

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::{Ident, Lit, LitStr, Path, Token};

use crate::duration;

mod kw {
    syn::custom_keyword!(timeout);
    syn::custom_keyword!(max_active);
    syn::custom_keyword!(alert);
    syn::custom_keyword!(name);
    syn::custom_keyword!(on_timeout);
    syn::custom_keyword!(cancel);
    syn::custom_keyword!(detach);
}

/// Every key, as the docs list them.
pub(crate) const KEYS: &[&str] = &[
    "timeout",
    "max_active",
    "alert",
    "name",
    "on_timeout",
    "crate",
];

/// The arguments, validated as far as they can be without the function.
/// Durations are in nanoseconds.
#[derive(Default)]
pub(crate) struct Args {
    pub(crate) timeout: Option<u64>,
    pub(crate) max_active: Option<usize>,
    pub(crate) alert: Option<u64>,
    pub(crate) name: Option<LitStr>,
    pub(crate) on_timeout: Option<OnTimeout>,
    pub(crate) krate: Option<Path>,
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

impl Parse for Args {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut args = Args::default();
        while !input.is_empty() {
            let lookahead = input.lookahead1();
            if lookahead.peek(kw::timeout) {
                let key = input.parse::<kw::timeout>()?.span;
                set(&mut args.timeout, key, "timeout", input, duration::parse)?;
            } else if lookahead.peek(kw::max_active) {
                let key = input.parse::<kw::max_active>()?.span;
                set(&mut args.max_active, key, "max_active", input, max_active)?;
            } else if lookahead.peek(kw::alert) {
                let key = input.parse::<kw::alert>()?.span;
                set(&mut args.alert, key, "alert", input, duration::parse)?;
            } else if lookahead.peek(kw::name) {
                let key = input.parse::<kw::name>()?.span;
                set(&mut args.name, key, "name", input, name)?;
            } else if lookahead.peek(kw::on_timeout) {
                let key = input.parse::<kw::on_timeout>()?.span;
                let value = |input: ParseStream<'_>| on_timeout(input, key);
                set(&mut args.on_timeout, key, "on_timeout", input, value)?;
            } else if lookahead.peek(Token![crate]) {
                let key = input.parse::<Token![crate]>()?.span;
                set(&mut args.krate, key, "crate", input, krate)?;
            } else if input.peek(Ident::peek_any) {
                return Err(unknown_key(&input.call(Ident::parse_any)?, KEYS));
            } else {
                return Err(lookahead.error());
            }
            if !input.is_empty() {
                input.parse::<Token![,]>()?;
            }
        }
        Ok(args)
    }
}

/// Parses `= value` into `slot`, unless the key was given before.
pub(crate) fn set<T>(
    slot: &mut Option<T>,
    key: Span,
    name: &str,
    input: ParseStream<'_>,
    value: impl FnOnce(ParseStream<'_>) -> syn::Result<T>,
) -> syn::Result<()> {
    if slot.is_some() {
        return Err(syn::Error::new(key, format!("duplicate `{name}`")));
    }
    input.parse::<Token![=]>()?;
    *slot = Some(value(input)?);
    Ok(())
}

fn max_active(input: ParseStream<'_>) -> syn::Result<usize> {
    const EXPECTED: &str =
        "`max_active` takes an integer literal greater than zero, like `max_active = 10`";
    let lit: Lit = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    let Lit::Int(int) = &lit else {
        return Err(syn::Error::new(lit.span(), EXPECTED));
    };
    if !matches!(int.suffix(), "" | "usize") {
        return Err(syn::Error::new(int.span(), EXPECTED));
    }
    match int.base10_parse::<usize>() {
        Ok(0) => Err(syn::Error::new(
            int.span(),
            "`max_active` must be greater than zero: with 0, every call would be refused",
        )),
        Ok(n) => Ok(n),
        Err(_) => Err(syn::Error::new(int.span(), "`max_active` is too large")),
    }
}

pub(crate) fn name(input: ParseStream<'_>) -> syn::Result<LitStr> {
    const EXPECTED: &str = "`name` takes a string literal, like `name = \"db.fetch_user\"`";
    let name: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    if name.value().is_empty() {
        return Err(syn::Error::new(name.span(), "`name` must not be empty"));
    }
    Ok(name)
}

fn on_timeout(input: ParseStream<'_>, key: Span) -> syn::Result<OnTimeout> {
    const EXPECTED: &str = "`on_timeout` is `cancel` (drop the body at the deadline; the default) \
                            or `detach` (let the body run on in a tokio task)";
    let unknown = |value: &str, span| {
        syn::Error::new(
            span,
            format!("unknown `on_timeout` value `{value}`: {EXPECTED}"),
        )
    };
    let lookahead = input.lookahead1();
    let (mode, value) = if lookahead.peek(kw::cancel) {
        (Mode::Cancel, input.parse::<kw::cancel>()?.span)
    } else if lookahead.peek(kw::detach) {
        (Mode::Detach, input.parse::<kw::detach>()?.span)
    } else if lookahead.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        match lit.value().as_str() {
            "cancel" => (Mode::Cancel, lit.span()),
            "detach" => (Mode::Detach, lit.span()),
            other => return Err(unknown(other, lit.span())),
        }
    } else if input.peek(Ident::peek_any) {
        let ident = input.call(Ident::parse_any)?;
        return Err(unknown(&ident.unraw().to_string(), ident.span()));
    } else {
        return Err(lookahead.error());
    };
    Ok(OnTimeout { key, mode, value })
}

pub(crate) fn krate(input: ParseStream<'_>) -> syn::Result<Path> {
    const EXPECTED: &str =
        "`crate` takes the path to the runtime as a string, like `crate = \"my_crate::monitor\"`";
    let lit: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    lit.parse_with(Path::parse_mod_style)
        .map_err(|_| syn::Error::new(lit.span(), EXPECTED))
}

/// An error at an unknown key that lists the valid ones, `keys`, with a
/// hint when the key is a near miss of one of them.
pub(crate) fn unknown_key(key: &Ident, keys: &[&str]) -> syn::Error {
    let written = key.unraw().to_string();
    let near_miss = keys
        .iter()
        .map(|valid| (edit_distance(&written.to_lowercase(), valid), valid))
        .filter(|&(distance, _)| distance <= 2)
        .min();
    let keys = keys
        .iter()
        .map(|k| format!("`{k}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let msg = match near_miss {
        Some((_, valid)) => {
            format!("unknown key `{written}`: did you mean `{valid}`? The keys are {keys}")
        }
        None => format!("unknown key `{written}`: the keys are {keys}"),
    };
    syn::Error::new(key.span(), msg)
}

/// Levenshtein distance, for "did you mean" hints.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut diagonal = row[0];
        row[0] = i + 1;
        for (j, &cb) in b.iter().enumerate() {
            let substitute = diagonal + usize::from(ca != cb);
            diagonal = row[j + 1];
            row[j + 1] = substitute.min(row[j] + 1).min(row[j + 1] + 1);
        }
    }
    row[b.len()]
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
            crate = "my::rt",
        ))
        .unwrap();
        assert_eq!(args.timeout, Some(50_000_000));
        assert_eq!(args.max_active, Some(10));
        assert_eq!(args.alert, Some(5_000_000_000));
        assert_eq!(args.name.unwrap().value(), "db");
        assert_eq!(args.on_timeout.unwrap().mode, Mode::Detach);
        assert_eq!(args.krate.unwrap().segments.len(), 2);
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
        assert!(unknown.ends_with("`on_timeout`, `crate`"), "{unknown}");
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
    fn distance() {
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("max_actve", "max_active"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
