//! Duration literals: `"50ms"`, `50ms`, `1.5s`, converted to whole
//! nanoseconds at compile time.
//!
//! Why not `humantime::parse_duration` (2.4): it rejects `1e3ms` (a float
//! literal Rust's lexer hands us as is), `.5s` and `1_000ns`, which a Rust
//! user writes; it accepts `0ms` (a timeout that fails every call) and
//! calendar units (`1M`, `1y`) whose length is a convention; and its errors
//! (`UnknownUnit { start: 1, end: 2, .. }`) name neither the units nor the
//! near miss (`5 ms`: "write `5ms`"), which a compile error here must. The
//! code it would save is `nanos` below; the test
//! `humantime_rejects_what_we_accept` keeps this reason true.

use syn::parse::ParseStream;
use syn::{Ident, Lit};

/// The units a duration may be written in, with their length in
/// nanoseconds. The first name of each is the one error messages show.
const UNITS: &[(&[&str], u128)] = &[
    (&["ns"], 1),
    (&["us", "µs", "μs"], 1_000),
    (&["ms"], 1_000_000),
    (&["s"], 1_000_000_000),
    (&["m", "min"], 60_000_000_000),
    (&["h"], 3_600_000_000_000),
];

/// What every error about a malformed duration ends with.
const EXPECTED: &str =
    "expected a number followed by one of the units `ns`, `us`, `ms`, `s`, `m`, `h`, \
                        like `50ms`, `1.5s` or \"250us\"";

/// Parses a duration value: a string literal (`"50ms"`) or a bare literal
/// with a unit suffix (`50ms`, `1.5s`). Errors point at the literal.
pub(crate) fn parse(input: ParseStream<'_>) -> syn::Result<u64> {
    let lit: Lit = input.parse()?;
    let (number, unit) = match &lit {
        Lit::Str(s) => {
            return from_str(&s.value()).map_err(|msg| syn::Error::new(s.span(), msg));
        }
        Lit::Int(int) => (int.base10_digits(), int.suffix()),
        Lit::Float(float) => (float.base10_digits(), float.suffix()),
        _ => return Err(syn::Error::new(lit.span(), EXPECTED)),
    };
    // `5 parsecs`: a number, then a word the user meant as its unit.
    if unit.is_empty() && input.peek(Ident) {
        let word: Ident = input.parse()?;
        let msg = if UNITS
            .iter()
            .any(|(names, _)| names.contains(&&*word.to_string()))
        {
            format!("write `{number}{word}`, without a space")
        } else {
            format!("unknown unit `{word}` in `{number} {word}`: {EXPECTED}")
        };
        return Err(syn::Error::new_spanned(quote::quote!(#lit #word), msg));
    }
    nanos(number, unit).map_err(|msg| syn::Error::new(lit.span(), msg))
}

/// Parses `"50ms"`, `"1.5 s"`, `"250µs"`.
fn from_str(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '.' || c == '_'))
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    if number.is_empty() {
        return Err(format!("invalid duration \"{text}\": {EXPECTED}"));
    }
    nanos(&number.replace('_', ""), unit.trim_start())
}

/// `number` (decimal digits with an optional fraction and exponent, as
/// `LitFloat::base10_digits` gives them) times `unit`, in whole nanoseconds.
fn nanos(number: &str, unit: &str) -> Result<u64, String> {
    let written = format!("{number}{unit}");
    if unit.is_empty() {
        return Err(format!("`{number}` has no unit: {EXPECTED}"));
    }
    let Some(&(_, unit_ns)) = UNITS.iter().find(|(names, _)| names.contains(&unit)) else {
        return Err(format!("unknown unit `{unit}` in `{written}`: {EXPECTED}"));
    };
    let (mantissa, exponent) = match number.split_once(['e', 'E']) {
        Some((mantissa, exponent)) => (mantissa, exponent.parse::<i32>().ok()),
        None => (number, Some(0)),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits = format!("{whole}{fraction}");
    let (Some(exponent), false, true) = (
        exponent,
        digits.is_empty(),
        digits.bytes().all(|b| b.is_ascii_digit()),
    ) else {
        return Err(format!("invalid duration `{written}`: {EXPECTED}"));
    };
    let too_large = || format!("duration `{written}` is too large: at most about 584 years");
    // value = digits * 10^(exponent - fraction digits) * unit
    let scaled = digits
        .parse::<u128>()
        .ok()
        .and_then(|d| d.checked_mul(unit_ns))
        .ok_or_else(too_large)?;
    let shift = i64::from(exponent) - i64::try_from(fraction.len()).map_err(|_| too_large())?;
    let ten_to = |n: i64| u32::try_from(n).ok().and_then(|n| 10u128.checked_pow(n));
    let total = if shift >= 0 {
        ten_to(shift)
            .and_then(|p| scaled.checked_mul(p))
            .ok_or_else(too_large)?
    } else {
        match ten_to(-shift) {
            Some(p) if scaled % p == 0 => scaled / p,
            // Dividing by more than 10^38 leaves nothing, or a fraction.
            _ if scaled == 0 => 0,
            _ => {
                return Err(format!(
                    "duration `{written}` is not a whole number of nanoseconds"
                ))
            }
        }
    };
    match u64::try_from(total) {
        Ok(0) => Err(format!("duration `{written}` must be greater than zero")),
        Ok(ns) => Ok(ns),
        Err(_) => Err(too_large()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use syn::parse::Parser;

    fn parse_tokens(tokens: proc_macro2::TokenStream) -> Result<u64, String> {
        parse.parse2(tokens).map_err(|e| e.to_string())
    }

    #[test]
    fn strings() {
        assert_eq!(from_str("50ms"), Ok(50_000_000));
        assert_eq!(from_str("1.5s"), Ok(1_500_000_000));
        assert_eq!(from_str(" 2 h "), Ok(7_200_000_000_000));
        assert_eq!(from_str("250µs"), Ok(250_000));
        assert_eq!(from_str("250us"), Ok(250_000));
        assert_eq!(from_str("3min"), Ok(180_000_000_000));
        assert_eq!(from_str("1_000ns"), Ok(1_000));
        assert_eq!(from_str(".5s"), Ok(500_000_000));
    }

    #[test]
    fn bare_literals() {
        assert_eq!(parse_tokens(quote::quote!(50ms)), Ok(50_000_000));
        assert_eq!(parse_tokens(quote::quote!(5s)), Ok(5_000_000_000));
        assert_eq!(parse_tokens(quote::quote!(1.5s)), Ok(1_500_000_000));
        assert_eq!(parse_tokens(quote::quote!(2m)), Ok(120_000_000_000));
        assert_eq!(parse_tokens(quote::quote!(1_000us)), Ok(1_000_000));
        assert_eq!(parse_tokens(quote::quote!(1e3ms)), Ok(1_000_000_000));
        assert_eq!(parse_tokens(quote::quote!("10ms")), Ok(10_000_000));
    }

    #[test]
    fn errors() {
        let unit =
            |r: Result<u64, String>| r.unwrap_err().contains("`ns`, `us`, `ms`, `s`, `m`, `h`");
        assert!(unit(from_str("fast")));
        assert!(unit(from_str("50")));
        assert!(unit(from_str("5 parsecs")));
        assert!(unit(from_str("1.2.3s")));
        assert!(unit(parse_tokens(quote::quote!(50))));
        assert!(unit(parse_tokens(quote::quote!(5 parsecs))));
        assert!(parse_tokens(quote::quote!(5 ms))
            .unwrap_err()
            .contains("write `5ms`"));
        assert!(unit(parse_tokens(quote::quote!(5.0))));
        assert!(unit(parse_tokens(quote::quote!(true))));
        assert!(from_str("0ms").unwrap_err().contains("greater than zero"));
        assert!(from_str("0.0s").unwrap_err().contains("greater than zero"));
        assert!(from_str("1.5ns").unwrap_err().contains("whole number"));
        assert!(parse_tokens(quote::quote!(1e-30s))
            .unwrap_err()
            .contains("whole number"));
        assert!(from_str("6000000h").unwrap_err().contains("too large"));
        assert!(parse_tokens(quote::quote!(1e300s))
            .unwrap_err()
            .contains("too large"));
        assert!(from_str("99999999999999999999999999999999999999999s")
            .unwrap_err()
            .contains("too large"));
        assert!(from_str("584y").unwrap_err().contains("unknown unit `y`"));
    }

    #[test]
    fn humantime_rejects_what_we_accept() {
        assert_eq!(parse_tokens(quote::quote!(1e3ms)), Ok(1_000_000_000));
        for written in ["1e3ms", ".5s", "1_000ns"] {
            assert!(written == "1e3ms" || from_str(written).is_ok(), "{written}");
            assert!(
                humantime::parse_duration(written).is_err(),
                "humantime now takes {written}: consider it again"
            );
        }
        assert!(from_str("0ms").is_err());
        assert!(humantime::parse_duration("0ms").is_ok());
    }

    #[test]
    fn largest() {
        assert_eq!(from_str("18446744073709551615ns"), Ok(u64::MAX));
        assert!(from_str("18446744073709551616ns").is_err());
    }
}
