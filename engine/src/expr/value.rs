//! Value coercions (Altinn's `ToStringForEquals`, `PrepareBooleanArg`, `PrepareNumericArg`) and previews
//! of values for error messages.

use std::borrow::Cow;
use std::fmt::Write as _;

use serde_json::{Number, Value};

/// Why a value could not be coerced (the caller knows which function and builds the error).
#[derive(Debug)]
pub(crate) struct NotCoercible;

/// Altinn's `ToStringForEquals`: `None` stands for null.
pub(crate) fn string_form(v: &Value) -> Result<Option<Cow<'_, str>>, NotCoercible> {
    match v {
        Value::Null => Ok(None),
        Value::Bool(true) => Ok(Some(Cow::Borrowed("true"))),
        Value::Bool(false) => Ok(Some(Cow::Borrowed("false"))),
        Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Cow::Borrowed("true"))),
        Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Cow::Borrowed("false"))),
        Value::String(s) if s.eq_ignore_ascii_case("null") => Ok(None),
        Value::String(s) => Ok(Some(Cow::Borrowed(s))),
        Value::Number(n) => Ok(Some(Cow::Owned(format_number(n)))),
        Value::Array(_) | Value::Object(_) => Err(NotCoercible),
    }
}

/// Altinn's `PrepareBooleanArg`.
pub(crate) fn to_bool(v: &Value) -> Result<bool, NotCoercible> {
    match v {
        Value::Null | Value::Bool(false) => Ok(false),
        Value::Bool(true) => Ok(true),
        Value::String(s) => match s.as_str() {
            "true" | "1" => Ok(true),
            "false" | "0" => Ok(false),
            other => match parse_number(other) {
                Some(1.0) => Ok(true),
                Some(0.0) => Ok(false),
                _ => Err(NotCoercible),
            },
        },
        Value::Number(n) => match n.as_f64() {
            Some(1.0) => Ok(true),
            Some(0.0) => Ok(false),
            _ => Err(NotCoercible),
        },
        Value::Array(_) | Value::Object(_) => Err(NotCoercible),
    }
}

/// Altinn's `PrepareNumericArg`: `None` stands for null.
pub(crate) fn to_number(v: &Value) -> Result<Option<f64>, NotCoercible> {
    match v {
        Value::Null => Ok(None),
        Value::Number(n) => n.as_f64().map(Some).ok_or(NotCoercible),
        Value::String(s) => parse_number(s).map(Some).ok_or(NotCoercible),
        Value::Bool(_) | Value::Array(_) | Value::Object(_) => Err(NotCoercible),
    }
}

/// Altinn's numeric strings: `^-?[0-9]+(\.[0-9]+)?$`.
pub(crate) fn parse_number(s: &str) -> Option<f64> {
    let unsigned = s.strip_prefix('-').unwrap_or(s);
    let (int, frac) = match unsigned.split_once('.') {
        Some((int, frac)) => (int, Some(frac)),
        None => (unsigned, None),
    };
    let digits = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !frac.is_none_or(digits) {
        return None;
    }
    s.parse::<f64>().ok()
}

/// Formats a number like .NET's `double.ToString(CultureInfo.InvariantCulture)`: the shortest digits that
/// read back to the same double, positional when the decimal exponent is in `-5 < e < 15`, otherwise
/// scientific with a signed exponent of at least two digits (`1E+15`, `1.5E-07`).
pub(crate) fn format_number(n: &Number) -> String {
    match n.as_f64() {
        Some(x) => format_f64(x),
        None => n.to_string(),
    }
}

pub(crate) fn format_f64(x: f64) -> String {
    if x.is_nan() {
        return "NaN".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "∞" } else { "-∞" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    // Rust's `{:e}` gives the shortest round-trip digits, e.g. "-1.2345e-7".
    let sci = format!("{x:e}");
    let Some((mantissa, exp)) = sci.split_once('e') else {
        return sci;
    };
    let Ok(exp) = exp.parse::<i64>() else {
        return sci;
    };
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let mut out = String::new();
    if x < 0.0 {
        out.push('-');
    }
    if exp > -5 && exp < 15 {
        if exp < 0 {
            out.push_str("0.");
            for _ in 0..(-exp - 1) {
                out.push('0');
            }
            out.push_str(&digits);
        } else {
            let int_len = usize::try_from(exp).unwrap_or(0) + 1;
            out.extend(digits.chars().take(int_len));
            for _ in digits.len()..int_len {
                out.push('0');
            }
            if digits.len() > int_len {
                out.push('.');
                out.extend(digits.chars().skip(int_len));
            }
        }
    } else {
        let mut chars = digits.chars();
        if let Some(first) = chars.next() {
            out.push(first);
        }
        let rest: String = chars.collect();
        if !rest.is_empty() {
            out.push('.');
            out.push_str(&rest);
        }
        let sign = if exp < 0 { '-' } else { '+' };
        let _ = write!(out, "E{sign}{:02}", exp.unsigned_abs());
    }
    out
}

/// The JSON type name of a value.
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

const PREVIEW_CHARS: usize = 80;
const PREVIEW_DEPTH: usize = 4;

/// A short description for error messages: `"abc" (string)`, `5 (number)`, `true`, `null`,
/// `[1,2] (array)`. Long or deep values are cut off with `…` (never recurses deeply).
pub(crate) fn describe(v: &Value) -> String {
    let mut out = String::new();
    preview(v, &mut out, 0);
    if out.chars().count() > PREVIEW_CHARS {
        out = out.chars().take(PREVIEW_CHARS).collect();
        out.push('…');
    }
    match v {
        Value::Null | Value::Bool(_) => out,
        other => format!("{out} ({})", type_name(other)),
    }
}

fn preview(v: &Value, out: &mut String, depth: usize) {
    if out.len() > PREVIEW_CHARS * 4 {
        return;
    }
    match v {
        Value::Array(items) => {
            if depth >= PREVIEW_DEPTH && !items.is_empty() {
                out.push_str("[…]");
                return;
            }
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if out.len() > PREVIEW_CHARS * 4 {
                    out.push('…');
                    break;
                }
                preview(item, out, depth + 1);
            }
            out.push(']');
        }
        Value::Object(map) => {
            if depth >= PREVIEW_DEPTH && !map.is_empty() {
                out.push_str("{…}");
                return;
            }
            out.push('{');
            for (i, (key, item)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if out.len() > PREVIEW_CHARS * 4 {
                    out.push('…');
                    break;
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                preview(item, out, depth + 1);
            }
            out.push('}');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

/// Like [`describe`] but for input that may be nested arbitrarily deep (parse errors): arrays and objects
/// are only named.
pub(crate) fn describe_shallow(v: &Value) -> String {
    match v {
        Value::Array(_) => "an array".to_owned(),
        Value::Object(_) => "an object".to_owned(),
        scalar => describe(scalar),
    }
}
