//! `/{org}/{app}/process/definition`: read, deploy and dry-run-validate process definitions.
//! Designers only: the designer scope, or the app policy's `deploy`.

use crate::auth::Caller;
use crate::error::{ApiError, Problem, ProblemIssue};
use crate::extract::BpmnBody;
use crate::state::AppState;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(get_definition, put_definition))
        .routes(routes!(validate_definition))
}

fn designer(state: &AppState, app: &crate::apps::App, caller: &Caller) -> Result<(), ApiError> {
    if caller.has_scope(&state.config().designer_scope)
        || app.policy.allows(caller, "deploy", None, None)
    {
        Ok(())
    } else {
        Err(ApiError::Forbidden(format!(
            "deploying and reading definitions of {} needs the scope `{}` or the policy's `deploy`",
            app.id,
            state.config().designer_scope
        )))
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct VersionQuery {
    /// A version number (default: the latest).
    pub version: Option<u32>,
}

#[utoipa::path(get, path = "/{org}/{app}/process/definition", tag = "definitions",
    params(("org" = String, Path), ("app" = String, Path), VersionQuery),
    responses((status = 200, description = "the BPMN as deployed", content_type = "application/xml", body = String,
            headers(("X-Definition-Version" = u32), ("ETag" = String, description = "the content hash"))),
        (status = 400, body = Problem), (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem)),
    security(("bearer" = [])))]
pub async fn get_definition(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    query: Result<Query<VersionQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Query(query) =
        query.map_err(|e| ApiError::bad_request(Some("version".into()), e.body_text()))?;
    let app = state.app(&org, &app)?;
    designer(&state, &app, &caller)?;
    let record = state.runtime().definition_source(&app.id, query.version)?;
    let mut headers = HeaderMap::new();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/xml"),
    );
    headers.insert("x-definition-version", HeaderValue::from(record.version));
    if let Ok(tag) = HeaderValue::from_str(&format!("\"{}\"", record.hash)) {
        headers.insert(header::ETAG, tag);
    }
    Ok((headers, record.bpmn))
}

/// The outcome of a deploy.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeployResult {
    pub version: u32,
    pub hash: String,
    /// The content equals the latest version: nothing was stored.
    pub unchanged: bool,
    /// At most `limits.max_diagnostics` of them.
    pub warnings: Vec<ProblemIssue>,
    /// Warnings left out of `warnings`.
    pub warnings_omitted: usize,
}

#[utoipa::path(put, path = "/{org}/{app}/process/definition", tag = "definitions",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body(content = String, content_type = "application/xml", description = "a BPMN 2.0 file"),
    responses((status = 201, body = DeployResult, description = "a new version"), (status = 200, body = DeployResult, description = "identical to the latest version"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 409, body = Problem),
        (status = 413, body = Problem), (status = 422, body = Problem, description = "every diagnostic, with element id and line")),
    security(("bearer" = [])))]
pub async fn put_definition(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    BpmnBody(bytes): BpmnBody,
) -> Result<(StatusCode, axum::Json<DeployResult>), ApiError> {
    let app = state.app(&org, &app)?;
    designer(&state, &app, &caller)?;
    let deployed = state
        .runtime()
        .deploy(&app.id, &bytes, &caller.actor().to_string())
        .await?;
    let status = if deployed.unchanged {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((
        status,
        axum::Json(DeployResult {
            version: deployed.version,
            hash: deployed.hash,
            unchanged: deployed.unchanged,
            warnings: deployed.warnings.iter().map(ProblemIssue::from).collect(),
            warnings_omitted: deployed.warnings_omitted,
        }),
    ))
}

/// The outcome of a dry-run validation.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValidationResult {
    pub valid: bool,
    /// Errors in the file, listed or not.
    pub errors: usize,
    /// Warnings in the file, listed or not.
    pub warnings: usize,
    /// At most `limits.max_diagnostics` (default 200), errors first when not all fit.
    pub diagnostics: Vec<ProblemIssue>,
    /// Diagnostics left out of `diagnostics`.
    pub omitted: usize,
}

#[utoipa::path(post, path = "/{org}/{app}/process/definition/validate", tag = "definitions",
    params(("org" = String, Path), ("app" = String, Path)),
    request_body(content = String, content_type = "application/xml"),
    responses((status = 200, body = ValidationResult, description = "validated against what this server can run; nothing is stored"),
        (status = 401, body = Problem), (status = 403, body = Problem), (status = 404, body = Problem), (status = 413, body = Problem)),
    security(("bearer" = [])))]
pub async fn validate_definition(
    State(state): State<AppState>,
    Path((org, app)): Path<(String, String)>,
    caller: Caller,
    BpmnBody(bytes): BpmnBody,
) -> Result<axum::Json<ValidationResult>, ApiError> {
    let app = state.app(&org, &app)?;
    designer(&state, &app, &caller)?;
    let checked = state.runtime().check_definition(&app.id, &bytes).await?;
    Ok(axum::Json(ValidationResult {
        valid: checked.errors == 0,
        errors: checked.errors,
        warnings: checked.warnings,
        diagnostics: checked.diagnostics.iter().map(ProblemIssue::from).collect(),
        omitted: checked.omitted,
    }))
}
