//! Converting JSON to the AST with parse-time validation (Altinn's `ExpressionConverter.cs`, plus
//! stricter checks).

use serde_json::Value;

use super::eval::{NoContext, apply};
use super::value::{describe, describe_shallow};
use super::{Function, INSTANCE_CONTEXT_KEYS, MAX_DEPTH, Node, ParseError};

/// Functions of Altinn's expression language that flyt does not implement.
const ALTINN_ONLY: [&str; 31] = [
    "argv",
    "authContext",
    "average",
    "commaContains",
    "compare",
    "component",
    "countDataElements",
    "displayValue",
    "divide",
    "externalApi",
    "formatDate",
    "frontendSettings",
    "hasRole",
    "jmespath",
    "language",
    "linkToComponent",
    "linkToPage",
    "list",
    "lowerCaseFirst",
    "minus",
    "multiply",
    "object",
    "optionLabel",
    "plus",
    "round",
    "stringIndexOf",
    "stringReplace",
    "stringSlice",
    "sum",
    "text",
    "upperCaseFirst",
];

pub(crate) fn parse_value(value: &Value) -> Result<Node, ParseError> {
    check_depth(value)?;
    let mut path = Vec::new();
    let node = convert(value, &mut path, 0)?;
    constant_value(&node, &mut path)?;
    Ok(node)
}

/// Formats a location as a JSON path: `$`, `$[1]`, `$[2][0]`.
pub(crate) fn fmt_path(path: &[usize]) -> String {
    let mut out = String::from("$");
    for i in path {
        out.push_str(&format!("[{i}]"));
    }
    out
}

/// Rejects arrays nested deeper than [`MAX_DEPTH`] without recursing (the input may be nested
/// arbitrarily deep when it was built in code rather than parsed from text).
fn check_depth(root: &Value) -> Result<(), ParseError> {
    let mut stack: Vec<(&Value, usize, Vec<usize>)> = vec![(root, 1, Vec::new())];
    while let Some((value, depth, path)) = stack.pop() {
        let Value::Array(items) = value else {
            continue;
        };
        if depth > MAX_DEPTH {
            return Err(ParseError::TooDeep {
                at: fmt_path(&path),
            });
        }
        for (i, item) in items.iter().enumerate() {
            if item.is_array() {
                let mut child = path.clone();
                child.push(i);
                stack.push((item, depth + 1, child));
            }
        }
    }
    Ok(())
}

fn convert(value: &Value, path: &mut Vec<usize>, depth: usize) -> Result<Node, ParseError> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(_) => return Err(ParseError::ObjectNotAllowed { at: fmt_path(path) }),
        scalar => return Ok(Node::Literal(scalar.clone())),
    };
    if depth >= MAX_DEPTH {
        return Err(ParseError::TooDeep { at: fmt_path(path) });
    }
    let Some((head, rest)) = items.split_first() else {
        return Err(ParseError::EmptyArray { at: fmt_path(path) });
    };
    path.push(0);
    let name_at = fmt_path(path);
    path.pop();
    let func = match head {
        Value::String(name) => {
            Function::from_name(name).ok_or_else(|| unknown_function(name, name_at))?
        }
        other => {
            return Err(ParseError::NotAFunctionName {
                at: name_at,
                found: describe_shallow(other),
            });
        }
    };
    if !func.arity().accepts(rest.len()) {
        return Err(ParseError::WrongArgumentCount {
            at: fmt_path(path),
            function: func,
            expected: func.arity().describe(),
            got: rest.len(),
        });
    }
    let mut args = Vec::with_capacity(rest.len());
    for (i, item) in rest.iter().enumerate() {
        path.push(i + 1);
        let arg = convert(item, path, depth + 1);
        path.pop();
        args.push(arg?);
    }
    check_arguments(func, &mut args, path)?;
    Ok(Node::Call(func, args))
}

/// Builds the error for an unknown function name found at `at`.
pub(crate) fn unknown_function(name: &str, at: String) -> ParseError {
    let shown: String = if name.chars().count() > 64 {
        name.chars().take(64).chain(['…']).collect()
    } else {
        name.to_owned()
    };
    if ALTINN_ONLY.contains(&name) {
        return ParseError::UnsupportedFunction { at, name: shown };
    }
    ParseError::UnknownFunction {
        at,
        name: shown,
        suggestion: suggest(name),
    }
}

fn suggest(name: &str) -> Option<Function> {
    if name.chars().count() > 64 {
        return None;
    }
    let lower = name.to_lowercase();
    let limit = if name.chars().count() > 4 { 2 } else { 1 };
    Function::ALL
        .into_iter()
        .map(|f| (levenshtein(&lower, &f.name().to_lowercase()), f))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, f)| f)
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = Vec::with_capacity(b.len() + 1);
        cur.push(i + 1);
        for (j, cb) in b.iter().enumerate() {
            let substitute = prev
                .get(j)
                .map_or(usize::MAX, |d| d + usize::from(ca != *cb));
            let delete = prev.get(j + 1).map_or(usize::MAX, |d| d + 1);
            let insert = cur.last().map_or(usize::MAX, |d| d + 1);
            cur.push(substitute.min(delete).min(insert));
        }
        prev = cur;
    }
    prev.last().copied().unwrap_or(0)
}

fn describe_node(node: &Node) -> String {
    match node {
        Node::Literal(v) => describe(v),
        Node::Call(f, _) => format!("a call to `{f}`"),
    }
}

fn invalid(path: &mut Vec<usize>, index: usize, function: Function, message: String) -> ParseError {
    path.push(index);
    let at = fmt_path(path);
    path.pop();
    ParseError::InvalidArgument {
        at,
        function,
        message,
    }
}

/// Function-specific checks on the (parsed) arguments.
fn check_arguments(
    func: Function,
    args: &mut [Node],
    path: &mut Vec<usize>,
) -> Result<(), ParseError> {
    match func {
        Function::If => {
            if let Some(slot) = args.get_mut(2) {
                match slot {
                    // Altinn's backend accepts any casing; store it canonically.
                    Node::Literal(Value::String(s)) if s.eq_ignore_ascii_case("else") => {
                        *slot = Node::Literal(Value::String("else".to_owned()));
                    }
                    other => {
                        let message = format!(
                            "expected \"else\" as the third argument, as in [\"if\", condition, then, \"else\", otherwise], found {}",
                            describe_node(other)
                        );
                        return Err(invalid(path, 3, func, message));
                    }
                }
            }
        }
        Function::DataModel => {
            if let Some(Node::Literal(v)) = args.first()
                && !v.is_string()
            {
                let message = format!(
                    "the data model path must be a string, found {}",
                    describe(v)
                );
                return Err(invalid(path, 1, func, message));
            }
            match args.get(1) {
                None | Some(Node::Literal(Value::String(_))) => {}
                Some(other) => {
                    let message = format!(
                        "the data type must be a literal string (expressions cannot be used here), found {}",
                        describe_node(other)
                    );
                    return Err(invalid(path, 2, func, message));
                }
            }
        }
        Function::InstanceContext => match args.first() {
            Some(Node::Literal(Value::String(key)))
                if !INSTANCE_CONTEXT_KEYS.contains(&key.as_str()) =>
            {
                let message = format!(
                    "unknown key {} (known keys: {})",
                    describe(&Value::String(key.clone())),
                    INSTANCE_CONTEXT_KEYS.join(", ")
                );
                return Err(invalid(path, 1, func, message));
            }
            Some(Node::Literal(v)) if !v.is_string() => {
                let message = format!("the key must be a string, found {}", describe(v));
                return Err(invalid(path, 1, func, message));
            }
            _ => {}
        },
        _ => {}
    }
    Ok(())
}

/// Evaluates every sub-expression that reads nothing from the context. As evaluation is eager, such a
/// sub-expression is evaluated whenever the whole expression is, so if it fails it always fails.
/// Returns the value when `node` is context-free.
fn constant_value(node: &Node, path: &mut Vec<usize>) -> Result<Option<Value>, ParseError> {
    let Node::Call(func, args) = node else {
        return Ok(match node {
            Node::Literal(v) => Some(v.clone()),
            Node::Call(..) => None,
        });
    };
    let mut values = Some(Vec::with_capacity(args.len()));
    for (i, arg) in args.iter().enumerate() {
        path.push(i + 1);
        let value = constant_value(arg, path);
        path.pop();
        match (value?, values.as_mut()) {
            (Some(v), Some(values)) => values.push(v),
            _ => values = None,
        }
    }
    let reads_context = matches!(
        func,
        Function::DataModel | Function::GatewayAction | Function::InstanceContext
    );
    match values {
        Some(values) if !reads_context => match apply(*func, &values, &NoContext) {
            Ok(v) => Ok(Some(v)),
            Err(error) => Err(ParseError::AlwaysFails {
                at: fmt_path(path),
                error,
            }),
        },
        _ => Ok(None),
    }
}
