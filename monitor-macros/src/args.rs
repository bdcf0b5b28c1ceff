//! The argument parser of the three macros: the loop over `key = value`
//! pairs (with `lookahead1`, in the manner of `tracing-attributes`), each
//! key at most once, unknown keys listed with a "did you mean" hint, the
//! keys every macro takes (`name`, `crate`), and the parsers of values.
//!
//! A macro declares its arguments as a table of [`Key`]s ([`Keys::KEYS`]);
//! [`parse`] runs the loop over them. Durations are parsed in `duration`.

use std::ops::RangeInclusive;

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Lookahead1, ParseStream};
use syn::{Ident, Lit, LitStr, Path, Token};

mod kw {
    syn::custom_keyword!(name);
}

/// The arguments of one macro, filled in by [`parse`].
pub(crate) trait Keys: Default + 'static {
    /// What the macro takes, in the order the docs list them: errors name
    /// them in this order. [`Key::NAME`] and [`Key::CRATE`] are the keys
    /// every macro takes.
    const KEYS: &'static [Key<Self>];

    /// Where [`Key::NAME`] and [`Key::CRATE`] go.
    fn shared(&mut self) -> &mut Shared;

    /// The error at a key that is none of [`Keys::KEYS`].
    fn unknown_key(key: &Ident) -> syn::Error {
        unknown_key(key, &names(Self::KEYS))
    }
}

/// One argument: `key = value`, or a value without a key.
pub(crate) struct Key<A> {
    /// The key, as written before `=` and as errors name it; `None` for a
    /// value written without a key (the deadline of
    /// `#[stack_on_timeout(5s)]`).
    pub(crate) name: Option<&'static str>,
    /// The argument as a user would write it (`timeout = "50ms"`): what
    /// an error about a key without its value shows.
    pub(crate) example: &'static str,
    /// Whether the argument comes next: a peek of its `kw::` keyword (of
    /// its value, without a key) through the loop's `lookahead1`, so that
    /// a token that starts no argument is an error that lists them all.
    pub(crate) peek: fn(&Lookahead1<'_>) -> bool,
    /// Parses the value into the arguments, usually with [`Value::set`].
    pub(crate) value: fn(&mut A, Value<'_>) -> syn::Result<()>,
}

/// The keys every macro takes: `name = ".."` and `crate = ".."`.
#[derive(Default)]
pub(crate) struct Shared {
    pub(crate) name: Option<LitStr>,
    pub(crate) krate: Option<Path>,
}

impl<A: Keys> Key<A> {
    /// `name = "db.fetch_user"`: what the runtime calls the function.
    pub(crate) const NAME: Self = Key {
        name: Some("name"),
        example: "name = \"db.fetch_user\"",
        peek: |lookahead| lookahead.peek(kw::name),
        value: |args, value| value.set(&mut args.shared().name, name),
    };

    /// `crate = "my_crate::monitor"`: the path to the runtime.
    pub(crate) const CRATE: Self = Key {
        name: Some("crate"),
        example: "crate = \"my_crate::monitor\"",
        peek: |lookahead| lookahead.peek(Token![crate]),
        value: |args, value| value.set(&mut args.shared().krate, krate),
    };
}

/// The value of an argument, as a [`Key`]'s `value` gets it.
pub(crate) struct Value<'a> {
    /// The key; `None` without a key.
    name: Option<&'static str>,
    /// The argument as written in full, from [`Key::example`].
    example: &'static str,
    /// The span of the key, or of the value when it has no key: where
    /// errors about the argument as a whole point.
    pub(crate) span: Span,
    /// What follows the key: `= value`, or the value itself.
    pub(crate) input: ParseStream<'a>,
}

impl<'a> Value<'a> {
    /// Parses `= value` (without a key, `value`) with `parse`. A key
    /// without `=`, or with `=` but nothing after it, is an error at the
    /// key that shows the argument in full.
    pub(crate) fn parse<T>(
        &self,
        parse: impl FnOnce(ParseStream<'a>) -> syn::Result<T>,
    ) -> syn::Result<T> {
        if let Some(name) = self.name {
            let missing = || {
                syn::Error::new(
                    self.span,
                    format!("`{name}` takes a value, like `{}`", self.example),
                )
            };
            if !self.input.peek(Token![=]) {
                return Err(missing());
            }
            self.input.parse::<Token![=]>()?;
            if self.input.is_empty() || self.input.peek(Token![,]) {
                return Err(missing());
            }
        }
        parse(self.input)
    }

    /// Parses the value into `slot`, unless the key was given before: that
    /// is an error at the second key.
    pub(crate) fn set<T>(
        &self,
        slot: &mut Option<T>,
        parse: impl FnOnce(ParseStream<'a>) -> syn::Result<T>,
    ) -> syn::Result<()> {
        if slot.is_some() {
            let msg = match self.name {
                Some(name) => format!("duplicate `{name}`"),
                None => "a second value without a key".to_owned(),
            };
            return Err(syn::Error::new(self.span, msg));
        }
        *slot = Some(self.parse(parse)?);
        Ok(())
    }
}

/// Parses the arguments of a macro: a comma-separated list of the
/// arguments in `A::KEYS`, in any order.
pub(crate) fn parse<A: Keys>(input: ParseStream<'_>) -> syn::Result<A> {
    let mut args = A::default();
    while !input.is_empty() {
        let lookahead = input.lookahead1();
        if let Some(key) = A::KEYS.iter().find(|key| (key.peek)(&lookahead)) {
            let span = match key.name {
                Some(_) => input.call(Ident::parse_any)?.span(),
                None => input.span(),
            };
            let value = Value {
                name: key.name,
                example: key.example,
                span,
                input,
            };
            (key.value)(&mut args, value)?;
        } else if input.peek(Ident::peek_any) {
            return Err(A::unknown_key(&input.call(Ident::parse_any)?));
        } else {
            return Err(lookahead.error());
        }
        if !input.is_empty() {
            input.parse::<Token![,]>()?;
        }
    }
    Ok(args)
}

/// The keys of `keys`, in their order.
pub(crate) fn names<A>(keys: &[Key<A>]) -> Vec<&'static str> {
    keys.iter().filter_map(|key| key.name).collect()
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

/// An integer literal, unsuffixed or with the suffix `suffix` (the name
/// of `T`), with its span. `expected` says what `key` takes; `range` is
/// what it accepts, which the errors about a negative or too large value
/// name. A value below `range` that is not negative (`max_active = 0`) is
/// returned, for the caller to explain.
pub(crate) fn integer<T: std::str::FromStr + std::fmt::Display>(
    input: ParseStream<'_>,
    key: &str,
    suffix: &str,
    expected: &str,
    range: RangeInclusive<T>,
) -> syn::Result<(T, Span)>
where
    T::Err: std::fmt::Display,
{
    let out_of_range = |written: &str, why: &str| {
        format!(
            "`{key}` takes a whole number from {} to {}; `{written}` is {why}",
            range.start(),
            range.end()
        )
    };
    // `-1`: one error over the sign and the digits.
    if input.peek(Token![-]) {
        let minus: Token![-] = input.parse()?;
        let lit: Lit = input
            .parse()
            .map_err(|e| syn::Error::new(e.span(), expected))?;
        let Lit::Int(int) = &lit else {
            return Err(syn::Error::new_spanned(
                quote::quote!(#minus #lit),
                expected,
            ));
        };
        let written = format!("-{}", int.base10_digits());
        return Err(syn::Error::new_spanned(
            quote::quote!(#minus #lit),
            out_of_range(&written, "negative"),
        ));
    }
    let lit: Lit = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), expected))?;
    let Lit::Int(int) = &lit else {
        return Err(syn::Error::new(lit.span(), expected));
    };
    if int.suffix() != "" && int.suffix() != suffix {
        return Err(syn::Error::new(int.span(), expected));
    }
    match int.base10_parse::<T>() {
        Ok(n) => Ok((n, int.span())),
        Err(_) => Err(syn::Error::new(
            int.span(),
            out_of_range(int.base10_digits(), "too large"),
        )),
    }
}

/// One of `choices`, written as a word (`transient`) or as a string
/// (`"transient"`), with its span. `expected` says what `key` takes.
pub(crate) fn choice<T: Copy>(
    input: ParseStream<'_>,
    key: &str,
    choices: &[(&str, T)],
    expected: &str,
) -> syn::Result<(T, Span)> {
    let (written, span) = if input.peek(LitStr) {
        let lit: LitStr = input.parse()?;
        (lit.value(), lit.span())
    } else if input.peek(Ident::peek_any) {
        let ident = input.call(Ident::parse_any)?;
        (ident.unraw().to_string(), ident.span())
    } else {
        return Err(input.error(expected));
    };
    match choices.iter().find(|(name, _)| *name == written) {
        Some(&(_, value)) => Ok((value, span)),
        None => Err(unknown_value(key, &written, span, expected)),
    }
}

/// An error at `span`, a value of `key` that is none of the valid ones.
pub(crate) fn unknown_value(key: &str, written: &str, span: Span, expected: &str) -> syn::Error {
    syn::Error::new(
        span,
        format!("unknown `{key}` value `{written}`: {expected}"),
    )
}

/// `name = "db.fetch_user"`.
fn name(input: ParseStream<'_>) -> syn::Result<LitStr> {
    const EXPECTED: &str = "`name` takes a string literal, like `name = \"db.fetch_user\"`";
    let name: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    if name.value().is_empty() {
        return Err(syn::Error::new(name.span(), "`name` must not be empty"));
    }
    Ok(name)
}

/// `crate = "my_crate::monitor"`.
fn krate(input: ParseStream<'_>) -> syn::Result<Path> {
    const EXPECTED: &str =
        "`crate` takes the path to the runtime as a string, like `crate = \"my_crate::monitor\"`";
    let lit: LitStr = input
        .parse()
        .map_err(|e| syn::Error::new(e.span(), EXPECTED))?;
    lit.parse_with(Path::parse_mod_style)
        .map_err(|_| syn::Error::new(lit.span(), EXPECTED))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distance() {
        assert_eq!(edit_distance("timout", "timeout"), 1);
        assert_eq!(edit_distance("max_actve", "max_active"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
