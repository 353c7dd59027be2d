//! Behaviour under pressure: a request timeout (408), a concurrency limit (503), a per-client
//! rate limit (429 with `Retry-After`), and request metrics. Each refusal is problem+json.
//! [`problems`] is the layer outside these: head limits, and problem+json for every error;
//! [`request_id`] is outside everything: a tracing span and an id per request.

pub mod problems;
pub mod request_id;

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{ConnectInfo, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// A token bucket per client.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<[u8; 16], (f64, Instant)>>,
}

impl RateLimiter {
    pub fn new(per_second: u32, burst: u32) -> Self {
        RateLimiter {
            per_second: f64::from(per_second),
            burst: f64::from(burst.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// `Err(seconds to wait)` when the client is over its rate.
    pub fn check(&self, client: &[u8], now: Instant) -> Result<(), u64> {
        if self.per_second <= 0.0 {
            return Ok(());
        }
        let key: [u8; 16] = Sha256::digest(client)[..16].try_into().unwrap_or([0; 16]);
        let mut buckets = self.buckets.lock();
        if buckets.len() > 100_000 {
            // Forget idle clients rather than grow without bound.
            buckets.retain(|_, (_, last)| now.duration_since(*last) < Duration::from_secs(60));
        }
        let (tokens, last) = buckets.entry(key).or_insert((self.burst, now));
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - *tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

/// Around every API route (inside [`problems::problems`], outside the extractors): metrics,
/// concurrency, rate limit, timeout.
pub async fn guard(
    State(state): State<AppState>,
    concurrency: axum::Extension<std::sync::Arc<Semaphore>>,
    req: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let response = guarded(&state, &concurrency, req, next).await;
    state
        .inner
        .metrics
        .record(response.status().as_u16(), started.elapsed());
    response
}

async fn guarded(state: &AppState, concurrency: &Semaphore, req: Request, next: Next) -> Response {
    let Ok(_permit) = concurrency.try_acquire() else {
        return ApiError::Overloaded.into_response();
    };
    let limits = &state.config().limits;
    if limits.rate_limit_per_second > 0 {
        // The client: its bearer token if any (cheap; verification comes later), else its address.
        let client: Vec<u8> = match req.headers().get(axum::http::header::AUTHORIZATION) {
            Some(v) => v.as_bytes().to_vec(),
            None => req
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map(|c| c.0.ip().to_string().into_bytes())
                .unwrap_or_default(),
        };
        if let Err(wait) = state.inner.limiter.check(&client, Instant::now()) {
            return ApiError::RateLimited(wait).into_response();
        }
    }
    let timeout = Duration::from_millis(limits.request_timeout_ms);
    match tokio::time::timeout(timeout, next.run(req)).await {
        Ok(response) => response,
        Err(_) => ApiError::Timeout(limits.request_timeout_ms).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_refill_at_the_rate() {
        let limiter = RateLimiter::new(10, 2);
        let t0 = Instant::now();
        assert!(limiter.check(b"a", t0).is_ok());
        assert!(limiter.check(b"a", t0).is_ok());
        assert_eq!(limiter.check(b"a", t0), Err(1));
        assert!(limiter.check(b"b", t0).is_ok(), "clients are independent");
        assert!(limiter.check(b"a", t0 + Duration::from_millis(100)).is_ok());
    }
}
