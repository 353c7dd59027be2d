//! The JWT-bearer grant (RFC 7523, as Maskinporten does it): check a client's assertion and
//! issue an organisation token, or say precisely why not (RFC 6749 §5.2 errors).

use super::DevAuthority;
use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde::Serialize;
use serde_json::{Map, Value, json};
use std::fmt;

/// Longest assertion lifetime accepted (`exp - iat`), seconds.
pub const MAX_ASSERTION_LIFETIME_SECS: i64 = 120;
/// Clock skew allowed for `iat` and `nbf` in the future, seconds.
pub const ASSERTION_LEEWAY_SECS: i64 = 10;
/// Longest assertion accepted, bytes.
const MAX_ASSERTION_BYTES: usize = 16 * 1024;

/// An RFC 6749 error: `{"error": ..., "error_description": ...}`, 400 (401 for
/// `invalid_client`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OAuthError {
    #[error("invalid_request: {0}")]
    InvalidRequest(String),
    #[error("invalid_client: {0}")]
    InvalidClient(String),
    #[error("invalid_grant: {0}")]
    InvalidGrant(String),
    #[error("invalid_scope: {0}")]
    InvalidScope(String),
    #[error("unsupported_grant_type: {0}")]
    UnsupportedGrantType(String),
    /// 500 `server_error` (the detail is logged, not sent).
    #[error("server_error: {0}")]
    ServerError(String),
}

impl OAuthError {
    /// The RFC 6749 `error` code.
    pub fn code(&self) -> &'static str {
        match self {
            OAuthError::InvalidRequest(_) => "invalid_request",
            OAuthError::InvalidClient(_) => "invalid_client",
            OAuthError::InvalidGrant(_) => "invalid_grant",
            OAuthError::InvalidScope(_) => "invalid_scope",
            OAuthError::UnsupportedGrantType(_) => "unsupported_grant_type",
            OAuthError::ServerError(_) => "server_error",
        }
    }

    /// The `error_description`.
    pub fn description(&self) -> &str {
        match self {
            OAuthError::InvalidRequest(d)
            | OAuthError::InvalidClient(d)
            | OAuthError::InvalidGrant(d)
            | OAuthError::InvalidScope(d)
            | OAuthError::UnsupportedGrantType(d) => d,
            OAuthError::ServerError(_) => "the authority failed; the error is logged",
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            OAuthError::InvalidClient(_) => StatusCode::UNAUTHORIZED,
            OAuthError::ServerError(_) => StatusCode::INTERNAL_SERVER_ERROR,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        match &self {
            OAuthError::ServerError(detail) => {
                tracing::error!(%detail, "the development authority failed")
            }
            _ => tracing::debug!(
                error = self.code(),
                description = self.description(),
                "token request refused"
            ),
        }
        let body = json!({"error": self.code(), "error_description": self.description()});
        no_store((self.status(), Json(body)).into_response())
    }
}

/// Adds `Cache-Control: no-store` and `Pragma: no-cache` (RFC 6749 §5.1).
pub(crate) fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// A successful token response.
#[derive(Clone, PartialEq, Eq, Serialize)]
pub struct TokenResponse {
    pub access_token: String,
    pub token_type: &'static str,
    pub expires_in: u64,
    pub scope: String,
}

impl fmt::Debug for TokenResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenResponse")
            .field("access_token", &"[redacted]")
            .field("token_type", &self.token_type)
            .field("expires_in", &self.expires_in)
            .field("scope", &self.scope)
            .finish()
    }
}

impl IntoResponse for TokenResponse {
    fn into_response(self) -> Response {
        no_store(Json(self).into_response())
    }
}

fn json_part(part: &str, what: &str) -> Result<Map<String, Value>, OAuthError> {
    let bytes = URL_SAFE_NO_PAD.decode(part).map_err(|_| {
        OAuthError::InvalidGrant(format!("the assertion's {what} is not base64url"))
    })?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(OAuthError::InvalidGrant(format!(
            "the assertion's {what} is not a JSON object"
        ))),
    }
}

/// A NumericDate claim in milliseconds; `Err` names the claim when absent or not a number.
fn date_ms(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, OAuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => match (n.as_i64(), n.as_f64()) {
            (Some(secs), _) => Ok(Some(secs.saturating_mul(1000))),
            #[allow(clippy::cast_possible_truncation)]
            (None, Some(secs)) if secs.is_finite() => Ok(Some((secs * 1000.0) as i64)),
            _ => Err(OAuthError::InvalidGrant(format!(
                "the assertion's `{name}` is not a number of seconds"
            ))),
        },
        Some(_) => Err(OAuthError::InvalidGrant(format!(
            "the assertion's `{name}` is not a number of seconds"
        ))),
    }
}

impl DevAuthority {
    /// The audiences an assertion may name: the issuer (with or without a trailing `/`) and the
    /// token endpoint.
    fn assertion_audiences(&self) -> [String; 3] {
        [
            self.issuer.clone(),
            format!("{}/", self.issuer),
            self.token_endpoint(),
        ]
    }

    /// Handles a token request's form parameters (`grant_type`, `assertion`).
    pub fn token_request(&self, params: &[(String, String)]) -> Result<TokenResponse, OAuthError> {
        let mut grant_type = None;
        let mut assertion = None;
        for (name, value) in params {
            let slot = match name.as_str() {
                "grant_type" => &mut grant_type,
                "assertion" => &mut assertion,
                _ => continue,
            };
            if slot.replace(value.as_str()).is_some() {
                return Err(OAuthError::InvalidRequest(format!(
                    "the parameter `{name}` is given more than once"
                )));
            }
        }
        match grant_type {
            None => {
                return Err(OAuthError::InvalidRequest(
                    "the parameter `grant_type` is missing".into(),
                ));
            }
            Some(super::JWT_BEARER_GRANT) => {}
            Some(other) => {
                return Err(OAuthError::UnsupportedGrantType(format!(
                    "grant_type `{other}` is not supported; use `{}`",
                    super::JWT_BEARER_GRANT
                )));
            }
        }
        let assertion = assertion.ok_or_else(|| {
            OAuthError::InvalidRequest("the parameter `assertion` is missing".into())
        })?;
        self.exchange_assertion(assertion)
    }

    /// Checks a client's JWT assertion and issues an organisation token for the client's
    /// organisation with the requested scopes.
    pub fn exchange_assertion(&self, assertion: &str) -> Result<TokenResponse, OAuthError> {
        let grant = OAuthError::InvalidGrant;
        if assertion.len() > MAX_ASSERTION_BYTES {
            return Err(grant(format!(
                "the assertion is longer than {MAX_ASSERTION_BYTES} bytes"
            )));
        }
        let mut parts = assertion.split('.');
        let (Some(header), Some(payload), Some(_), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(grant(
                "the assertion is not a JWT (three base64url parts separated by `.`)".into(),
            ));
        };
        let header = json_part(header, "header")?;
        match header.get("alg").and_then(Value::as_str) {
            Some("RS256") => {}
            Some(other) => {
                return Err(grant(format!(
                    "the assertion must be signed with RS256, not `{other}`"
                )));
            }
            None => return Err(grant("the assertion's header has no `alg`".into())),
        }
        let unverified = json_part(payload, "payload")?;
        let client_id = match unverified.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            _ => {
                return Err(OAuthError::InvalidClient(
                    "the assertion has no `iss`; it must be your client id".into(),
                ));
            }
        };
        let client = self.clients.get(client_id).ok_or_else(|| {
            OAuthError::InvalidClient(format!("no client `{client_id}` is registered"))
        })?;

        let audiences = self.assertion_audiences();
        let mut validation = Validation::new(Algorithm::RS256);
        validation.set_required_spec_claims(&["exp", "aud", "iss"]);
        validation.set_audience(&audiences);
        validation.set_issuer(&[client_id]);
        validation.validate_exp = false; // checked below against the injected clock
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(assertion, &client.key, &validation)
            .map_err(|e| match e.into_kind() {
                ErrorKind::InvalidSignature => grant(format!(
                    "the assertion's signature does not verify with the key registered for client `{client_id}`"
                )),
                ErrorKind::InvalidAudience => grant(format!(
                    "the assertion's `aud` must be `{}` (the issuer)",
                    self.issuer
                )),
                ErrorKind::MissingRequiredClaim(claim) => {
                    grant(format!("the assertion has no `{claim}`"))
                }
                ErrorKind::InvalidIssuer => {
                    OAuthError::InvalidClient("the assertion's `iss` is not a client id".into())
                }
                other => grant(format!("the assertion cannot be read: {other:?}")),
            })?
            .claims;

        let now = self.clock.now().millis();
        let leeway = ASSERTION_LEEWAY_SECS * 1000;
        let iat =
            date_ms(&claims, "iat")?.ok_or_else(|| grant("the assertion has no `iat`".into()))?;
        let exp =
            date_ms(&claims, "exp")?.ok_or_else(|| grant("the assertion has no `exp`".into()))?;
        if iat > now + leeway {
            return Err(grant(format!(
                "the assertion's `iat` is {} s in the future; check your clock",
                (iat - now) / 1000
            )));
        }
        if exp <= now {
            return Err(grant("the assertion has expired (`exp` has passed)".into()));
        }
        if exp <= iat {
            return Err(grant("the assertion's `exp` is not after its `iat`".into()));
        }
        if exp - iat > MAX_ASSERTION_LIFETIME_SECS * 1000 {
            return Err(grant(format!(
                "the assertion lives {} s (`exp` - `iat`); at most {MAX_ASSERTION_LIFETIME_SECS} s is allowed",
                (exp - iat) / 1000
            )));
        }
        if let Some(nbf) = date_ms(&claims, "nbf")?
            && nbf > now + leeway
        {
            return Err(grant("the assertion is not valid yet (`nbf`)".into()));
        }
        let jti = match claims.get("jti") {
            Some(Value::String(jti)) if !jti.is_empty() && jti.len() <= 256 => jti.clone(),
            Some(_) => {
                return Err(grant(
                    "the assertion's `jti` must be a string of 1-256 characters".into(),
                ));
            }
            None => {
                return Err(grant(
                    "the assertion has no `jti`; give every assertion a unique one".into(),
                ));
            }
        };
        let requested: Vec<String> = match claims.get("scope") {
            Some(Value::String(s)) => s.split_ascii_whitespace().map(str::to_string).collect(),
            Some(_) => {
                return Err(OAuthError::InvalidScope(
                    "the assertion's `scope` must be a space-separated string".into(),
                ));
            }
            None => Vec::new(),
        };
        if requested.is_empty() {
            return Err(OAuthError::InvalidScope(
                "the assertion asks for no `scope`".into(),
            ));
        }
        if let Some(denied) = requested.iter().find(|s| !client.scopes.contains(*s)) {
            let allowed: Vec<&str> = client.scopes.iter().map(String::as_str).collect();
            return Err(OAuthError::InvalidScope(format!(
                "scope `{denied}` is not allowed for client `{client_id}` (allowed: {})",
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(" ")
                }
            )));
        }
        self.remember_jti(client_id, jti, exp, now)?;

        let access_token = self
            .org_token(
                &client.organisation_number,
                client.org_code.as_deref(),
                &requested,
                Some(client_id),
            )
            .map_err(OAuthError::ServerError)?;
        tracing::debug!(client_id, scope = %requested.join(" "), "issued an organisation token");
        Ok(TokenResponse {
            access_token,
            token_type: "Bearer",
            expires_in: self.lifetime_secs,
            scope: requested.join(" "),
        })
    }

    /// Records a `jti` until `exp`; a second use before then is refused.
    fn remember_jti(
        &self,
        client_id: &str,
        jti: String,
        exp: i64,
        now: i64,
    ) -> Result<(), OAuthError> {
        let mut store = self.seen_jtis.lock();
        store.inserts += 1;
        if store.inserts.is_multiple_of(256) {
            store.seen.retain(|_, until| *until > now);
        }
        let key = (client_id.to_string(), jti);
        match store.seen.get(&key) {
            Some(until) if *until > now => Err(OAuthError::InvalidGrant(format!(
                "the assertion's `jti` `{}` has been used before; make a new assertion (with a new jti) for every request",
                key.1
            ))),
            _ => {
                store.seen.insert(key, exp);
                Ok(())
            }
        }
    }
}
