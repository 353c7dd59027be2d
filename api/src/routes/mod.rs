//! Routes, one module per resource, merged in [`api`]. Every route is declared with its OpenAPI
//! description next to the handler, so `/openapi.json` is generated from the code.

pub mod data;
pub mod definitions;
pub mod health;
pub mod instances;
pub mod jobs;
pub mod process;

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
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(health::router())
        .merge(instances::router())
        .merge(process::router())
        .merge(data::router())
        .merge(definitions::router())
        .merge(jobs::router())
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
    let app = state.app(org, app)?;
    let party: PartyId = party.parse().map_err(|e: flyt_engine::ids::IdError| {
        ApiError::bad_request(Some("partyId".into()), e.to_string())
    })?;
    let id: InstanceId = guid.parse().map_err(|e: flyt_engine::ids::IdError| {
        ApiError::bad_request(Some("instanceGuid".into()), e.to_string())
    })?;
    let not_found = || ApiError::NotFound(format!("no instance {party}/{id} in {}", app.id));
    let instance = match state.runtime().instance(id) {
        Ok(i) => i,
        Err(flyt_engine::runtime::Error::InstanceNotFound(_)) => return Err(not_found()),
        Err(e) => return Err(e.into()),
    };
    if instance.app != app.id || instance.owner.party_id != party {
        return Err(not_found());
    }
    Ok((app, instance))
}
