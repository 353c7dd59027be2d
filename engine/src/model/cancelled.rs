//! Tombstones of jobs an interrupting boundary event cancelled.

use super::Job;
use crate::ids::ElementId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// An external job removed because an interrupting boundary event ended its task. Kept for a
/// while (until `keep_until`: a day past the lease its worker may still hold) so that the
/// worker's late completion or failure is told why it is refused (409) instead of "no such job".
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CancelledJob {
    /// The job as it was when cancelled.
    pub job: Job,
    /// The boundary event that cancelled it.
    pub by: ElementId,
    pub at: Timestamp,
    pub keep_until: Timestamp,
}
