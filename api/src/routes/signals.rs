//! `/{org}/{app}/signals`: broadcasting a signal in an app, and the operator's view of its open
//! signal subscriptions.
//!
//! Who may broadcast which names is the app's policy: a rule with the action `signal`,
//! optionally limited to `signals = [...]` (as `publish` and `messages = [...]` are for
//! messages). A signal reaches every subscription of its name open in the app when it is
//! published, and starts an instance at each signal start event.

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::routes::messages::{MessagesQuery, limit, operator};
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use flyt_engine::runtime::{PublishSignal, SignalPublished};
use flyt_engine::store::signals::SignalSubscription;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(list_subscriptions))
}

/// A signal to broadcast.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SignalRequest {
    /// The signal name (a `<bpmn:signal name>` a signal event of the app catches or starts on).
    pub name: String,
    /// Makes publishing idempotent: the same id with the same content returns the first answer;
    /// with other content it is 409. Default: a new id.
    pub signal_id: Option<String>,
    /// A JSON object (at most 256 KiB), kept with the broadcast and merged into the data of each
    /// instance it reaches whose catching element names a data type (`<flyt:subscription dataType>`).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
}

/// What broadcasting did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalView {
    pub signal_id: String,
    /// The durable broadcast: its deliveries are made one commit each.
    pub broadcast_id: String,
    /// The subscriptions open when it was published: each gets it exactly once.
    pub subscriptions: u32,
    /// The signal start events it starts an instance at (one each).
    pub starts: u32,
}

impl From<SignalPublished> for SignalView {
    fn from(p: SignalPublished) -> Self {
        SignalView {
            signal_id: p.signal_id,
            broadcast_id: p.broadcast_id.to_string(),
            subscriptions: p.subscriptions,
            starts: p.starts,
        }
    }
}

/// An open signal subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SignalSubscriptionView {
    pub signal: String,
    /// The signal catch event or boundary event.
    pub element_id: String,
    /// The instance's guid.
    pub instance_guid: String,
}

impl From<&SignalSubscription> for SignalSubscriptionView {
    fn from(s: &SignalSubscription) -> Self {
        SignalSubscriptionView {
            signal: s.signal.clone(),
            element_id: s.element.to_string(),
            instance_guid: s.instance.to_string(),
        }
    }
}

#[utoipa::path(post, path = "/{org}/{app}/signals", tag = "signals",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = SignalRequest,
    responses((status = 200, body = SignalView, description = "broadcast: on disk with one delivery per subscription open now and per signal start event; the first deliveries are made before this answer, the worker makes the rest (or a repeat of the first answer for the same signalId)"),
        (status = 400, body = Problem, description = "malformed: empty name, data not an object, a bad signalId"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "the app's policy does not let the caller broadcast this signal"),
        (status = 404, body = Problem, description = "unknown app"),
        (status = 409, body = Problem, description = "`signal-id-reused`: same signalId, other content"),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem, description = "`unknown-signal` (no signal event of the app uses this name) or `message-too-large` (data over 256 KiB)")),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    Json(req, _): Json<SignalRequest>,
) -> Result<axum::Json<SignalView>, ApiError> {
    let app = state.app(&org, &app)?;
    if !app.policy.allows_signal(&caller, &req.name) {
        return Err(ApiError::Forbidden(format!(
            "the policy of {} does not let this caller broadcast signal `{}` (a rule with action `signal`, and the name in its `signals` if it lists any)",
            app.id, req.name
        )));
    }
    let msg = PublishSignal {
        name: req.name,
        signal_id: req.signal_id,
        data: req.data,
    };
    let published = state
        .runtime()
        .publish_signal(&app.id, msg, caller.actor())
        .await?;
    Ok(axum::Json(published.into()))
}

#[utoipa::path(get, path = "/{org}/{app}/signals/subscriptions", tag = "signals",
    params(("org" = String, Path), ("app" = String, Path), MessagesQuery),
    responses((status = 200, body = Vec<SignalSubscriptionView>, description = "open signal subscriptions by name, then instance"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Vec<SignalSubscriptionView>>, ApiError> {
    let app = state.app(&org, &app)?;
    operator(&state, &app, &caller)?;
    let limit = limit(&state, query)?;
    let subs = state.runtime().signal_subscriptions(&app.id, limit)?;
    Ok(axum::Json(
        subs.iter().map(SignalSubscriptionView::from).collect(),
    ))
}
