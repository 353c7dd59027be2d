//! Evaluation tests. Semantics come from Altinn's `ExpressionEvaluator.cs` / `ExpressionValue.cs` and the
//! shared test cases in `app-lib-dotnet` (`LayoutExpressions/CommonTests/shared-tests/functions`).

use serde_json::json;

use super::eval::NoContext;
use super::tests_context::{call, err, eval_ok, ok};
use super::*;

#[test]
fn brief_examples() {
    assert_eq!(
        eval_ok(r#"["equals", ["gatewayAction"], "reject"]"#),
        json!(true)
    );
    assert_eq!(
        eval_ok(r#"["equals", ["dataModel", "model.ShouldDoubleSign"], true]"#),
        json!(true)
    );
    let e = r#"["notEquals", ["dataModel", "gatewayShouldFail", "task2"], true]"#;
    assert_eq!(eval_ok(e), json!(false));
    let e = r#"["and", ["equals", ["gatewayAction"], "reject"], ["not", ["dataModel", "gatewayShouldFail"]]]"#;
    assert_eq!(eval_ok(e), json!(true));
}

#[test]
fn literals_evaluate_to_themselves() {
    for v in [json!(null), json!(true), json!(1.5), json!("x"), json!(-3)] {
        assert_eq!(Expr::from_json(&v).unwrap().eval(&NoContext).unwrap(), v);
    }
}

#[test]
fn equals_compares_string_forms() {
    assert_eq!(ok("equals", json!([1, "1"])), json!(true));
    assert_eq!(ok("equals", json!([1.0, 1])), json!(true));
    assert_eq!(ok("equals", json!([1, "1.0"])), json!(false));
    assert_eq!(ok("equals", json!([1.5, "1.5"])), json!(true));
    assert_eq!(ok("equals", json!([true, "true"])), json!(true));
    assert_eq!(ok("equals", json!([true, "TRUE"])), json!(true));
    assert_eq!(ok("equals", json!(["False", false])), json!(true));
    assert_eq!(ok("equals", json!([true, 1])), json!(false));
    assert_eq!(ok("equals", json!([null, null])), json!(true));
    assert_eq!(ok("equals", json!([null, "null"])), json!(true));
    assert_eq!(ok("equals", json!(["NULL", null])), json!(true));
    assert_eq!(ok("equals", json!([null, ""])), json!(false));
    assert_eq!(ok("equals", json!([null, false])), json!(false));
    assert_eq!(ok("equals", json!(["abc", "ABC"])), json!(false));
    assert_eq!(ok("equals", json!(["abc", "abc"])), json!(true));
    assert_eq!(ok("equals", json!([1e15, "1E+15"])), json!(true));
    assert_eq!(
        err("equals", json!([{ "a": 1 }, "x"])),
        r#"`equals` expects a string, number, boolean or null, got {"a":1} (object)"#
    );
    assert!(err("equals", json!(["x", [1]])).contains("got [1] (array)"));
}

#[test]
fn not_equals_is_the_negation() {
    assert_eq!(ok("notEquals", json!([1, "1"])), json!(false));
    assert_eq!(ok("notEquals", json!(["a", "b"])), json!(true));
    assert_eq!(ok("notEquals", json!([null, "null"])), json!(false));
    assert!(err("notEquals", json!([[], 1])).starts_with("`notEquals` expects"));
}

#[test]
fn not_and_boolean_coercion() {
    for (v, expected) in [
        (json!(true), false),
        (json!(false), true),
        (json!(null), true),
        (json!("true"), false),
        (json!("false"), true),
        (json!("1"), false),
        (json!("0"), true),
        (json!("1.00"), false),
        (json!("0.0"), true),
        (json!(1), false),
        (json!(0), true),
        (json!(1.0), false),
    ] {
        assert_eq!(ok("not", json!([v])), json!(expected), "not {v}");
    }
    assert_eq!(
        err("not", json!(["yes"])),
        r#"`not` expects a boolean (true, false, null, "true", "false", 1 or 0), got "yes" (string)"#
    );
    for bad in [json!("TRUE"), json!(2), json!(""), json!([true]), json!({})] {
        assert!(call("not", json!([bad])).is_err(), "{bad}");
    }
}

#[test]
fn and_or_convert_every_argument() {
    assert_eq!(ok("and", json!([true])), json!(true));
    assert_eq!(ok("and", json!([true, "true", 1])), json!(true));
    assert_eq!(ok("and", json!([true, null])), json!(false));
    assert_eq!(ok("or", json!([false, null, "0"])), json!(false));
    assert_eq!(ok("or", json!([false, "1"])), json!(true));
    // Like Altinn, a bad operand fails even when the result is already decided.
    assert!(err("and", json!([false, "nope"])).starts_with("`and` expects a boolean"));
    assert!(err("or", json!([true, 7])).starts_with("`or` expects a boolean"));
    let nested = r#"["or", ["and", true, ["equals", ["gatewayAction"], "approve"]],
                          ["and", ["not", false], ["equals", ["gatewayAction"], "reject"]]]"#;
    assert_eq!(eval_ok(nested), json!(true));
}

#[test]
fn if_with_and_without_else() {
    assert_eq!(ok("if", json!([true, "a"])), json!("a"));
    assert_eq!(ok("if", json!([false, "a"])), json!(null));
    assert_eq!(ok("if", json!([null, "a"])), json!(null));
    assert_eq!(ok("if", json!(["true", 1, "else", 2])), json!(1));
    assert_eq!(ok("if", json!([false, 1, "else", 2])), json!(2));
    assert!(err("if", json!(["maybe", 1])).starts_with("`if` expects a boolean"));
    let e = r#"["if", ["equals", ["gatewayAction"], "reject"], "rejected", "else", "other"]"#;
    assert_eq!(eval_ok(e), json!("rejected"));
    let e = r#"["equals", ["if", ["dataModel", "gatewayShouldFail"], 1, "else", 2], 2]"#;
    assert_eq!(eval_ok(e), json!(true));
}

#[test]
fn numeric_comparisons() {
    assert_eq!(ok("greaterThan", json!([5, 3])), json!(true));
    assert_eq!(ok("greaterThan", json!([3, 3])), json!(false));
    assert_eq!(ok("greaterThanEq", json!([3, 3])), json!(true));
    assert_eq!(ok("lessThan", json!([2.5, 3])), json!(true));
    assert_eq!(ok("lessThanEq", json!([3, "3.0"])), json!(true));
    assert_eq!(ok("greaterThan", json!(["10", -5e2])), json!(true));
    assert_eq!(ok("lessThan", json!(["-1.5", "-1"])), json!(true));
    assert_eq!(
        ok("greaterThan", json!(["10", "9"])),
        json!(true),
        "numeric, not lexical"
    );
    for f in ["greaterThan", "greaterThanEq", "lessThan", "lessThanEq"] {
        assert_eq!(ok(f, json!([null, 1])), json!(false), "{f}");
        assert_eq!(ok(f, json!([1, null])), json!(false), "{f}");
        assert_eq!(ok(f, json!([null, null])), json!(false), "{f}");
    }
    assert_eq!(
        err("greaterThan", json!(["abc", 5])),
        r#"`greaterThan` cannot compare "abc" (string) with 5 (number)"#
    );
    assert_eq!(
        err("lessThanEq", json!([5, true])),
        "`lessThanEq` cannot compare 5 (number) with true"
    );
    // Altinn's numeric strings: -?digits(.digits)? and nothing else.
    for bad in [
        "5e2", "5+E2", "5e", " 5", "+5", ".5", "5.", "1,5", "", "null", "0x10",
    ] {
        assert!(call("greaterThan", json!([bad, 1])).is_err(), "{bad:?}");
    }
    assert!(call("lessThan", json!([{ "a": 1 }, 1])).is_err());
    assert!(call("lessThan", json!([1, [1]])).is_err());
}

#[test]
fn contains_starts_ends_with() {
    assert_eq!(ok("contains", json!(["Hello world", "o w"])), json!(true));
    assert_eq!(
        ok("contains", json!(["Hello", "hello"])),
        json!(false),
        "case-sensitive"
    );
    assert_eq!(ok("contains", json!([12345, 234])), json!(true));
    assert_eq!(ok("contains", json!(["abc", ""])), json!(true));
    assert_eq!(ok("contains", json!([null, "a"])), json!(false));
    assert_eq!(ok("contains", json!(["a", null])), json!(false));
    assert_eq!(ok("notContains", json!(["abc", "d"])), json!(true));
    assert_eq!(ok("notContains", json!(["abc", "b"])), json!(false));
    assert_eq!(ok("notContains", json!([null, "a"])), json!(true));
    assert_eq!(ok("startsWith", json!(["Hello", "He"])), json!(true));
    assert_eq!(ok("startsWith", json!(["Hello", "he"])), json!(false));
    assert_eq!(ok("startsWith", json!([null, "he"])), json!(false));
    assert_eq!(ok("endsWith", json!(["Hello", "llo"])), json!(true));
    assert_eq!(ok("endsWith", json!([1.5, ".5"])), json!(true));
    assert_eq!(ok("endsWith", json!(["Hello", null])), json!(false));
    // Altinn normalises "TRUE"/"False"/"NULL" before comparing.
    assert_eq!(ok("contains", json!(["TRUE", "T"])), json!(false));
    assert!(err("contains", json!([{ "a": 1 }, "a"])).starts_with("`contains` expects a string"));
    assert!(err("startsWith", json!(["a", ["a"]])).starts_with("`startsWith` expects a string"));
}

#[test]
fn string_length_and_case() {
    assert_eq!(ok("stringLength", json!(["abc"])), json!(3));
    assert_eq!(ok("stringLength", json!([""])), json!(0));
    assert_eq!(ok("stringLength", json!([null])), json!(0));
    assert_eq!(ok("stringLength", json!(["null"])), json!(0));
    assert_eq!(ok("stringLength", json!(["æøå"])), json!(3));
    assert_eq!(
        ok("stringLength", json!(["😀"])),
        json!(2),
        "UTF-16 code units"
    );
    assert_eq!(ok("stringLength", json!([true])), json!(4));
    assert_eq!(ok("stringLength", json!([12.5])), json!(4));
    assert_eq!(
        err("stringLength", json!([{ "a": 1 }])),
        r#"`stringLength` expects a string, number, boolean or null, got {"a":1} (object)"#
    );
    assert_eq!(ok("lowerCase", json!(["ÆØÅ Abc"])), json!("æøå abc"));
    assert_eq!(ok("upperCase", json!(["æøå abc"])), json!("ÆØÅ ABC"));
    assert_eq!(ok("lowerCase", json!([null])), json!(null));
    assert_eq!(ok("upperCase", json!([null])), json!(null));
    assert_eq!(ok("upperCase", json!([true])), json!("TRUE"));
    assert_eq!(ok("lowerCase", json!([1.5])), json!("1.5"));
    assert!(err("upperCase", json!([[1]])).starts_with("`upperCase` expects"));
}

#[test]
fn concat_keeps_strings_verbatim() {
    let special = json!([
        "TRUE",
        "FALSE",
        "true",
        "false",
        "Null",
        "null",
        "NULL",
        "undefined"
    ]);
    assert_eq!(
        ok("concat", special),
        json!("TRUEFALSEtruefalseNullnullNULLundefined")
    );
    assert_eq!(ok("concat", json!([])), json!(""));
    assert_eq!(
        ok("concat", json!(["a", null, 1, 2.5, true, false])),
        json!("a12.5truefalse")
    );
    assert!(err("concat", json!(["a", { "b": 1 }])).starts_with("`concat` expects"));
}
