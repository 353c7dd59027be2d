//! One tracing span per request, tied together by a request id.
//!
//! The id is the client's `X-Request-Id` when it is a plausible one (1-64 characters of
//! `A-Z a-z 0-9 . _ -`), otherwise a new random one. Every log line of the request carries it
//! (with the method, the path, the app and instance where the path names them), the answer
//! returns it in `X-Request-Id`, and every problem+json body says it as `requestId`, so a
//! client's error report leads to the server's log lines. The request's status and latency are
//! logged when it ends: at `debug` (at `warn` for a 5xx).

use axum::extract::Request;
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;
use tracing::Instrument;

/// The response and request header.
pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being served on this task, if any.
pub fn current() -> Option<String> {
    REQUEST_ID.try_with(Clone::clone).ok()
}

fn plausible(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// `(app, instance)` named by an instance path: `/{org}/{app}/instances/{party}/{guid}/...`.
fn app_and_instance(path: &str) -> (Option<String>, Option<String>) {
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [org, app, "instances", party, guid, ..] => (
            Some(format!("{org}/{app}")),
            Some(format!("{party}/{guid}")),
        ),
        [org, app, "instances" | "process", ..] => (Some(format!("{org}/{app}")), None),
        _ => (None, None),
    }
}

/// The layer (outermost): names the request, serves it inside its span and id, and returns the
/// id.
pub async fn layer(req: Request, next: Next) -> Response {
    let id = req
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| plausible(v))
        .map_or_else(|| uuid::Uuid::new_v4().simple().to_string(), str::to_string);
    let (app, instance) = app_and_instance(req.uri().path());
    let span = tracing::info_span!(
        "request",
        id = %id,
        method = %req.method(),
        path = %req.uri().path(),
        app = app.as_deref().unwrap_or(""),
        instance = instance.as_deref().unwrap_or(""),
    );
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(id.clone(), next.run(req).instrument(span.clone()))
        .await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    if status >= 500 {
        tracing::warn!(parent: &span, status, latency_ms, "request failed");
    } else {
        tracing::debug!(parent: &span, status, latency_ms, "request done");
    }
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_from_clients_are_taken_only_when_plausible() {
        assert!(plausible("3f2c7a54-0b1e"));
        assert!(plausible("req_1.a"));
        assert!(!plausible(""));
        assert!(!plausible("a b"));
        assert!(!plausible("<script>"));
        assert!(!plausible(&"x".repeat(65)));
    }

    #[test]
    fn apps_and_instances_are_read_off_the_path() {
        assert_eq!(
            app_and_instance("/ttd/approval/instances/50001/abc/process/next"),
            (Some("ttd/approval".into()), Some("50001/abc".into()))
        );
        assert_eq!(
            app_and_instance("/ttd/approval/instances"),
            (Some("ttd/approval".into()), None)
        );
        assert_eq!(app_and_instance("/jobs/activate"), (None, None));
    }
}
