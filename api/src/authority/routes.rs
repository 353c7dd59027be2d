//! The authority's HTTP endpoints (see the module documentation of [`super`]).

use super::grant::no_store;
use super::{DevAuthority, OAuthError, TokenResponse};
use crate::error::ApiError;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{FromRef, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use std::sync::Arc;
use std::time::Duration;

/// Largest token request body. A real one is well under 4 KiB (a form with one signed assertion,
/// or a small JSON object); anything over this is refused with 413, from its `Content-Length`
/// before any of it is read.
const BODY_LIMIT_BYTES: usize = 64 * 1024;

/// How long a client may take to send a token request's body before it is answered 408. The
/// authority is mounted outside the API's middleware (it has its own routes and state), so it
/// bounds its reads itself; headers are bounded for every route by the server.
const BODY_TIMEOUT: Duration = Duration::from_secs(5);

/// The body under [`BODY_LIMIT_BYTES`] and [`BODY_TIMEOUT`], or the refusal to send.
async fn read_body(headers: &HeaderMap, body: Body) -> Result<Bytes, Response> {
    match tokio::time::timeout(
        BODY_TIMEOUT,
        crate::extract::read_limited(headers, body, BODY_LIMIT_BYTES),
    )
    .await
    {
        Ok(Ok(bytes)) => Ok(bytes),
        Ok(Err(e @ ApiError::PayloadTooLarge { .. })) => Err(e.into_response()),
        Ok(Err(e)) => Err(OAuthError::InvalidRequest(e.to_string()).into_response()),
        Err(_) => Err(ApiError::Timeout(BODY_TIMEOUT.as_millis() as u64).into_response()),
    }
}

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
        .route("/org-token", post(org_token))
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
    body: Body,
) -> Response {
    if media_type(&headers).as_deref() != Some("application/x-www-form-urlencoded") {
        return OAuthError::InvalidRequest(
            "send the token request as application/x-www-form-urlencoded".into(),
        )
        .into_response();
    }
    let body = match read_body(&headers, body).await {
        Ok(body) => body,
        Err(refused) => return refused,
    };
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
    body: Body,
) -> Response {
    let request: UserTokenRequest = match json_request(
        &headers,
        body,
        r#"{"pid": "<11 digits>", "roles": ["ORGNO:CODE"], "scope": "..."}"#,
    )
    .await
    {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let scopes = scopes_of(&request.scope);
    issued(
        &authority,
        authority.user_token(&request.pid, &request.roles, &scopes),
        &scopes,
    )
}

/// The JSON body of a development token request, or the RFC 6749 refusal naming what to send.
async fn json_request<T: serde::de::DeserializeOwned>(
    headers: &HeaderMap,
    body: Body,
    expected: &str,
) -> Result<T, Response> {
    if media_type(headers).as_deref() != Some("application/json") {
        return Err(
            OAuthError::InvalidRequest("send a JSON body (application/json)".into())
                .into_response(),
        );
    }
    let body = read_body(headers, body).await?;
    serde_json::from_slice(&body).map_err(|e| {
        OAuthError::InvalidRequest(format!("expected {expected}: {e}")).into_response()
    })
}

fn scopes_of(scope: &str) -> Vec<String> {
    scope.split_ascii_whitespace().map(str::to_string).collect()
}

/// The token answer (never cached), or the authority's refusal.
fn issued(authority: &DevAuthority, token: Result<String, String>, scopes: &[String]) -> Response {
    match token {
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

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct OrgTokenRequest {
    organisation_number: String,
    #[serde(default)]
    org_code: Option<String>,
    #[serde(default)]
    scope: String,
}

/// A Maskinporten-shaped organisation token without a client or an assertion: the development
/// counterpart of `/user-token` for the browser's login picker (a service owner signing in to
/// the designer or the instance viewer).
async fn org_token(
    State(authority): State<Arc<DevAuthority>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request: OrgTokenRequest = match json_request(
        &headers,
        body,
        r#"{"organisationNumber": "<9 digits>", "orgCode": "ttd", "scope": "..."}"#,
    )
    .await
    {
        Ok(r) => r,
        Err(refused) => return refused,
    };
    let org_code = request
        .org_code
        .as_deref()
        .map(str::trim)
        .filter(|code| !code.is_empty());
    if let Some(code) = org_code
        && !code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return OAuthError::InvalidRequest(format!(
            "org code `{code}` must be letters, digits, `-` or `_`"
        ))
        .into_response();
    }
    let scopes = scopes_of(&request.scope);
    issued(
        &authority,
        authority.org_token(&request.organisation_number, org_code, &scopes, None),
        &scopes,
    )
}
