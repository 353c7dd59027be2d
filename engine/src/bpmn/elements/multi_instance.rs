//! Multi-instance activities: a user task, service task or embedded sub-process run once per
//! item of a collection in the instance's data, all at once (parallel) or one after the other
//! (sequential), until every inner instance has completed or the completion condition holds.
//!
//! Written as BPMN's `<bpmn:multiInstanceLoopCharacteristics isSequential="...">` with flyt's
//! collection inside it (Zeebe writes `zeebe:loopCharacteristics` in the same place):
//!
//! ```xml
//! <bpmn:multiInstanceLoopCharacteristics isSequential="false">
//!   <bpmn:extensionElements>
//!     <flyt:multiInstance collection='["dataModel", "signers", "model"]' elementVariable="signer"/>
//!   </bpmn:extensionElements>
//!   <bpmn:completionCondition>["greaterThanEq", ["dataModel", "nrOfCompletedInstances", "multiInstance"], 2]</bpmn:completionCondition>
//! </bpmn:multiInstanceLoopCharacteristics>
//! ```
//!
//! Or BPMN's `<bpmn:loopCardinality>` (a count, as a literal number or an Altinn expression)
//! instead of a collection. Expressions read the inner instance through the reserved data type [`VARIABLES`]
//! (`["dataModel", "element", "multiInstance"]`, `index`, `loopCounter`, `nrOfInstances`, ...).

use super::Condition;
use crate::expr::Expr;

/// The reserved data type through which expressions read the inner instance's variables.
pub const VARIABLES: &str = "multiInstance";

/// The multi-instance characteristics of an activity.
#[derive(Debug, Clone, PartialEq)]
pub struct MultiInstance {
    /// One inner instance after the other (`isSequential="true"`), else all at once.
    pub sequential: bool,
    /// Evaluated when a token arrives: the items, one inner instance each.
    pub items: Items,
    /// Another name under which expressions read the item (`["dataModel", "signer",
    /// "multiInstance"]`), beside `element`.
    pub element_variable: Option<String>,
    /// Evaluated after each inner instance completes: true ends the activity, cancelling the
    /// inner instances still active.
    pub completion: Option<Condition>,
}

impl MultiInstance {
    /// The names expressions may read from [`VARIABLES`].
    pub const VARIABLE_NAMES: &'static [&'static str] = &[
        "element",
        "index",
        "loopCounter",
        "nrOfInstances",
        "nrOfCompletedInstances",
        "nrOfActiveInstances",
    ];

    /// The expressions it holds, for checks that look at every expression of a definition.
    pub fn expressions(&self) -> impl Iterator<Item = &Expr> {
        std::iter::once(self.items.expr()).chain(self.completion.iter().map(|c| &c.expr))
    }
}

/// Where the inner instances come from.
#[derive(Debug, Clone, PartialEq)]
pub enum Items {
    /// `<flyt:multiInstance collection="expr">`: an array in the data, one inner instance per
    /// item. `null` is empty; anything else but an array fails the move.
    Collection(Condition),
    /// `<bpmn:loopCardinality>`: a number of inner instances (their `element` is null).
    Cardinality(Condition),
}

impl Items {
    pub fn expr(&self) -> &Expr {
        match self {
            Items::Collection(c) | Items::Cardinality(c) => &c.expr,
        }
    }

    pub fn condition(&self) -> &Condition {
        match self {
            Items::Collection(c) | Items::Cardinality(c) => c,
        }
    }
}
