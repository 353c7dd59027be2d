//! Files (binary data elements) of an instance, in Altinn's shape:
//! `POST .../data?dataType=X` with the raw body uploads one, `GET .../data/{id}` streams it back,
//! `DELETE .../data/{id}` removes it. (`GET .../data/{x}` is shared with JSON data: a UUID names
//! a file, anything else a data type; see [`super::data::get_data`].)
//!
//! An upload is never held in memory: the body streams into a staging file while it is hashed
//! and counted, and is refused (413) as soon as it passes the data type's `max_size`.

use super::{etag, instance_for};
use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::extract::IfMatch;
use crate::state::AppState;
use crate::views::{DataElementView, InstanceView};
use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flyt_engine::ids::{DataElementId, DataTypeId};
use flyt_engine::model::Instance;
use flyt_engine::runtime::{AddFile, DeleteFile};
use futures::StreamExt;
use serde::Deserialize;
use tokio::io::AsyncReadExt;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(upload))
        .routes(routes!(delete_file))
}

/// `?dataType=...` of an upload.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(rename_all = "camelCase")]
#[into_params(parameter_in = Query)]
pub struct UploadQuery {
    /// The binary data type the file is of.
    pub data_type: String,
}

#[utoipa::path(post, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/data", tag = "data",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path),
        UploadQuery, ("Content-Disposition" = String, Header, description = "`attachment; filename=...`"),
        ("If-Match" = Option<String>, Header)),
    request_body(content = Vec<u8>, content_type = "*/*", description = "the file's bytes, with its Content-Type"),
    responses((status = 201, body = DataElementView, headers(("ETag" = String), ("Location" = String))),
        (status = 400, body = Problem, description = "no `dataType`, no file name, an empty file, or a data type that holds JSON"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "no task that may write this data type is active, a signature locked it (`data-locked`), or the instance holds its `max_count` (`max-count-exceeded`)"),
        (status = 412, body = Problem),
        (status = 413, body = Problem, description = "over the data type's `max_size_bytes` (or the server's `max_upload_bytes`); nothing is stored"),
        (status = 415, body = Problem, description = "a content type the data type does not accept (the detail lists them), or bytes that are not what the content type says")),
    security(("bearer" = [])))]
#[allow(clippy::too_many_arguments)]
pub async fn upload(
    State(state): State<AppState>,
    Path((org, app, party, guid)): Path<(String, String, String, String)>,
    query: Result<Query<UploadQuery>, axum::extract::rejection::QueryRejection>,
    caller: Caller,
    IfMatch(expected): IfMatch,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    let Query(query) = query.map_err(|_| {
        ApiError::bad_request(
            Some("dataType".to_string()),
            "name the file's data type: `POST .../data?dataType=attachments`",
        )
    })?;
    let task = app
        .spec
        .data_type(&query.data_type)
        .and_then(|d| d.task.clone());
    authorize_write(&state, &app, &caller, &instance, task.as_deref())?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.trim().is_empty())
        .ok_or_else(|| {
            ApiError::bad_request(
                Some("Content-Type".to_string()),
                "a file upload needs the file's Content-Type",
            )
        })?;
    let filename = crate::disposition::filename(
        headers
            .get(header::CONTENT_DISPOSITION)
            .and_then(|v| v.to_str().ok()),
    )?;
    let runtime = state.runtime();
    let mut upload = runtime
        .start_file(
            &instance,
            &DataTypeId::new(query.data_type),
            content_type,
            state.config().limits.max_upload_bytes,
        )
        .await?;
    // A declared length over the limit is refused before a byte is read.
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > upload.limit()) {
        return Err(upload.too_large().into());
    }
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            ApiError::bad_request(None, format!("the request body could not be read: {e}"))
        })?;
        // Over the limit: the upload is dropped here, and its staging file with it.
        upload.write(&chunk).await?;
    }
    let (committed, id) = runtime
        .add_file(
            upload,
            AddFile {
                filename: Some(filename),
                actor: caller.actor(),
                expected_version: expected,
            },
        )
        .await?;
    let Some(file) = committed.files.get(&id) else {
        return Err(ApiError::Internal(format!(
            "file {id} is missing from the instance just committed"
        )));
    };
    let view = DataElementView::of_file(&committed, id, file);
    let mut out = HeaderMap::new();
    out.insert(header::ETAG, etag(committed.version));
    let url = format!("{}/data/{id}", instance_url(&state, &committed));
    if let Ok(v) = HeaderValue::from_str(&url) {
        out.insert(header::LOCATION, v);
    }
    Ok((StatusCode::CREATED, out, axum::Json(view)).into_response())
}

#[utoipa::path(delete, path = "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}", tag = "data",
    params(("org" = String, Path), ("app" = String, Path), ("party_id" = String, Path), ("instance_guid" = String, Path),
        ("data_type" = String, Path, description = "the id (a UUID) of the file to delete"), ("If-Match" = Option<String>, Header)),
    responses((status = 200, body = InstanceView, headers(("ETag" = String))),
        (status = 400, body = Problem, description = "not a data element id (JSON data is not deleted)"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem),
        (status = 409, body = Problem, description = "no task that may write its data type is active, or a signature locked it (`data-locked`)"),
        (status = 412, body = Problem)),
    security(("bearer" = [])))]
pub async fn delete_file(
    State(state): State<AppState>,
    Path((org, app, party, guid, element)): Path<(String, String, String, String, String)>,
    caller: Caller,
    IfMatch(expected): IfMatch,
) -> Result<(HeaderMap, axum::Json<InstanceView>), ApiError> {
    let (app, instance) = instance_for(&state, &org, &app, &party, &guid)?;
    let element: DataElementId = element.parse().map_err(|_| {
        ApiError::bad_request(
            Some("dataElementId".to_string()),
            format!("`{element}` is not a data element id; only files (by their id) are deleted"),
        )
    })?;
    let Some(file) = instance.files.get(&element) else {
        // Shown only to a caller who may read the instance.
        state.authorize_instance(&app, &caller, "read", &instance)?;
        return Err(flyt_engine::runtime::Error::DataElementNotFound {
            instance: instance.id,
            element,
        }
        .into());
    };
    let task = app
        .spec
        .data_type(file.data_type.as_str())
        .and_then(|d| d.task.clone());
    authorize_write(&state, &app, &caller, &instance, task.as_deref())?;
    let deleted = state
        .runtime()
        .delete_file(DeleteFile {
            instance: instance.id,
            element,
            actor: caller.actor(),
            expected_version: expected,
        })
        .await?;
    let mut headers = HeaderMap::new();
    headers.insert(header::ETAG, etag(deleted.version));
    Ok((headers, axum::Json(InstanceView::of(&deleted, None))))
}

/// `GET .../data/{id}`: the file's bytes, streamed, with its content type and name.
pub async fn download(
    state: &AppState,
    instance: &Instance,
    element: DataElementId,
) -> Result<Response, ApiError> {
    let (file, reader) = state.runtime().open_file(instance, element).await?;
    let stream = futures::stream::unfold(reader, |mut reader| async move {
        let mut buf = vec![0u8; 64 * 1024];
        match reader.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let mut headers = HeaderMap::new();
    let content_type = HeaderValue::from_str(&file.content_type)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::CONTENT_TYPE, content_type);
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(file.size));
    headers.insert(header::ETAG, etag(instance.version));
    let name = file.filename.as_deref().unwrap_or("file");
    if let Ok(v) = HeaderValue::from_str(&crate::disposition::attachment(name)) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    Ok((headers, Body::from_stream(stream)).into_response())
}

/// Writing needs `write` at the data type's task, or at the current task when it has none.
fn authorize_write(
    state: &AppState,
    app: &crate::apps::App,
    caller: &Caller,
    instance: &Instance,
    task: Option<&str>,
) -> Result<(), ApiError> {
    state.authorize(
        app,
        caller,
        "write",
        Some(&instance.owner),
        task.or(instance
            .process
            .current_task()
            .map(|t| t.element_id.as_str())),
    )
}

fn instance_url(state: &AppState, instance: &Instance) -> String {
    super::location(state, instance)
        .to_str()
        .unwrap_or_default()
        .to_string()
}
