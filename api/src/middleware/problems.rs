//! The outermost layer: flyt's limits on the request head, and problem+json for every error.
//!
//! - **Head limits.** hyper is configured with outer bounds well above flyt's own
//!   (`Flyt::serve`), so a request over `limits.max_uri_bytes` (414) or over
//!   `limits.max_header_bytes` / `limits.max_headers` (431) reaches this layer and is refused
//!   here, as problem+json. Only requests past hyper's outer bounds get hyper's bare answers
//!   (RELIABILITY.md lists them).
//! - **Problem+json everywhere.** Answers made outside [`ApiError`] (axum's 405 with its `Allow`
//!   header, its `text/plain` path and query rejections, the nested `/authority` router, empty
//!   bodies) are rewritten into an RFC 9457 body with a stable `code` per status and the original
//!   text, bounded, as `detail`. Headers are kept. JSON error bodies are left alone: they are
//!   either problem+json already or follow another standard (the development authority's
//!   RFC 6749 token errors, which OAuth clients parse).

use crate::config::LimitsConfig;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::json;

/// Longest original text kept as `detail`, bytes.
const DETAIL_BYTES: usize = 512;

/// Most of an original error body read to make its `detail` (and to log a 5xx), bytes; error
/// bodies made outside [`crate::error::ApiError`] are short texts, and a longer one is cut here,
/// never buffered whole.
const ORIGINAL_BODY_BYTES: usize = 16 * 1024;

/// flyt's limits on the request head (from [`LimitsConfig`]).
#[derive(Debug, Clone, Copy)]
pub struct HeadLimits {
    pub max_uri_bytes: usize,
    pub max_header_bytes: usize,
    pub max_headers: usize,
}

impl From<&LimitsConfig> for HeadLimits {
    fn from(l: &LimitsConfig) -> Self {
        HeadLimits {
            max_uri_bytes: l.max_uri_bytes,
            max_header_bytes: l.max_header_bytes,
            max_headers: l.max_headers,
        }
    }
}

/// The layer (`axum::middleware::from_fn_with_state`).
pub async fn problems(State(limits): State<HeadLimits>, req: Request, next: Next) -> Response {
    if let Some(refused) = check_head(&limits, req.uri(), req.headers()) {
        return refused;
    }
    let method = req.method().clone();
    let response = next.run(req).await;
    into_problem(response, &method).await
}

/// The request target's length as it was sent: origin form (`/path?query`), or absolute form.
fn uri_bytes(uri: &Uri) -> usize {
    let target = uri.path_and_query().map_or(0, |p| p.as_str().len());
    match (uri.scheme_str(), uri.authority()) {
        (Some(scheme), Some(authority)) => scheme.len() + 3 + authority.as_str().len() + target,
        _ => target,
    }
}

/// Each field's name and value plus 4 bytes for `: ` and the line end.
fn header_bytes(headers: &HeaderMap) -> usize {
    headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum()
}

fn check_head(limits: &HeadLimits, uri: &Uri, headers: &HeaderMap) -> Option<Response> {
    let length = uri_bytes(uri);
    if length > limits.max_uri_bytes {
        return Some(problem(
            StatusCode::URI_TOO_LONG,
            format!(
                "the request target is {length} bytes, over the limit of {} bytes (limits.max_uri_bytes)",
                limits.max_uri_bytes
            ),
        ));
    }
    if headers.len() > limits.max_headers {
        return Some(problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request has {} header fields, over the limit of {} (limits.max_headers)",
                headers.len(),
                limits.max_headers
            ),
        ));
    }
    let size = header_bytes(headers);
    if size > limits.max_header_bytes {
        return Some(problem(
            StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            format!(
                "the request's header fields are {size} bytes, over the limit of {} bytes (limits.max_header_bytes)",
                limits.max_header_bytes
            ),
        ));
    }
    None
}

/// The stable `code` of a status: the same codes [`crate::error::ApiError`] uses where it has
/// one, else the status's reason phrase in kebab case (`431` → `request-header-fields-too-large`).
pub fn code_for(status: StatusCode) -> String {
    let code = match status.as_u16() {
        400 => "bad-request",
        401 => "unauthenticated",
        403 => "forbidden",
        404 => "not-found",
        405 => "method-not-allowed",
        408 => "request-timeout",
        409 => "conflict",
        412 => "precondition-failed",
        413 => "payload-too-large",
        414 => "uri-too-long",
        415 => "unsupported-media-type",
        422 => "unprocessable",
        429 => "rate-limited",
        431 => "header-fields-too-large",
        500 => "internal",
        503 => "unavailable",
        _ => {
            let reason = status.canonical_reason().unwrap_or("error");
            return reason
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == ' ' || *c == '-')
                .map(|c| {
                    if c == ' ' {
                        '-'
                    } else {
                        c.to_ascii_lowercase()
                    }
                })
                .collect();
        }
    };
    code.to_string()
}

/// A problem+json response made here (the shape [`crate::error::ApiError`] answers with).
pub fn problem(status: StatusCode, detail: String) -> Response {
    let code = code_for(status);
    let mut body = json!({
        "type": format!("https://flyt.invalid/problems/{code}"),
        "title": status.canonical_reason().unwrap_or("Error"),
        "status": status.as_u16(),
        "detail": detail,
        "code": code,
    });
    if let Some(id) = super::request_id::current() {
        body["requestId"] = json!(id);
    }
    (
        status,
        [(header::CONTENT_TYPE, "application/problem+json")],
        body.to_string(),
    )
        .into_response()
}

fn is_json_error(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|v| v.trim().to_ascii_lowercase())
        .is_some_and(|v| v == "application/problem+json" || v == "application/json")
}

/// What the response says, for `detail`: its text (cut at a character boundary), or, when it
/// has none, a sentence for the status.
fn detail(status: StatusCode, method: &Method, headers: &HeaderMap, text: &str) -> String {
    let text = text.trim();
    if !text.is_empty() {
        let mut end = text.len().min(DETAIL_BYTES);
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        return text[..end].to_string();
    }
    match status {
        StatusCode::METHOD_NOT_ALLOWED => {
            let allowed = headers
                .get(header::ALLOW)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("");
            format!("the method {method} is not allowed here; allowed: {allowed}")
        }
        _ => format!(
            "{} {}",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        ),
    }
}

/// The first `limit` bytes of a body (all of it when shorter); the rest is never read.
async fn prefix(mut body: Body, limit: usize) -> Vec<u8> {
    use http_body_util::BodyExt;
    let mut out = Vec::new();
    while out.len() < limit {
        let Some(Ok(frame)) = body.frame().await else {
            break;
        };
        if let Ok(data) = frame.into_data() {
            let take = data.len().min(limit - out.len());
            out.extend_from_slice(&data[..take]);
        }
    }
    out
}

async fn into_problem(response: Response, method: &Method) -> Response {
    let status = response.status();
    if status.as_u16() < 400 || is_json_error(response.headers()) {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let original = String::from_utf8_lossy(&prefix(body, ORIGINAL_BODY_BYTES).await).into_owned();
    let detail = if status.is_server_error() {
        // 5xx details are logged, never sent.
        tracing::error!(status = status.as_u16(), detail = %original, "request failed");
        format!(
            "{} {}; the error is logged",
            status.as_u16(),
            status.canonical_reason().unwrap_or("error")
        )
    } else {
        detail(status, method, &parts.headers, &original)
    };
    let made = problem(status, detail);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    let (_, body) = made.into_parts();
    Response::from_parts(parts, Body::new(body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    #[test]
    fn codes_are_stable_per_status() {
        assert_eq!(
            code_for(StatusCode::METHOD_NOT_ALLOWED),
            "method-not-allowed"
        );
        assert_eq!(code_for(StatusCode::URI_TOO_LONG), "uri-too-long");
        assert_eq!(
            code_for(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE),
            "header-fields-too-large"
        );
        assert_eq!(code_for(StatusCode::IM_A_TEAPOT), "im-a-teapot");
        assert_eq!(
            code_for(StatusCode::RANGE_NOT_SATISFIABLE),
            "range-not-satisfiable"
        );
    }

    /// The body `into_problem` makes of an answer.
    async fn rewritten(status: StatusCode, content_type: &str, body: String) -> Value {
        let original = (
            status,
            [(header::CONTENT_TYPE, content_type.to_string())],
            body,
        );
        let response = into_problem(original.into_response(), &Method::GET).await;
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    }

    #[tokio::test]
    async fn server_errors_are_not_leaked_and_details_are_bounded_and_json_is_left_alone() {
        let body = rewritten(
            StatusCode::INTERNAL_SERVER_ERROR,
            "text/plain",
            "secret connection string".into(),
        )
        .await;
        assert_eq!(body["code"], "internal");
        assert!(
            !body["detail"].as_str().unwrap().contains("secret"),
            "{body}"
        );
        let body = rewritten(StatusCode::IM_A_TEAPOT, "text/plain", "x".repeat(100_000)).await;
        assert_eq!(body["status"], 418);
        assert_eq!(body["detail"].as_str().unwrap().len(), DETAIL_BYTES);
        let oauth = json!({"error": "invalid_grant"});
        let body = rewritten(
            StatusCode::BAD_REQUEST,
            "application/json",
            oauth.to_string(),
        )
        .await;
        assert_eq!(body, oauth);
    }

    #[test]
    fn a_detail_is_cut_at_a_character_boundary() {
        let long = "é".repeat(DETAIL_BYTES);
        let d = detail(
            StatusCode::BAD_REQUEST,
            &Method::GET,
            &HeaderMap::new(),
            &long,
        );
        assert!(
            d.len() <= DETAIL_BYTES && d.len() >= DETAIL_BYTES - 1,
            "{}",
            d.len()
        );
    }
}
