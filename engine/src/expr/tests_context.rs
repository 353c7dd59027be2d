//! Evaluation tests around the context: data model lookups, gatewayAction, instanceContext, conditions,
//! number formatting and [`lookup_path`].

use serde_json::{Value, json};

use super::eval::{NoContext, apply};
use super::value::format_f64;
use super::*;

/// Applies a function to already-evaluated values (bypasses the parser's constant check).
pub(super) fn call(name: &str, args: Value) -> Result<Value, EvalError> {
    let func = Function::from_name(name).expect("known function");
    let Value::Array(args) = args else {
        panic!("args must be an array")
    };
    apply(func, &args, &NoContext)
}

pub(super) fn ok(name: &str, args: Value) -> Value {
    call(name, args).unwrap_or_else(|e| panic!("{name} failed: {e}"))
}

pub(super) fn err(name: &str, args: Value) -> String {
    match call(name, args) {
        Ok(v) => panic!("{name} should fail, gave {v}"),
        Err(e) => e.to_string(),
    }
}

pub(super) fn ctx() -> MapContext {
    let mut ctx = MapContext::with_data(
        "model",
        json!({
            "model": { "ShouldDoubleSign": true, "Amount": 1500, "Name": "Kari", "Missing": null },
            "gatewayShouldFail": false,
            "list": [{ "v": "a" }, { "v": "b" }],
            "obj": { "a": 1 },
            "text": "abc",
            "yes": "yes",
        }),
    );
    ctx.data
        .insert("task2".into(), json!({ "gatewayShouldFail": true }));
    ctx.gateway_action = Some("reject".into());
    ctx.instance
        .insert("instanceOwnerPartyId".into(), json!("50001"));
    ctx.instance.insert("appId".into(), json!("ttd/app"));
    ctx
}

pub(super) fn eval(text: &str) -> Result<Value, EvalError> {
    Expr::parse(text).expect("parses").eval(&ctx())
}

pub(super) fn eval_ok(text: &str) -> Value {
    eval(text).unwrap_or_else(|e| panic!("{text} failed: {e}"))
}

#[test]
fn numbers_are_formatted_like_dotnet() {
    for (x, s) in [
        (0.0, "0"),
        (-0.0, "-0"),
        (1.0, "1"),
        (-2.25, "-2.25"),
        (0.1, "0.1"),
        (1500.0, "1500"),
        (0.0001, "0.0001"),
        (0.00001, "1E-05"),
        (1.5e-7, "1.5E-07"),
        (1e14, "100000000000000"),
        (123456789012345.6, "123456789012345.6"),
        (1e15, "1E+15"),
        (1.5e300, "1.5E+300"),
        (123456789012345680000.0, "1.2345678901234568E+20"),
        (9007199254740993.0, "9.007199254740992E+15"),
    ] {
        assert_eq!(format_f64(x), s, "{x:e}");
    }
    assert_eq!(ok("concat", json!([1500, -3, 2.5])), json!("1500-32.5"));
}

#[test]
fn data_model_lookups() {
    assert_eq!(eval_ok(r#"["dataModel", "model.Amount"]"#), json!(1500));
    assert_eq!(eval_ok(r#"["dataModel", "model.Missing"]"#), json!(null));
    assert_eq!(eval_ok(r#"["dataModel", "no.such.path"]"#), json!(null));
    assert_eq!(eval_ok(r#"["dataModel", "list[1].v"]"#), json!("b"));
    assert_eq!(eval_ok(r#"["dataModel", "obj"]"#), json!({ "a": 1 }));
    assert_eq!(
        eval_ok(r#"["dataModel", "gatewayShouldFail", "task2"]"#),
        json!(true)
    );
    assert_eq!(
        eval_ok(r#"["dataModel", ["concat", "model.", "Name"]]"#),
        json!("Kari")
    );
    assert_eq!(
        eval_ok(r#"["greaterThan", ["dataModel", "model.Amount"], "1000"]"#),
        json!(true)
    );
    let unknown = eval(r#"["dataModel", "a", "nope"]"#).unwrap_err();
    assert_eq!(
        unknown,
        EvalError::UnknownDataType {
            data_type: "nope".into()
        }
    );
    assert_eq!(unknown.to_string(), "unknown data type `nope`");
    let e = eval(r#"["dataModel", ["if", false, "x"]]"#).unwrap_err();
    assert_eq!(e.to_string(), "`dataModel` cannot look up a null path");
    let e = eval(r#"["dataModel", ["stringLength", "ab"]]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        "`dataModel` expects a string (the data model path), got 2 (number)"
    );
    let no_default = MapContext::default();
    let e = Expr::parse(r#"["dataModel", "a"]"#)
        .unwrap()
        .eval(&no_default)
        .unwrap_err();
    assert_eq!(e, EvalError::NoDefaultDataType);
}

#[test]
fn type_errors_from_data() {
    let e = eval(r#"["greaterThan", ["dataModel", "text"], 5]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"`greaterThan` cannot compare "abc" (string) with 5 (number)"#
    );
    let e = eval(r#"["equals", ["dataModel", "obj"], 1]"#).unwrap_err();
    assert!(e.to_string().contains(r#"got {"a":1} (object)"#), "{e}");
    let e = eval(r#"["and", ["dataModel", "yes"]]"#).unwrap_err();
    assert!(matches!(
        e,
        EvalError::WrongType {
            function: Function::And,
            ..
        }
    ));
    let big = json!({ "k": "x".repeat(500) });
    let msg = err("stringLength", json!([big]));
    assert!(msg.chars().count() < 200 && msg.contains('…'), "{msg}");
}

#[test]
fn gateway_action_and_instance_context() {
    assert_eq!(eval_ok(r#"["gatewayAction"]"#), json!("reject"));
    let none = MapContext::default();
    let e = Expr::parse(r#"["gatewayAction"]"#).unwrap();
    assert_eq!(e.eval(&none).unwrap(), json!(null));
    assert!(!e.eval_bool(&none).unwrap_or(true));
    assert_eq!(
        eval_ok(r#"["instanceContext", "instanceOwnerPartyId"]"#),
        json!("50001")
    );
    assert_eq!(eval_ok(r#"["instanceContext", "instanceId"]"#), json!(null));
    let e = eval(r#"["instanceContext", ["concat", "instance", "Owner"]]"#).unwrap_err();
    assert_eq!(
        e,
        EvalError::UnknownInstanceContextKey {
            key: "instanceOwner".into()
        }
    );
    assert!(
        e.to_string()
            .starts_with(r#"unknown instanceContext key "instanceOwner" (string)"#)
    );
    let e = eval(r#"["instanceContext", ["dataModel", "model.Amount"]]"#).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("`instanceContext` expects a string"),
        "{e}"
    );
}

#[test]
fn eval_bool_requires_boolean_or_null() {
    let c = ctx();
    let b = |t: &str| Expr::parse(t).unwrap().eval_bool(&c);
    assert_eq!(b("true"), Ok(true));
    assert_eq!(b("false"), Ok(false));
    assert_eq!(b("null"), Ok(false));
    assert_eq!(b(r#"["dataModel", "model.Missing"]"#), Ok(false));
    assert_eq!(b(r#"["dataModel", "model.ShouldDoubleSign"]"#), Ok(true));
    let e = b(r#"["dataModel", "model.Name"]"#).unwrap_err();
    assert_eq!(
        e.to_string(),
        r#"a condition must evaluate to true, false or null, got "Kari" (string)"#
    );
    assert!(b("1").is_err());
    assert!(b(r#""true""#).is_err());
}

#[test]
fn lookup_path_walks_objects_and_arrays() {
    let root = json!({ "a": { "b": [ { "c": 1 }, [10, 20] ] }, "x.y": 2, "arr": [[1, [2]]] });
    assert_eq!(lookup_path(&root, "a.b[0].c"), Some(&json!(1)));
    assert_eq!(lookup_path(&root, "a.b[1][1]"), Some(&json!(20)));
    assert_eq!(lookup_path(&root, "arr[0][1][0]"), Some(&json!(2)));
    assert_eq!(lookup_path(&root, "a"), root.get("a"));
    for missing in [
        "a.c",
        "a.b[2]",
        "a.b.c",
        "a.b[0].c.d",
        "a[0]",
        "x.y",
        "a.b[0]c",
    ] {
        assert_eq!(lookup_path(&root, missing), None, "{missing}");
    }
    for malformed in [
        "", ".", "a.", ".a", "a..b", "a.b[", "a.b[x]", "a.b[-1]", "a.b[+1]", "a.b[]", "a.[0]",
    ] {
        assert_eq!(lookup_path(&root, malformed), None, "{malformed}");
    }
    let list = json!([{ "n": "first" }]);
    assert_eq!(lookup_path(&list, "[0].n"), Some(&json!("first")));
    assert_eq!(lookup_path(&json!(null), "a"), None);
}

#[test]
fn map_context_errors() {
    let c = MapContext::default();
    assert_eq!(
        c.data_model("a", Some("x")),
        Err(EvalError::UnknownDataType {
            data_type: "x".into()
        })
    );
    assert_eq!(c.instance_context("appId"), Ok(Value::Null));
}
