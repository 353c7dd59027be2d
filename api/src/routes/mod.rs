//! Routes, one module per resource, merged in [`api`]. Every route is declared with its OpenAPI
//! description next to the handler, so `/openapi.json` is generated from the code.

pub mod apps;
pub mod data;
pub mod definitions;
pub mod files;
pub mod health;
pub mod instances;
pub mod jobs;
pub mod messages;
pub mod process;
pub mod signals;
pub mod tasks;
pub mod timers;

use crate::apps::App;
use crate::error::ApiError;
use crate::state::AppState;
use axum::http::HeaderValue;
use flyt_engine::ids::{InstanceId, PartyId};
use flyt_engine::model::Instance;
use std::sync::Arc;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi};
use utoipa_axum::router::OpenApiRouter;

#[derive(OpenApi)]
#[openapi(
    info(title = "flyt", description = "A BPMN process engine for multi-app solutions (Altinn-compatible routes)."),
    modifiers(&Bearer),
    components(schemas(crate::error::Problem, crate::error::ProblemIssue))
)]
struct ApiDoc;

struct Bearer;

impl Modify for Bearer {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Every documented route, and the document.
pub fn api() -> OpenApiRouter<AppState> {
    let mut router = OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(instances::router())
        .merge(process::router())
        .merge(data::router())
        .merge(files::router())
        .merge(definitions::router())
        .merge(jobs::router())
        .merge(timers::router())
        .merge(tasks::router())
        .merge(messages::router())
        .merge(signals::router())
        .merge(apps::router());
    document_refusals(router.get_openapi_mut());
    router
}

/// Makes the document say what the server sends, for every operation at once:
///
/// - problem responses (`body = Problem` in the annotations) are `application/problem+json`,
///   the content type [`ApiError`] answers with, not `application/json`;
/// - the refusals given before a handler runs are listed on every operation that can give
///   them: 414 and 431 (`middleware::problems`: the request head's limits), 429 (the per-client
///   rate limit), 503 (the concurrency limit); 408 (`limits.request_timeout_ms`) where the
///   request can wait at all (a body to read, or a token to verify, whose issuer's keys may have
///   to be fetched: health and metrics answer at once and cannot time out); 400 with path
///   parameters (one that is not UTF-8 once percent-decoded); and with a request body 413 (over
///   the body limit) and 415 (a media type the operation does not read).
fn document_refusals(doc: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
    const PROBLEM_JSON: &str = "application/problem+json";
    let problem_ref = format!("#/components/schemas/{}", "Problem");
    let problem = |description: &str| {
        RefOr::T(
            ResponseBuilder::new()
                .description(description)
                .content(
                    PROBLEM_JSON,
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("Problem")))
                        .build(),
                )
                .build(),
        )
    };
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.patch,
        ];
        for op in operations.into_iter().flatten() {
            let mut refusals = vec![
                (
                    "414",
                    "`uri-too-long`: the request target is over `limits.max_uri_bytes`",
                ),
                (
                    "429",
                    "`rate-limited`: over the per-client rate; see `Retry-After`",
                ),
                (
                    "431",
                    "`header-fields-too-large`: over `limits.max_headers` or `limits.max_header_bytes`",
                ),
                (
                    "503",
                    "`overloaded`: at the concurrency limit, or storage unavailable; see `Retry-After`",
                ),
            ];
            let authenticated = op.security.as_ref().is_some_and(|s| !s.is_empty());
            if authenticated || op.request_body.is_some() {
                refusals.push((
                    "408",
                    "`request-timeout`: the request took longer than the server's limit",
                ));
            }
            let path_parameters = op.parameters.iter().flatten().any(|p| {
                matches!(p, RefOr::T(p) if matches!(p.parameter_in, utoipa::openapi::path::ParameterIn::Path))
            });
            if path_parameters {
                refusals.push((
                    "400",
                    "`bad-request`: a path parameter is malformed (e.g. not UTF-8)",
                ));
            }
            if op.request_body.is_some() {
                refusals.push(("413", "`payload-too-large`: the body is over the limit"));
                refusals.push((
                    "415",
                    "`unsupported-media-type`: the body's Content-Type is not one the operation reads (JSON, or XML for BPMN uploads); the detail says what to send",
                ));
            }
            for (status, description) in refusals {
                op.responses
                    .responses
                    .entry(status.to_string())
                    .or_insert_with(|| problem(description));
            }
            for response in op.responses.responses.values_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                let content = std::mem::take(&mut response.content);
                response.content = content
                    .into_iter()
                    .map(|(media_type, content)| {
                        let is_problem = serde_json::to_value(&content)
                            .is_ok_and(|c| c["schema"]["$ref"] == problem_ref.as_str());
                        if is_problem && media_type == "application/json" {
                            (PROBLEM_JSON.to_string(), content)
                        } else {
                            (media_type, content)
                        }
                    })
                    .collect();
            }
        }
    }
}

/// `ETag: "<version>"`.
pub fn etag(version: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{version}\"")).unwrap_or(HeaderValue::from_static("\"0\""))
}

/// The `Location` of an instance.
pub fn location(state: &AppState, instance: &Instance) -> HeaderValue {
    let url = format!(
        "{}/{}/{}/instances/{}/{}",
        state.config().public_url(),
        instance.app.org(),
        instance.app.app(),
        instance.owner.party_id,
        instance.id
    );
    HeaderValue::from_str(&url).unwrap_or(HeaderValue::from_static("/"))
}

/// The app and the instance at `/{org}/{app}/instances/{partyId}/{guid}`. An instance of another
/// app or another party is "not found" here (it does not exist under this path).
pub fn instance_for(
    state: &AppState,
    org: &str,
    app: &str,
    party: &str,
    guid: &str,
) -> Result<(Arc<App>, Instance), ApiError> {
    let (app, (instance, _)) = instance_at(state, org, app, party, guid, |id| {
        state.runtime().instance(id).map(|i| (i, false))
    })?;
    Ok((app, instance))
}

/// [`instance_for`] for a move: the instance may be the copy this node kept of its last commit
/// (on a shared store; `true`), see [`flyt_engine::runtime::Runtime::instance_for_move`].
pub fn instance_for_move(
    state: &AppState,
    org: &str,
    app: &str,
    party: &str,
    guid: &str,
) -> Result<(Arc<App>, Instance, bool), ApiError> {
    let (app, (instance, kept)) = instance_at(state, org, app, party, guid, |id| {
        state.runtime().instance_for_move(id)
    })?;
    Ok((app, instance, kept))
}

fn instance_at(
    state: &AppState,
    org: &str,
    app: &str,
    party: &str,
    guid: &str,
    read: impl FnOnce(InstanceId) -> Result<(Instance, bool), flyt_engine::runtime::Error>,
) -> Result<(Arc<App>, (Instance, bool)), ApiError> {
    let app = state.app(org, app)?;
    let party: PartyId = party.parse().map_err(|e: flyt_engine::ids::IdError| {
        ApiError::bad_request(Some("partyId".into()), e.to_string())
    })?;
    let id: InstanceId = guid.parse().map_err(|e: flyt_engine::ids::IdError| {
        ApiError::bad_request(Some("instanceGuid".into()), e.to_string())
    })?;
    let not_found = || ApiError::NotFound(format!("no instance {party}/{id} in {}", app.id));
    let read = match read(id) {
        Ok(read) => read,
        Err(flyt_engine::runtime::Error::InstanceNotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if read.0.app != app.id || read.0.owner.party_id != party {
        return Err(not_found());
    }
    Ok((app, read))
}
