//! What the built-in handlers that call another app (`createInstance`, `sendMessage`) share:
//! the allow-list of downstream apps, the organisation's token client, an HTTP client with
//! timeouts, and the reading of a downstream's answer.

use crate::token_client::TokenClient;
use flyt_engine::ids::AppId;
use serde_json::Value;
use std::collections::BTreeMap;
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
