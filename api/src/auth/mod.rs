//! Authentication: bearer JWTs from trusted issuers, verified into a [`Caller`].
//!
//! - [`AuthConfig`] / [`IssuerConfig`]: which issuers are trusted (`[auth]` in the config file).
//! - [`TrustedIssuer`]: an issuer with its key source (JWKS URL, PEM file, or in-process keys).
//! - [`Verifier`]: checks a token and maps its claims to a [`Caller`] (see [`claims`]).
//! - Extractors: [`Caller`] and [`MaybeCaller`] read `Authorization: Bearer <token>`.

mod caller;
pub mod claims;
mod config;
mod error;
mod extract;
mod keys;
mod verifier;

pub use caller::{Caller, Organisation, User};
pub use config::{AuthConfig, IssuerConfig};
pub use error::AuthError;
pub use extract::{MaybeCaller, bearer_token};
pub use keys::{ACCEPTED_ALGORITHMS, TrustedIssuer, decoding_key_from_pem};
pub use verifier::{CACHE_CAPACITY, CACHE_TTL, MAX_TOKEN_BYTES, Verifier};
