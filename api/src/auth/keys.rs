//! Trusted issuers and their public keys: static (a PEM file, or in-process keys such as the
//! development authority's) or fetched from a JWKS URL, cached, refreshed when stale, and
//! refetched — rate limited and single-flight — when a token names an unknown `kid`.

use super::{AuthError, IssuerConfig};
use flyt_engine::time::{Clock, Timestamp};
use jsonwebtoken::jwk::{
    AlgorithmParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse,
};
use jsonwebtoken::{Algorithm, AlgorithmFamily, DecodingKey};
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// The algorithms a token may be signed with.
pub const ACCEPTED_ALGORITHMS: [Algorithm; 2] = [Algorithm::RS256, Algorithm::ES256];

/// Largest JWKS document read, bytes.
const MAX_JWKS_BYTES: usize = 1024 * 1024;

/// One public key of an issuer.
#[derive(Clone)]
pub(crate) struct Key {
    pub(crate) kid: Option<String>,
    pub(crate) key: DecodingKey,
    pub(crate) alg: Algorithm,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// An issuer this server trusts, with the source of its keys.
#[derive(Clone)]
pub struct TrustedIssuer {
    issuer: String,
    source: Source,
}

#[derive(Clone)]
enum Source {
    Static(Vec<Key>),
    Jwks(String),
}

impl fmt::Debug for TrustedIssuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("TrustedIssuer");
        d.field("issuer", &self.issuer);
        match &self.source {
            Source::Static(keys) => d.field("keys", keys),
            Source::Jwks(url) => d.field("jwks_url", url),
        };
        d.finish()
    }
}

impl TrustedIssuer {
    /// An issuer whose keys are known in-process (e.g. the development authority). Each key:
    /// `(kid, key, algorithm)`; the algorithm must be RS256 or ES256 and match the key
    /// (checked by [`super::Verifier::new`]).
    pub fn with_keys(
        issuer: impl Into<String>,
        keys: Vec<(String, DecodingKey, Algorithm)>,
    ) -> Self {
        TrustedIssuer {
            issuer: issuer.into(),
            source: Source::Static(
                keys.into_iter()
                    .map(|(kid, key, alg)| Key {
                        kid: Some(kid),
                        key,
                        alg,
                    })
                    .collect(),
            ),
        }
    }

    /// An issuer whose keys are published as a JWK set at `jwks_url`.
    pub fn with_jwks(issuer: impl Into<String>, jwks_url: impl Into<String>) -> Self {
        TrustedIssuer {
            issuer: issuer.into(),
            source: Source::Jwks(jwks_url.into()),
        }
    }

    /// From the configuration: reads the PEM file now (an RSA public key is RS256, a P-256
    /// key ES256), or remembers the JWKS URL (fetched on first use).
    pub fn from_config(config: &IssuerConfig) -> Result<Self, String> {
        config.check()?;
        if let Some(url) = &config.jwks_url {
            return Ok(TrustedIssuer::with_jwks(config.issuer.clone(), url.clone()));
        }
        let Some(path) = &config.pem_file else {
            return Err(format!("auth.issuers `{}`: no key source", config.issuer));
        };
        let pem = std::fs::read(path).map_err(|e| {
            format!(
                "auth.issuers `{}`: cannot read {}: {e}",
                config.issuer,
                path.display()
            )
        })?;
        let (key, alg) = decoding_key_from_pem(&pem)
            .map_err(|e| format!("auth.issuers `{}`: {}: {e}", config.issuer, path.display()))?;
        Ok(TrustedIssuer {
            issuer: config.issuer.clone(),
            source: Source::Static(vec![Key {
                kid: config.pem_kid.clone(),
                key,
                alg,
            }]),
        })
    }

    /// The `iss` value of this issuer's tokens.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }
}

/// A public key PEM (SPKI `PUBLIC KEY`, or PKCS#1 `RSA PUBLIC KEY`) → key and algorithm.
pub fn decoding_key_from_pem(pem: &[u8]) -> Result<(DecodingKey, Algorithm), String> {
    if let Ok(key) = DecodingKey::from_rsa_pem(pem) {
        return Ok((key, Algorithm::RS256));
    }
    match DecodingKey::from_ec_pem(pem) {
        // An uncompressed P-256 point is 65 bytes; P-384 (97) is not accepted.
        Ok(key) if key.try_get_as_bytes().map(<[u8]>::len).ok() == Some(65) => {
            Ok((key, Algorithm::ES256))
        }
        Ok(_) => Err("only RSA and P-256 public keys are accepted".into()),
        Err(_) => Err("not an RSA or P-256 public key in PEM form".into()),
    }
}

/// A JWK → key, or `None` when it is not an RS256/ES256 signing key (skipped).
fn key_from_jwk(jwk: &Jwk) -> Option<Key> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    let alg = match (&jwk.common.key_algorithm, &jwk.algorithm) {
        (Some(KeyAlgorithm::RS256) | None, AlgorithmParameters::RSA(_)) => Algorithm::RS256,
        (Some(KeyAlgorithm::ES256) | None, AlgorithmParameters::EllipticCurve(p))
            if p.curve == EllipticCurve::P256 =>
        {
            Algorithm::ES256
        }
        _ => return None,
    };
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(Key {
        kid: jwk.common.key_id.clone(),
        key,
        alg,
    })
}

/// Checks that a static key is usable.
fn check_static_key(issuer: &str, key: &Key) -> Result<(), String> {
    let family = match key.alg {
        Algorithm::RS256 => AlgorithmFamily::Rsa,
        Algorithm::ES256 => AlgorithmFamily::Ec,
        other => {
            return Err(format!(
                "issuer `{issuer}`: key {:?} uses {other:?}; only RS256 and ES256 are accepted",
                key.kid
            ));
        }
    };
    if key.key.family() != family {
        return Err(format!(
            "issuer `{issuer}`: key {:?} is not a {:?} key",
            key.kid, key.alg
        ));
    }
    Ok(())
}

/// The keys of one issuer at one moment.
#[derive(Debug, Default)]
pub(crate) struct KeySet {
    keys: Vec<Key>,
    /// Bumped on every successful (re)load.
    generation: u64,
    /// When the keys were last fetched; `None` before the first successful fetch (JWKS) —
    /// static sets are never fetched.
    fetched_at: Option<Timestamp>,
    /// Why the last fetch failed, if it did.
    last_error: Option<String>,
}

enum Lookup {
    Found(Key),
    Ambiguous(usize),
    NotFound,
}

impl KeySet {
    fn find(&self, kid: Option<&str>) -> Lookup {
        if let Some(kid) = kid
            && let Some(key) = self.keys.iter().find(|k| k.kid.as_deref() == Some(kid))
        {
            return Lookup::Found(key.clone());
        }
        // No kid in the token, or a key without a kid: usable only when it is the only key.
        match self.keys.as_slice() {
            [only] if kid.is_none() || only.kid.is_none() => Lookup::Found(only.clone()),
            keys if kid.is_none() && !keys.is_empty() => Lookup::Ambiguous(keys.len()),
            _ => Lookup::NotFound,
        }
    }
}

struct JwksSource {
    url: String,
    http: reqwest::Client,
    timeout: Duration,
}

/// The tuning of key fetching.
#[derive(Debug, Clone, Copy)]
pub(crate) struct FetchPolicy {
    pub(crate) timeout: Duration,
    pub(crate) refetch_min: Duration,
    pub(crate) max_age: Duration,
}

/// One trusted issuer at run time.
pub(crate) struct IssuerKeys {
    pub(crate) issuer: String,
    jwks: Option<JwksSource>,
    keys: parking_lot::RwLock<Arc<KeySet>>,
    /// Held while fetching: concurrent fetchers wait, then find the new keys (single flight).
    fetching: tokio::sync::Mutex<()>,
    /// When the last fetch started (successful or not), for rate limiting.
    last_attempt: parking_lot::Mutex<Option<Timestamp>>,
    /// A background refresh of stale keys is in flight.
    refreshing: AtomicBool,
    /// Number of HTTP fetches started, for diagnostics.
    fetches: std::sync::atomic::AtomicU64,
    policy: FetchPolicy,
    clock: Arc<dyn Clock>,
}

impl fmt::Debug for IssuerKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IssuerKeys")
            .field("issuer", &self.issuer)
            .field("jwks_url", &self.jwks.as_ref().map(|j| &j.url))
            .field("keys", &self.keys.read().keys.len())
            .finish_non_exhaustive()
    }
}

impl IssuerKeys {
    pub(crate) fn new(
        trusted: TrustedIssuer,
        http: &reqwest::Client,
        policy: FetchPolicy,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, String> {
        let (jwks, keys) = match trusted.source {
            Source::Static(keys) => {
                if keys.is_empty() {
                    return Err(format!("issuer `{}` has no keys", trusted.issuer));
                }
                for key in &keys {
                    check_static_key(&trusted.issuer, key)?;
                }
                (None, keys)
            }
            Source::Jwks(url) => (
                Some(JwksSource {
                    url,
                    http: http.clone(),
                    timeout: policy.timeout,
                }),
                Vec::new(),
            ),
        };
        Ok(IssuerKeys {
            issuer: trusted.issuer,
            jwks,
            keys: parking_lot::RwLock::new(Arc::new(KeySet {
                keys,
                ..KeySet::default()
            })),
            fetching: tokio::sync::Mutex::new(()),
            last_attempt: parking_lot::Mutex::new(None),
            refreshing: AtomicBool::new(false),
            fetches: std::sync::atomic::AtomicU64::new(0),
            policy,
            clock,
        })
    }

    fn snapshot(&self) -> Arc<KeySet> {
        self.keys.read().clone()
    }

    /// Number of JWKS fetches started so far.
    pub(crate) fn fetch_count(&self) -> u64 {
        self.fetches.load(Ordering::Relaxed)
    }

    /// The key for a token's `kid`: from the cache, or after one (rate limited, shared) fetch.
    pub(crate) async fn key_for(self: &Arc<Self>, kid: Option<&str>) -> Result<Key, AuthError> {
        let set = self.snapshot();
        match set.find(kid) {
            Lookup::Found(key) => {
                if self.is_stale(&set) {
                    self.refresh_in_background(set.generation);
                }
                return Ok(key);
            }
            Lookup::Ambiguous(keys) => {
                return Err(AuthError::AmbiguousKey {
                    issuer: self.issuer.clone(),
                    keys,
                });
            }
            Lookup::NotFound => {}
        }
        if self.jwks.is_some() {
            self.refetch(set.generation).await;
        }
        let set = self.snapshot();
        match set.find(kid) {
            Lookup::Found(key) => Ok(key),
            Lookup::Ambiguous(keys) => Err(AuthError::AmbiguousKey {
                issuer: self.issuer.clone(),
                keys,
            }),
            Lookup::NotFound if self.jwks.is_some() && set.fetched_at.is_none() => {
                Err(AuthError::KeysUnavailable(match &set.last_error {
                    Some(e) => format!("issuer `{}`: {e}", self.issuer),
                    None => format!(
                        "issuer `{}`: the keys have not been fetched yet; retry shortly",
                        self.issuer
                    ),
                }))
            }
            Lookup::NotFound => Err(AuthError::UnknownKey {
                issuer: self.issuer.clone(),
                kid: kid.unwrap_or("(none)").to_string(),
            }),
        }
    }

    fn is_stale(&self, set: &KeySet) -> bool {
        self.jwks.is_some()
            && set
                .fetched_at
                .is_some_and(|at| self.clock.now().since(at) >= self.policy.max_age)
    }

    /// True when a fetch started less than `refetch_min` ago.
    fn rate_limited(&self, now: Timestamp) -> bool {
        self.last_attempt
            .lock()
            .is_some_and(|last| now.since(last) < self.policy.refetch_min)
    }

    fn refresh_in_background(self: &Arc<Self>, generation: u64) {
        if self.rate_limited(self.clock.now()) || self.refreshing.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            self.refreshing.store(false, Ordering::Release);
            return;
        };
        let this = Arc::clone(self);
        runtime.spawn(async move {
            this.refetch(generation).await;
            this.refreshing.store(false, Ordering::Release);
        });
    }

    /// Fetches the JWKS unless another task has (re)loaded the keys since `seen_generation`
    /// or a fetch started less than `refetch_min` ago. Concurrent callers share one fetch.
    /// A failed fetch keeps the cached keys.
    pub(crate) async fn refetch(&self, seen_generation: u64) {
        let Some(source) = &self.jwks else { return };
        let Ok(_flight) = self.fetching.try_lock() else {
            // A fetch is in flight: wait for it and use its outcome.
            drop(self.fetching.lock().await);
            return;
        };
        if self.snapshot().generation != seen_generation {
            return; // someone else fetched since the caller looked
        }
        let now = self.clock.now();
        {
            let mut last = self.last_attempt.lock();
            if last.is_some_and(|last| now.since(last) < self.policy.refetch_min) {
                return;
            }
            *last = Some(now);
        }
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let result = fetch_jwks(source).await;
        let mut keys = self.keys.write();
        let old = keys.clone();
        *keys = Arc::new(match result {
            Ok(new) => {
                tracing::debug!(issuer = %self.issuer, keys = new.len(), "fetched the JWKS");
                KeySet {
                    keys: new,
                    generation: old.generation + 1,
                    fetched_at: Some(self.clock.now()),
                    last_error: None,
                }
            }
            Err(e) => {
                tracing::warn!(issuer = %self.issuer, error = %e, "JWKS fetch failed; keeping the cached keys");
                KeySet {
                    keys: old.keys.clone(),
                    generation: old.generation,
                    fetched_at: old.fetched_at,
                    last_error: Some(e),
                }
            }
        });
    }
}

async fn fetch_jwks(source: &JwksSource) -> Result<Vec<Key>, String> {
    let url = &source.url;
    let mut response = source
        .http
        .get(url)
        .header(reqwest::header::ACCEPT, "application/json")
        .timeout(source.timeout)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                format!(
                    "fetching {url} timed out after {} ms",
                    source.timeout.as_millis()
                )
            } else {
                format!("cannot fetch {url}: {e}")
            }
        })?;
    let status = response.status();
    if !status.is_success() {
        return Err(format!("{url} answered {status}"));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("reading {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_JWKS_BYTES {
            return Err(format!(
                "{url}: the JWKS is larger than {MAX_JWKS_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    let set: JwkSet =
        serde_json::from_slice(&body).map_err(|e| format!("{url}: not a JWK set: {e}"))?;
    let keys: Vec<Key> = set.keys.iter().filter_map(key_from_jwk).collect();
    if keys.is_empty() {
        return Err(format!(
            "{url}: the JWK set has no RS256 or ES256 signing keys"
        ));
    }
    Ok(keys)
}
