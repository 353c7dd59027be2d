//! Axum extractors: [`Caller`] (a verified bearer token is required) and [`MaybeCaller`]
//! (anonymous allowed; a token that is present must still verify).
//!
//! Both need `Arc<Verifier>: FromRef<S>` and reject with
//! [`ApiError::Unauthenticated`](crate::error::ApiError::Unauthenticated) (401). The verified
//! caller is kept in the request's extensions, so extracting it twice verifies once.

use super::{AuthError, Caller, Verifier};
use crate::error::ApiError;
use axum::extract::{FromRef, FromRequestParts};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use std::sync::Arc;

/// The caller if the request has an `Authorization` header, `None` if it has none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MaybeCaller(pub Option<Caller>);

/// The bearer token of a request: `Ok(None)` without an `Authorization` header.
pub fn bearer_token(parts: &Parts) -> Result<Option<&str>, AuthError> {
    let mut values = parts.headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    if values.next().is_some() {
        return Err(AuthError::Malformed(
            "the request has more than one Authorization header".into(),
        ));
    }
    let value = value.to_str().map_err(|_| AuthError::NotBearer)?;
    let (scheme, token) = value.trim().split_once(' ').ok_or(AuthError::NotBearer)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(AuthError::NotBearer);
    }
    let token = token.trim();
    if token.is_empty() || token.contains(' ') {
        return Err(AuthError::NotBearer);
    }
    Ok(Some(token))
}

async fn extract<S>(parts: &mut Parts, state: &S) -> Result<Option<Caller>, ApiError>
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    if let Some(caller) = parts.extensions.get::<Caller>() {
        return Ok(Some(caller.clone()));
    }
    let Some(token) = bearer_token(parts)? else {
        return Ok(None);
    };
    let verifier = Arc::<Verifier>::from_ref(state);
    let caller = verifier.verify(token).await?;
    parts.extensions.insert(caller.clone());
    Ok(Some(caller))
}

impl<S> FromRequestParts<S> for Caller
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        extract(parts, state)
            .await?
            .ok_or(ApiError::Unauthenticated(AuthError::Missing))
    }
}

impl<S> FromRequestParts<S> for MaybeCaller
where
    S: Send + Sync,
    Arc<Verifier>: FromRef<S>,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        extract(parts, state).await.map(MaybeCaller)
    }
}
