//! Link events: a go-to within one scope, drawn as a pair of intermediate events.

use super::NodeIdx;

/// An intermediate throw event with a `linkEventDefinition`: a token that arrives continues at
/// the link catch event of the same name in the same scope (validation: exactly one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkThrow {
    pub name: String,
    pub target: NodeIdx,
}

/// An intermediate catch event with a `linkEventDefinition`: a token landing here leaves by its
/// outgoing flow.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LinkCatch {
    pub name: String,
}
