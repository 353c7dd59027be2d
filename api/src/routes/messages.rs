//! `/{org}/{app}/messages`: publishing a message to an app's waiting instances, and the
//! operator's view of its open subscriptions and buffered messages.
//!
//! Who may publish which names is the receiving app's policy: a rule with the action
//! `publish`, optionally limited to `messages = [...]`. An app cannot push messages into
//! another service owner's instances unless that app's policy names it.

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::Json;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use flyt_engine::runtime::{PublishMessage, Published};
use flyt_engine::store::messages::{BufferedMessage, SubscriptionRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(publish))
        .routes(routes!(list_subscriptions))
        .routes(routes!(list_buffered))
}

/// A message to publish.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishRequest {
    /// The message name (a `<bpmn:message name>` a catch of the app waits for).
    pub name: String,
    /// The correlation key: the value the waiting catch's `correlationKey` expression gave.
    pub correlation_key: String,
    /// Makes publishing idempotent per receiving app (whoever publishes): the same id with the
    /// same content returns the first answer; with other content it is 409. Default: a new id.
    pub message_id: Option<String>,
    /// A JSON object merged into the catch's `dataType` (top-level keys overwrite).
    #[schema(value_type = Option<Object>)]
    pub data: Option<Value>,
    /// How long to keep the message when nobody waits yet (ISO 8601 duration, at most
    /// `P30D`). Absent or `PT0S`: not kept (404 `no-subscription`).
    pub time_to_live: Option<String>,
}

/// What publishing did.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PublishedView {
    /// `correlated` (200), `started` (201) or `buffered` (202).
    pub outcome: String,
    pub message_id: String,
    /// `{partyId}/{instanceGuid}` of the instance it moved (`correlated`) or started (`started`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Until when it waits for a subscription (`buffered`, RFC 3339).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buffered_until: Option<String>,
}

/// An open message subscription.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SubscriptionView {
    pub message: String,
    pub correlation_key: String,
    /// The catching element (message catch event, receive task, message boundary event, or
    /// the message start event of an event sub-process).
    pub element_id: String,
    /// The instance's guid.
    pub instance_guid: String,
    /// When it opened (RFC 3339).
    pub since: String,
}

impl From<&SubscriptionRecord> for SubscriptionView {
    fn from(s: &SubscriptionRecord) -> Self {
        SubscriptionView {
            message: s.message.clone(),
            correlation_key: s.correlation_key.clone(),
            element_id: s.element.to_string(),
            instance_guid: s.instance.to_string(),
            since: s.since.to_rfc3339(),
        }
    }
}

/// A buffered message, waiting for a subscription until it expires.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct BufferedView {
    pub message: String,
    pub correlation_key: String,
    pub message_id: String,
    pub published: String,
    pub expires: String,
}

impl From<&BufferedMessage> for BufferedView {
    fn from(m: &BufferedMessage) -> Self {
        BufferedView {
            message: m.message.clone(),
            correlation_key: m.correlation_key.clone(),
            message_id: m.message_id.clone(),
            published: m.published.to_rfc3339(),
            expires: m.expires.to_rfc3339(),
        }
    }
}

#[utoipa::path(post, path = "/{org}/{app}/messages", tag = "messages",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body = PublishRequest,
    responses((status = 200, body = PublishedView, description = "correlated: the oldest subscription for the name and key took it, and its instance moved (or a repeat of that answer for the same messageId)"),
        (status = 201, body = PublishedView, description = "started: nobody waited, and a message start event started an instance owned by the app's service owner"),
        (status = 202, body = PublishedView, description = "buffered: nobody waits yet; kept until bufferedUntil for the first subscription that opens"),
        (status = 400, body = Problem, description = "malformed: empty name or key, data not an object, a bad timeToLive"),
        (status = 401, body = Problem), (status = 403, body = Problem, description = "the app's policy does not let the caller publish this name"),
        (status = 404, body = Problem, description = "unknown app, or (`no-subscription`) nobody waits and there is no timeToLive"),
        (status = 409, body = Problem, description = "`message-id-reused` (same messageId, other content), or the waiting instance could not move"),
        (status = 413, body = Problem), (status = 415, body = Problem),
        (status = 422, body = Problem, description = "`unknown-message`, `message-too-large`, or data failing the catch's data type schema")),
    security(("bearer" = [])))]
pub async fn publish(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    Json(req, _): Json<PublishRequest>,
) -> Result<(StatusCode, axum::Json<PublishedView>), ApiError> {
    let app = state.app(&org, &app)?;
    if !app.policy.allows_publish(&caller, &req.name) {
        return Err(ApiError::Forbidden(format!(
            "the policy of {} does not let this caller publish message `{}` (a rule with action `publish`, and the name in its `messages` if it lists any)",
            app.id, req.name
        )));
    }
    let msg = PublishMessage {
        name: req.name,
        correlation_key: req.correlation_key,
        message_id: req.message_id,
        data: req.data,
        time_to_live: req.time_to_live,
    };
    let published = state
        .runtime()
        .publish_message(&app.id, msg, caller.actor())
        .await?;
    Ok(match published {
        Published::Correlated {
            message_id,
            instance_id,
        } => (
            StatusCode::OK,
            axum::Json(PublishedView {
                outcome: "correlated".into(),
                message_id,
                instance_id: Some(instance_id),
                buffered_until: None,
            }),
        ),
        Published::Started {
            message_id,
            instance_id,
        } => (
            StatusCode::CREATED,
            axum::Json(PublishedView {
                outcome: "started".into(),
                message_id,
                instance_id: Some(instance_id),
                buffered_until: None,
            }),
        ),
        Published::Buffered {
            message_id,
            buffered_until,
        } => (
            StatusCode::ACCEPTED,
            axum::Json(PublishedView {
                outcome: "buffered".into(),
                message_id,
                instance_id: None,
                buffered_until: Some(buffered_until.to_rfc3339()),
            }),
        ),
    })
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MessagesQuery {
    /// How many (default 100, at most `limits.max_page_size`).
    pub limit: Option<usize>,
}

/// Operators (the operator scope) and whoever the policy lets `resume`.
pub(crate) fn operator(
    state: &AppState,
    app: &crate::apps::App,
    caller: &Caller,
) -> Result<(), ApiError> {
    if caller.has_scope(&state.config().operator_scope)
        || app.policy.allows(caller, "resume", None, None)
    {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "the subscriptions of {} are for operators: the scope `{}` or the policy's `resume`",
        app.id,
        state.config().operator_scope
    )))
}

pub(crate) fn limit(
    state: &AppState,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<usize, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(None, e.body_text()))?;
    let max = state.config().limits.max_page_size;
    Ok(query.limit.unwrap_or(100).clamp(1, max))
}

#[utoipa::path(get, path = "/{org}/{app}/messages/subscriptions", tag = "messages",
    params(("org" = String, Path), ("app" = String, Path), MessagesQuery),
    responses((status = 200, body = Vec<SubscriptionView>, description = "open subscriptions by name and key, oldest first within each"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_subscriptions(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Vec<SubscriptionView>>, ApiError> {
    let app = state.app(&org, &app)?;
    operator(&state, &app, &caller)?;
    let limit = limit(&state, query)?;
    let subs = state.runtime().message_subscriptions(&app.id, limit)?;
    Ok(axum::Json(
        subs.iter().map(SubscriptionView::from).collect(),
    ))
}

#[utoipa::path(get, path = "/{org}/{app}/messages/buffered", tag = "messages",
    params(("org" = String, Path), ("app" = String, Path), MessagesQuery),
    responses((status = 200, body = Vec<BufferedView>, description = "buffered messages that have not expired, by name and key, oldest first within each"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list_buffered(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<MessagesQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<Vec<BufferedView>>, ApiError> {
    let app = state.app(&org, &app)?;
    operator(&state, &app, &caller)?;
    let limit = limit(&state, query)?;
    let buffered = state.runtime().buffered_messages(&app.id, limit)?;
    Ok(axum::Json(
        buffered.iter().map(BufferedView::from).collect(),
    ))
}
