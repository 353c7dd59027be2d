//! Embedded sub-processes: a scope inside the process.

use super::NodeIdx;

/// An embedded `<subProcess>`. A token that arrives enters a new scope instance at `start`; the
/// sub-process completes, and its token leaves by its outgoing flows, when the last token inside
/// (nested scopes included) has ended. A terminate end event inside ends only this scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubProcess {
    /// Its one none start event (validation guarantees exactly one).
    pub start: NodeIdx,
}
