//! Parsing, validation, Display and structure tests.

use serde_json::{Value, json};

use super::*;

pub(super) fn perr(text: &str) -> ParseError {
    match Expr::parse(text) {
        Ok(e) => panic!("{text} should not parse, gave {e}"),
        Err(e) => e,
    }
}

pub(super) fn pmsg(text: &str) -> String {
    perr(text).to_string()
}

#[test]
fn parses_brief_examples_with_whitespace() {
    for text in [
        r#"["equals", ["gatewayAction"], "reject"]"#,
        "\n   [\"equals\", [\"dataModel\", \"model.ShouldDoubleSign\"], true]  \n\t",
        r#"["notEquals", ["dataModel", "gatewayShouldFail", "task2"], true]"#,
        r#"["and", ["equals", 1, 1], ["or", false, ["not", null]]]"#,
    ] {
        Expr::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
    }
}

#[test]
fn literals_are_expressions() {
    for text in ["true", "false", "null", "12", "-1.5", r#""text""#] {
        let e = Expr::parse(text).unwrap();
        assert_eq!(e.to_json(), serde_json::from_str::<Value>(text).unwrap());
    }
}

#[test]
fn display_is_compact_canonical_json() {
    let e = Expr::parse(" [ \"equals\" ,\n [\"gatewayAction\"] , \"reject\" ] ").unwrap();
    assert_eq!(e.to_string(), r#"["equals",["gatewayAction"],"reject"]"#);
    let e = Expr::parse(r#"["if", true, "a\"b", "ELSE", 1.5]"#).unwrap();
    assert_eq!(e.to_string(), r#"["if",true,"a\"b","else",1.5]"#);
}

#[test]
fn display_round_trips() {
    for text in [
        r#"["equals",["gatewayAction"],"reject"]"#,
        r#"["and",["equals",["dataModel","model.ShouldDoubleSign"],true],["notEquals",["dataModel","x","task2"],null]]"#,
        r#"["if",["greaterThan",["dataModel","a"],1e3],"big","Else",["concat","a",1,0.1,-2,true,null]]"#,
        r#"["or",["contains","abc","b"],["notContains","abc","d"],["startsWith","ab","a"],["endsWith","ab","b"]]"#,
        r#"["lessThanEq",["stringLength",["lowerCase",["upperCase","Æ\n\u0001😀"]]],12345678901234567890]"#,
        r#"["greaterThanEq",["instanceContext","appId"],-0.000001]"#,
        r#"["lessThan",1.7976931348623157e308,5e-324]"#,
        r#"["if",false,"x"]"#,
        r#""just a string""#,
        "null",
    ] {
        let e = Expr::parse(text).unwrap_or_else(|err| panic!("{text}: {err}"));
        let shown = e.to_string();
        assert_eq!(Expr::parse(&shown).unwrap(), e, "{text} -> {shown}");
        assert_eq!(Expr::from_json(&e.to_json()).unwrap(), e);
        let via_serde: Expr = serde_json::from_str(&serde_json::to_string(&e).unwrap()).unwrap();
        assert_eq!(via_serde, e);
    }
}

#[test]
fn comments_and_trailing_commas_are_allowed() {
    let text = "// approve or reject\n[\"or\", /* first */ [\"equals\", [\"gatewayAction\"], \"reject\",],\n true, // done\n]";
    let e = Expr::parse(text).unwrap();
    assert_eq!(
        e.to_string(),
        r#"["or",["equals",["gatewayAction"],"reject"],true]"#
    );
    let e = Expr::parse(r#"["equals", "//not a comment", "/*nor this*/"]"#).unwrap();
    assert_eq!(
        e.to_string(),
        r#"["equals","//not a comment","/*nor this*/"]"#
    );
    let e = Expr::parse(r#"["equals", "a\\", "],"]"#).unwrap();
    assert_eq!(e.to_string(), r#"["equals","a\\","],"]"#);
}

#[test]
fn json_syntax_errors_have_positions() {
    assert_eq!(perr(""), ParseError::Empty);
    assert_eq!(perr("  \n\t "), ParseError::Empty);
    assert_eq!(perr("// only a comment"), ParseError::Empty);
    assert_eq!(
        pmsg(r#"["equals", 1 2]"#),
        "invalid JSON at column 14: expected `,` or `]`"
    );
    let ParseError::InvalidJson { line, column, .. } = perr("[\"equals\",\n  1,\n  2") else {
        panic!("expected InvalidJson")
    };
    assert_eq!((line, column), (3, 3));
    assert!(
        pmsg("[\"not\",\n true,]]")
            .starts_with("invalid JSON at line 2, column 8: trailing characters")
    );
    assert!(pmsg(r#"["not", true] ["not", false]"#).contains("trailing characters"));
    assert!(pmsg(r#"["equals", 1,, 2]"#).starts_with("invalid JSON"));
    assert!(pmsg(r#"[,]"#).starts_with("invalid JSON"));
    assert!(pmsg(r#"["equals", 'a', 1]"#).starts_with("invalid JSON"));
    assert_eq!(
        pmsg(r#"["not", /* open"#),
        "invalid JSON at column 9: unterminated /* comment"
    );
}

#[test]
fn unknown_functions_get_suggestions() {
    assert_eq!(
        pmsg(r#"["equal", 1, 1]"#),
        "unknown function `equal` (did you mean `equals`?) (at $[0])"
    );
    assert_eq!(
        perr(r#"["not", ["GreaterThen", 1, 1]]"#),
        ParseError::UnknownFunction {
            at: "$[1][0]".into(),
            name: "GreaterThen".into(),
            suggestion: Some(Function::GreaterThan),
        }
    );
    assert!(pmsg(r#"["datamodel", "a"]"#).contains("(did you mean `dataModel`?)"));
    assert!(pmsg(r#"["startWith", "a", "b"]"#).contains("(did you mean `startsWith`?)"));
    assert_eq!(
        pmsg(r#"["frobnicate"]"#),
        "unknown function `frobnicate` (at $[0])"
    );
    let long = format!(r#"["{}"]"#, "x".repeat(10_000));
    assert!(pmsg(&long).len() < 200);
    assert_eq!(
        pmsg(r#"["component", "a"]"#),
        "`component` is an Altinn expression function that flyt does not support (at $[0])"
    );
    assert!(matches!(
        "equal".parse::<Function>(),
        Err(ParseError::UnknownFunction { .. })
    ));
}

#[test]
fn functions_by_name() {
    for f in Function::ALL {
        assert_eq!(Function::from_name(f.name()), Some(f));
        assert_eq!(f.name().parse::<Function>(), Ok(f));
        assert_eq!(f.to_string(), f.name());
    }
    assert_eq!(
        Function::from_name("Equals"),
        None,
        "names are case-sensitive"
    );
}

#[test]
fn structural_errors() {
    assert_eq!(
        pmsg("[]"),
        r#"expected a function call like ["name", args...], found an empty array (at $)"#
    );
    assert_eq!(
        perr(r#"["not", []]"#),
        ParseError::EmptyArray { at: "$[1]".into() }
    );
    assert_eq!(
        perr(r#"[5, 1]"#),
        ParseError::NotAFunctionName {
            at: "$[0]".into(),
            found: "5 (number)".into()
        }
    );
    assert!(pmsg(r#"[["equals", 1, 1]]"#).contains("found an array (at $[0])"));
    assert_eq!(
        perr(r#"{"function": "equals"}"#),
        ParseError::ObjectNotAllowed { at: "$".into() }
    );
    assert_eq!(
        perr(r#"["equals", {"a": 1}, 1]"#),
        ParseError::ObjectNotAllowed { at: "$[1]".into() }
    );
}

#[test]
fn arities_are_checked() {
    let cases = [
        (
            r#"["equals", 1]"#,
            "`equals` takes 2 arguments, got 1 (at $)",
        ),
        (r#"["not"]"#, "`not` takes 1 argument, got 0 (at $)"),
        (
            r#"["not", true, false]"#,
            "`not` takes 1 argument, got 2 (at $)",
        ),
        (
            r#"["and"]"#,
            "`and` takes at least 1 argument, got 0 (at $)",
        ),
        (r#"["or"]"#, "`or` takes at least 1 argument, got 0 (at $)"),
        (
            r#"["if", true]"#,
            "`if` takes 2 or 4 arguments, got 1 (at $)",
        ),
        (
            r#"["if", true, 1, "else"]"#,
            "`if` takes 2 or 4 arguments, got 3 (at $)",
        ),
        (
            r#"["if", true, 1, "else", 2, 3]"#,
            "`if` takes 2 or 4 arguments, got 5 (at $)",
        ),
        (
            r#"["gatewayAction", "x"]"#,
            "`gatewayAction` takes no arguments, got 1 (at $)",
        ),
        (
            r#"["dataModel"]"#,
            "`dataModel` takes 1 or 2 arguments, got 0 (at $)",
        ),
        (
            r#"["dataModel", "a", "b", "c"]"#,
            "`dataModel` takes 1 or 2 arguments, got 3 (at $)",
        ),
        (
            r#"["not", ["stringLength"]]"#,
            "`stringLength` takes 1 argument, got 0 (at $[1])",
        ),
        (
            r#"["and", true, ["lessThan", 1, 2, 3]]"#,
            "`lessThan` takes 2 arguments, got 3 (at $[2])",
        ),
    ];
    for (text, msg) in cases {
        assert_eq!(pmsg(text), msg, "{text}");
    }
    Expr::parse(r#"["concat"]"#).unwrap();
    Expr::parse(r#"["and", true, true, true, true]"#).unwrap();
}

#[test]
fn function_specific_argument_checks() {
    assert_eq!(
        pmsg(r#"["if", true, 1, "otherwise", 2]"#),
        r#"`if`: expected "else" as the third argument, as in ["if", condition, then, "else", otherwise], found "otherwise" (string) (at $[3])"#
    );
    assert!(
        pmsg(r#"["if", true, 1, ["concat", "else"], 2]"#)
            .contains("found a call to `concat` (at $[3])")
    );
    assert_eq!(
        pmsg(r#"["dataModel", "a", ["concat", "task", "2"]]"#),
        "`dataModel`: the data type must be a literal string (expressions cannot be used here), found a call to `concat` (at $[2])"
    );
    assert!(pmsg(r#"["dataModel", "a", null]"#).contains("found null (at $[2])"));
    assert_eq!(
        pmsg(r#"["not", ["dataModel", null]]"#),
        "`dataModel`: the data model path must be a string, found null (at $[1][1])"
    );
    assert!(pmsg(r#"["dataModel", 5]"#).contains("must be a string, found 5 (number)"));
    assert_eq!(
        pmsg(r#"["instanceContext", "partyId"]"#),
        r#"`instanceContext`: unknown key "partyId" (string) (known keys: instanceOwnerPartyId, instanceId, appId, instanceOwnerPartyType) (at $[1])"#
    );
    assert!(pmsg(r#"["instanceContext", true]"#).contains("the key must be a string, found true"));
    for key in INSTANCE_CONTEXT_KEYS {
        Expr::from_json(&json!(["instanceContext", key])).unwrap();
    }
}

#[test]
fn literal_sub_expressions_that_always_fail_are_rejected() {
    assert_eq!(
        pmsg(r#"["greaterThan", "abc", 5]"#),
        r#"this always fails: `greaterThan` cannot compare "abc" (string) with 5 (number) (at $)"#
    );
    let e = perr(r#"["or", ["equals", ["gatewayAction"], "x"], ["not", ["concat", "ye", "s"]]]"#);
    let ParseError::AlwaysFails { at, error } = e else {
        panic!("expected AlwaysFails")
    };
    assert_eq!(at, "$[2]");
    assert!(matches!(
        error,
        EvalError::WrongType {
            function: Function::Not,
            ..
        }
    ));
    // Both branches of `if` are evaluated (as in Altinn), so a failing branch always fails.
    assert!(matches!(
        perr(r#"["if", ["dataModel", "a"], 1, "else", ["lessThan", true, 1]]"#),
        ParseError::AlwaysFails { .. }
    ));
    // Constant but fine, or dependent on the context: accepted.
    Expr::parse(r#"["equals", ["concat", "a", 1], "a1"]"#).unwrap();
    Expr::parse(r#"["greaterThan", ["dataModel", "a"], 5]"#).unwrap();
    Expr::parse(r#"["not", ["dataModel", "yes"]]"#).unwrap();
}

#[test]
fn gateway_action_and_data_model_refs() {
    let e = Expr::parse(
        r#"["and", ["equals", ["dataModel", "model.A"], 1],
                   ["or", ["equals", ["gatewayAction"], "reject"], ["dataModel", "flag", "task2"]],
                   ["equals", ["dataModel", ["concat", "x", "y"]], ["dataModel", "model.A"]]]"#,
    )
    .unwrap();
    assert!(e.uses_gateway_action());
    let refs = e.data_model_refs();
    let r = |path: &str, dt: Option<&str>| DataModelRef {
        path: path.into(),
        data_type: dt.map(Into::into),
    };
    assert_eq!(
        refs,
        vec![
            r("model.A", None),
            r("flag", Some("task2")),
            r("model.A", None)
        ]
    );
    let plain = Expr::parse(r#"["equals", ["concat", "gatewayAction"], "x"]"#).unwrap();
    assert!(!plain.uses_gateway_action());
    assert!(plain.data_model_refs().is_empty());
}

#[test]
fn errors_are_std_errors_and_clone() {
    fn assert_error<E: std::error::Error + Clone + PartialEq + Send + Sync + 'static>() {}
    assert_error::<ParseError>();
    assert_error::<EvalError>();
    let e = perr("[]");
    assert_eq!(e.clone(), e);
}
