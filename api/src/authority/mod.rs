//! The development authority: a small OAuth 2.0 authorization server for local use and tests
//! that issues the same kinds of tokens as the real ones — user tokens (`pid`, `roles`) and
//! Maskinporten-shaped organisation tokens (`consumer`) — and publishes its JWKS.
//!
//! The server mounts [`DevAuthority::router`] at `/authority` only when
//! `[dev_authority] enabled = true` (the no-config quick start turns it on; it is off otherwise).
//! Its endpoints, relative to the mount point:
//!
//! - `GET /.well-known/oauth-authorization-server` — RFC 8414 metadata.
//! - `GET /jwks` — the public signing key.
//! - `POST /token` — the Maskinporten JWT grant (RFC 7523): a registered client posts
//!   `grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer&assertion=<JWT>`, the assertion
//!   signed RS256 with the client's private key, and gets an organisation token.
//! - `POST /user-token` — **development only**: any user token for a JSON body
//!   `{"pid": "...", "roles": ["991825827:DAGL"], "scope": "..."}`, no questions asked. This is
//!   why the authority must never be enabled where real data lives.
//! - `POST /org-token` — **development only**, likewise: any organisation token for a JSON body
//!   `{"organisationNumber": "991825827", "orgCode": "ttd", "scope": "..."}` (`orgCode`
//!   optional), without a registered client or an assertion. The browser's login picker uses it
//!   to sign a service owner in.
//!
//! The signing key is kept in `<dir>/signing-key.pem` (RSA 2048, PKCS#8, mode 0600) with its kid
//! in `<dir>/kid`; it is generated on first start and reused afterwards, so tokens and cached
//! JWKS stay valid across restarts.
//!
//! Replay protection: every assertion's `jti` is remembered (per client) until the assertion's
//! `exp`, **in memory only** — a restart forgets them. Since an assertion lives at most 120 s,
//! an assertion captured before a restart can be replayed for at most that long afterwards.
//! Assertions and tokens are never logged.

mod grant;
mod keystore;
pub(crate) mod local_client;
mod routes;

pub use grant::{ASSERTION_LEEWAY_SECS, MAX_ASSERTION_LIFETIME_SECS, OAuthError, TokenResponse};

use crate::auth::TrustedIssuer;
use crate::auth::claims::{CONSUMER_AUTHORITY, ORGNO_PREFIX, is_digits, parse_role};
use flyt_engine::time::Clock;
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header};
use rsa::traits::PublicKeyParts;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::{BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The grant type of the JWT-bearer grant (RFC 7523).
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";

/// `[dev_authority]` in the configuration file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct DevAuthorityConfig {
    /// Mount the authority at `/authority` and trust it. Default false (the no-config quick
    /// start turns it on).
    pub enabled: bool,
    /// The `aud` of the access tokens it issues. Default `flyt`.
    pub audience: String,
    /// Lifetime of issued access tokens, seconds. Default 300.
    pub token_lifetime_secs: u64,
    /// Registered Maskinporten-style clients. Default none.
    pub clients: Vec<ClientConfig>,
}

impl Default for DevAuthorityConfig {
    fn default() -> Self {
        DevAuthorityConfig {
            enabled: false,
            audience: "flyt".to_string(),
            token_lifetime_secs: 300,
            clients: Vec::new(),
        }
    }
}

/// A registered client (`[[dev_authority.clients]]`).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClientConfig {
    /// The client id: the assertion's `iss`. Required.
    pub client_id: String,
    /// The organisation the client acts for (9 digits). Required.
    pub organisation_number: String,
    /// The service owner's org code put in `urn:altinn:org`, e.g. `ttd`. Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub org_code: Option<String>,
    /// PEM file with the client's RSA public key; assertions must verify with it. Required.
    pub public_key_pem_file: PathBuf,
    /// Scopes the client may ask for. Default none.
    pub scopes: Vec<String>,
}

/// A registered client, loaded.
struct Client {
    organisation_number: String,
    org_code: Option<String>,
    key: DecodingKey,
    scopes: BTreeSet<String>,
}

/// The development authority. `Send + Sync`; share it in an `Arc`.
pub struct DevAuthority {
    issuer: String,
    kid: String,
    encoding: EncodingKey,
    decoding: DecodingKey,
    jwk: Jwk,
    audience: String,
    lifetime_secs: u64,
    clients: HashMap<String, Client>,
    clock: Arc<dyn Clock>,
    /// `(client_id, jti)` → the assertion's `exp` (ms).
    seen_jtis: parking_lot::Mutex<JtiStore>,
}

#[derive(Default)]
struct JtiStore {
    seen: HashMap<(String, String), i64>,
    inserts: u64,
}

impl fmt::Debug for DevAuthority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DevAuthority")
            .field("issuer", &self.issuer)
            .field("kid", &self.kid)
            .field("audience", &self.audience)
            .field("clients", &self.clients.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl DevAuthority {
    /// Loads the signing key from `dir` (creating it on first start) and the registered
    /// clients' public keys. `issuer` is the authority's URL, e.g.
    /// `http://127.0.0.1:8080/authority` (a trailing `/` is dropped).
    pub fn load_or_create(
        dir: &Path,
        issuer: String,
        config: &DevAuthorityConfig,
        clock: Arc<dyn Clock>,
    ) -> Result<DevAuthority, String> {
        let issuer = issuer.trim_end_matches('/').to_string();
        if issuer.is_empty() {
            return Err("dev_authority: the issuer URL is empty".into());
        }
        if config.audience.trim().is_empty() {
            return Err("dev_authority.audience must not be empty".into());
        }
        if config.token_lifetime_secs == 0 || config.token_lifetime_secs > 86_400 {
            return Err("dev_authority.token_lifetime_secs must be between 1 and 86400".into());
        }
        let mut clients = HashMap::new();
        for c in &config.clients {
            let id = &c.client_id;
            if id.trim().is_empty() {
                return Err("dev_authority.clients: every client needs a client_id".into());
            }
            if !is_digits(&c.organisation_number, 9) {
                return Err(format!(
                    "dev_authority client `{id}`: organisation_number must be 9 digits"
                ));
            }
            if let Some(code) = &c.org_code
                && (code.is_empty()
                    || !code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
            {
                return Err(format!(
                    "dev_authority client `{id}`: org_code `{code}` must be letters and digits"
                ));
            }
            check_scopes(&c.scopes).map_err(|e| format!("dev_authority client `{id}`: {e}"))?;
            let pem = std::fs::read(&c.public_key_pem_file).map_err(|e| {
                format!(
                    "dev_authority client `{id}`: cannot read {}: {e}",
                    c.public_key_pem_file.display()
                )
            })?;
            let key = DecodingKey::from_rsa_pem(&pem).map_err(|e| {
                format!(
                    "dev_authority client `{id}`: {} is not an RSA public key: {e}",
                    c.public_key_pem_file.display()
                )
            })?;
            let client = Client {
                organisation_number: c.organisation_number.clone(),
                org_code: c.org_code.clone(),
                key,
                scopes: c.scopes.iter().cloned().collect(),
            };
            if clients.insert(id.clone(), client).is_some() {
                return Err(format!("dev_authority: client `{id}` is registered twice"));
            }
        }

        let signing = keystore::load_or_create(dir)?;
        let decoding = DecodingKey::from_rsa_raw_components(
            &signing.public.n().to_bytes_be(),
            &signing.public.e().to_bytes_be(),
        );
        let mut jwk = Jwk::from_decoding_key(&decoding, Some(Algorithm::RS256))
            .map_err(|e| format!("cannot describe the signing key as a JWK: {e}"))?;
        jwk.common.key_id = Some(signing.kid.clone());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        Ok(DevAuthority {
            issuer,
            kid: signing.kid,
            encoding: signing.encoding,
            decoding,
            jwk,
            audience: config.audience.clone(),
            lifetime_secs: config.token_lifetime_secs,
            clients,
            clock,
            seen_jtis: parking_lot::Mutex::new(JtiStore::default()),
        })
    }

    /// The authority's issuer URL (the `iss` of its tokens).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The kid of the signing key.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The token endpoint URL.
    pub fn token_endpoint(&self) -> String {
        format!("{}/token", self.issuer)
    }

    /// This authority as an issuer a [`crate::auth::Verifier`] trusts in-process (no HTTP).
    pub fn trusted_issuer(&self) -> TrustedIssuer {
        TrustedIssuer::with_keys(
            self.issuer.clone(),
            vec![(self.kid.clone(), self.decoding.clone(), Algorithm::RS256)],
        )
    }

    /// The JWK set: `{"keys": [<the RSA public key, kid, alg RS256, use sig>]}`.
    pub fn jwks(&self) -> Value {
        json!({ "keys": [self.jwk] })
    }

    /// RFC 8414 metadata.
    pub fn metadata(&self) -> Value {
        let scopes: BTreeSet<&String> = self.clients.values().flat_map(|c| &c.scopes).collect();
        json!({
            "issuer": self.issuer,
            "token_endpoint": self.token_endpoint(),
            "jwks_uri": format!("{}/jwks", self.issuer),
            "grant_types_supported": [JWT_BEARER_GRANT],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256"],
            "scopes_supported": scopes,
        })
    }

    /// Lifetime of issued tokens, seconds.
    pub fn token_lifetime_secs(&self) -> u64 {
        self.lifetime_secs
    }

    /// A user token for `pid` (11 digits) with `roles` (`"ORGNO:CODE"`) and `scopes`.
    pub fn user_token(
        &self,
        pid: &str,
        roles: &[String],
        scopes: &[String],
    ) -> Result<String, String> {
        if !is_digits(pid, 11) {
            return Err(format!("pid `{pid}` must be 11 digits"));
        }
        for role in roles {
            parse_role(role)?;
        }
        check_scopes(scopes)?;
        let mut claims = Map::new();
        claims.insert("pid".into(), json!(pid));
        claims.insert("roles".into(), json!(roles));
        self.sign(claims, scopes)
    }

    /// A Maskinporten-shaped organisation token: `consumer` (`0192:<orgno>`), `scope`,
    /// `client_id` and `urn:altinn:org` when given.
    pub fn org_token(
        &self,
        organisation_number: &str,
        org_code: Option<&str>,
        scopes: &[String],
        client_id: Option<&str>,
    ) -> Result<String, String> {
        if !is_digits(organisation_number, 9) {
            return Err(format!(
                "organisation number `{organisation_number}` must be 9 digits"
            ));
        }
        check_scopes(scopes)?;
        let mut claims = Map::new();
        claims.insert(
            "consumer".into(),
            json!({"authority": CONSUMER_AUTHORITY, "ID": format!("{ORGNO_PREFIX}{organisation_number}")}),
        );
        if let Some(code) = org_code {
            claims.insert("urn:altinn:org".into(), json!(code));
        }
        if let Some(client_id) = client_id {
            claims.insert("client_id".into(), json!(client_id));
        }
        self.sign(claims, scopes)
    }

    fn sign(&self, mut claims: Map<String, Value>, scopes: &[String]) -> Result<String, String> {
        let now = self.clock.now().millis().div_euclid(1000);
        let lifetime = i64::try_from(self.lifetime_secs).unwrap_or(86_400);
        claims.insert("scope".into(), json!(scopes.join(" ")));
        claims.insert("iss".into(), json!(self.issuer));
        claims.insert("aud".into(), json!(self.audience));
        claims.insert("iat".into(), json!(now));
        claims.insert("nbf".into(), json!(now));
        claims.insert("exp".into(), json!(now + lifetime));
        claims.insert("jti".into(), json!(uuid::Uuid::new_v4().to_string()));
        let mut header = Header::new(Algorithm::RS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, &claims, &self.encoding)
            .map_err(|e| format!("cannot sign the token: {e}"))
    }

    /// The axum routes, relative to the mount point (the server nests them at `/authority`).
    pub fn router<S>() -> axum::Router<S>
    where
        Arc<DevAuthority>: axum::extract::FromRef<S>,
        S: Clone + Send + Sync + 'static,
    {
        routes::router()
    }
}

/// Scopes are non-empty and contain no whitespace.
fn check_scopes(scopes: &[String]) -> Result<(), String> {
    for scope in scopes {
        if scope.is_empty() || scope.chars().any(char::is_whitespace) {
            return Err(format!(
                "scope `{scope}` must be non-empty and contain no whitespace"
            ));
        }
    }
    Ok(())
}
