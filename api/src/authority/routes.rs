//! The authority's HTTP endpoints (see the module documentation of [`super`]).

use super::grant::no_store;
use super::{DevAuthority, OAuthError, TokenResponse};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;

pub(super) fn router<S>() -> axum::Router<S>
where
    Arc<DevAuthority>: FromRef<S>,
    S: Clone + Send + Sync + 'static,
{
    axum::Router::new()
        .route("/.well-known/oauth-authorization-server", get(metadata))
        .route("/jwks", get(jwks))
        .route("/token", post(token))
        .route("/user-token", post(user_token))
}

async fn metadata(State(authority): State<Arc<DevAuthority>>) -> Response {
    Json(authority.metadata()).into_response()
}

async fn jwks(State(authority): State<Arc<DevAuthority>>) -> Response {
    Json(authority.jwks()).into_response()
}

fn media_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(|v| {
            v.split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_ascii_lowercase()
        })
}

async fn token(
    State(authority): State<Arc<DevAuthority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if media_type(&headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return OAuthError::InvalidRequest(
            "send the token request as application/x-www-form-urlencoded".into(),
        )
        .into_response();
    }
    let params: Vec<(String, String)> = form_urlencoded::parse(&body).into_owned().collect();
    match authority.token_request(&params) {
        Ok(response) => response.into_response(),
        Err(e) => e.into_response(),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct UserTokenRequest {
    pid: String,
    #[serde(default)]
    roles: Vec<String>,
    #[serde(default)]
    scope: String,
}

async fn user_token(
    State(authority): State<Arc<DevAuthority>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if media_type(&headers).as_deref() != Some("application/json") {
        return OAuthError::InvalidRequest("send a JSON body (application/json)".into())
            .into_response();
    }
    let request: UserTokenRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return OAuthError::InvalidRequest(format!(
                "expected {{\"pid\": \"<11 digits>\", \"roles\": [\"ORGNO:CODE\"], \"scope\": \"...\"}}: {e}"
            ))
            .into_response();
        }
    };
    let scopes: Vec<String> = request
        .scope
        .split_ascii_whitespace()
        .map(str::to_string)
        .collect();
    match authority.user_token(&request.pid, &request.roles, &scopes) {
        Ok(access_token) => no_store(
            TokenResponse {
                access_token,
                token_type: "Bearer",
                expires_in: authority.token_lifetime_secs(),
                scope: scopes.join(" "),
            }
            .into_response(),
        ),
        Err(e) => OAuthError::InvalidRequest(e).into_response(),
    }
}
