//! Schedules: when a timer start event next starts an instance.

use crate::ids::{AppId, ElementId, InstanceId};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The durable state of one timer start event of an app's latest definition. Written by the
/// deploy that stores the definition (replacing the app's schedules), advanced (or removed, after
/// its last tick) in the same commit that creates each tick's instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Schedule {
    pub app: AppId,
    /// The timer start event.
    pub element: ElementId,
    /// The definition version the schedule belongs to.
    pub definition_version: u32,
    /// When the next tick is due.
    pub due: Timestamp,
    /// Ticks left after the next one (`None`: unbounded; `Some(0)`: the next is the last).
    pub remaining: Option<u32>,
    /// A cycle's interval: calendar months and fixed milliseconds.
    pub interval_months: Option<u32>,
    pub interval_millis: Option<u64>,
    /// Instances this schedule has started.
    pub ticks: u64,
    pub last_instance: Option<InstanceId>,
    /// The last tick that could not start an instance (a hook refused it, a gateway could not
    /// decide): the schedule moved on, and operators see why here.
    pub last_error: Option<ScheduleError>,
}

/// A tick that did not start an instance.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleError {
    pub due: Timestamp,
    pub at: Timestamp,
    pub message: String,
}
