//! `GET /{org}/{app}/tasks/mine`: the active user tasks of an app assigned to the caller
//! (`<flyt:assignee>`), across its instances, a page of instances at a time.

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use flyt_engine::model::Assignee;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(my_tasks))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MyTasksQuery {
    /// How many instances to look through (default 100, at most `limits.max_page_size`);
    /// the page may hold fewer tasks, or none, and still have a continuation token.
    pub limit: Option<usize>,
    pub continuation_token: Option<String>,
}

/// One task assigned to the caller.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyTaskView {
    /// `{partyId}/{instanceGuid}`.
    pub instance_id: String,
    pub element_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altinn_task_type: Option<String>,
    /// For an inner instance of a multi-instance task: `innerInstance` for `next`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_instance: Option<u32>,
    #[schema(value_type = Object)]
    pub assignee: Assignee,
    pub started: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MyTasksView {
    pub tasks: Vec<MyTaskView>,
    /// Look through the next instances with it; none: every instance was looked through.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

#[utoipa::path(get, path = "/{org}/{app}/tasks/mine", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), MyTasksQuery),
    responses((status = 200, body = MyTasksView, description = "the active user tasks assigned to the caller"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn my_tasks(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<MyTasksQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<MyTasksView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(None, e.body_text()))?;
    let app = state.app(&org, &app)?;
    let max = state.config().limits.max_page_size;
    let limit = query.limit.unwrap_or(100).clamp(1, max);
    let after = query
        .continuation_token
        .as_deref()
        .map(|t| t.parse::<flyt_engine::store::PageCursor>())
        .transpose()
        .map_err(|e| ApiError::bad_request(Some("continuationToken".into()), e))?;
    // Assigned tasks may be on instances others own (a signer is rarely the owner): every
    // owner's instances are looked through.
    let page = state
        .runtime()
        .list_instances(&app.id, None, after.as_ref(), limit)?;
    let mut tasks = Vec::new();
    for (_, id) in page.instances {
        let instance = match state.runtime().instance(id) {
            Ok(instance) => instance,
            Err(flyt_engine::runtime::Error::InstanceNotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        let process = &instance.process;
        for (token, task) in process.user_task_tokens() {
            let Some(assignee) = &task.assignee else {
                continue;
            };
            // The assignment names the caller: enough to learn that the task waits for them
            // (acting on it still needs the policy too).
            if !caller.is_assignee(assignee) {
                continue;
            }
            tasks.push(MyTaskView {
                instance_id: instance.altinn_id(),
                element_id: task.element_id.to_string(),
                name: task.name.clone(),
                altinn_task_type: task.altinn_task_type.clone(),
                inner_instance: process.inner_index(token.id),
                assignee: assignee.clone(),
                started: task.started.to_rfc3339(),
            });
        }
    }
    Ok(axum::Json(MyTasksView {
        tasks,
        continuation_token: page.next,
    }))
}
