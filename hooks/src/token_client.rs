//! The outgoing token client: gets an organisation token from a Maskinporten-style authority
//! with the JWT-bearer grant (RFC 7523), caches it until shortly before it expires, and
//! refreshes it once for all concurrent callers.
//!
//! The assertion is signed RS256 with the client's private key (header `kid` when configured)
//! and carries `aud` (the authority's issuer), `iss` (the client id), `scope`, `iat`,
//! `exp = iat + 120` and a fresh random `jti`. It is posted as
//! `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`.
//!
//! Errors say what the caller should do: [`TokenError::Transient`] (connection failure, timeout,
//! 5xx, 429, an unreadable answer) → retry later; [`TokenError::Rejected`] (a 4xx such as
//! `invalid_grant`, or a redirect) → raise an incident, retrying will not help;
//! [`TokenError::Config`] → fix the configuration.
//!
//! The HTTP client should not follow redirects (a 307 would resend the assertion elsewhere):
//! build it with [`token_http_client`] or `redirect(reqwest::redirect::Policy::none())`. A
//! redirect that was followed anyway is detected and refused. Neither assertions nor tokens
//! are ever logged, and the `Debug` impls redact them and the private key.

use flyt_engine::time::{Clock, Timestamp};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde::Deserialize;
use serde_json::json;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The grant type of the JWT-bearer grant.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// Lifetime of an assertion (`exp - iat`), seconds: Maskinporten's maximum.
pub const ASSERTION_LIFETIME_SECS: i64 = 120;
/// After a failed attempt, callers get its outcome (or the still-valid cached token) for this
/// long before a new attempt is made, so an outage does not turn into a stream of requests.
pub const RETRY_PAUSE: Duration = Duration::from_secs(1);
/// Largest token response read, bytes.
const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// How to get a token.
#[derive(Clone)]
pub struct TokenClientConfig {
    /// The authority's token endpoint, e.g. `https://test.maskinporten.no/token`.
    pub token_endpoint: String,
    /// The assertion's `aud`: the authority's issuer, e.g. `https://test.maskinporten.no/`.
    pub audience: String,
    /// The client id (the assertion's `iss`).
    pub client_id: String,
    /// The `kid` of the client's registered key, put in the assertion's header when set.
    pub kid: Option<String>,
    /// The client's RSA private key, PEM (PKCS#1 or PKCS#8).
    pub private_key_pem: String,
    /// Space-separated scopes to ask for.
    pub scope: String,
    /// Timeout of one token request. Default 10 s.
    pub request_timeout: Duration,
    /// Refresh the token this long before it expires. Default 30 s.
    pub refresh_before: Duration,
}

impl TokenClientConfig {
    /// A configuration with the default timeout (10 s) and refresh margin (30 s) and no kid.
    pub fn new(
        token_endpoint: impl Into<String>,
        audience: impl Into<String>,
        client_id: impl Into<String>,
        private_key_pem: impl Into<String>,
        scope: impl Into<String>,
    ) -> Self {
        TokenClientConfig {
            token_endpoint: token_endpoint.into(),
            audience: audience.into(),
            client_id: client_id.into(),
            kid: None,
            private_key_pem: private_key_pem.into(),
            scope: scope.into(),
            request_timeout: Duration::from_secs(10),
            refresh_before: Duration::from_secs(30),
        }
    }
}

impl fmt::Debug for TokenClientConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClientConfig")
            .field("token_endpoint", &self.token_endpoint)
            .field("audience", &self.audience)
            .field("client_id", &self.client_id)
            .field("kid", &self.kid)
            .field("private_key_pem", &"[redacted]")
            .field("scope", &self.scope)
            .field("request_timeout", &self.request_timeout)
            .field("refresh_before", &self.refresh_before)
            .finish()
    }
}

/// Why no token could be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TokenError {
    /// Try again later: the authority could not be reached, timed out, answered 5xx or 429, or
    /// answered something unreadable.
    #[error("could not get a token (temporary): {0}")]
    Transient(String),
    /// The authority refused (4xx, e.g. `invalid_grant`, `invalid_client`, `invalid_scope`):
    /// retrying will not help.
    #[error("the authority refused the token request: {0}")]
    Rejected(String),
    /// The client is misconfigured (bad key, endpoint, ...).
    #[error("token client configuration: {0}")]
    Config(String),
}

impl TokenError {
    /// True for errors worth retrying.
    pub fn is_transient(&self) -> bool {
        matches!(self, TokenError::Transient(_))
    }
}

/// An HTTP client suited to token requests: no redirects, the given timeout.
pub fn token_http_client(timeout: Duration) -> Result<reqwest::Client, TokenError> {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .build()
        .map_err(|e| TokenError::Config(format!("cannot build an HTTP client: {e}")))
}

struct Cached {
    token: String,
    /// Refresh from this instant on.
    refresh_at: Timestamp,
    /// Unusable from this instant on.
    expires_at: Timestamp,
}

#[derive(Default)]
struct Attempt {
    /// Number of attempts started.
    seq: u64,
    /// How the last attempt failed, if it did, and when.
    error: Option<(TokenError, Timestamp)>,
}

/// Gets and caches organisation tokens. `Send + Sync`; share it in an `Arc`.
pub struct TokenClient {
    config: TokenClientConfig,
    key: EncodingKey,
    http: reqwest::Client,
    clock: Arc<dyn Clock>,
    cached: parking_lot::Mutex<Option<Cached>>,
    /// Held while a token request is in flight (single flight).
    refresh: tokio::sync::Mutex<Attempt>,
    /// Mirrors `refresh.seq`, readable without waiting.
    attempts: AtomicU64,
}

impl fmt::Debug for TokenClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenClient")
            .field("token_endpoint", &self.config.token_endpoint)
            .field("client_id", &self.config.client_id)
            .field("scope", &self.config.scope)
            .field(
                "cached_token",
                &self.cached.lock().as_ref().map(|_| "[redacted]"),
            )
            .finish_non_exhaustive()
    }
}

impl TokenClient {
    /// Checks the configuration and parses the private key. `http` should not follow
    /// redirects (see [`token_http_client`]).
    pub fn new(
        config: TokenClientConfig,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, TokenError> {
        let url = reqwest::Url::parse(&config.token_endpoint).map_err(|e| {
            TokenError::Config(format!("token_endpoint `{}`: {e}", config.token_endpoint))
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(TokenError::Config(format!(
                "token_endpoint `{}` is not an http(s) URL",
                config.token_endpoint
            )));
        }
        for (name, value) in [
            ("audience", &config.audience),
            ("client_id", &config.client_id),
            ("scope", &config.scope),
        ] {
            if value.trim().is_empty() {
                return Err(TokenError::Config(format!("{name} must not be empty")));
            }
        }
        if config.request_timeout.is_zero() {
            return Err(TokenError::Config(
                "request_timeout must be positive".into(),
            ));
        }
        let key = EncodingKey::from_rsa_pem(config.private_key_pem.as_bytes()).map_err(|e| {
            TokenError::Config(format!("private_key_pem is not an RSA private key: {e}"))
        })?;
        Ok(TokenClient {
            config,
            key,
            http,
            clock,
            cached: parking_lot::Mutex::new(None),
            refresh: tokio::sync::Mutex::new(Attempt::default()),
            attempts: AtomicU64::new(0),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &TokenClientConfig {
        &self.config
    }

    /// A valid token: the cached one until `refresh_before` ahead of its expiry, else a new
    /// one. Concurrent callers share one request, and its failure: a failed attempt's error is
    /// returned to everyone who waited for it and to callers in the next [`RETRY_PAUSE`]. If a
    /// refresh fails transiently while the cached token is still valid, the cached token is
    /// returned instead.
    pub async fn token(&self) -> Result<String, TokenError> {
        if let Some(token) = self.fresh(self.clock.now()) {
            return Ok(token);
        }
        let seen = self.attempts.load(Ordering::Acquire);
        let mut attempt = self.refresh.lock().await;
        if let Some(token) = self.fresh(self.clock.now()) {
            return Ok(token);
        }
        if let Some((error, failed_at)) = &attempt.error
            && (attempt.seq != seen || self.clock.now().since(*failed_at) < RETRY_PAUSE)
        {
            // An attempt failed while we waited, or moments ago: share its outcome (or serve
            // the cached token while it is still valid).
            return self.still_valid_or(error.clone());
        }
        attempt.seq += 1;
        self.attempts.store(attempt.seq, Ordering::Release);
        match self.request().await {
            Ok(cached) => {
                let token = cached.token.clone();
                *self.cached.lock() = Some(cached);
                attempt.error = None;
                Ok(token)
            }
            Err(error) => {
                attempt.error = Some((error.clone(), self.clock.now()));
                self.still_valid_or(error)
            }
        }
    }

    /// Forgets `token` if it is the cached one (e.g. after a downstream 401), so the next
    /// [`TokenClient::token`] gets a new one.
    pub fn invalidate(&self, token: &str) {
        let mut cached = self.cached.lock();
        if cached.as_ref().is_some_and(|c| c.token == token) {
            *cached = None;
        }
    }

    fn fresh(&self, now: Timestamp) -> Option<String> {
        self.cached
            .lock()
            .as_ref()
            .filter(|c| now < c.refresh_at)
            .map(|c| c.token.clone())
    }

    /// The cached token if it has not expired (even if its refresh is due).
    fn still_valid(&self) -> Option<String> {
        let now = self.clock.now();
        self.cached
            .lock()
            .as_ref()
            .filter(|c| now < c.expires_at)
            .map(|c| c.token.clone())
    }

    fn still_valid_or(&self, error: TokenError) -> Result<String, TokenError> {
        if error.is_transient()
            && let Some(token) = self.still_valid()
        {
            tracing::warn!(%error, "token refresh failed; using the cached token until it expires");
            return Ok(token);
        }
        Err(error)
    }

    /// A signed assertion for one token request.
    pub fn assertion(&self) -> Result<String, TokenError> {
        let iat = self.clock.now().millis().div_euclid(1000);
        let claims = json!({
            "aud": self.config.audience,
            "iss": self.config.client_id,
            "scope": self.config.scope,
            "iat": iat,
            "exp": iat + ASSERTION_LIFETIME_SECS,
            "jti": uuid::Uuid::new_v4().to_string(),
        });
        let mut header = Header::new(Algorithm::RS256);
        header.kid = self.config.kid.clone();
        jsonwebtoken::encode(&header, &claims, &self.key)
            .map_err(|e| TokenError::Config(format!("cannot sign the assertion: {e}")))
    }

    async fn request(&self) -> Result<Cached, TokenError> {
        let started = self.clock.now();
        let endpoint = &self.config.token_endpoint;
        let body = format!(
            "grant_type={}&assertion={}",
            form_encode(JWT_BEARER_GRANT),
            form_encode(&self.assertion()?)
        );
        let response = self
            .http
            .post(endpoint)
            .timeout(self.config.request_timeout)
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            )
            .header(reqwest::header::ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| {
                TokenError::Transient(if e.is_timeout() {
                    format!(
                        "the token endpoint {endpoint} did not answer within {} ms",
                        self.config.request_timeout.as_millis()
                    )
                } else {
                    format!(
                        "cannot reach the token endpoint {endpoint}: {}",
                        error_chain(&e)
                    )
                })
            })?;
        let status = response.status();
        if reqwest::Url::parse(endpoint).ok().as_ref() != Some(response.url()) {
            return Err(TokenError::Rejected(format!(
                "the token request to {endpoint} was redirected; use an HTTP client that does not follow redirects"
            )));
        }
        let body = read_limited(response).await;
        if status.is_redirection() {
            return Err(TokenError::Rejected(format!(
                "the token endpoint {endpoint} answered {status} (a redirect); token requests do not follow redirects: check token_endpoint"
            )));
        }
        if status.is_server_error() || status == reqwest::StatusCode::TOO_MANY_REQUESTS {
            return Err(TokenError::Transient(format!(
                "the token endpoint {endpoint} answered {status}{}",
                describe_error(body.as_deref().unwrap_or_default())
            )));
        }
        if !status.is_success() {
            return Err(TokenError::Rejected(format!(
                "{endpoint} answered {status}{}",
                describe_error(body.as_deref().unwrap_or_default())
            )));
        }
        let body = body.map_err(|e| {
            TokenError::Transient(format!("cannot read the answer of {endpoint}: {e}"))
        })?;
        #[derive(Deserialize)]
        struct Answer {
            access_token: String,
            token_type: Option<String>,
            expires_in: Option<u64>,
        }
        let answer: Answer = serde_json::from_slice(&body).map_err(|e| {
            TokenError::Transient(format!(
                "{endpoint} answered {status} without a token response: {e}"
            ))
        })?;
        if let Some(kind) = &answer.token_type
            && !kind.eq_ignore_ascii_case("bearer")
        {
            return Err(TokenError::Rejected(format!(
                "{endpoint} issued a `{kind}` token; a Bearer token is needed"
            )));
        }
        if answer.access_token.is_empty() {
            return Err(TokenError::Transient(format!(
                "{endpoint} answered an empty access_token"
            )));
        }
        // Without `expires_in` the token is used once and not cached.
        let lifetime = Duration::from_secs(answer.expires_in.unwrap_or(0));
        let expires_at = started.plus(lifetime);
        let refresh_at = if lifetime > self.config.refresh_before {
            started.plus(lifetime - self.config.refresh_before)
        } else {
            started.plus(lifetime / 2)
        };
        tracing::debug!(client_id = %self.config.client_id, expires_in = lifetime.as_secs(), "got an organisation token");
        Ok(Cached {
            token: answer.access_token,
            refresh_at,
            expires_at,
        })
    }
}

/// The body, up to [`MAX_RESPONSE_BYTES`].
async fn read_limited(mut response: reqwest::Response) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(|e| error_chain(&e))? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the answer is larger than {MAX_RESPONSE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// `: invalid_grant: <description>` from an RFC 6749 error body, or nothing.
fn describe_error(body: &[u8]) -> String {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(e) => {
            let description: String = e
                .error_description
                .unwrap_or_default()
                .chars()
                .take(500)
                .collect();
            let error: String = e.error.chars().take(100).collect();
            if description.is_empty() {
                format!(": {error}")
            } else {
                format!(": {error}: {description}")
            }
        }
        Err(_) => String::new(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

/// `application/x-www-form-urlencoded` encoding of one value.
fn form_encode(value: &str) -> String {
    let mut out = String::with_capacity(value.len());
    for b in value.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_encoding() {
        assert_eq!(
            form_encode(JWT_BEARER_GRANT),
            "urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer"
        );
        assert_eq!(form_encode("a b+c"), "a+b%2Bc");
    }
}
