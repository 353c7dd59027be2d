//! `.../process`: the state with the caller's rights, `next`, history, resume, server actions.

use super::{etag, instance_for, instance_for_move};
use crate::apps::App;
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, Json, OptionalJson};
use crate::state::AppState;
use crate::views::{HistoryView, ProcessView, TaskView, UserActionView};
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use flyt_engine::bpmn::elements::{Action, ActionKind, NodeKind};
use flyt_engine::model::Instance;
use flyt_engine::runtime::Next;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::sync::Arc;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_process))
        .routes(routes!(next))
        .routes(routes!(history))
        .routes(routes!(resume))
        .routes(routes!(server_action))
}

type InstancePath = Path<(String, String, String, String)>;

/// The current task's actions with the caller's rights, and its read/write flags.
fn with_rights(
    state: &AppState,
    app: &crate::apps::App,
    caller: &Caller,
    instance: &flyt_engine::model::Instance,
    mut task: TaskView,
) -> TaskView {
    let Ok(def) = state.runtime().definition_of(instance) else {
        return task;
    };
    let Some(node) = def.node_by_id(&task.element_id).map(|n| def.node(n)) else {
        return task;
    };
    // As Altinn: `read` and `write`, then the actions the task lists. The `actions` map holds
    // the process actions; `userActions` every one, server actions too.
    let listed = match &node.kind {
        NodeKind::UserTask(t) => t.actions.clone(),
        NodeKind::ServiceTask(t) => t.actions.clone(),
        _ => Vec::new(),
    };
    let mut actions = vec![
        Action {
            id: "read".into(),
            kind: ActionKind::Process,
        },
        Action {
            id: "write".into(),
            kind: ActionKind::Process,
        },
    ];
    for a in listed {
        if !actions.iter().any(|b| b.id == a.id) {
            actions.push(a);
        }
    }
    let owner = Some(&instance.owner);
    let allowed = |a: &str| app.policy.allows(caller, a, owner, Some(&task.element_id));
    task.user_actions = Some(
        actions
            .iter()
            .map(|a| UserActionView {
                id: a.id.clone(),
                authorized: allowed(&a.id),
                kind: match a.kind {
                    ActionKind::Process => "ProcessAction".into(),
                    ActionKind::Server => "ServerAction".into(),
                },
            })
            .collect(),
    );
    task.actions = Some(
        actions
            .iter()
            .filter(|a| a.kind == ActionKind::Process)
            .map(|a| (a.id.clone(), allowed(&a.id)))
            .collect(),
    );
    task.read = Some(allowed("read"));
    task.write = Some(allowed("write"));
    task
}

#[utoipa::path(get, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/process", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path)),
    responses((status = 200, body = ProcessView, description = "the process state; the current task lists its actions and whether the caller may perform each"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_process(
    State(state): State<AppState>,
    Path((org, app, party, guid)): InstancePath,
    caller: Caller,
) -> Result<(HeaderMap, axum::Json<ProcessView>), ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    state.authorize_instance(&app, &caller, "read", &instance)?;
    let history = state.runtime().history(instance.id)?;
    let jobs = state.runtime().jobs_of(&instance)?;
    let signals = state.runtime().instance_signal_subscriptions(&instance)?;
    let runtime = state.runtime();
    let mut view = ProcessView::of(&instance, Some(&history))
        .with_jobs(&jobs)
        .with_signals(&signals)
        .with_calls(&instance, |child| runtime.instance(child).ok());
    view.current_task = view
        .current_task
        .map(|t| with_rights(&state, &app, &caller, &instance, t));
    view.active_tasks = view
        .active_tasks
        .into_iter()
        .map(|t| with_rights(&state, &app, &caller, &instance, t))
        .collect();
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(instance.version));
    Ok((headers, axum::Json(view)))
}

/// Complete the current task (or `taskId` when several are active) with an action.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NextRequest {
    /// The action performed. None: the task moves with no action (a caller needs one of the
    /// task's own actions, e.g. `write` on a data task), and gateways see a null
    /// `gatewayAction`, as in Altinn. On a service task, none or `write` runs it again.
    #[serde(default)]
    pub action: Option<String>,
    #[serde(default)]
    pub task_id: Option<String>,
    /// The organisation a person acts for (Altinn's `actionOnBehalfOf`, an organisation number):
    /// recorded in a signature. The person must hold a role for it (403 otherwise).
    #[serde(default)]
    pub action_on_behalf_of: Option<String>,
    /// The inner instance (its index, `innerInstance` in the process state) of a
    /// multi-instance task to act on. Without it, of several inner instances of the task the
    /// one assigned to the caller is taken (400 `innerInstance` when that is not one).
    #[serde(default)]
    pub inner_instance: Option<u32>,
}

#[utoipa::path(put, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/process/next", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Option<NextRequest>, description = "empty body: the default action on the only active task"),
    responses((status = 200, body = ProcessView, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "wrong action, inactive task, validation refused, gateway without a matching flow, or a concurrent move"),
        (status = 412, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn next(
    State(state): State<AppState>,
    Path((org, app, party, guid)): InstancePath,
    caller: Caller,
    IfMatch(expected): IfMatch,
    OptionalJson(body): OptionalJson<NextRequest>,
) -> Result<(HeaderMap, axum::Json<ProcessView>), ApiError> {
    let (app, instance, kept) = instance_for_move(&state, &org, &app, &party, &guid)?;
    let body = body.unwrap_or_default();
    if !kept {
        return next_on(&state, &app, &caller, expected, &body, instance).await;
    }
    // From this node's copy of its last commit: a refusal may be the copy's, when another node
    // has moved the instance since; then the move runs again on the stored instance. Only a
    // refusal (4xx: nothing was written): after a storage error the commit's outcome may be
    // unknown, and running the move again could apply it twice.
    match next_on(&state, &app, &caller, expected, &body, instance.clone()).await {
        Ok(moved) => Ok(moved),
        Err(e) if !e.status().is_client_error() => Err(e),
        Err(e) => match state.runtime().is_stale(&instance)? {
            Some(stored) => next_on(&state, &app, &caller, expected, &body, stored).await,
            None => Err(e),
        },
    }
}

/// A `next` from one snapshot of the instance: plan, authorise, execute.
async fn next_on(
    state: &AppState,
    app: &Arc<App>,
    caller: &Caller,
    expected: Option<u64>,
    body: &NextRequest,
    instance: Instance,
) -> Result<(HeaderMap, axum::Json<ProcessView>), ApiError> {
    let req = Next {
        instance: instance.id,
        action: body.action.clone(),
        task: body.task_id.clone(),
        actor: caller.actor(),
        expected_version: expected,
        on_behalf_of: body.action_on_behalf_of.clone(),
    };
    // The engine plans the move; exactly that task and action are authorised, then executed.
    let plan = match state
        .runtime()
        .plan_next_inner(&instance, &req, body.inner_instance)
    {
        Ok(plan) => plan,
        Err(e) => {
            // Only a caller who may read the instance learns why it cannot move.
            state.authorize_instance(app, caller, "read", &instance)?;
            return Err(e.into());
        }
    };
    // One of the plan's actions suffices: the action sent, or with none the task's own (as
    // Altinn: `sign` or `write` on a signing task).
    let owner = Some(&instance.owner);
    if !plan
        .authorize
        .iter()
        .any(|a| app.policy.allows(caller, a, owner, Some(&plan.task)))
    {
        let first = plan.authorize.first().map_or("write", String::as_str);
        state.authorize(app, caller, first, owner, Some(&plan.task))?;
    }
    // Assignment is on top of the policy: both must let the caller act.
    if let Some(assignee) = &plan.assignee
        && !caller.is_assignee(assignee)
    {
        let inner = plan
            .inner
            .map(|i| format!(" (inner instance {i})"))
            .unwrap_or_default();
        return Err(ApiError::NotAssignee(format!(
            "task `{}`{inner} is assigned to {}; this caller is not its assignee",
            plan.task,
            assignee.describe()
        )));
    }
    if let Some(org) = &req.on_behalf_of
        && !acts_for(caller, org)
    {
        return Err(ApiError::Forbidden(format!(
            "this caller holds no role for organisation {org}, so it cannot act on its behalf"
        )));
    }
    if plan.service_owner_only && !is_service_owner(caller, app) {
        return Err(ApiError::Forbidden(format!(
            "task `{}` is a feedback task: it waits for the service owner ({}) to move it",
            plan.task,
            app.id.org()
        )));
    }
    let moved = state.runtime().next_planned(instance, &plan, req).await?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(moved.version));
    // No history here: `createdInstances` only grows when a service task completes, which a
    // `next` does not do synchronously; reading the whole history per move is wasted work.
    Ok((headers, axum::Json(ProcessView::of(&moved, None))))
}

/// A person holding a role for organisation `org` (from their token), or that organisation's own
/// token.
fn acts_for(caller: &Caller, org: &str) -> bool {
    match caller {
        Caller::User(u) => u.roles.get(org).is_some_and(|r| !r.is_empty()),
        Caller::Organisation(o) => o.organisation_number == org,
    }
}

/// An organisation token of the app's own service owner (its org code is the app's org).
fn is_service_owner(caller: &Caller, app: &crate::apps::App) -> bool {
    matches!(caller, Caller::Organisation(o) if o.org_code.as_deref() == Some(app.id.org()))
}

#[utoipa::path(get, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/process/history", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path)),
    responses((status = 200, body = HistoryView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn history(
    State(state): State<AppState>,
    Path((org, app, party, guid)): InstancePath,
    caller: Caller,
) -> Result<axum::Json<HistoryView>, ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    state.authorize_instance(&app, &caller, "read", &instance)?;
    let events = state.runtime().history(instance.id)?;
    Ok(axum::Json(HistoryView::of(&events)))
}

#[utoipa::path(post, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/process/resume", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = ProcessView, description = "incidents cleared; their jobs retry with fresh attempts"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn resume(
    State(state): State<AppState>,
    Path((org, app, party, guid)): InstancePath,
    caller: Caller,
    IfMatch(expected): IfMatch,
) -> Result<(HeaderMap, axum::Json<ProcessView>), ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    // Operators: the policy's `resume`, or the operator scope.
    if !caller.has_scope(&state.config().operator_scope) {
        state.authorize_instance(&app, &caller, "resume", &instance)?;
    }
    let resumed = state
        .runtime()
        .resume(instance.id, caller.actor(), expected)
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(resumed.version));
    Ok((headers, axum::Json(ProcessView::of(&resumed, None))))
}

/// A server action: runs code on the task without moving the process.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionRequest {
    pub action: String,
    #[serde(default)]
    pub task_id: Option<String>,
}

/// The result of a server action.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActionResult {
    #[schema(value_type = Object)]
    pub result: Value,
    pub version: u64,
}

#[utoipa::path(post, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/actions", tag = "process",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path)),
    request_body = ActionRequest,
    responses((status = 200, body = ActionResult), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn server_action(
    State(state): State<AppState>,
    Path((org, app, party, guid)): InstancePath,
    caller: Caller,
    Json(req, _): Json<ActionRequest>,
) -> Result<axum::Json<ActionResult>, ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    let task = req.task_id.clone().or_else(|| {
        instance
            .process
            .current_task()
            .map(|t| t.element_id.to_string())
    });
    state.authorize(
        &app,
        &caller,
        &req.action,
        Some(&instance.owner),
        task.as_deref(),
    )?;
    let (after, result) = state
        .runtime()
        .server_action(
            instance.id,
            &req.action,
            req.task_id.as_deref(),
            caller.actor(),
        )
        .await?;
    Ok(axum::Json(ActionResult {
        result,
        version: after.version,
    }))
}
