//! Authentication tests: the token matrix against `Verifier` with a JWKS served over loopback,
//! JWKS rotation and outages, the verification cache, the extractors, and the development
//! authority over real HTTP.

mod authority;
mod cache;
mod common;
mod extractor;
mod jwks;
mod matrix;
