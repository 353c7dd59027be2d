//! Bearer token verification: [`Verifier::verify`] turns a JWT into a [`Caller`] or a precise
//! [`AuthError`].
//!
//! Rules: the header `alg` must be RS256 or ES256 and match the key's algorithm (so `none`,
//! HS256 — including HS256 "signed" with an RSA public key — and everything else are refused);
//! the issuer is found by the token's `iss`, its key by `kid` (a token without `kid` uses the
//! issuer's only key); `exp`, `iss` and `aud` are required; `exp` and `nbf` are checked against
//! the injected clock with the configured leeway; header `crit` extensions are refused.
//!
//! Successful verifications are cached by SHA-256 of the token until the token's `exp`
//! (without leeway) or 60 s, whichever comes first, so a hot token costs one hash and one map
//! lookup. The cache holds at most 10,000 tokens.

use super::claims::caller_from_claims;
use super::keys::{FetchPolicy, IssuerKeys, TrustedIssuer};
use super::{AuthConfig, AuthError, Caller};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flyt_engine::time::{Clock, Timestamp};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, Validation};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Longest token accepted, bytes.
pub const MAX_TOKEN_BYTES: usize = 16 * 1024;
/// Longest a verification is cached.
pub const CACHE_TTL: Duration = Duration::from_secs(60);
/// Most tokens the verification cache holds.
pub const CACHE_CAPACITY: usize = 10_000;

/// Verifies bearer tokens. `Send + Sync`; share it in an `Arc`.
pub struct Verifier {
    issuers: HashMap<String, Arc<IssuerKeys>>,
    audiences: Vec<String>,
    leeway_secs: u64,
    clock: Arc<dyn Clock>,
    cache: VerifiedCache,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier")
            .field("issuers", &self.issuers.keys().collect::<Vec<_>>())
            .field("audiences", &self.audiences)
            .field("leeway_secs", &self.leeway_secs)
            .finish_non_exhaustive()
    }
}

impl Verifier {
    /// A verifier trusting exactly `issuers` (build them with [`TrustedIssuer::from_config`]
    /// for `config.issuers`, and add e.g. the development authority's
    /// [`TrustedIssuer::with_keys`]); `config.issuers` itself is not read here — see
    /// [`Verifier::from_config`]. The other `config` fields tune checking and JWKS fetching;
    /// JWKS are fetched on first use with `http`. An issuer listed twice is an error.
    pub fn new(
        config: &AuthConfig,
        issuers: Vec<TrustedIssuer>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Verifier, String> {
        let tuning = AuthConfig {
            issuers: Vec::new(),
            ..config.clone()
        };
        tuning.check()?;
        let policy = FetchPolicy {
            timeout: Duration::from_millis(config.jwks_timeout_ms),
            refetch_min: Duration::from_secs(config.jwks_refetch_min_secs),
            max_age: Duration::from_secs(config.jwks_max_age_secs),
        };
        let mut trusted = HashMap::new();
        for issuer in issuers {
            let name = issuer.issuer().to_string();
            if name.is_empty() {
                return Err("a trusted issuer has an empty name".into());
            }
            let keys = IssuerKeys::new(issuer, &http, policy, clock.clone())?;
            if trusted.insert(name.clone(), Arc::new(keys)).is_some() {
                return Err(format!("issuer `{name}` is trusted twice"));
            }
        }
        Ok(Verifier {
            issuers: trusted,
            audiences: config.audiences.clone(),
            leeway_secs: config.leeway_secs,
            clock,
            cache: VerifiedCache::new(CACHE_CAPACITY),
        })
    }

    /// A verifier trusting the issuers of `config.issuers` (PEM files are read now) plus
    /// `extra`.
    pub fn from_config(
        config: &AuthConfig,
        extra: Vec<TrustedIssuer>,
        http: reqwest::Client,
        clock: Arc<dyn Clock>,
    ) -> Result<Verifier, String> {
        config.check()?;
        let mut issuers = config
            .issuers
            .iter()
            .map(TrustedIssuer::from_config)
            .collect::<Result<Vec<_>, _>>()?;
        issuers.extend(extra);
        Verifier::new(config, issuers, http, clock)
    }

    /// The trusted issuers' names.
    pub fn issuers(&self) -> impl Iterator<Item = &str> {
        self.issuers.keys().map(String::as_str)
    }

    /// How many JWKS fetches have been started for `issuer` (diagnostics and tests).
    pub fn jwks_fetches(&self, issuer: &str) -> u64 {
        self.issuers.get(issuer).map_or(0, |i| i.fetch_count())
    }

    /// Fetches the JWKS of every JWKS issuer that has none yet (e.g. at start-up), so the first
    /// request does not wait. Failures are logged and retried on demand.
    pub async fn prefetch(&self) {
        for keys in self.issuers.values() {
            keys.refetch(0).await;
        }
    }

    /// Verifies a bearer token (without the `Bearer ` prefix).
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let digest: [u8; 32] = Sha256::digest(token.as_bytes()).into();
        if let Some(caller) = self.cache.get(&digest, self.clock.now()) {
            return Ok(caller);
        }
        let (caller, exp_ms) = self.verify_uncached(token).await?;
        let now = self.clock.now();
        let until = Timestamp(exp_ms.min(now.plus(CACHE_TTL).millis()));
        self.cache.insert(digest, caller.clone(), until, now);
        Ok(caller)
    }

    /// Verifies without the cache; returns the caller and `exp` in milliseconds.
    async fn verify_uncached(&self, token: &str) -> Result<(Caller, i64), AuthError> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(AuthError::Malformed(format!(
                "the token is longer than {MAX_TOKEN_BYTES} bytes"
            )));
        }
        let mut parts = token.split('.');
        let (Some(header), Some(payload), Some(_signature), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(AuthError::Malformed(
                "a JWT has three base64url parts separated by `.`".into(),
            ));
        };
        let header = json_part(header, "header")?;
        let alg = match header.get("alg") {
            Some(Value::String(alg)) => alg.as_str(),
            Some(_) => {
                return Err(AuthError::Malformed(
                    "the header's `alg` is not a string".into(),
                ));
            }
            None => return Err(AuthError::Malformed("the header has no `alg`".into())),
        };
        let alg = match alg {
            "RS256" => Algorithm::RS256,
            "ES256" => Algorithm::ES256,
            other => return Err(AuthError::UnsupportedAlgorithm(other.to_string())),
        };
        if header.contains_key("crit") {
            return Err(AuthError::Malformed(
                "the header has `crit` extensions, which this server does not understand".into(),
            ));
        }
        let kid = match header.get("kid") {
            None | Some(Value::Null) => None,
            Some(Value::String(kid)) => Some(kid.as_str()),
            Some(_) => {
                return Err(AuthError::Malformed(
                    "the header's `kid` is not a string".into(),
                ));
            }
        };
        let unverified = json_part(payload, "payload")?;
        let iss = match unverified.get("iss") {
            Some(Value::String(iss)) => iss.as_str(),
            Some(_) => return Err(AuthError::BadClaim("`iss` must be a string".into())),
            None => return Err(AuthError::MissingClaim("iss".into())),
        };
        let issuer = self
            .issuers
            .get(iss)
            .ok_or_else(|| AuthError::UnknownIssuer(iss.to_string()))?;
        let key = issuer.key_for(kid).await?;
        if key.alg != alg {
            return Err(AuthError::AlgorithmMismatch {
                token: format!("{alg:?}"),
                key: format!("{:?}", key.alg),
                kid: key.kid.clone().unwrap_or_else(|| "(none)".into()),
            });
        }

        let mut validation = Validation::new(alg);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        validation.set_issuer(&[issuer.issuer.as_str()]);
        validation.set_audience(&self.audiences);
        // Time is checked below against the injected clock: jsonwebtoken reads the system clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let data = jsonwebtoken::decode::<Map<String, Value>>(token, &key.key, &validation)
            .map_err(|e| match e.into_kind() {
                ErrorKind::InvalidSignature => AuthError::BadSignature,
                ErrorKind::InvalidAlgorithm => AuthError::UnsupportedAlgorithm(format!("{alg:?}")),
                // jsonwebtoken calls a claim it cannot read "missing"; say what is wrong with it.
                ErrorKind::MissingRequiredClaim(claim) => match unverified.get(&claim) {
                    Some(value) => AuthError::BadClaim(bad_claim(&claim, value)),
                    None => AuthError::MissingClaim(claim),
                },
                ErrorKind::InvalidClaimFormat(claim) => {
                    AuthError::BadClaim(format!("`{claim}` has the wrong type"))
                }
                ErrorKind::InvalidIssuer => AuthError::WrongIssuer,
                ErrorKind::InvalidAudience => AuthError::WrongAudience,
                ErrorKind::ExpiredSignature => AuthError::Expired,
                ErrorKind::ImmatureSignature => AuthError::NotYetValid,
                ErrorKind::InvalidRsaKey(_)
                | ErrorKind::InvalidEcdsaKey
                | ErrorKind::InvalidKeyFormat => AuthError::KeysUnavailable(format!(
                    "issuer `{}`: key {:?} is unusable",
                    issuer.issuer, key.kid
                )),
                ErrorKind::Base64(_) => AuthError::Malformed("a part is not base64url".into()),
                // The registered claims failed to decode: name the one with the wrong shape.
                ErrorKind::Json(e) => ["exp", "nbf", "iat", "aud", "iss", "sub"]
                    .into_iter()
                    .find_map(|claim| {
                        let value = unverified.get(claim)?;
                        let fine = match claim {
                            "exp" | "nbf" | "iat" => value.is_number(),
                            "aud" => {
                                value.is_string()
                                    || value
                                        .as_array()
                                        .is_some_and(|a| a.iter().all(Value::is_string))
                            }
                            _ => value.is_string(),
                        };
                        (!fine).then(|| AuthError::BadClaim(bad_claim(claim, value)))
                    })
                    .unwrap_or_else(|| {
                        AuthError::Malformed(format!("the claims do not decode: {e}"))
                    }),
                other => AuthError::Malformed(format!("{other:?}")),
            })?;
        let claims = data.claims;

        let now_ms = self.clock.now().millis();
        let leeway_ms = i64::try_from(self.leeway_secs)
            .unwrap_or(i64::MAX / 1000)
            .saturating_mul(1000);
        let exp_ms =
            numeric_date_ms(&claims, "exp")?.ok_or(AuthError::MissingClaim("exp".into()))?;
        if now_ms >= exp_ms.saturating_add(leeway_ms) {
            return Err(AuthError::Expired);
        }
        if let Some(nbf_ms) = numeric_date_ms(&claims, "nbf")?
            && now_ms < nbf_ms.saturating_sub(leeway_ms)
        {
            return Err(AuthError::NotYetValid);
        }
        let caller = caller_from_claims(&claims)?;
        Ok((caller, exp_ms))
    }
}

/// What is wrong with a claim that is present but unreadable.
fn bad_claim(claim: &str, value: &Value) -> String {
    let mut shown = value.to_string();
    if shown.len() > 40 {
        let mut end = 40;
        while !shown.is_char_boundary(end) {
            end -= 1;
        }
        shown.truncate(end);
        shown.push('…');
    }
    match claim {
        "exp" | "nbf" | "iat" => format!(
            "`{claim}` must be a NumericDate (seconds since 1970-01-01 as a non-negative JSON number); it is {shown}"
        ),
        "aud" => format!("`aud` must be a string or an array of strings; it is {shown}"),
        _ => format!("`{claim}` has the wrong type; it is {shown}"),
    }
}

/// Base64url JSON object → map.
fn json_part(part: &str, what: &str) -> Result<Map<String, Value>, AuthError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| AuthError::Malformed(format!("the {what} is not base64url")))?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(Value::Object(map)) => Ok(map),
        _ => Err(AuthError::Malformed(format!(
            "the {what} is not a JSON object"
        ))),
    }
}

/// A NumericDate claim (seconds, integer or fraction) in milliseconds.
fn numeric_date_ms(claims: &Map<String, Value>, name: &str) -> Result<Option<i64>, AuthError> {
    match claims.get(name) {
        None => Ok(None),
        Some(Value::Number(n)) => {
            if let Some(secs) = n.as_i64() {
                Ok(Some(secs.saturating_mul(1000)))
            } else if let Some(secs) = n.as_f64().filter(|s| s.is_finite()) {
                // Saturating float → int conversion.
                #[allow(clippy::cast_possible_truncation)]
                Ok(Some((secs * 1000.0) as i64))
            } else {
                Err(AuthError::BadClaim(format!(
                    "`{name}` must be a number of seconds"
                )))
            }
        }
        Some(_) => Err(AuthError::BadClaim(format!(
            "`{name}` must be a number of seconds"
        ))),
    }
}

/// Verified tokens by SHA-256, each with the instant it stops being served from the cache.
struct VerifiedCache {
    map: parking_lot::RwLock<HashMap<[u8; 32], (Caller, Timestamp)>>,
    capacity: usize,
}

impl VerifiedCache {
    fn new(capacity: usize) -> Self {
        VerifiedCache {
            map: parking_lot::RwLock::new(HashMap::new()),
            capacity,
        }
    }

    fn get(&self, digest: &[u8; 32], now: Timestamp) -> Option<Caller> {
        match self.map.read().get(digest) {
            Some((caller, until)) if now < *until => Some(caller.clone()),
            _ => None,
        }
    }

    fn insert(&self, digest: [u8; 32], caller: Caller, until: Timestamp, now: Timestamp) {
        if until <= now {
            return;
        }
        let mut map = self.map.write();
        if map.len() >= self.capacity && !map.contains_key(&digest) {
            map.retain(|_, (_, until)| *until > now);
            if map.len() >= self.capacity {
                // Still full of live entries: drop an arbitrary eighth.
                let victims: Vec<[u8; 32]> =
                    map.keys().take(self.capacity / 8 + 1).copied().collect();
                for victim in victims {
                    map.remove(&victim);
                }
            }
        }
        map.insert(digest, (caller, until));
    }
}
