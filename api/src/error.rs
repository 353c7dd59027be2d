//! The API's one error type. Every variant documents its status and maps to a stable,
//! machine-readable `code` in an RFC 9457 `application/problem+json` body. Handlers use `?`.
//!
//! 4xx bodies say exactly what is wrong and where (field, element id, line). 5xx details are
//! logged with a reference and never sent to the client.

use crate::auth::AuthError;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use flyt_engine::bpmn::Diagnostic;
use flyt_engine::runtime::Error as EngineError;
use serde::Serialize;
use serde_json::{Value, json};

/// One problem with the input: a field (JSON pointer or name) or a BPMN element and line.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProblemIssue {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    pub message: String,
}

impl From<&Diagnostic> for ProblemIssue {
    fn from(d: &Diagnostic) -> Self {
        ProblemIssue {
            field: None,
            element_id: d.element_id.clone(),
            line: Some(d.line),
            column: Some(d.column),
            code: Some(d.code.as_str().to_string()),
            severity: Some(d.severity.to_string()),
            message: match &d.hint {
                Some(h) => format!("{} (hint: {h})", d.message),
                None => d.message.clone(),
            },
        }
    }
}

/// The problem+json body, for the OpenAPI document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    pub code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub issues: Vec<ProblemIssue>,
    /// Issues left out of `issues` because there were too many (BPMN diagnostics are capped at
    /// `limits.max_diagnostics`, errors first).
    #[serde(rename = "issuesOmitted", skip_serializing_if = "Option::is_none")]
    pub issues_omitted: Option<usize>,
    /// The request's id, also in the `X-Request-Id` header and on every log line of the request.
    #[serde(rename = "requestId", skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Everything a request can fail with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 401 `unauthenticated`: no token, or a token that does not verify.
    #[error("{0}")]
    Unauthenticated(#[from] AuthError),
    /// 403 `forbidden`: authenticated, but the app's policy does not grant this.
    #[error("{0}")]
    Forbidden(String),
    /// 403 `not-assignee`: the policy lets the caller act, but the task is assigned to
    /// someone else (`<flyt:assignee>`); the message names the task and its assignee.
    #[error("{0}")]
    NotAssignee(String),
    /// 403 `insufficient-scope`: the token lacks a required scope.
    #[error("the token lacks the scope `{0}`")]
    InsufficientScope(String),
    /// 404 `not-found`.
    #[error("{0}")]
    NotFound(String),
    /// 404 with a specific code (`no-subscription`).
    #[error("{message}")]
    NotFoundAs { code: &'static str, message: String },
    /// 400 `bad-request`: a malformed request (path, query, header or body field).
    #[error("{message}")]
    BadRequest {
        field: Option<String>,
        message: String,
    },
    /// 412 `precondition-failed`: `If-Match` names another version.
    #[error("the instance is at version {actual}; If-Match said {expected}")]
    PreconditionFailed { expected: String, actual: u64 },
    /// 409 with a specific code: the request conflicts with the instance's state.
    #[error("{message}")]
    Conflict {
        code: &'static str,
        message: String,
        issues: Vec<ProblemIssue>,
    },
    /// 422 with a specific code: well-formed but invalid (BPMN diagnostics, data schema).
    #[error("{message}")]
    Unprocessable {
        code: &'static str,
        message: String,
        issues: Vec<ProblemIssue>,
    },
    /// 422 `invalid-definition`: the BPMN file failed validation; at most
    /// `limits.max_diagnostics` issues, errors first, and the count of those left out.
    #[error("the process definition has {errors} error(s)")]
    InvalidDefinition {
        errors: usize,
        issues: Vec<ProblemIssue>,
        omitted: usize,
    },
    /// 413 `payload-too-large`.
    #[error("the request body is larger than the limit of {limit} bytes")]
    PayloadTooLarge { limit: usize },
    /// 415 `unsupported-media-type`.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// 408 `request-timeout`.
    #[error("the request took longer than {0} ms")]
    Timeout(u64),
    /// 429 `rate-limited`, with `Retry-After`.
    #[error("too many requests; retry after {0} s")]
    RateLimited(u64),
    /// 503 `overloaded`: the server is at its concurrency limit.
    #[error("the server is busy; retry shortly")]
    Overloaded,
    /// 503 `storage-unavailable`: nothing was changed.
    #[error("storage is unavailable; nothing was changed")]
    StorageUnavailable(String),
    /// 500 `internal`: logged with detail, returned without.
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    pub fn bad_request(field: impl Into<Option<String>>, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthenticated(_) => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden(_) | ApiError::NotAssignee(_) | ApiError::InsufficientScope(_) => {
                StatusCode::FORBIDDEN
            }
            ApiError::NotFound(_) | ApiError::NotFoundAs { .. } => StatusCode::NOT_FOUND,
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::PreconditionFailed { .. } => StatusCode::PRECONDITION_FAILED,
            ApiError::Conflict { .. } => StatusCode::CONFLICT,
            ApiError::Unprocessable { .. } | ApiError::InvalidDefinition { .. } => {
                StatusCode::UNPROCESSABLE_ENTITY
            }
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Timeout(_) => StatusCode::REQUEST_TIMEOUT,
            ApiError::RateLimited(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Overloaded | ApiError::StorageUnavailable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            ApiError::Unauthenticated(_) => "unauthenticated",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotAssignee(_) => "not-assignee",
            ApiError::InsufficientScope(_) => "insufficient-scope",
            ApiError::NotFound(_) => "not-found",
            ApiError::BadRequest { .. } => "bad-request",
            ApiError::PreconditionFailed { .. } => "precondition-failed",
            ApiError::Conflict { code, .. }
            | ApiError::Unprocessable { code, .. }
            | ApiError::NotFoundAs { code, .. } => code,
            ApiError::InvalidDefinition { .. } => "invalid-definition",
            ApiError::PayloadTooLarge { .. } => "payload-too-large",
            ApiError::UnsupportedMediaType(_) => "unsupported-media-type",
            ApiError::Timeout(_) => "request-timeout",
            ApiError::RateLimited(_) => "rate-limited",
            ApiError::Overloaded => "overloaded",
            ApiError::StorageUnavailable(_) => "storage-unavailable",
            ApiError::Internal(_) => "internal",
        }
    }

    fn title(&self) -> &'static str {
        self.status().canonical_reason().unwrap_or("Error")
    }

    fn issues(&self) -> Vec<ProblemIssue> {
        match self {
            ApiError::Conflict { issues, .. }
            | ApiError::Unprocessable { issues, .. }
            | ApiError::InvalidDefinition { issues, .. } => issues.clone(),
            ApiError::BadRequest {
                field: Some(field),
                message,
            } => vec![ProblemIssue {
                field: Some(field.clone()),
                element_id: None,
                line: None,
                column: None,
                code: None,
                severity: None,
                message: message.clone(),
            }],
            _ => Vec::new(),
        }
    }

    /// The body for this error.
    pub fn body(&self) -> Value {
        let detail = match self {
            // Server errors never leak their detail.
            ApiError::Internal(_) => "the server failed; the error is logged".to_string(),
            ApiError::StorageUnavailable(_) => self.to_string(),
            _ => self.to_string(),
        };
        let mut body = json!({
            "type": format!("https://flyt.invalid/problems/{}", self.code()),
            "title": self.title(),
            "status": self.status().as_u16(),
            "detail": detail,
            "code": self.code(),
        });
        let issues = self.issues();
        if !issues.is_empty() {
            body["issues"] = json!(issues);
        }
        if let ApiError::InvalidDefinition { omitted, .. } = self
            && *omitted > 0
        {
            body["issuesOmitted"] = json!(omitted);
        }
        if let Some(id) = crate::middleware::request_id::current() {
            body["requestId"] = json!(id);
        }
        body
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let status = self.status();
        match &self {
            ApiError::Internal(detail) => tracing::error!(%detail, "request failed"),
            ApiError::StorageUnavailable(detail) => tracing::error!(%detail, "storage unavailable"),
            _ => tracing::debug!(code = self.code(), detail = %self, "request refused"),
        }
        let body = self.body();
        let mut response = (status, axum::Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        match &self {
            ApiError::Unauthenticated(_) => {
                headers.insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"flyt\""),
                );
            }
            ApiError::InsufficientScope(scope) => {
                if let Ok(v) = HeaderValue::from_str(&format!(
                    "Bearer error=\"insufficient_scope\", scope=\"{scope}\""
                )) {
                    headers.insert(header::WWW_AUTHENTICATE, v);
                }
            }
            ApiError::RateLimited(secs) | ApiError::Timeout(secs)
                if matches!(self, ApiError::RateLimited(_)) =>
            {
                if let Ok(v) = HeaderValue::from_str(&secs.to_string()) {
                    headers.insert(header::RETRY_AFTER, v);
                }
            }
            ApiError::Overloaded | ApiError::StorageUnavailable(_) => {
                headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
            }
            _ => {}
        }
        response
    }
}

fn issues_from_hooks(issues: &[flyt_engine::hooks::Issue]) -> Vec<ProblemIssue> {
    issues
        .iter()
        .map(|i| ProblemIssue {
            field: i.field.clone(),
            element_id: None,
            line: None,
            column: None,
            code: i.code.clone(),
            severity: None,
            message: i.message.clone(),
        })
        .collect()
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        let message = e.to_string();
        let conflict = |code| ApiError::Conflict {
            code,
            message: message.clone(),
            issues: Vec::new(),
        };
        match e {
            EngineError::AppNotFound(_)
            | EngineError::InstanceNotFound(_)
            | EngineError::DefinitionVersionNotFound { .. } => ApiError::NotFound(message),
            EngineError::UnknownDataType { .. } | EngineError::UnknownServerAction { .. } => {
                ApiError::NotFound(message)
            }
            EngineError::NoDefinition(_) => conflict("no-definition"),
            EngineError::InvalidDefinition(rejected) => ApiError::InvalidDefinition {
                errors: rejected.error_count(),
                issues: rejected
                    .diagnostics
                    .iter()
                    .map(ProblemIssue::from)
                    .collect(),
                omitted: rejected.omitted,
            },
            EngineError::VersionMismatch { expected, actual } => ApiError::PreconditionFailed {
                expected: expected.to_string(),
                actual,
            },
            EngineError::Conflict => conflict("concurrent-modification"),
            EngineError::ProcessEnded => conflict("process-ended"),
            EngineError::NoActiveTask { .. } => conflict("no-active-task"),
            EngineError::TaskRequired { .. } => {
                ApiError::bad_request(Some("taskId".to_string()), message)
            }
            EngineError::TaskNotActive { .. } => conflict("task-not-active"),
            EngineError::ActionNotAllowed { .. } => conflict("action-not-allowed"),
            EngineError::Gateway {
                results, gateway, ..
            } => ApiError::Conflict {
                code: "gateway-no-match",
                message,
                issues: results
                    .iter()
                    .map(|r| ProblemIssue {
                        field: None,
                        element_id: Some(r.flow_id.clone()),
                        line: None,
                        column: None,
                        code: None,
                        severity: None,
                        message: format!(
                            "gateway `{gateway}`: {} gave {}",
                            r.condition.as_deref().unwrap_or("(no condition)"),
                            r.result
                        ),
                    })
                    .collect(),
            },
            EngineError::LoopGuard { .. } => ApiError::Unprocessable {
                code: "loop-guard",
                message,
                issues: Vec::new(),
            },
            EngineError::Refused { issues, .. } => ApiError::Conflict {
                code: "validation-failed",
                message,
                issues: issues_from_hooks(&issues),
            },
            EngineError::DataInvalid { data_type, issues } => ApiError::Unprocessable {
                code: "data-invalid",
                message,
                issues: issues
                    .iter()
                    .map(|i| ProblemIssue {
                        field: Some(format!("{data_type}{}", i.field)),
                        element_id: None,
                        line: None,
                        column: None,
                        code: None,
                        severity: None,
                        message: i.message.clone(),
                    })
                    .collect(),
            },
            EngineError::DataMissing { .. } => conflict("data-missing"),
            EngineError::DataNotWritable { .. } => conflict("data-not-writable"),
            EngineError::DataLocked { .. } => conflict("data-locked"),
            EngineError::ServiceTaskRunning { .. } => conflict("service-task-running"),
            EngineError::Timer { .. } => conflict("timer-invalid"),
            EngineError::MultiInstance { .. } => conflict("multi-instance-invalid"),
            EngineError::Assignment { .. } => conflict("assignee-invalid"),
            EngineError::InnerInstanceRequired { .. } => {
                ApiError::bad_request(Some("innerInstance".to_string()), message)
            }
            EngineError::StartsOnSchedule { .. } => conflict("starts-on-schedule"),
            EngineError::TooManyFiles { .. } => conflict("max-count-exceeded"),
            EngineError::WrongDataKind { .. } => {
                ApiError::bad_request(Some("dataType".to_string()), message)
            }
            EngineError::EmptyFile => ApiError::bad_request(None, message),
            EngineError::ContentTypeNotAllowed { .. } | EngineError::ContentMismatch { .. } => {
                ApiError::UnsupportedMediaType(message)
            }
            EngineError::FileTooLarge { limit, .. } => ApiError::PayloadTooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            EngineError::DataElementNotFound { .. } => ApiError::NotFound(message),
            EngineError::IdempotencyKeyReused(_) => conflict("idempotency-key-reused"),
            EngineError::NoIncident => conflict("no-incident"),
            EngineError::BadRequest(m) => ApiError::bad_request(None, m),
            EngineError::HookFailed { .. } | EngineError::HookTimeout { .. } => {
                ApiError::Internal(message)
            }
            EngineError::CorrelationKey { .. } => conflict("correlation-key-invalid"),
            EngineError::UnknownMessage { .. } => ApiError::Unprocessable {
                code: "unknown-message",
                message,
                issues: Vec::new(),
            },
            EngineError::NoSubscription { .. } => ApiError::NotFoundAs {
                code: "no-subscription",
                message,
            },
            EngineError::MessageIdReused(_) => conflict("message-id-reused"),
            EngineError::UnknownSignal { .. } => ApiError::Unprocessable {
                code: "unknown-signal",
                message,
                issues: Vec::new(),
            },
            EngineError::SignalIdReused(_) => conflict("signal-id-reused"),
            EngineError::MessageTooLarge { .. } => ApiError::Unprocessable {
                code: "message-too-large",
                message,
                issues: Vec::new(),
            },
            EngineError::Store(e) => ApiError::StorageUnavailable(e.to_string()),
            EngineError::Internal(detail) => ApiError::Internal(detail),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flyt_engine::ids::{AppId, InstanceId};

    /// Every variant's status and code, and every engine error's mapping: the contract clients
    /// program against.
    #[test]
    fn every_variant_has_its_status_and_code() {
        let issue = || Vec::new();
        let cases: Vec<(ApiError, u16, &str)> = vec![
            (
                ApiError::Unauthenticated(AuthError::Missing),
                401,
                "unauthenticated",
            ),
            (ApiError::Forbidden("no".into()), 403, "forbidden"),
            (ApiError::NotAssignee("no".into()), 403, "not-assignee"),
            (
                ApiError::InsufficientScope("s".into()),
                403,
                "insufficient-scope",
            ),
            (ApiError::NotFound("x".into()), 404, "not-found"),
            (
                ApiError::NotFoundAs {
                    code: "no-subscription",
                    message: "x".into(),
                },
                404,
                "no-subscription",
            ),
            (ApiError::bad_request(None, "x"), 400, "bad-request"),
            (
                ApiError::PreconditionFailed {
                    expected: "1".into(),
                    actual: 2,
                },
                412,
                "precondition-failed",
            ),
            (
                ApiError::Conflict {
                    code: "c",
                    message: "m".into(),
                    issues: issue(),
                },
                409,
                "c",
            ),
            (
                ApiError::Unprocessable {
                    code: "u",
                    message: "m".into(),
                    issues: issue(),
                },
                422,
                "u",
            ),
            (
                ApiError::PayloadTooLarge { limit: 1 },
                413,
                "payload-too-large",
            ),
            (
                ApiError::UnsupportedMediaType("x".into()),
                415,
                "unsupported-media-type",
            ),
            (ApiError::Timeout(1), 408, "request-timeout"),
            (ApiError::RateLimited(1), 429, "rate-limited"),
            (ApiError::Overloaded, 503, "overloaded"),
            (
                ApiError::StorageUnavailable("disk".into()),
                503,
                "storage-unavailable",
            ),
            (ApiError::Internal("secret detail".into()), 500, "internal"),
            (
                ApiError::InvalidDefinition {
                    errors: 1,
                    issues: issue(),
                    omitted: 3,
                },
                422,
                "invalid-definition",
            ),
        ];
        for (e, status, code) in cases {
            assert_eq!(e.status().as_u16(), status, "{e:?}");
            assert_eq!(e.code(), code, "{e:?}");
            let body = e.body();
            assert_eq!(body["status"], status);
            assert_eq!(body["code"], code);
            assert!(
                !body["detail"].as_str().unwrap().contains("secret"),
                "5xx details never leak"
            );
        }
        let app: AppId = "ttd/x".parse().unwrap();
        let id = InstanceId::new_random();
        let engine: Vec<(EngineError, u16, &str)> = vec![
            (EngineError::AppNotFound(app.clone()), 404, "not-found"),
            (EngineError::NoDefinition(app.clone()), 409, "no-definition"),
            (
                EngineError::DefinitionVersionNotFound {
                    app: app.clone(),
                    version: 3,
                },
                404,
                "not-found",
            ),
            (
                EngineError::InvalidDefinition(flyt_engine::bpmn::Rejected::new(vec![])),
                422,
                "invalid-definition",
            ),
            (EngineError::InstanceNotFound(id), 404, "not-found"),
            (
                EngineError::VersionMismatch {
                    expected: 1,
                    actual: 2,
                },
                412,
                "precondition-failed",
            ),
            (EngineError::Conflict, 409, "concurrent-modification"),
            (EngineError::ProcessEnded, 409, "process-ended"),
            (
                EngineError::NoActiveTask {
                    waiting_for: vec![],
                },
                409,
                "no-active-task",
            ),
            (
                EngineError::TaskRequired { active: vec![] },
                400,
                "bad-request",
            ),
            (
                EngineError::InnerInstanceRequired {
                    task: "t".into(),
                    active: vec![0, 1],
                },
                400,
                "bad-request",
            ),
            (
                EngineError::MultiInstance {
                    element: "t".into(),
                    problem: "p".into(),
                },
                409,
                "multi-instance-invalid",
            ),
            (
                EngineError::Assignment {
                    element: "t".into(),
                    problem: "p".into(),
                },
                409,
                "assignee-invalid",
            ),
            (
                EngineError::TaskNotActive {
                    task: "t".into(),
                    active: vec![],
                },
                409,
                "task-not-active",
            ),
            (
                EngineError::ActionNotAllowed {
                    action: "a".into(),
                    task: "t".into(),
                    allowed: vec![],
                },
                409,
                "action-not-allowed",
            ),
            (
                EngineError::Gateway {
                    gateway: "g".into(),
                    problem: "p".into(),
                    results: vec![],
                },
                409,
                "gateway-no-match",
            ),
            (
                EngineError::LoopGuard {
                    element: "g".into(),
                    steps: 1,
                },
                422,
                "loop-guard",
            ),
            (
                EngineError::Refused {
                    hook: "h".into(),
                    issues: vec![],
                },
                409,
                "validation-failed",
            ),
            (
                EngineError::HookFailed {
                    hook: "h".into(),
                    detail: "d".into(),
                },
                500,
                "internal",
            ),
            (
                EngineError::HookTimeout {
                    hook: "h".into(),
                    millis: 1,
                },
                500,
                "internal",
            ),
            (
                EngineError::DataInvalid {
                    data_type: "d".into(),
                    issues: vec![],
                },
                422,
                "data-invalid",
            ),
            (
                EngineError::DataMissing {
                    task: "t".into(),
                    data_type: "d".into(),
                },
                409,
                "data-missing",
            ),
            (
                EngineError::UnknownDataType {
                    app: app.clone(),
                    data_type: "d".into(),
                },
                404,
                "not-found",
            ),
            (
                EngineError::DataNotWritable {
                    data_type: "d".into(),
                    reason: "r".into(),
                },
                409,
                "data-not-writable",
            ),
            (
                EngineError::DataLocked {
                    data_type: "d".into(),
                    signature: "s".into(),
                },
                409,
                "data-locked",
            ),
            (
                EngineError::ServiceTaskRunning { task: "t".into() },
                409,
                "service-task-running",
            ),
            (
                EngineError::Timer {
                    element: "e".into(),
                    problem: "p".into(),
                },
                409,
                "timer-invalid",
            ),
            (
                EngineError::StartsOnSchedule {
                    app: "ttd/x".parse().unwrap(),
                    starts: vec!["Monthly".into()],
                },
                409,
                "starts-on-schedule",
            ),
            (
                EngineError::IdempotencyKeyReused("k".into()),
                409,
                "idempotency-key-reused",
            ),
            (EngineError::NoIncident, 409, "no-incident"),
            (
                EngineError::CorrelationKey {
                    element: "c".into(),
                    problem: "p".into(),
                },
                409,
                "correlation-key-invalid",
            ),
            (
                EngineError::UnknownMessage {
                    app: "ttd/x".parse().unwrap(),
                    name: "n".into(),
                    known: vec![],
                },
                422,
                "unknown-message",
            ),
            (
                EngineError::NoSubscription {
                    name: "n".into(),
                    correlation_key: "k".into(),
                },
                404,
                "no-subscription",
            ),
            (
                EngineError::MessageIdReused("m".into()),
                409,
                "message-id-reused",
            ),
            (
                EngineError::UnknownSignal {
                    app: "ttd/x".parse().unwrap(),
                    name: "s".into(),
                    known: vec![],
                },
                422,
                "unknown-signal",
            ),
            (
                EngineError::SignalIdReused("s".into()),
                409,
                "signal-id-reused",
            ),
            (
                EngineError::MessageTooLarge { size: 2, limit: 1 },
                422,
                "message-too-large",
            ),
            (
                EngineError::TooManyFiles {
                    data_type: "d".into(),
                    max: 1,
                },
                409,
                "max-count-exceeded",
            ),
            (
                EngineError::WrongDataKind {
                    data_type: "d".into(),
                    holds: "files",
                    hint: "h",
                },
                400,
                "bad-request",
            ),
            (EngineError::EmptyFile, 400, "bad-request"),
            (
                EngineError::ContentTypeNotAllowed {
                    data_type: "d".into(),
                    content_type: "c".into(),
                    allowed: vec![],
                },
                415,
                "unsupported-media-type",
            ),
            (
                EngineError::ContentMismatch {
                    content_type: "c".into(),
                    detected: "x".into(),
                },
                415,
                "unsupported-media-type",
            ),
            (
                EngineError::FileTooLarge {
                    data_type: "d".into(),
                    limit: 1,
                },
                413,
                "payload-too-large",
            ),
            (
                EngineError::DataElementNotFound {
                    instance: InstanceId::new_random(),
                    element: flyt_engine::ids::DataElementId::new_random(),
                },
                404,
                "not-found",
            ),
            (
                EngineError::UnknownServerAction {
                    task: "t".into(),
                    action: "a".into(),
                },
                404,
                "not-found",
            ),
            (EngineError::BadRequest("b".into()), 400, "bad-request"),
            (EngineError::Internal("bug".into()), 500, "internal"),
            (
                EngineError::Store(flyt_engine::store::StoreError::Corrupt {
                    what: "x",
                    detail: "y".into(),
                }),
                503,
                "storage-unavailable",
            ),
        ];
        for (e, status, code) in engine {
            let api = ApiError::from(e);
            assert_eq!(
                (api.status().as_u16(), api.code()),
                (status, code),
                "{api:?}"
            );
        }
    }
}
