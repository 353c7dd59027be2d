//! Webhooks: signed CloudEvents POSTed to a receiver, durably ([`WebhookDelivery`]) or as a
//! synchronous task-end veto ([`WebhookVeto`]).
//!
//! **Durable deliveries.** An app subscribes to events (`instance.created`, `task.started`,
//! `task.ended`, `process.ended`); each event becomes a job in the same commit as the transition
//! that emitted it (an outbox), and [`WebhookDelivery`] POSTs it after the commit: at least once,
//! retried with backoff, and never lost across restarts. The receiver deduplicates on the event
//! id (`webhook-id`, equal to the CloudEvent's `id`, the same on every retry).
//!
//! **The request.** `POST <url>` with the CloudEvent (CloudEvents 1.0, structured mode) as the
//! body, and these headers:
//!
//! | header | value |
//! |---|---|
//! | `content-type` | `application/cloudevents+json` |
//! | `ce-id`, `webhook-id` | the event id |
//! | `webhook-timestamp` | when this attempt was signed, Unix seconds |
//! | `webhook-signature` | `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>` |
//!
//! This is the [Standard Webhooks](https://www.standardwebhooks.com/) scheme: the receiver
//! recomputes the HMAC over the id, the timestamp and the body bytes *exactly as received*,
//! compares in constant time, and refuses timestamps too far from its clock (replays). The key
//! is the secret's bytes; a secret written `whsec_<base64>` (the form Standard Webhooks
//! libraries generate) is base64-decoded first, so those libraries verify flyt's requests as is.
//! Secrets are never logged.
//!
//! **Answers.** 2xx: delivered. A connection error, a timeout, 408, 429 (after `Retry-After`
//! seconds when given) and 5xx: retried with backoff. Any other status (other 4xx; 3xx, as
//! redirects are never followed): a permanent failure, and the event is parked (see the job
//! queue) rather than retried.
//!
//! **Veto.** A [`WebhookVeto`] is a [`Hook`] on `task_ending`: before a user task completes, it
//! POSTs the same signed shape (type `flyt.task.ending`) and waits at most its timeout. A 2xx
//! answer `{"allow": false, "issues": [{"field"?, "message", "code"?}]}`, or a 409 or 422 answer
//! (with the same optional `issues`), refuses the move: the caller gets 409 `validation-failed`
//! with the issues and the instance is unchanged. Any other 2xx allows it. A timeout, a
//! connection error or any other status refuses the move (fail-closed, the default; the issue's
//! code is `veto-unavailable`) or allows it (fail-open). Hooks run before the commit and may run
//! again for the same move (a lost race is retried), so **a veto endpoint must be free of side
//! effects**: use a durable `task.ended` delivery for anything that must happen.

use crate::{
    Hook, HookContext, HookError, HookResult, Issue, JobContext, ServiceTaskHandler,
    ServiceTaskOutcome, TaskRef,
};
use async_trait::async_trait;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The content type of a structured-mode CloudEvent.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";

/// Largest answer body read from a veto endpoint.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

/// An HMAC key. Its `Debug` never shows it.
#[derive(Clone)]
pub struct WebhookSecret(Vec<u8>);

impl std::fmt::Debug for WebhookSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WebhookSecret(<redacted>)")
    }
}

impl WebhookSecret {
    /// The key from a configured secret: the bytes of the text, or for `whsec_<base64>` the
    /// decoded base64. An empty key is refused.
    pub fn new(text: &str) -> Result<Self, String> {
        let key = match text.strip_prefix("whsec_") {
            Some(b64) => STANDARD
                .decode(b64.trim())
                .map_err(|_| "a `whsec_` secret must be base64 after the prefix".to_string())?,
            None => text.as_bytes().to_vec(),
        };
        if key.is_empty() {
            return Err("the webhook secret is empty".into());
        }
        Ok(WebhookSecret(key))
    }
}

/// `v1,<base64(HMAC-SHA256(key, "{id}.{timestamp}.{body}"))>`, the `webhook-signature` value.
pub fn sign(secret: &WebhookSecret, id: &str, timestamp: i64, body: &[u8]) -> String {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha256>::new_from_slice(&secret.0) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(id.as_bytes());
    mac.update(b".");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", STANDARD.encode(mac.finalize().into_bytes()))
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

fn client(timeout: Duration) -> Result<reqwest::Client, String> {
    reqwest::Client::builder()
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .redirect(reqwest::redirect::Policy::none())
        .user_agent(concat!("flyt-webhooks/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|e| format!("webhook HTTP client: {e}"))
}

/// POSTs `event` signed with `secret`.
async fn send(
    http: &reqwest::Client,
    url: &str,
    secret: &WebhookSecret,
    event: &Value,
) -> Result<reqwest::Response, String> {
    let id = event
        .get("id")
        .and_then(Value::as_str)
        .ok_or("the event has no `id`")?;
    let body = serde_json::to_vec(event).map_err(|e| e.to_string())?;
    let timestamp = unix_now();
    let signature = sign(secret, id, timestamp, &body);
    http.post(url)
        .header(reqwest::header::CONTENT_TYPE, CONTENT_TYPE)
        .header("ce-id", id)
        .header("webhook-id", id)
        .header("webhook-timestamp", timestamp.to_string())
        .header("webhook-signature", signature)
        .body(body)
        .send()
        .await
        .map_err(|e| {
            if e.is_timeout() {
                "the receiver did not answer in time".to_string()
            } else if e.is_connect() {
                format!("cannot connect to the receiver: {}", root_cause(&e))
            } else {
                format!("the request failed: {}", root_cause(&e))
            }
        })
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    cause.to_string()
}

/// What a delivery attempt's answer means.
pub fn classify(status: u16, retry_after: Option<&str>) -> ServiceTaskOutcome {
    match status {
        200..=299 => ServiceTaskOutcome::done(),
        429 => match retry_after.and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(secs) => ServiceTaskOutcome::RetryAfter {
                after: Duration::from_secs(secs),
                reason: format!("the receiver answered 429; retry after {secs} s"),
            },
            None => ServiceTaskOutcome::retry("the receiver answered 429"),
        },
        408 | 500..=599 => ServiceTaskOutcome::retry(format!("the receiver answered {status}")),
        300..=399 => ServiceTaskOutcome::fail(format!(
            "the receiver answered {status} (a redirect; webhooks do not follow redirects)"
        )),
        _ => ServiceTaskOutcome::fail(format!("the receiver refused the event with {status}")),
    }
}

/// Delivers event jobs (their CloudEvent payload) to one URL; register one per webhook.
pub struct WebhookDelivery {
    url: String,
    secret: WebhookSecret,
    http: reqwest::Client,
}

impl std::fmt::Debug for WebhookDelivery {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookDelivery")
            .field("url", &self.url)
            .finish_non_exhaustive()
    }
}

impl WebhookDelivery {
    /// `timeout`: of one attempt (connect, send, answer).
    pub fn new(
        url: impl Into<String>,
        secret: WebhookSecret,
        timeout: Duration,
    ) -> Result<Self, String> {
        Ok(WebhookDelivery {
            url: url.into(),
            secret,
            http: client(timeout)?,
        })
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// One attempt to deliver `event`.
    pub async fn deliver(&self, event: &Value) -> ServiceTaskOutcome {
        match send(&self.http, &self.url, &self.secret, event).await {
            Ok(response) => {
                let retry_after = response
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_string);
                classify(response.status().as_u16(), retry_after.as_deref())
            }
            Err(reason) => ServiceTaskOutcome::retry(reason),
        }
    }
}

#[async_trait]
impl ServiceTaskHandler for WebhookDelivery {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let Some(event) = &ctx.payload else {
            return ServiceTaskOutcome::fail(
                "a webhook delivers events; this job has none (a service task cannot use a webhook type)",
            );
        };
        let outcome = self.deliver(event).await;
        tracing::debug!(url = %self.url, event = %ctx.idempotency_key, attempt = ctx.attempt, outcome = ?outcome, "webhook delivery");
        outcome
    }
}

/// A synchronous task-end veto (see the module docs).
pub struct WebhookVeto {
    name: String,
    url: String,
    secret: WebhookSecret,
    http: reqwest::Client,
    timeout: Duration,
    fail_open: bool,
}

impl std::fmt::Debug for WebhookVeto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookVeto")
            .field("url", &self.url)
            .field("timeout", &self.timeout)
            .field("fail_open", &self.fail_open)
            .finish_non_exhaustive()
    }
}

impl WebhookVeto {
    /// `timeout`: how long a move waits for the answer; keep it below the registry's hook
    /// timeout. `fail_open`: a timeout or error allows the move instead of refusing it.
    pub fn new(
        url: impl Into<String>,
        secret: WebhookSecret,
        timeout: Duration,
        fail_open: bool,
    ) -> Result<Self, String> {
        let url = url.into();
        Ok(WebhookVeto {
            name: format!("webhook veto {url}"),
            url,
            secret,
            http: client(timeout)?,
            timeout,
            fail_open,
        })
    }

    /// The `flyt.task.ending` event for a move.
    pub fn event(ctx: &HookContext<'_>, task: &TaskRef, action: &str) -> Value {
        let instance = ctx.instance();
        json!({
            "specversion": "1.0",
            "id": uuid::Uuid::new_v4().to_string(),
            "source": format!("/{}/instances/{}", instance.app, instance.altinn_id()),
            "type": "flyt.task.ending",
            "subject": task.element_id,
            "time": ctx.now().to_rfc3339(),
            "datacontenttype": "application/json",
            "data": {
                "instanceId": instance.altinn_id(),
                "app": instance.app.to_string(),
                "elementId": task.element_id,
                "taskType": task.task_type,
                "action": action,
                "performedBy": ctx.actor(),
                "instanceVersion": instance.version,
                "processEnded": false,
            }
        })
    }

    /// Asks the endpoint about `event`: `Ok` allows, `Rejected` refuses.
    pub async fn ask(&self, event: &Value) -> HookResult {
        let answer = tokio::time::timeout(self.timeout, async {
            let response = send(&self.http, &self.url, &self.secret, event).await?;
            let status = response.status().as_u16();
            let body = read_limited(response).await;
            Ok::<_, String>((status, body))
        })
        .await
        .unwrap_or_else(|_| Err("the veto endpoint did not answer in time".into()));
        let unavailable = |why: String| {
            if self.fail_open {
                tracing::warn!(url = %self.url, reason = %why, "veto endpoint unavailable; allowing the move (fail-open)");
                Ok(())
            } else {
                tracing::warn!(url = %self.url, reason = %why, "veto endpoint unavailable; refusing the move (fail-closed)");
                let mut issue = Issue::new(format!("the task cannot end now: {why}"));
                issue.code = Some("veto-unavailable".into());
                Err(HookError::Rejected(vec![issue]))
            }
        };
        let (status, body) = match answer {
            Ok(a) => a,
            Err(why) => return unavailable(why),
        };
        let parsed: Option<Value> = body.as_deref().and_then(|b| serde_json::from_slice(b).ok());
        match status {
            200..=299 => match &parsed {
                Some(v) if v.get("allow") == Some(&Value::Bool(false)) => {
                    Err(HookError::Rejected(issues(v)))
                }
                _ => Ok(()),
            },
            409 | 422 => Err(HookError::Rejected(
                parsed
                    .as_ref()
                    .map(issues)
                    .unwrap_or_else(|| issues(&Value::Null)),
            )),
            _ => unavailable(format!("the veto endpoint answered {status}")),
        }
    }
}

async fn read_limited(mut response: reqwest::Response) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

/// The issues of a refusal (at most 50, messages cut at 1,000 characters); a refusal without
/// any gets one saying so.
fn issues(answer: &Value) -> Vec<Issue> {
    let cut = |s: &str| s.chars().take(1_000).collect::<String>();
    let mut out: Vec<Issue> = answer
        .get("issues")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .take(50)
                .filter_map(|i| {
                    let message = i.get("message").and_then(Value::as_str)?;
                    Some(Issue {
                        field: i.get("field").and_then(Value::as_str).map(cut),
                        message: cut(message),
                        code: i.get("code").and_then(Value::as_str).map(cut),
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    if out.is_empty() {
        out.push(Issue::new("the task-end webhook refused the move"));
    }
    out
}

#[async_trait]
impl Hook for WebhookVeto {
    fn name(&self) -> &str {
        &self.name
    }

    async fn task_ending(
        &self,
        ctx: &mut HookContext<'_>,
        task: &TaskRef,
        action: &str,
    ) -> HookResult {
        let event = Self::event(ctx, task, action);
        self.ask(&event).await
    }
}
