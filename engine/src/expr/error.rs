//! Parse and evaluation errors.
//!
//! Locations inside an expression are JSON paths: `$` is the whole expression, `$[1]` the second element
//! of the top-level array (its first argument; `$[0]` is the function name), `$[2][1]` the first argument
//! of the call that is the top-level call's second argument.

use serde_json::Value;

use super::value::describe;
use super::{Function, INSTANCE_CONTEXT_KEYS, MAX_DEPTH};

/// Why an expression could not be parsed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum ParseError {
    #[error("the expression is empty")]
    Empty,
    /// `line` and `column` are 1-based; `line` is left out of the message for single-line input.
    #[error("invalid JSON at {}: {message}", location(*.line, *.column))]
    InvalidJson {
        line: usize,
        column: usize,
        message: String,
    },
    #[error("nesting deeper than {max} levels (at {at})", max = MAX_DEPTH)]
    TooDeep { at: String },
    #[error("expected a function call like [\"name\", args...], found an empty array (at {at})")]
    EmptyArray { at: String },
    #[error(
        "expected a function call like [\"name\", args...] whose first element is the function name, \
         found {found} (at {at})"
    )]
    NotAFunctionName { at: String, found: String },
    #[error("unknown function `{name}`{} (at {at})", suggestion_text(*.suggestion))]
    UnknownFunction {
        at: String,
        name: String,
        suggestion: Option<Function>,
    },
    #[error("`{name}` is an Altinn expression function that flyt does not support (at {at})")]
    UnsupportedFunction { at: String, name: String },
    #[error("`{function}` takes {expected}, got {got} (at {at})")]
    WrongArgumentCount {
        at: String,
        function: Function,
        expected: &'static str,
        got: usize,
    },
    #[error(
        "a JSON object is not an expression (expected a literal or [\"name\", args...]) (at {at})"
    )]
    ObjectNotAllowed { at: String },
    #[error("`{function}`: {message} (at {at})")]
    InvalidArgument {
        at: String,
        function: Function,
        message: String,
    },
    /// A sub-expression made only of literals that fails whenever it is evaluated.
    #[error("this always fails: {error} (at {at})")]
    AlwaysFails { at: String, error: EvalError },
}

fn location(line: usize, column: usize) -> String {
    if line <= 1 {
        format!("column {column}")
    } else {
        format!("line {line}, column {column}")
    }
}

fn suggestion_text(suggestion: Option<Function>) -> String {
    match suggestion {
        Some(f) => format!(" (did you mean `{f}`?)"),
        None => String::new(),
    }
}

/// Why evaluating an expression failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum EvalError {
    /// A function got an argument it cannot use, e.g. "`and` expects a boolean, got "yes" (string)".
    #[error("`{function}` expects {expected}, got {}", describe(.got))]
    WrongType {
        function: Function,
        expected: &'static str,
        got: Value,
    },
    /// A numeric comparison got a non-numeric operand.
    #[error("`{function}` cannot compare {} with {}", describe(.left), describe(.right))]
    CannotCompare {
        function: Function,
        left: Value,
        right: Value,
    },
    #[error("`dataModel` cannot look up a null path")]
    NullDataModelPath,
    #[error("unknown data type `{data_type}`")]
    UnknownDataType { data_type: String },
    #[error("`dataModel` has no data type argument and there is no default data type")]
    NoDefaultDataType,
    #[error("unknown instanceContext key {} (known keys: {})", describe(&Value::String(.key.clone())), INSTANCE_CONTEXT_KEYS.join(", "))]
    UnknownInstanceContextKey { key: String },
    /// [`Expr::eval_bool`](super::Expr::eval_bool) got something other than a boolean or null.
    #[error("a condition must evaluate to true, false or null, got {}", describe(.got))]
    NotABoolean { got: Value },
    /// An [`EvalContext`](super::EvalContext) failed for its own reasons.
    #[error("{message}")]
    Context { message: String },
    /// Cannot happen for expressions built by the parser (which checks arities).
    #[error("`{function}` was called with {got} arguments")]
    WrongArgumentCount { function: Function, got: usize },
}
