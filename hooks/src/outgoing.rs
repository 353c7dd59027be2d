//! What the built-in handlers that call another app (`createInstance`, `sendMessage`) share:
//! the allow-list of downstream apps, the organisation's token client, an HTTP client with
//! timeouts, and the reading of a downstream's answer.

use crate::ServiceTaskOutcome;
use crate::token_client::{TokenClient, TokenError};
use flyt_engine::bpmn::elements::on_error::OnErrorRule;
use flyt_engine::bpmn::{Code, Diagnostic, Pos};
use flyt_engine::ids::AppId;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

/// Calls from this server to other apps: where they may go and with which credentials.
pub(crate) struct Outgoing {
    /// The allow-list: app → base URL.
    pub downstream: Arc<BTreeMap<AppId, String>>,
    /// The organisation's token client (`None` when the server has no outgoing credentials:
    /// every attempt then fails saying so).
    pub tokens: Option<Arc<TokenClient>>,
    pub http: reqwest::Client,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Outgoing")
            .field("downstream", &self.downstream)
            .finish()
    }
}

impl Outgoing {
    /// `request_timeout`: the timeout of one call (connecting takes at most 5 s of it).
    /// Redirects are not followed: a downstream answers itself or not at all.
    pub fn new(
        downstream: BTreeMap<AppId, String>,
        tokens: Option<Arc<TokenClient>>,
        request_timeout: Duration,
    ) -> Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(request_timeout)
            .connect_timeout(request_timeout.min(Duration::from_secs(5)))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Outgoing {
            downstream: Arc::new(downstream),
            tokens,
            http,
        })
    }
}

/// One POST to another app, as the built-in handlers make it.
pub(crate) struct Call<'a> {
    pub target: &'a AppId,
    /// Below the target's base URL, e.g. `messages`: `{base}/{org}/{app}/{path}`.
    pub path: &'a str,
    /// Sent as `Idempotency-Key`, the same on every attempt.
    pub idempotency_key: &'a str,
    pub body: &'a Value,
    /// The statuses that mean done.
    pub accepted: RangeInclusive<u16>,
    /// Another 4xx raised as a BPMN error by the first rule that matches it.
    pub on_error: &'a [OnErrorRule],
    /// What a refusal says after the target's name, e.g. `refused to create the instance`.
    pub refused: String,
}

impl Outgoing {
    /// Makes `call` with the organisation's token: the accepted answer, or what the job comes to
    /// otherwise. A 401 gets one fresh token; a slow or unreachable target, 408, 429 and 5xx are
    /// retried (after the target's `Retry-After` when it sends one); any other status is the
    /// BPMN error of a matching `on_error` rule, else fails the job naming the target's problem.
    pub async fn post(&self, call: Call<'_>) -> Result<reqwest::Response, ServiceTaskOutcome> {
        let target = call.target;
        let Some(base) = self.downstream.get(target) else {
            return Err(ServiceTaskOutcome::fail(format!(
                "{target} is not on this server's downstream allow-list"
            )));
        };
        let url = format!(
            "{}/{}/{}/{}",
            base.trim_end_matches('/'),
            target.org(),
            target.app(),
            call.path
        );
        let Some(tokens) = &self.tokens else {
            return Err(ServiceTaskOutcome::fail(
                "this server has no organisation credentials for outgoing calls (configure [outgoing])",
            ));
        };
        let mut refreshed = false;
        loop {
            let token = match tokens.token().await {
                Ok(t) => t,
                Err(TokenError::Transient(e)) => {
                    return Err(ServiceTaskOutcome::retry(format!("token endpoint: {e}")));
                }
                Err(TokenError::Rejected(e)) => {
                    return Err(ServiceTaskOutcome::fail(format!(
                        "the authority refused our token request: {e}"
                    )));
                }
                Err(TokenError::Config(e)) => {
                    return Err(ServiceTaskOutcome::fail(format!(
                        "outgoing credentials: {e}"
                    )));
                }
            };
            let sent = self
                .http
                .post(&url)
                .bearer_auth(&token)
                .header("Idempotency-Key", call.idempotency_key)
                .json(call.body)
                .send()
                .await;
            let response = match sent {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(ServiceTaskOutcome::retry(format!(
                        "{target} did not answer in time"
                    )));
                }
                Err(e) => {
                    return Err(ServiceTaskOutcome::retry(format!(
                        "{target} is unreachable: {}",
                        e.without_url()
                    )));
                }
            };
            let status = response.status().as_u16();
            if call.accepted.contains(&status) {
                return Ok(response);
            }
            match status {
                // The token may have been revoked or rotated: get a fresh one, once.
                401 if !refreshed => {
                    tokens.invalidate(&token);
                    refreshed = true;
                }
                401 => {
                    let (_, detail) = problem_of(response).await;
                    return Err(ServiceTaskOutcome::fail(format!(
                        "{target} refused a fresh organisation token: {detail}"
                    )));
                }
                408 | 429 | 500..=599 => {
                    let wait = retry_after(&response);
                    let (_, detail) = problem_of(response).await;
                    let reason = format!("{target} answered {detail}");
                    return Err(match wait {
                        Some(after) => ServiceTaskOutcome::RetryAfter { after, reason },
                        None => ServiceTaskOutcome::retry(reason),
                    });
                }
                _ => {
                    let (problem, detail) = problem_of(response).await;
                    let message = format!("{target} {}: {detail}", call.refused);
                    // Mapped to a BPMN error: an error boundary on the task catches it.
                    return Err(
                        match call
                            .on_error
                            .iter()
                            .find(|r| r.matches(status, problem.as_ref()))
                        {
                            Some(rule) => ServiceTaskOutcome::Error {
                                code: rule.error_code.clone(),
                                message,
                            },
                            None => ServiceTaskOutcome::fail(message),
                        },
                    );
                }
            }
        }
    }

    /// At deploy: `target` must be on the allow-list (else an error with `code` at `at`).
    pub fn check_target(
        &self,
        target: &AppId,
        element_id: &str,
        code: Code,
        at: Pos,
    ) -> Option<Diagnostic> {
        if self.downstream.contains_key(target) {
            return None;
        }
        let allowed: Vec<String> = self.downstream.keys().map(ToString::to_string).collect();
        Some(
            Diagnostic::error(
                code,
                at,
                format!(
                    "target `{target}` of `{element_id}` is not on this server's downstream allow-list"
                ),
            )
            .element(element_id)
            .hint(if allowed.is_empty() {
                "the allow-list ([downstream] in the server config) is empty".to_string()
            } else {
                format!("allowed: {}", allowed.join(", "))
            }),
        )
    }
}

/// The downstream's `Retry-After` in seconds, if it sent one.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    value.trim().parse::<u64>().ok().map(Duration::from_secs)
}

/// The downstream's problem (when its body is JSON) and a one-line detail for an incident.
pub(crate) async fn problem_of(response: reqwest::Response) -> (Option<Value>, String) {
    let status = response.status();
    let text = response.text().await.unwrap_or_default();
    let parsed = serde_json::from_str::<Value>(&text).ok();
    let detail = parsed
        .as_ref()
        .map(|v| {
            let code = v.get("code").and_then(Value::as_str).unwrap_or("");
            let detail = v
                .get("detail")
                .and_then(Value::as_str)
                .or_else(|| v.get("title").and_then(Value::as_str))
                .unwrap_or("");
            format!("{code}: {detail}")
        })
        .unwrap_or_else(|| text.chars().take(300).collect());
    (parsed, format!("{status}: {detail}"))
}
