//! Which token issuers this server trusts, and how it checks their tokens (`[auth]` in the
//! configuration file).
//!
//! ```toml
//! [auth]
//! audiences = ["flyt"]
//! leeway_secs = 30
//!
//! [[auth.issuers]]
//! issuer = "https://test.maskinporten.no/"
//! jwks_url = "https://test.maskinporten.no/jwk"
//!
//! [[auth.issuers]]
//! issuer = "https://idp.example"
//! pem_file = "keys/idp-public.pem"   # RSA or P-256 public key (SPKI PEM)
//! pem_kid = "idp-2025"               # optional
//! ```

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// How bearer tokens are verified.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuthConfig {
    /// Trusted issuers. Default: none (the development authority, when enabled, is trusted
    /// in-process in addition).
    pub issuers: Vec<IssuerConfig>,
    /// Accepted `aud` values; a token must name at least one. Default `["flyt"]`.
    pub audiences: Vec<String>,
    /// Clock skew allowed when checking `exp` and `nbf`, seconds. Default 30.
    pub leeway_secs: u64,
    /// Least time between two JWKS fetches triggered by tokens with an unknown `kid`, per
    /// issuer, seconds. Tokens with unknown kids in between are refused without a fetch.
    /// Default 30.
    pub jwks_refetch_min_secs: u64,
    /// Timeout of one JWKS fetch, milliseconds. Default 5,000.
    pub jwks_timeout_ms: u64,
    /// Age after which a JWKS is refreshed (in the background; cached keys keep working
    /// meanwhile), seconds. Default 3,600.
    pub jwks_max_age_secs: u64,
}

impl Default for AuthConfig {
    fn default() -> Self {
        AuthConfig {
            issuers: Vec::new(),
            audiences: vec!["flyt".to_string()],
            leeway_secs: 30,
            jwks_refetch_min_secs: 30,
            jwks_timeout_ms: 5_000,
            jwks_max_age_secs: 3_600,
        }
    }
}

/// One trusted issuer: its `iss` value and where its public keys come from — exactly one of
/// `jwks_url` and `pem_file`.
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct IssuerConfig {
    /// The exact `iss` claim of the issuer's tokens. Required (default empty, which is refused).
    pub issuer: String,
    /// URL of the issuer's JWK set (`jwks_uri`). Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub jwks_url: Option<String>,
    /// A PEM file with the issuer's public key (RSA → RS256, P-256 → ES256). Default none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem_file: Option<PathBuf>,
    /// The `kid` of the PEM key. Default none: the key is the issuer's only key and matches
    /// any token of that issuer, with or without a `kid`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pem_kid: Option<String>,
}

impl AuthConfig {
    /// Checks the values that serde cannot.
    pub fn check(&self) -> Result<(), String> {
        if self.audiences.is_empty() || self.audiences.iter().any(|a| a.trim().is_empty()) {
            return Err("auth.audiences must list at least one non-empty audience".into());
        }
        if self.jwks_timeout_ms == 0 {
            return Err("auth.jwks_timeout_ms must be positive".into());
        }
        let mut seen = std::collections::BTreeSet::new();
        for issuer in &self.issuers {
            issuer.check()?;
            if !seen.insert(issuer.issuer.as_str()) {
                return Err(format!("auth.issuers: `{}` is listed twice", issuer.issuer));
            }
        }
        Ok(())
    }
}

impl IssuerConfig {
    /// Checks that the issuer is named and has exactly one key source.
    pub fn check(&self) -> Result<(), String> {
        if self.issuer.trim().is_empty() {
            return Err("auth.issuers: every issuer needs a non-empty `issuer`".into());
        }
        match (&self.jwks_url, &self.pem_file) {
            (Some(url), None) => {
                if !(url.starts_with("https://") || url.starts_with("http://")) {
                    return Err(format!(
                        "auth.issuers `{}`: jwks_url `{url}` is not an http(s) URL",
                        self.issuer
                    ));
                }
                if self.pem_kid.is_some() {
                    return Err(format!(
                        "auth.issuers `{}`: pem_kid is only for pem_file",
                        self.issuer
                    ));
                }
                Ok(())
            }
            (None, Some(_)) => Ok(()),
            (Some(_), Some(_)) => Err(format!(
                "auth.issuers `{}`: give either jwks_url or pem_file, not both",
                self.issuer
            )),
            (None, None) => Err(format!(
                "auth.issuers `{}`: give jwks_url or pem_file",
                self.issuer
            )),
        }
    }
}
