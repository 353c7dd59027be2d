//! Call activities: a `<bpmn:callActivity calledElement="process-id">` names the process whose
//! instance a token starts and waits for.
//!
//! ```xml
//! <bpmn:callActivity id="Approve" calledElement="approval">
//!   <bpmn:extensionElements>
//!     <!-- optional: another hosted app, and a pinned version of its definition -->
//!     <flyt:calledElement app="ttd/approval" version="3"/>
//!     <!-- the parent's data element of type `model` becomes the child's `request` -->
//!     <flyt:input source="model" target="request"/>
//!     <!-- when the child ends, its `decision` becomes the parent's `decision` -->
//!     <flyt:output source="decision"/>
//!   </bpmn:extensionElements>
//! </bpmn:callActivity>
//! ```
//!
//! Without `<flyt:calledElement app>` the called process is one of the same app: a process of
//! the same file. Without `version` it is the latest version at call time. A mapping copies one
//! whole data element (the data flyt keeps per data type) from `source` to `target` (default:
//! the same name).

use super::super::diagnostic::Pos;
use crate::ids::{AppId, DataTypeId};

/// A `<bpmn:callActivity>`, as read and checked by `bpmn::read_call`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallActivity {
    /// `calledElement`: the id of the called process.
    pub process: String,
    /// `<flyt:calledElement app>`: another hosted app (`None`: the same app, the same file).
    pub app: Option<AppId>,
    /// `<flyt:calledElement version>`: a pinned version (`None`: the latest at call time).
    pub version: Option<u32>,
    /// `<flyt:input>`: the parent's data copied into the child when it starts.
    pub inputs: Vec<DataMapping>,
    /// `<flyt:output>`: the child's data copied into the parent when it ends.
    pub outputs: Vec<DataMapping>,
    /// Where `calledElement` (or `<flyt:calledElement>` when it names an app) is written.
    pub pos: Pos,
}

/// One data mapping of a call activity: the data element of type `source` (the parent's for
/// an input, the child's for an output) is copied whole to `target` on the other side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataMapping {
    pub source: DataTypeId,
    pub target: DataTypeId,
    /// Where the mapping is written.
    pub pos: Pos,
}
