//! Why a bearer token was refused. Every variant maps to 401 `unauthenticated` through
//! [`crate::error::ApiError::Unauthenticated`]; the message tells the caller exactly what is wrong
//! (never the token itself).

/// A refused (or missing) bearer token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    /// No `Authorization` header.
    #[error("no bearer token: send `Authorization: Bearer <token>`")]
    Missing,
    /// An `Authorization` header that is not `Bearer <token>`.
    #[error("the Authorization header is not `Bearer <token>`")]
    NotBearer,
    /// Not a JWT: wrong shape, bad base64url, or JSON that is not an object.
    #[error("malformed token: {0}")]
    Malformed(String),
    /// The header's `alg` is not RS256 or ES256 (e.g. `none`, `HS256`).
    #[error("the token's algorithm `{0}` is not accepted; use RS256 or ES256")]
    UnsupportedAlgorithm(String),
    /// The header's `alg` differs from the algorithm of the key it names.
    #[error("the token says `{token}` but key `{kid}` is a {key} key")]
    AlgorithmMismatch {
        token: String,
        key: String,
        kid: String,
    },
    /// The `iss` claim names no trusted issuer.
    #[error("the token's issuer `{0}` is not trusted here")]
    UnknownIssuer(String),
    /// The issuer publishes no key with the token's `kid`.
    #[error("issuer `{issuer}` has no key with kid `{kid}`")]
    UnknownKey { issuer: String, kid: String },
    /// The token has no `kid` and the issuer has several keys.
    #[error("the token has no `kid` header and issuer `{issuer}` has {keys} keys; add a `kid`")]
    AmbiguousKey { issuer: String, keys: usize },
    /// The signature does not verify with the issuer's key.
    #[error("the token's signature does not verify")]
    BadSignature,
    /// `exp` has passed (allowing the configured leeway).
    #[error("the token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the configured leeway).
    #[error("the token is not valid yet (`nbf` is in the future)")]
    NotYetValid,
    /// `iss` does not match the issuer whose key verified the token.
    #[error("the token's `iss` does not match the issuer")]
    WrongIssuer,
    /// `aud` names none of the accepted audiences.
    #[error("the token's `aud` is not an audience accepted here")]
    WrongAudience,
    /// A required claim is absent.
    #[error("the token lacks the required claim `{0}`")]
    MissingClaim(String),
    /// A claim has the wrong type or form.
    #[error("bad claim: {0}")]
    BadClaim(String),
    /// The issuer's keys could not be fetched and none are cached for this token.
    #[error("the issuer's keys are unavailable: {0}")]
    KeysUnavailable(String),
}
