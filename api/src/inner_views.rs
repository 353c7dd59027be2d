//! What `GET .../process` shows of a multi-instance activity: its inner instances with their
//! item, index, assignee and state.

use flyt_engine::model::{Assignee, InnerState, MultiInstanceBody};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A multi-instance activity being run.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MultiInstanceView {
    pub sequential: bool,
    pub nr_of_instances: usize,
    pub nr_of_completed_instances: usize,
    pub nr_of_active_instances: usize,
    /// The inner instances started so far, in the order they started.
    pub inner_instances: Vec<InnerInstanceView>,
}

/// One inner instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InnerInstanceView {
    /// Its index in the collection (0-based): `innerInstance` in `next`.
    pub index: u32,
    /// Its item of the collection.
    #[schema(value_type = Object)]
    pub element: Value,
    /// `active`, `completed` or `cancelled`.
    pub state: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub assignee: Option<Assignee>,
}

impl From<&MultiInstanceBody> for MultiInstanceView {
    fn from(body: &MultiInstanceBody) -> Self {
        MultiInstanceView {
            sequential: body.sequential,
            nr_of_instances: body.nr_of_instances(),
            nr_of_completed_instances: body.nr_of_completed(),
            nr_of_active_instances: body.nr_of_active(),
            inner_instances: body
                .inner
                .iter()
                .map(|i| InnerInstanceView {
                    index: i.index,
                    element: body
                        .items
                        .get(i.index as usize)
                        .cloned()
                        .unwrap_or(Value::Null),
                    state: match i.state {
                        InnerState::Active => "active",
                        InnerState::Completed => "completed",
                        InnerState::Cancelled => "cancelled",
                    }
                    .to_string(),
                    assignee: i.assignee.clone(),
                })
                .collect(),
        }
    }
}
