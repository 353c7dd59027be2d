//! `/apps`: the apps this server hosts, for the designer and operate pages to offer. Any
//! authenticated caller may list them (an app's existence is no secret: its routes answer 404 or
//! not); what each app holds stays behind its own routes and policy.

use crate::auth::Caller;
use crate::error::Problem;
use crate::state::AppState;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list_apps))
}

/// One hosted app.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AppSummary {
    /// `org/app`.
    pub id: String,
    pub org: String,
    pub app: String,
    /// The app file's `title`, if any.
    pub title: Option<String>,
    /// The ids of its data types.
    pub data_types: Vec<String>,
}

/// The hosted apps, ordered by id.
#[derive(Debug, Serialize, ToSchema)]
pub struct AppList {
    pub apps: Vec<AppSummary>,
}

#[utoipa::path(get, path = "/apps", tag = "apps",
    responses((status = 200, body = AppList, description = "the apps this server hosts"),
        (status = 401, body = Problem, description = "no valid bearer token")),
    security(("bearer" = [])))]
pub async fn list_apps(State(state): State<AppState>, _caller: Caller) -> axum::Json<AppList> {
    let apps = state
        .inner
        .apps
        .values()
        .map(|app| AppSummary {
            id: app.id.to_string(),
            org: app.id.org().to_string(),
            app: app.id.app().to_string(),
            title: app.file.title.clone(),
            data_types: app.file.data_types.iter().map(|d| d.id.clone()).collect(),
        })
        .collect();
    axum::Json(AppList { apps })
}
