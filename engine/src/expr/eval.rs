//! Evaluation (Altinn's `ExpressionEvaluator.cs`). See the module docs for the semantics.

use std::borrow::Cow;

use serde_json::Value;

use super::value::{string_form, to_bool, to_number};
use super::{EvalContext, EvalError, Function, INSTANCE_CONTEXT_KEYS, Node};

const EXPECT_BOOL: &str = "a boolean (true, false, null, \"true\", \"false\", 1 or 0)";
const EXPECT_TEXT: &str = "a string, number, boolean or null";

pub(crate) fn eval_node(node: &Node, ctx: &dyn EvalContext) -> Result<Value, EvalError> {
    match node {
        Node::Literal(v) => Ok(v.clone()),
        Node::Call(func, args) => {
            // Eager, like Altinn: every argument is evaluated (and may fail) before the function runs.
            let mut values = Vec::with_capacity(args.len());
            for arg in args {
                values.push(eval_node(arg, ctx)?);
            }
            apply(*func, &values, ctx)
        }
    }
}

/// Runs one function on evaluated arguments.
pub(crate) fn apply(
    func: Function,
    args: &[Value],
    ctx: &dyn EvalContext,
) -> Result<Value, EvalError> {
    use Function as F;
    let result = match (func, args) {
        (F::Equals, [a, b]) => Value::Bool(equals(func, a, b)?),
        (F::NotEquals, [a, b]) => Value::Bool(!equals(func, a, b)?),
        (F::Not, [a]) => Value::Bool(!boolean(func, a)?),
        (F::And, [_, ..]) => Value::Bool(booleans(func, args)?.iter().all(|b| *b)),
        (F::Or, [_, ..]) => Value::Bool(booleans(func, args)?.iter().any(|b| *b)),
        (F::If, [cond, then]) => {
            if boolean(func, cond)? {
                then.clone()
            } else {
                Value::Null
            }
        }
        (F::If, [cond, then, _else, otherwise]) => {
            if boolean(func, cond)? {
                then.clone()
            } else {
                otherwise.clone()
            }
        }
        (F::GreaterThan, [a, b]) => compare(func, a, b, |x, y| x > y)?,
        (F::GreaterThanEq, [a, b]) => compare(func, a, b, |x, y| x >= y)?,
        (F::LessThan, [a, b]) => compare(func, a, b, |x, y| x < y)?,
        (F::LessThanEq, [a, b]) => compare(func, a, b, |x, y| x <= y)?,
        (F::Contains, [a, b]) => Value::Bool(text_pair(func, a, b, |x, y| x.contains(y))?),
        (F::NotContains, [a, b]) => Value::Bool(!text_pair(func, a, b, |x, y| x.contains(y))?),
        (F::StartsWith, [a, b]) => Value::Bool(text_pair(func, a, b, |x, y| x.starts_with(y))?),
        (F::EndsWith, [a, b]) => Value::Bool(text_pair(func, a, b, |x, y| x.ends_with(y))?),
        (F::StringLength, [a]) => {
            let len = text(func, a)?.map_or(0, |s| s.encode_utf16().count());
            Value::from(len)
        }
        (F::LowerCase, [a]) => text(func, a)?.map_or(Value::Null, |s| s.to_lowercase().into()),
        (F::UpperCase, [a]) => text(func, a)?.map_or(Value::Null, |s| s.to_uppercase().into()),
        (F::Concat, _) => Value::String(concat(args)?),
        (F::DataModel, [path]) => ctx.data_model(data_model_path(path)?, None)?,
        (F::DataModel, [path, data_type]) => {
            let data_type = match data_type {
                Value::String(s) => s.as_str(),
                other => return Err(wrong_type(func, "a string (the data type)", other)),
            };
            ctx.data_model(data_model_path(path)?, Some(data_type))?
        }
        (F::GatewayAction, []) => ctx
            .gateway_action()
            .map_or(Value::Null, |a| Value::String(a.to_owned())),
        (F::InstanceContext, [key]) => match key {
            Value::String(k) if INSTANCE_CONTEXT_KEYS.contains(&k.as_str()) => {
                ctx.instance_context(k)?
            }
            Value::String(k) => {
                return Err(EvalError::UnknownInstanceContextKey { key: k.clone() });
            }
            other => return Err(wrong_type(func, "a string (the key)", other)),
        },
        _ => {
            return Err(EvalError::WrongArgumentCount {
                function: func,
                got: args.len(),
            });
        }
    };
    Ok(result)
}

fn wrong_type(function: Function, expected: &'static str, got: &Value) -> EvalError {
    EvalError::WrongType {
        function,
        expected,
        got: got.clone(),
    }
}

fn equals(func: Function, a: &Value, b: &Value) -> Result<bool, EvalError> {
    Ok(text(func, a)? == text(func, b)?)
}

fn boolean(func: Function, v: &Value) -> Result<bool, EvalError> {
    to_bool(v).map_err(|_| wrong_type(func, EXPECT_BOOL, v))
}

/// Converts every argument (so that any invalid one is an error, as in Altinn).
fn booleans(func: Function, args: &[Value]) -> Result<Vec<bool>, EvalError> {
    args.iter().map(|a| boolean(func, a)).collect()
}

fn text(func: Function, v: &Value) -> Result<Option<Cow<'_, str>>, EvalError> {
    string_form(v).map_err(|_| wrong_type(func, EXPECT_TEXT, v))
}

/// `false` if either side is null.
fn text_pair(
    func: Function,
    a: &Value,
    b: &Value,
    op: impl Fn(&str, &str) -> bool,
) -> Result<bool, EvalError> {
    match (text(func, a)?, text(func, b)?) {
        (Some(x), Some(y)) => Ok(op(&x, &y)),
        _ => Ok(false),
    }
}

/// Numeric comparison; `false` if either side is null.
fn compare(
    func: Function,
    a: &Value,
    b: &Value,
    op: impl Fn(f64, f64) -> bool,
) -> Result<Value, EvalError> {
    let cannot = || EvalError::CannotCompare {
        function: func,
        left: a.clone(),
        right: b.clone(),
    };
    let x = to_number(a).map_err(|_| cannot())?;
    let y = to_number(b).map_err(|_| cannot())?;
    Ok(Value::Bool(match (x, y) {
        (Some(x), Some(y)) => op(x, y),
        _ => false,
    }))
}

/// Strings verbatim, null as "", numbers and booleans in their string form.
fn concat(args: &[Value]) -> Result<String, EvalError> {
    let mut out = String::new();
    for arg in args {
        match arg {
            Value::String(s) => out.push_str(s),
            other => {
                if let Some(s) = text(Function::Concat, other)? {
                    out.push_str(&s);
                }
            }
        }
    }
    Ok(out)
}

fn data_model_path(path: &Value) -> Result<&str, EvalError> {
    match path {
        Value::String(s) => Ok(s),
        Value::Null => Err(EvalError::NullDataModelPath),
        other => Err(wrong_type(
            Function::DataModel,
            "a string (the data model path)",
            other,
        )),
    }
}

/// A context with nothing in it, for evaluating sub-expressions made only of literals.
pub(crate) struct NoContext;

impl EvalContext for NoContext {
    fn gateway_action(&self) -> Option<&str> {
        None
    }

    fn data_model(&self, _path: &str, _data_type: Option<&str>) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }

    fn instance_context(&self, _key: &str) -> Result<Value, EvalError> {
        Ok(Value::Null)
    }
}
