//! `/{org}/{app}/instances`: create, list, read, delete.

use super::{etag, instance_for, location};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{IdempotencyKey, IfMatch, Json};
use crate::state::AppState;
use crate::views::{InstanceOwnerView, InstancePageView, InstanceView};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use flyt_engine::ids::{DataTypeId, PartyId};
use flyt_engine::model::{InstanceOwner, Party};
use flyt_engine::runtime::CreateInstance;
use serde::Deserialize;
use serde_json::Value;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create, list))
        .routes(routes!(create_alias))
        .routes(routes!(get_instance, delete_instance))
}

/// A request to create an instance. Server-owned fields (`id`, `process`, `version`, ...) are
/// refused.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CreateInstanceRequest {
    /// Whom the instance is for. Default: the caller itself.
    #[serde(default, deserialize_with = "crate::extract::object_opt")]
    pub instance_owner: Option<InstanceOwnerView>,
    /// `{"path.to.field": value}` written into the app's first data type.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub prefill: Option<BTreeMap<String, Value>>,
    /// Whole data per data type, each a JSON object: `{"model": {...}}`.
    #[serde(default)]
    #[schema(value_type = Option<std::collections::HashMap<String, Object>>)]
    pub data: Option<BTreeMap<String, Value>>,
    /// Start at this start event (default: the first).
    #[serde(default)]
    pub start_event: Option<String>,
}

/// Who the instance is for: exactly one identifier, or the caller itself.
fn resolve_owner(
    requested: Option<&InstanceOwnerView>,
    caller: &Caller,
) -> Result<InstanceOwner, ApiError> {
    let field = |f: &str| Some(format!("instanceOwner.{f}"));
    let party = match requested {
        None => match caller {
            Caller::User(u) => Party::person(&u.person_number),
            Caller::Organisation(o) => Party::organisation(&o.organisation_number),
        }
        .ok_or_else(|| {
            ApiError::bad_request(
                field("partyId"),
                "the caller's own party is not usable as an owner",
            )
        })?,
        Some(view) => {
            let given = [
                view.party_id.is_some(),
                view.person_number.is_some(),
                view.organisation_number.is_some(),
            ];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(ApiError::bad_request(
                    Some("instanceOwner".into()),
                    "name the owner by exactly one of partyId, personNumber and organisationNumber",
                ));
            }
            if let Some(p) = &view.person_number {
                Party::person(p).ok_or_else(|| {
                    ApiError::bad_request(field("personNumber"), "a person number has 11 digits")
                })?
            } else if let Some(o) = &view.organisation_number {
                Party::organisation(o).ok_or_else(|| {
                    ApiError::bad_request(
                        field("organisationNumber"),
                        "an organisation number has 9 digits",
                    )
                })?
            } else {
                let id = view.party_id.as_deref().unwrap_or_default();
                let id: PartyId = id.parse().map_err(|e: flyt_engine::ids::IdError| {
                    ApiError::bad_request(field("partyId"), e.to_string())
                })?;
                Party::from_party_id(id).ok_or_else(|| {
                    ApiError::bad_request(field("partyId"), format!("party {id} is not known here"))
                })?
            }
        }
    };
    Ok(InstanceOwner::new(party))
}

fn set_path(root: &mut Value, path: &str, value: Value) -> Result<(), ApiError> {
    let bad = |m: &str| ApiError::bad_request(Some(format!("prefill.{path}")), m.to_string());
    let parts: Vec<&str> = path.split('.').collect();
    if parts.len() > 32 || parts.iter().any(|p| p.is_empty() || p.len() > 128) {
        return Err(bad("a prefill path is 1-32 dot-separated names"));
    }
    let mut cur = root;
    for (i, part) in parts.iter().enumerate() {
        if cur.is_null() {
            *cur = Value::Object(serde_json::Map::new());
        }
        let Some(map) = cur.as_object_mut() else {
            return Err(bad("the path runs through a value that is not an object"));
        };
        if i + 1 == parts.len() {
            map.insert((*part).to_string(), value);
            return Ok(());
        }
        cur = map.entry((*part).to_string()).or_insert(Value::Null);
    }
    Ok(())
}

#[utoipa::path(post, path = "/{org}/{app}/instances", tag = "instances",
    params(("org" = String, Path), ("app" = String, Path), ("Idempotency-Key" = Option<String>, Header, description = "same key and body return the same instance")),
    request_body = CreateInstanceRequest,
    responses((status = 201, body = InstanceView, description = "created (or replayed for the same Idempotency-Key)"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    IdempotencyKey(key): IdempotencyKey,
    Json(req, raw): Json<CreateInstanceRequest>,
) -> Result<(StatusCode, HeaderMap, axum::Json<InstanceView>), ApiError> {
    let app = state.app(&org, &app)?;
    let owner = resolve_owner(req.instance_owner.as_ref(), &caller)?;
    if !app.allows_owner_kind(owner.party.kind()) {
        return Err(ApiError::Unprocessable {
            code: "owner-type-not-allowed",
            message: format!(
                "{} instances cannot be owned by an {}; allowed: {}",
                app.id,
                owner.party.kind(),
                app.file.owner_types.join(", ")
            ),
            issues: Vec::new(),
        });
    }
    if let Caller::Organisation(_) = &caller {
        let scope = &state.config().instantiate_scope;
        if !caller.has_scope(scope) {
            return Err(ApiError::InsufficientScope(scope.clone()));
        }
    }
    state.authorize(&app, &caller, "instantiate", Some(&owner), None)?;
    let mut data: BTreeMap<DataTypeId, Value> = req
        .data
        .unwrap_or_default()
        .into_iter()
        .map(|(k, v)| (DataTypeId::new(k), v))
        .collect();
    if let Some(prefill) = req.prefill.filter(|p| !p.is_empty()) {
        let Some(target) = app.spec.data_types.first().map(|d| d.id.clone()) else {
            return Err(ApiError::bad_request(
                Some("prefill".into()),
                format!("{} has no data type to prefill", app.id),
            ));
        };
        let mut value = data
            .remove(&target)
            .unwrap_or(Value::Object(serde_json::Map::new()));
        for (path, v) in prefill {
            set_path(&mut value, &path, v)?;
        }
        data.insert(target, value);
    }
    let idempotency = key.map(|k| {
        let mut hash = Sha256::new();
        hash.update(serde_json::to_vec(&caller).unwrap_or_default());
        hash.update(&raw);
        (k, format!("{:x}", hash.finalize()))
    });
    let created = state
        .runtime()
        .create_instance(CreateInstance {
            app: app.id.clone(),
            owner,
            actor: caller.actor(),
            data,
            start_event: req.start_event,
            idempotency,
        })
        .await?;
    let instance = created.instance;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::LOCATION, location(&state, &instance));
    headers.insert(axum::http::header::ETAG, etag(instance.version));
    if !created.created {
        headers.insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    Ok((
        StatusCode::CREATED,
        headers,
        axum::Json(InstanceView::of(&instance, None)),
    ))
}

/// `instances/create`: the same as `POST /{org}/{app}/instances`.
#[utoipa::path(post, path = "/{org}/{app}/instances/create", tag = "instances",
    params(("org" = String, Path), ("app" = String, Path), ("Idempotency-Key" = Option<String>, Header)),
    request_body = CreateInstanceRequest,
    responses((status = 201, body = InstanceView), (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem),
        (status = 404, body = Problem), (status = 409, body = Problem), (status = 413, body = Problem), (status = 422, body = Problem)),
    security(("bearer" = [])))]
pub async fn create_alias(
    state: State<AppState>,
    path: Path<(String, String)>,
    caller: Caller,
    key: IdempotencyKey,
    body: Json<CreateInstanceRequest>,
) -> Result<(StatusCode, HeaderMap, axum::Json<InstanceView>), ApiError> {
    create(state, path, caller, key, body).await
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Only this owner's instances.
    pub party_id: Option<String>,
    /// Page size (default 20, at most `limits.max_page_size`).
    pub limit: Option<usize>,
    pub continuation_token: Option<String>,
}

#[utoipa::path(get, path = "/{org}/{app}/instances", tag = "instances",
    params(("org" = String, Path), ("app" = String, Path), ListQuery),
    responses((status = 200, body = InstancePageView, description = "only instances the caller may read"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn list(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<axum::Json<InstancePageView>, ApiError> {
    let Query(query) = query.map_err(|e| ApiError::bad_request(None, e.body_text()))?;
    let app = state.app(&org, &app)?;
    let max = state.config().limits.max_page_size;
    let limit = query.limit.unwrap_or(20).clamp(1, max);
    // Whose instances to look at: the named party, or the caller's own. Service owners (whom the
    // policy lets read by org code) see every owner's. Every instance is still checked below.
    let party = match &query.party_id {
        Some(p) => Some(
            p.parse::<PartyId>()
                .map_err(|e| ApiError::bad_request(Some("partyId".into()), e.to_string()))?,
        ),
        None => {
            let own = match &caller {
                Caller::User(u) => Party::person(&u.person_number),
                Caller::Organisation(o) => Party::organisation(&o.organisation_number),
            };
            let service_owner = matches!(&caller, Caller::Organisation(o) if o.org_code.as_deref() == Some(app.id.org()));
            if service_owner {
                None
            } else {
                own.map(|p| p.party_id())
            }
        }
    };
    let after = query
        .continuation_token
        .as_deref()
        .map(|t| t.parse::<flyt_engine::store::PageCursor>())
        .transpose()
        .map_err(|e| ApiError::bad_request(Some("continuationToken".into()), e))?;
    if let (Some(after), Some(party)) = (&after, party)
        && after.party != party
    {
        return Err(ApiError::bad_request(
            Some("continuationToken".into()),
            "the continuationToken belongs to a listing of another owner",
        ));
    }
    let page = state
        .runtime()
        .list_instances(&app.id, party, after.as_ref(), limit)?;
    let mut instances = Vec::with_capacity(page.instances.len());
    for (_, id) in page.instances {
        // Deleted since the index was read: skip it. A storage error is the request's error
        // (503), never a silently shorter page.
        let instance = match state.runtime().instance(id) {
            Ok(instance) => instance,
            Err(flyt_engine::runtime::Error::InstanceNotFound(_)) => continue,
            Err(e) => return Err(e.into()),
        };
        if state
            .authorize_instance(&app, &caller, "read", &instance)
            .is_ok()
        {
            instances.push(InstanceView::of(&instance, None));
        }
    }
    Ok(axum::Json(InstancePageView {
        instances,
        continuation_token: page.next,
    }))
}

#[utoipa::path(get, path = "/{org}/{app}/instances/{party_id}/{instance_guid}", tag = "instances",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path)),
    responses((status = 200, body = InstanceView, headers(("ETag" = String, description = "the instance version"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_instance(
    State(state): State<AppState>,
    Path((org, app, party, guid)): Path<(String, String, String, String)>,
    caller: Caller,
) -> Result<(HeaderMap, axum::Json<InstanceView>), ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    state.authorize_instance(&app, &caller, "read", &instance)?;
    let history = state.runtime().history(instance.id)?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(instance.version));
    Ok((
        headers,
        axum::Json(InstanceView::of(&instance, Some(&history))),
    ))
}

#[utoipa::path(delete, path = "/{org}/{app}/instances/{party_id}/{instance_guid}", tag = "instances",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "deleted with its data, history and pending jobs"),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem), (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_instance(
    State(state): State<AppState>,
    Path((org, app, party, guid)): Path<(String, String, String, String)>,
    caller: Caller,
    IfMatch(expected): IfMatch,
) -> Result<StatusCode, ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    state.authorize_instance(&app, &caller, "delete", &instance)?;
    state
        .runtime()
        .delete_instance(instance.id, expected)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
