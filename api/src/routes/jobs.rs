//! `/jobs/...`: external job workers, in any language.
//!
//! Service task types listed under `[jobs] external` in an app file are not run in-process:
//! their jobs wait in the durable queue until a worker takes them.
//!
//! 1. `POST /jobs/activate` leases up to `maxJobs` due jobs of the requested types for
//!    `lockDurationMs` and returns each with the instance's data (an event job carries its
//!    CloudEvent as `data.event`). No long polling: an empty list means nothing is due.
//! 2. `POST /jobs/{key}/complete` (output data, optional gateway action and history details)
//!    moves the instance past the task in one commit with the job's removal, or
//!    `POST /jobs/{key}/fail` records a failed attempt: retried after the server's backoff (or
//!    `backoffMs`) while `retries` is not 0 and the type's `max_attempts` allows it, otherwise an
//!    incident on the instance.
//!
//! The `key` is `<job key>.<lease>`: it names one lease of one job. A lock that expires returns
//! the job to the queue, and the expired key is refused from then on (409 `lease-not-held`),
//! even if nobody has taken the job again. A completed job is deleted, so completing it again is
//! 404 `not-found`; a job is never completed twice.
//!
//! Who may work a job, checked on activate, complete and fail alike (HOOKS.md says the same):
//! - the caller is an **organisation** (a user token is 403 `forbidden`),
//! - its token carries `flyt:jobs` (every type) or `flyt:jobs:<type>` (403 `insufficient-scope`
//!   naming the missing scope), and
//! - it serves the job's **app**: it is the app's service owner (its org code is the app's org),
//!   or the app's policy grants it the action `job:<type>` (or `job:*`), e.g.
//!   `subjects = ["orgno:999999999"]`, `actions = ["job:send-letter"]`. Such rules are app-wide:
//!   `owner` and `role:` subjects never match a worker. Otherwise 403 `forbidden` on complete and
//!   fail; activation simply never hands out another app's jobs.

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{Json, OptionalJson};
use crate::state::AppState;
use axum::extract::{Path, State};
use flyt_engine::hooks::Completion;
use flyt_engine::ids::{DataTypeId, JobKey};
use flyt_engine::model::{Job, JobKind, JobState};
use flyt_engine::runtime::jobs::{Completed, Failed, JobError, LeasedJob};
use flyt_engine::runtime::{Activated, Activation, Thrown};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::time::Duration;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The scope that allows every job type; `flyt:jobs:<type>` allows one.
pub const JOBS_SCOPE: &str = "flyt:jobs";

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(activate))
        .routes(routes!(complete))
        .routes(routes!(fail))
}

impl From<JobError> for ApiError {
    fn from(e: JobError) -> Self {
        match e {
            JobError::NotFound(key) => {
                ApiError::NotFound(format!("no job {key} (it never existed, or was completed)"))
            }
            e @ JobError::Cancelled { .. } => ApiError::Conflict {
                code: "job-cancelled",
                message: e.to_string(),
                issues: Vec::new(),
            },
            e @ JobError::LeaseLost(_) => ApiError::Conflict {
                code: "lease-not-held",
                message: e.to_string(),
                issues: Vec::new(),
            },
            JobError::Runtime(e) => e.into(),
        }
    }
}

/// The organisation behind a worker's token, or 403.
fn worker(caller: &Caller) -> Result<&crate::auth::Organisation, ApiError> {
    match caller {
        Caller::Organisation(o) => Ok(o),
        Caller::User(_) => Err(ApiError::Forbidden(
            "job workers authenticate with an organisation token, not a user token".into(),
        )),
    }
}

/// Refuses unless the token may work on jobs of `job_type`.
fn allow_type(caller: &Caller, job_type: &str) -> Result<(), ApiError> {
    let specific = format!("{JOBS_SCOPE}:{job_type}");
    if caller.has_scope(JOBS_SCOPE) || caller.has_scope(&specific) {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope(specific))
    }
}

/// Whether `caller` serves `app` for jobs of `job_type`: the app's service owner, or named by the
/// app's policy with `job:<type>` or `job:*`. (The scope is checked separately.)
fn serves_app(app: &crate::apps::App, caller: &Caller, job_type: &str) -> bool {
    let Caller::Organisation(org) = caller else {
        return false;
    };
    org.org_code.as_deref() == Some(app.id.org())
        || app
            .policy
            .allows(caller, &format!("job:{job_type}"), None, None)
        || app.policy.allows(caller, "job:*", None, None)
}

/// Refuses unless `caller` serves the job's app (see the module docs).
fn allow_app(state: &AppState, caller: &Caller, job: &Job) -> Result<(), ApiError> {
    let allowed = state
        .inner
        .apps
        .get(&job.app)
        .is_some_and(|app| serves_app(app, caller, &job.task_type));
    if allowed {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "jobs of {} are worked by its service owner, or by an organisation its policy grants `job:{}`",
            job.app, job.task_type
        )))
    }
}

/// Refuses a token with no job scope at all before anything about a job is revealed.
fn any_jobs_scope(caller: &Caller) -> Result<(), ApiError> {
    let prefix = format!("{JOBS_SCOPE}:");
    if caller
        .scopes()
        .iter()
        .any(|s| s == JOBS_SCOPE || s.starts_with(&prefix))
    {
        Ok(())
    } else {
        Err(ApiError::InsufficientScope(JOBS_SCOPE.into()))
    }
}

/// Take due jobs of some types.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActivateRequest {
    /// Service task types (as in `flyt:type` / `[jobs] external`); 1-32 of them.
    #[schema(min_items = 1, max_items = 32)]
    pub job_types: Vec<String>,
    /// 1-100.
    #[schema(minimum = 1, maximum = 100)]
    pub max_jobs: u32,
    /// How long the jobs are locked for this worker, 1,000-600,000 ms. A job not completed or
    /// failed by then goes back to the queue, and this lease's key is refused.
    #[schema(minimum = 1000, maximum = 600000)]
    pub lock_duration_ms: u64,
    /// Names the worker in the job's state (logs, `GET .../process`); 1-128 characters.
    #[schema(min_length = 1, max_length = 128)]
    pub worker_id: String,
}

/// A job leased to the worker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ActivatedJob {
    /// `<job key>.<lease>`: use it to complete or fail this job under this lease.
    pub key: String,
    #[serde(rename = "type")]
    pub job_type: String,
    /// The service task's id (for an event job: the element the event is about, or `instance`).
    pub element_id: String,
    /// `{partyId}/{instanceGuid}`.
    pub instance_id: String,
    /// `org/app`.
    pub app: String,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// Attempts left after this one before an incident.
    pub retries_left: u32,
    /// When the lock expires (RFC 3339).
    pub deadline: String,
    /// Stable across attempts of this visit of the task: send it downstream so that the side
    /// effect happens once.
    pub idempotency_key: String,
    /// The instance's data by data type; for an event job, `{"event": <CloudEvent>}`.
    #[schema(value_type = Object)]
    pub data: Map<String, Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ActivateResponse {
    /// Empty when nothing of these types is due.
    pub jobs: Vec<ActivatedJob>,
}

fn check_activate(req: &ActivateRequest) -> Result<(), ApiError> {
    let bad = |field: &str, message: &str| Err(ApiError::bad_request(Some(field.into()), message));
    if req.job_types.is_empty() || req.job_types.len() > 32 {
        return bad("jobTypes", "name 1-32 job types");
    }
    if req.job_types.iter().any(|t| t.trim().is_empty()) {
        return bad("jobTypes", "a job type is empty");
    }
    if !(1..=100).contains(&req.max_jobs) {
        return bad("maxJobs", "maxJobs must be 1-100");
    }
    if !(1_000..=600_000).contains(&req.lock_duration_ms) {
        return bad("lockDurationMs", "lockDurationMs must be 1000-600000");
    }
    let id = req.worker_id.chars().count();
    if id == 0 || id > 128 || req.worker_id.chars().any(char::is_control) {
        return bad(
            "workerId",
            "workerId must be 1-128 characters, none of them control characters",
        );
    }
    Ok(())
}

#[utoipa::path(post, path = "/jobs/activate", tag = "jobs",
    request_body = ActivateRequest,
    responses((status = 200, body = ActivateResponse, description = "the jobs leased to this worker (possibly none)"),
        (status = 400, body = Problem), (status = 401, body = Problem),
        (status = 403, body = Problem, description = "a user token, or an organisation token without `flyt:jobs` or `flyt:jobs:<type>`; jobs of apps the caller does not serve are never handed out"),
        (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn activate(
    State(state): State<AppState>,
    caller: Caller,
    Json(req, _): Json<ActivateRequest>,
) -> Result<axum::Json<ActivateResponse>, ApiError> {
    worker(&caller)?;
    check_activate(&req)?;
    for t in &req.job_types {
        allow_type(&caller, t)?;
    }
    let max = usize::try_from(req.max_jobs).unwrap_or(100);
    let serves = |app: &flyt_engine::ids::AppId, job_type: &str| {
        state
            .inner
            .apps
            .get(app)
            .is_some_and(|app| serves_app(app, &caller, job_type))
    };
    let activated = state
        .runtime()
        .activate_jobs(
            Activation {
                job_types: &req.job_types,
                max_jobs: max,
                worker: &req.worker_id,
                lock: Duration::from_millis(req.lock_duration_ms),
            },
            &serves,
        )
        .await?;
    let jobs: Vec<ActivatedJob> = activated.iter().map(activated_view).collect();
    if !jobs.is_empty() {
        tracing::debug!(worker = %req.worker_id, jobs = jobs.len(), "jobs activated");
    }
    Ok(axum::Json(ActivateResponse { jobs }))
}

fn activated_view(activated: &Activated) -> ActivatedJob {
    let (leased, ctx) = (&activated.leased, &activated.context);
    let job = &leased.job;
    let data: Map<String, Value> = match job.kind {
        // Timers are never external (never activated); shown like events if one were.
        JobKind::Event | JobKind::Timer => {
            let mut m = Map::new();
            m.insert("event".into(), job.payload.clone().unwrap_or(Value::Null));
            m
        }
        JobKind::ServiceTask => ctx
            .data
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect(),
    };
    let deadline = match &job.state {
        JobState::Leased { until, .. } => until.to_rfc3339(),
        _ => String::new(),
    };
    ActivatedJob {
        key: format!("{}.{}", job.key, leased.lease),
        job_type: job.task_type.clone(),
        element_id: job.element_id.to_string(),
        instance_id: ctx.instance.altinn_id(),
        app: job.app.to_string(),
        attempt: job.attempts,
        retries_left: job.max_attempts.saturating_sub(job.attempts),
        deadline,
        idempotency_key: job.idempotency_key.clone(),
        data,
    }
}

/// `<job key>.<lease>` → the external job held under that lease, after the scope check.
fn held(state: &AppState, caller: &Caller, key: &str) -> Result<LeasedJob, ApiError> {
    worker(caller)?;
    any_jobs_scope(caller)?;
    let malformed = || {
        ApiError::bad_request(
            Some("key".into()),
            format!("`{key}` is not a job key from /jobs/activate (`<job key>.<lease>`)"),
        )
    };
    let (job, lease) = key.split_once('.').ok_or_else(malformed)?;
    let job: JobKey = job.parse().map_err(|_| malformed())?;
    let lease: u64 = lease.parse().map_err(|_| malformed())?;
    let Some(found) = state.runtime().job(job)?.filter(|j| j.external) else {
        // Cancelled by an interrupting boundary event: say so to a worker that serves it.
        if let Some(cancelled) = state.runtime().cancelled_job(job)? {
            allow_type(caller, &cancelled.job.task_type)?;
            allow_app(state, caller, &cancelled.job)?;
            return Err(state.runtime().gone(job)?.into());
        }
        return Err(JobError::NotFound(job).into());
    };
    allow_type(caller, &found.task_type)?;
    allow_app(state, caller, &found)?;
    Ok(state.runtime().leased_job(job, lease)?)
}

/// The worker's result.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CompleteRequest {
    /// Data to write, by data type (each checked against its JSON Schema); committed with the
    /// move past the task. Each is a JSON object.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::HashMap<String, Object>>)]
    pub data: Option<BTreeMap<String, Value>>,
    /// `gatewayAction` for gateways after the task (default: the action that led into it).
    #[serde(default)]
    pub action: Option<String>,
    /// Facts recorded in the task's `process_EndTask` history event.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CompleteResponse {
    /// `completed`.
    pub state: String,
    /// `moved` (the instance moved past the task), `delivered` (an event job) or `stale` (the
    /// instance or its task was gone; the job was dropped).
    pub outcome: String,
}

#[utoipa::path(post, path = "/jobs/{key}/complete", tag = "jobs",
    params(("key" = String, Path, description = "`<job key>.<lease>` from /jobs/activate")),
    request_body(content = Option<CompleteRequest>, description = "output data; an empty body or `{}` writes nothing"),
    responses((status = 200, body = CompleteResponse, description = "the job is done; the instance moved on"),
        (status = 400, body = Problem, description = "a malformed key, or an unknown data type"),
        (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such job: unknown, or already completed"),
        (status = 409, body = Problem, description = "`lease-not-held`: the lock expired or the job was taken again; or a hook refused the data"),
        (status = 413, body = Problem),
        (status = 422, body = Problem, description = "data that is not a JSON object or breaks its data type's JSON Schema")),
    security(("bearer" = [])))]
pub async fn complete(
    State(state): State<AppState>,
    Path(key): Path<String>,
    caller: Caller,
    OptionalJson(req): OptionalJson<CompleteRequest>,
) -> Result<axum::Json<CompleteResponse>, ApiError> {
    let leased = held(&state, &caller, &key)?;
    let req = req.unwrap_or_default();
    let app = state.runtime().app(&leased.job.app)?;
    let mut data = BTreeMap::new();
    // Checked before the engine runs data_written hooks on it: an unknown data type is a bad
    // field of this body (400), not a missing resource.
    for (data_type, value) in req.data.unwrap_or_default() {
        let id = DataTypeId::new(data_type);
        match flyt_engine::runtime::check_data(&app, &id, &value) {
            Err(flyt_engine::runtime::Error::UnknownDataType { .. }) => {
                return Err(ApiError::bad_request(
                    Some(format!("data.{id}")),
                    format!("{} has no data type `{id}`", app.id),
                ));
            }
            checked => checked?,
        }
        data.insert(id, value);
    }
    let completion = Completion {
        data,
        action: req.action,
        details: req.details,
        files: Vec::new(),
    };
    let outcome = match state.runtime().complete_job(&leased, completion).await? {
        Completed::Moved => "moved",
        Completed::Delivered => "delivered",
        Completed::Stale => "stale",
    };
    tracing::debug!(job = %leased.job.key, r#type = %leased.job.task_type, outcome, "external job completed");
    Ok(axum::Json(CompleteResponse {
        state: "completed".into(),
        outcome: outcome.into(),
    }))
}

/// A failed attempt.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FailRequest {
    /// Why (shown in the incident and the job's `lastError`).
    pub error_message: String,
    /// Retries the worker asks for. `0`: no retry, an incident now. Omitted or more than 0:
    /// retried while the type's `max_attempts` allows (the server's budget wins).
    #[serde(default)]
    pub retries: Option<u32>,
    /// Wait at least this long before the next attempt (default: the type's backoff); at most
    /// one hour.
    #[serde(default)]
    pub backoff_ms: Option<u64>,
    /// A BPMN error instead of a failure: an error boundary event on the task that catches this
    /// code takes the process on (`caught`); when none does, an incident names the code.
    /// `retries` and `backoffMs` do not apply to it.
    #[serde(default)]
    pub error_code: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailResponse {
    /// `retrying`, `incident`, or `caught` (a BPMN error an error boundary event caught).
    pub state: String,
    /// With `retrying`: when the job is due again (RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
}

#[utoipa::path(post, path = "/jobs/{key}/fail", tag = "jobs",
    params(("key" = String, Path, description = "`<job key>.<lease>` from /jobs/activate")),
    request_body = FailRequest,
    responses((status = 200, body = FailResponse, description = "the attempt is recorded: retrying later, or an incident"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem, description = "no such job: unknown, or already completed"),
        (status = 409, body = Problem, description = "`lease-not-held`: the lock expired or the job was taken again"),
        (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn fail(
    State(state): State<AppState>,
    Path(key): Path<String>,
    caller: Caller,
    Json(req, _): Json<FailRequest>,
) -> Result<axum::Json<FailResponse>, ApiError> {
    let leased = held(&state, &caller, &key)?;
    let message: String = req.error_message.chars().take(4_000).collect();
    if let Some(code) = &req.error_code {
        let code = code.trim();
        if code.is_empty() || code.len() > 200 {
            return Err(ApiError::bad_request(
                Some("errorCode".into()),
                "errorCode must be 1 to 200 characters",
            ));
        }
        let thrown = state.runtime().throw_error(&leased, code, &message).await?;
        tracing::debug!(job = %leased.job.key, code, outcome = ?thrown, "external job raised a BPMN error");
        return Ok(axum::Json(FailResponse {
            state: match thrown {
                Thrown::Caught => "caught",
                Thrown::Incident | Thrown::Stale => "incident",
            }
            .into(),
            next_attempt_at: None,
        }));
    }
    let retryable = req.retries != Some(0);
    let backoff = req.backoff_ms.map(Duration::from_millis);
    let failed = state
        .runtime()
        .fail_job(&leased, &message, retryable, backoff)
        .await?;
    tracing::debug!(job = %leased.job.key, r#type = %leased.job.task_type, outcome = ?failed, "external job failed");
    Ok(axum::Json(match failed {
        Failed::Retrying { due } => FailResponse {
            state: "retrying".into(),
            next_attempt_at: Some(due.to_rfc3339()),
        },
        Failed::Incident => FailResponse {
            state: "incident".into(),
            next_attempt_at: None,
        },
    }))
}
