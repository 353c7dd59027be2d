//! `/{org}/{app}/timers`: the operator's view of an app's pending timers. Its schedules (timer
//! start events: when each next starts an instance, and the last tick that could not), and the
//! armed timers of its instances (catch and boundary events) soonest first, paginated. For
//! operators: the operator scope, or the policy's `resume` (as for resuming an incident).

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use flyt_engine::model::Schedule;
use flyt_engine::runtime::{PendingTimer, TimerCursor, TimerSort};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_timers))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TimersQuery {
    /// Page size of `timers` (default 20, at most `limits.max_page_size`).
    pub limit: Option<usize>,
    pub continuation_token: Option<String>,
}

/// A timer start event's schedule.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScheduleView {
    /// The timer start event.
    pub element_id: String,
    /// Always `start`.
    pub kind: String,
    /// When it next starts an instance (RFC 3339).
    pub due: String,
    /// Ticks left after the next one; absent: unbounded.
    pub remaining: Option<u32>,
    /// Instances it has started.
    pub ticks: u64,
    pub definition_version: u32,
    /// The last instance it started (`{partyId}/{guid}` is not known here: its guid).
    pub last_instance_id: Option<String>,
}

/// An armed timer of an instance.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimerView {
    /// `{partyId}/{instanceGuid}`, as in instance URLs.
    pub instance_id: String,
    pub element_id: String,
    /// `catch` (an intermediate catch event) or `boundary` (on a task).
    pub kind: String,
    /// For boundary events: the task it watches.
    pub attached_to: Option<String>,
    /// When it fires (RFC 3339).
    pub due: String,
}

/// A tick of a timer start event that started no instance (a hook refused it, a gateway could
/// not decide): the schedule went on.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimerIncidentView {
    pub element_id: String,
    /// The tick that failed (RFC 3339).
    pub due: String,
    /// When it was tried.
    pub at: String,
    pub message: String,
}

/// An app's pending timers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimersView {
    /// Every schedule of the app, soonest first.
    pub schedules: Vec<ScheduleView>,
    /// Armed timers of instances, soonest first: one page.
    pub timers: Vec<TimerView>,
    /// The last failed tick of each schedule.
    pub incidents: Vec<TimerIncidentView>,
    /// Ask again with this for the next page; absent on the last.
    pub continuation_token: Option<String>,
}

fn schedule_view(s: &Schedule) -> ScheduleView {
    ScheduleView {
        element_id: s.element.to_string(),
        kind: "start".into(),
        due: s.due.to_rfc3339(),
        remaining: s.remaining,
        ticks: s.ticks,
        definition_version: s.definition_version,
        last_instance_id: s.last_instance.map(|i| i.to_string()),
    }
}

fn timer_view(t: &PendingTimer) -> TimerView {
    TimerView {
        instance_id: format!("{}/{}", t.party, t.instance),
        element_id: t.element.to_string(),
        kind: match t.sort {
            TimerSort::Catch => "catch",
            TimerSort::Boundary => "boundary",
        }
        .into(),
        attached_to: t.attached_to.as_ref().map(|a| a.to_string()),
        due: t.due.to_rfc3339(),
    }
}

#[utoipa::path(get, path = "/{org}/{app}/timers", tag = "operate",
    params(("org" = String, Path), ("app" = String, Path), TimersQuery),
    responses((status = 200, body = TimersView, description = "the app's schedules and a page of its armed timers, soonest first"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_timers(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<TimersQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<TimersView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(None, e.body_text()))?;
    let app = state.app(&org, &app)?;
    if !caller.has_scope(&state.config().operator_scope)
        && !app.policy.allows(&caller, "resume", None, None)
    {
        return Err(ApiError::Forbidden(format!(
            "the timers of {} are for operators: the scope `{}` or the policy's `resume`",
            app.id,
            state.config().operator_scope
        )));
    }
    let max = state.config().limits.max_page_size;
    let limit = query.limit.unwrap_or(20).clamp(1, max);
    let after = query
        .continuation_token
        .as_deref()
        .map(str::parse::<TimerCursor>)
        .transpose()
        .map_err(|e| ApiError::bad_request(Some("continuationToken".into()), e))?;
    let page = state.runtime().pending_timers(&app.id, after, limit)?;
    Ok(axum::Json(TimersView {
        schedules: page.schedules.iter().map(schedule_view).collect(),
        timers: page.timers.iter().map(timer_view).collect(),
        incidents: page
            .schedules
            .iter()
            .filter_map(|s| {
                s.last_error.as_ref().map(|e| TimerIncidentView {
                    element_id: s.element.to_string(),
                    due: e.due.to_rfc3339(),
                    at: e.at.to_rfc3339(),
                    message: e.message.clone(),
                })
            })
            .collect(),
        continuation_token: page.next.map(|c| c.to_string()),
    }))
}
