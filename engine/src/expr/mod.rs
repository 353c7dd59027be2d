//! Altinn "dynamic expressions": the JSON expression language used for BPMN sequence-flow conditions.
//!
//! An expression is either a literal (string, number, boolean or `null`) or a function call written as a
//! JSON array whose first element is the function name: `["equals", ["gatewayAction"], "reject"]`.
//!
//! The semantics follow Altinn's backend (`Altinn/app-lib-dotnet`,
//! `src/Altinn.App.Core/Internal/Expressions/ExpressionEvaluator.cs` and `ExpressionValue.cs`), which is
//! what evaluates gateway conditions in Altinn (`Internal/Process/ExpressionsExclusiveGateway.cs`):
//!
//! * **Evaluation is eager**: every argument is evaluated before the function runs, also both branches of
//!   `if` and every operand of `and`/`or` (Altinn converts all of them "because they might throw").
//!   An expression that fails in Altinn therefore also fails in flyt.
//! * **Equality and string functions** (`equals`, `notEquals`, `contains`, `notContains`, `startsWith`,
//!   `endsWith`, `stringLength`, `lowerCase`, `upperCase`) compare the *string form* of their arguments
//!   (Altinn's `ToStringForEquals`): numbers are formatted like .NET's `double.ToString(InvariantCulture)`
//!   (`1`, `1.5`, `1E+15`, `1E-05`), booleans become `"true"`/`"false"`, the strings `"true"`, `"false"`
//!   and `"null"` are matched case-insensitively and mean `true`, `false` and `null`. So
//!   `["equals", 1, "1"]` and `["equals", true, "TRUE"]` are true, `["equals", 1, "1.0"]` is false.
//!   Arrays and objects are type errors. Comparisons are ordinal (case-sensitive, no culture rules).
//! * **`null` in string functions**: `contains`/`startsWith`/`endsWith` give `false`, `notContains` gives
//!   `true`, `stringLength` gives `0`, `lowerCase`/`upperCase` give `null`, `concat` treats it as `""`.
//!   `concat` keeps strings verbatim (Altinn shared test `concat/specialStrings.json`).
//! * **Numeric comparisons** (`greaterThan`, `greaterThanEq`, `lessThan`, `lessThanEq`) accept numbers and
//!   strings matching `-?[0-9]+(\.[0-9]+)?` (no exponent, no `+`, no spaces); `null` on either side gives
//!   `false`; booleans, arrays, objects and other strings are type errors.
//! * **Boolean arguments** (`and`, `or`, `not`, the condition of `if`) accept `true`/`false`, `null`
//!   (false), the strings `"true"`, `"false"`, `"1"`, `"0"` (case-sensitive) or any numeric string equal to
//!   1 or 0, and the numbers 1 and 0. Anything else is a type error.
//! * `stringLength` counts UTF-16 code units, like .NET and JavaScript (`"😀"` has length 2).
//!
//! Parsing is stricter than Altinn where Altinn would only fail later: arities are checked, `if` must
//! have the literal `"else"` as third argument, `dataModel`'s data type must be a literal string,
//! literal `instanceContext` keys must be known, and a sub-expression made only of literals that is
//! certain to fail at run time (say `["greaterThan", "abc", 5]`) is rejected up front. Like Altinn's
//! gateway, the text form allows `//` and `/* */` comments and trailing commas; unlike Altinn, text after
//! the expression is an error.

mod error;
mod eval;
mod parse;
mod path;
mod text;
mod value;

#[cfg(test)]
mod tests_context;
#[cfg(test)]
mod tests_depth;
#[cfg(test)]
mod tests_eval;
#[cfg(test)]
mod tests_parse;

use std::fmt;
use std::str::FromStr;

use serde_json::Value;

pub use error::{EvalError, ParseError};
pub use path::{MapContext, lookup_path};

/// The deepest array nesting accepted by the parser (the top-level array is level 1).
pub const MAX_DEPTH: usize = 64;

/// The keys `["instanceContext", key]` understands (as in Altinn's `LayoutEvaluatorState.GetInstanceContext`).
pub const INSTANCE_CONTEXT_KEYS: [&str; 4] = [
    "instanceOwnerPartyId",
    "instanceId",
    "appId",
    "instanceOwnerPartyType",
];

/// A parsed, validated expression.
#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    node: Node,
}

/// The AST. Literals are always scalars (never arrays or objects).
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum Node {
    Literal(Value),
    Call(Function, Vec<Node>),
}

/// A `["dataModel", path, dataType?]` reference with a literal path.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct DataModelRef {
    pub path: String,
    /// `None`: the context's default data type.
    pub data_type: Option<String>,
}

/// What an expression can read while it is evaluated.
pub trait EvalContext {
    /// The action performed in the task before the gateway (`["gatewayAction"]`), if any.
    fn gateway_action(&self) -> Option<&str>;
    /// Looks up a dotted path (e.g. `"model.ShouldDoubleSign"`, `"a.b[0].c"`) in the JSON data of
    /// `data_type` (`None` = the context's default data type). A missing path gives `Ok(Value::Null)`;
    /// an unknown data type gives an error. [`lookup_path`] does the path walking.
    fn data_model(&self, path: &str, data_type: Option<&str>) -> Result<Value, EvalError>;
    /// One of [`INSTANCE_CONTEXT_KEYS`] (the evaluator rejects other keys before calling this).
    fn instance_context(&self, key: &str) -> Result<Value, EvalError>;
}

/// The functions flyt supports, with their Altinn names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Function {
    Equals,
    NotEquals,
    Not,
    And,
    Or,
    If,
    GreaterThan,
    GreaterThanEq,
    LessThan,
    LessThanEq,
    Contains,
    NotContains,
    StartsWith,
    EndsWith,
    StringLength,
    LowerCase,
    UpperCase,
    Concat,
    DataModel,
    GatewayAction,
    InstanceContext,
}

/// How many arguments a function takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Arity {
    Exactly(usize),
    AtLeast(usize),
    /// Either of two counts (`dataModel`: 1 or 2, `if`: 2 or 4).
    Either(usize, usize),
}

impl Arity {
    pub(crate) fn accepts(self, n: usize) -> bool {
        match self {
            Arity::Exactly(k) => n == k,
            Arity::AtLeast(k) => n >= k,
            Arity::Either(a, b) => n == a || n == b,
        }
    }

    pub(crate) fn describe(self) -> &'static str {
        match self {
            Arity::Exactly(0) => "no arguments",
            Arity::Exactly(1) => "1 argument",
            Arity::Exactly(2) => "2 arguments",
            Arity::AtLeast(0) => "any number of arguments",
            Arity::AtLeast(1) => "at least 1 argument",
            Arity::Either(1, 2) => "1 or 2 arguments",
            Arity::Either(2, 4) => "2 or 4 arguments",
            _ => "a different number of arguments",
        }
    }
}

impl Function {
    /// Every supported function.
    pub const ALL: [Function; 21] = [
        Function::Equals,
        Function::NotEquals,
        Function::Not,
        Function::And,
        Function::Or,
        Function::If,
        Function::GreaterThan,
        Function::GreaterThanEq,
        Function::LessThan,
        Function::LessThanEq,
        Function::Contains,
        Function::NotContains,
        Function::StartsWith,
        Function::EndsWith,
        Function::StringLength,
        Function::LowerCase,
        Function::UpperCase,
        Function::Concat,
        Function::DataModel,
        Function::GatewayAction,
        Function::InstanceContext,
    ];

    /// The name used in expressions, e.g. `"greaterThanEq"`.
    pub fn name(self) -> &'static str {
        match self {
            Function::Equals => "equals",
            Function::NotEquals => "notEquals",
            Function::Not => "not",
            Function::And => "and",
            Function::Or => "or",
            Function::If => "if",
            Function::GreaterThan => "greaterThan",
            Function::GreaterThanEq => "greaterThanEq",
            Function::LessThan => "lessThan",
            Function::LessThanEq => "lessThanEq",
            Function::Contains => "contains",
            Function::NotContains => "notContains",
            Function::StartsWith => "startsWith",
            Function::EndsWith => "endsWith",
            Function::StringLength => "stringLength",
            Function::LowerCase => "lowerCase",
            Function::UpperCase => "upperCase",
            Function::Concat => "concat",
            Function::DataModel => "dataModel",
            Function::GatewayAction => "gatewayAction",
            Function::InstanceContext => "instanceContext",
        }
    }

    /// Exact (case-sensitive) lookup by name, as Altinn does.
    pub fn from_name(name: &str) -> Option<Function> {
        Function::ALL.into_iter().find(|f| f.name() == name)
    }

    pub(crate) fn arity(self) -> Arity {
        match self {
            Function::GatewayAction => Arity::Exactly(0),
            Function::Not
            | Function::StringLength
            | Function::LowerCase
            | Function::UpperCase
            | Function::InstanceContext => Arity::Exactly(1),
            Function::And | Function::Or => Arity::AtLeast(1),
            Function::Concat => Arity::AtLeast(0),
            Function::If => Arity::Either(2, 4),
            Function::DataModel => Arity::Either(1, 2),
            Function::Equals
            | Function::NotEquals
            | Function::GreaterThan
            | Function::GreaterThanEq
            | Function::LessThan
            | Function::LessThanEq
            | Function::Contains
            | Function::NotContains
            | Function::StartsWith
            | Function::EndsWith => Arity::Exactly(2),
        }
    }
}

impl fmt::Display for Function {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Function {
    type Err = ParseError;

    /// Like [`Function::from_name`], with a "did you mean" suggestion in the error.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Function::from_name(s).ok_or_else(|| parse::unknown_function(s, "$".to_owned()))
    }
}

impl Expr {
    /// Parses the text of a BPMN `conditionExpression` (surrounding whitespace, `//` and `/* */` comments
    /// and trailing commas allowed, as in Altinn).
    pub fn parse(text: &str) -> Result<Expr, ParseError> {
        text::parse_text(text).map(|node| Expr { node })
    }

    /// Parses an already-decoded JSON value.
    pub fn from_json(value: &Value) -> Result<Expr, ParseError> {
        parse::parse_value(value).map(|node| Expr { node })
    }

    /// The expression as JSON (the same form [`Expr::from_json`] accepts).
    pub fn to_json(&self) -> Value {
        node_to_json(&self.node)
    }

    /// Evaluates the expression.
    pub fn eval(&self, ctx: &dyn EvalContext) -> Result<Value, EvalError> {
        eval::eval_node(&self.node, ctx)
    }

    /// Evaluates a condition: `true` and `false` are themselves, `null` is `false` (Altinn's gateway only
    /// takes a flow whose condition gives boolean `true`). Any other result (a string, number, array or
    /// object) is an [`EvalError::NotABoolean`]: Altinn's gateway silently treats it as `false`, but such
    /// a condition is almost certainly a modelling mistake, and Altinn's own boolean evaluation for layouts
    /// (`ExpressionEvaluator.EvaluateBooleanExpression`) rejects it as well.
    pub fn eval_bool(&self, ctx: &dyn EvalContext) -> Result<bool, EvalError> {
        match self.eval(ctx)? {
            Value::Bool(b) => Ok(b),
            Value::Null => Ok(false),
            got => Err(EvalError::NotABoolean { got }),
        }
    }

    /// True if `["gatewayAction"]` occurs anywhere in the expression.
    pub fn uses_gateway_action(&self) -> bool {
        fn walk(node: &Node) -> bool {
            match node {
                Node::Literal(_) => false,
                Node::Call(Function::GatewayAction, _) => true,
                Node::Call(_, args) => args.iter().any(walk),
            }
        }
        walk(&self.node)
    }

    /// Every `["dataModel", path, dataType?]` whose path is a literal string, in order of appearance
    /// (duplicates included). Paths computed at run time (e.g. with `concat`) are not listed.
    pub fn data_model_refs(&self) -> Vec<DataModelRef> {
        fn walk(node: &Node, out: &mut Vec<DataModelRef>) {
            let Node::Call(func, args) = node else {
                return;
            };
            if *func == Function::DataModel
                && let Some(Node::Literal(Value::String(path))) = args.first()
            {
                let data_type = match args.get(1) {
                    Some(Node::Literal(Value::String(t))) => Some(t.clone()),
                    _ => None,
                };
                out.push(DataModelRef {
                    path: path.clone(),
                    data_type,
                });
            }
            for arg in args {
                walk(arg, out);
            }
        }
        let mut out = Vec::new();
        walk(&self.node, &mut out);
        out
    }
}

fn node_to_json(node: &Node) -> Value {
    match node {
        Node::Literal(v) => v.clone(),
        Node::Call(func, args) => {
            let mut items = Vec::with_capacity(args.len() + 1);
            items.push(Value::String(func.name().to_owned()));
            items.extend(args.iter().map(node_to_json));
            Value::Array(items)
        }
    }
}

fn write_node(f: &mut fmt::Formatter<'_>, node: &Node) -> fmt::Result {
    match node {
        Node::Literal(v) => {
            let text = serde_json::to_string(v).map_err(|_| fmt::Error)?;
            f.write_str(&text)
        }
        Node::Call(func, args) => {
            write!(f, "[\"{}\"", func.name())?;
            for arg in args {
                f.write_str(",")?;
                write_node(f, arg)?;
            }
            f.write_str("]")
        }
    }
}

/// Compact canonical JSON, e.g. `["equals",["gatewayAction"],"reject"]`; [`Expr::parse`] reads it back
/// to an equal expression.
impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write_node(f, &self.node)
    }
}

impl FromStr for Expr {
    type Err = ParseError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Expr::parse(s)
    }
}

impl serde::Serialize for Expr {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serde::Serialize::serialize(&self.to_json(), serializer)
    }
}

impl<'de> serde::Deserialize<'de> for Expr {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let value = <Value as serde::Deserialize>::deserialize(deserializer)?;
        Expr::from_json(&value).map_err(serde::de::Error::custom)
    }
}
