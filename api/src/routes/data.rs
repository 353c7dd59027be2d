//! `.../data/{dataType}`: the JSON data of an instance. The same path with a data element id (a
//! UUID) reads a file ([`super::files`]).

use super::{etag, instance_for};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::{IfMatch, Json};
use crate::state::AppState;
use crate::views::InstanceView;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use flyt_engine::ids::{DataElementId, DataTypeId};
use flyt_engine::runtime::WriteData;
use serde_json::Value;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(get_data, put_data))
}

#[utoipa::path(get, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}", tag = "data",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path),
        ("data_type" = String, Path, description = "a data type (its JSON data), or a file's data element id (a UUID: its bytes)")),
    responses((status = 200, description = "the JSON data of a data type, or a file's bytes with its Content-Type and Content-Disposition",
            content((Object = "application/json"), (Vec<u8> = "*/*"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_data(
    State(state): State<AppState>,
    Path((org, app, party, guid, data_type)): Path<(String, String, String, String, String)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    state.authorize_instance(&app, &caller, "read", &instance)?;
    if let Ok(element) = data_type.parse::<DataElementId>() {
        return super::files::download(&state, &instance, element).await;
    }
    // Declared data types, and those the engine writes (signatures).
    let stored = instance
        .data
        .contains_key(&DataTypeId::new(data_type.clone()));
    if app.spec.data_type(&data_type).is_none() && !stored {
        return Err(ApiError::NotFound(format!(
            "{} has no data type `{data_type}`",
            app.id
        )));
    }
    let value = state
        .runtime()
        .data(instance.id, &DataTypeId::new(data_type.clone()))?
        .ok_or_else(|| {
            ApiError::NotFound(format!(
                "instance {} has no `{data_type}` data yet",
                instance.altinn_id()
            ))
        })?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(instance.version));
    Ok((headers, axum::Json(value)).into_response())
}

#[utoipa::path(put, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}", tag = "data",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path), ("data_type" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body(content = Object, description = "the whole JSON data of the data type"),
    responses((status = 200, body = InstanceView, headers(("ETag" = String))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "no task that may write this data is active"), (status = 412, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem, description = "the data breaks the data type's JSON Schema (or is not an object)")),
    security(("bearer" = [])))]
pub async fn put_data(
    State(state): State<AppState>,
    Path((org, app, party, guid, data_type)): Path<(String, String, String, String, String)>,
    caller: Caller,
    IfMatch(expected): IfMatch,
    Json(value, _): Json<Value>,
) -> Result<(HeaderMap, axum::Json<InstanceView>), ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    let task = app.spec.data_type(&data_type).and_then(|d| d.task.clone());
    state.authorize(
        &app,
        &caller,
        "write",
        Some(&instance.owner),
        task.as_deref().or(instance
            .process
            .current_task()
            .map(|t| t.element_id.as_str())),
    )?;
    let written = state
        .runtime()
        .write_data(WriteData {
            instance: instance.id,
            data_type: DataTypeId::new(data_type),
            value,
            actor: caller.actor(),
            expected_version: expected,
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(axum::http::header::ETAG, etag(written.version));
    Ok((headers, axum::Json(InstanceView::of(&written, None))))
}
