//! The nesting limit: deep input gives a ParseError, never a stack overflow.

use serde_json::{Value, json};

use super::tests_parse::{perr, pmsg};
use super::*;

#[test]
fn nesting_is_limited() {
    let nested = |depth: usize| {
        let mut text = String::new();
        for _ in 1..depth {
            text.push_str(r#"["not","#);
        }
        text.push_str("[\"not\", true]");
        text.push_str(&"]".repeat(depth - 1));
        text
    };
    let e = Expr::parse(&nested(MAX_DEPTH)).unwrap();
    assert_eq!(Expr::parse(&e.to_string()).unwrap(), e);
    assert_eq!(
        pmsg(&nested(MAX_DEPTH + 1)),
        "nesting deeper than 64 levels (at column 449)"
    );
    assert!(matches!(perr(&nested(10_000)), ParseError::TooDeep { .. }));
    assert!(matches!(
        perr(&"[".repeat(10_000)),
        ParseError::TooDeep { .. }
    ));
    let text = format!("{}{}", "[".repeat(100), "]".repeat(100));
    assert!(matches!(perr(&text), ParseError::TooDeep { .. }));
}

/// Builds `[outer..., [inner]]` 10 000 levels deep without recursion, and takes it apart the same way
/// (dropping it recursively could itself overflow the stack).
/// (`json!` is avoided here: with a variable inside it serialises the value recursively.)
fn deep_value(wrap: impl Fn(Value) -> Value, depth: usize) -> Value {
    let mut v = json!(true);
    for _ in 0..depth {
        v = wrap(v);
    }
    v
}

fn not(inner: Value) -> Value {
    Value::Array(vec![Value::String("not".into()), inner])
}

fn dismantle(mut v: Value) {
    while let Value::Array(mut items) = v {
        v = items.pop().unwrap_or(Value::Null);
    }
}

#[test]
fn deeply_nested_json_values_are_rejected_without_overflow() {
    let not_chain = deep_value(not, 10_000);
    let e = Expr::from_json(&not_chain).unwrap_err();
    let ParseError::TooDeep { at } = &e else {
        panic!("expected TooDeep, got {e}")
    };
    assert!(at.starts_with("$[1][1]"));
    dismantle(not_chain);

    let bare = deep_value(|inner| Value::Array(vec![inner]), 10_000);
    assert!(matches!(
        Expr::from_json(&bare),
        Err(ParseError::TooDeep { .. })
    ));
    dismantle(bare);

    let ok = deep_value(not, MAX_DEPTH);
    assert!(Expr::from_json(&ok).is_ok());
    let too_deep = deep_value(not, MAX_DEPTH + 1);
    assert!(matches!(
        Expr::from_json(&too_deep),
        Err(ParseError::TooDeep { .. })
    ));
}
