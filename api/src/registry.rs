//! The hook registry a server runs with: the developer's own registrations, then the built-in
//! `createInstance`, `sendMessage` and `pdf` handlers, the logging hook, every app's external job types and webhooks.

use crate::apps::App;
use crate::config::ServerConfig;
use crate::server::StartError;
use flyt_engine::hooks::{Registry, RegistryBuilder};
use flyt_engine::ids::AppId;
use flyt_engine::time::Clock;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// Completes `registry` for `apps` and builds it. A webhook veto must answer within the hook
/// timeout.
pub(crate) fn assemble(
    mut registry: RegistryBuilder,
    apps: &[App],
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<Registry, StartError> {
    let builtins = builtins(config, clock)?;
    let settings = |t: &str| {
        config
            .service_tasks
            .get(t)
            .cloned()
            .unwrap_or_default()
            .handler_config()
    };
    let (create, send) = builtins;
    let task_type = flyt_hooks::create_instance::TASK_TYPE;
    if !registry.types().contains(task_type) {
        registry = registry.service_task_with(task_type, create, settings(task_type));
    }
    // Message throws (send tasks, message throw and end events): the same allow-list and
    // organisation token as createInstance.
    let send_type = flyt_hooks::send_message::TASK_TYPE;
    if !registry.types().contains(send_type) {
        registry = registry.service_task_with(send_type, send, settings(send_type));
    }
    let pdf = flyt_hooks::pdf::TASK_TYPE;
    if !registry.types().contains(pdf) {
        registry = registry.service_task_with(pdf, flyt_hooks::pdf::PdfReceipt, settings(pdf));
    }
    if config.log_hook_points {
        registry = registry.hook(flyt_hooks::logging::LoggingHook);
    }
    for app in apps {
        for external in &app.file.jobs.external {
            if !registry.types().contains(external) {
                registry = registry.external_service_task(external.clone(), settings(external));
            }
        }
    }
    let (registry, longest_veto) = webhooks(registry, apps, config)?;
    let registry = registry.build();
    if let Some(veto) = longest_veto
        && veto >= registry.hook_timeout()
    {
        return Err(StartError::Other(format!(
            "a webhook veto's timeout_ms ({} ms) must be below the hook timeout ({} ms)",
            veto.as_millis(),
            registry.hook_timeout().as_millis()
        )));
    }
    Ok(registry)
}

/// The built-in `createInstance` and `sendMessage` handlers: the downstream allow-list, and the
/// organisation token client from `[outgoing]` (defaulting to this server's development
/// authority), shared by both.
fn builtins(
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<
    (
        flyt_hooks::create_instance::CreateInstance,
        flyt_hooks::send_message::SendMessage,
    ),
    StartError,
> {
    use flyt_hooks::token_client::{TokenClient, TokenClientConfig, token_http_client};
    let out = &config.outgoing;
    let timeout = Duration::from_millis(out.request_timeout_ms.unwrap_or(10_000));
    let tokens = match (&out.client_id, &out.private_key_file) {
        (Some(client_id), Some(key_file)) => {
            let pem = std::fs::read_to_string(key_file).map_err(|e| {
                StartError::Other(format!(
                    "outgoing.private_key_file {}: {e}",
                    key_file.display()
                ))
            })?;
            let issuer = config.authority_issuer();
            let mut token_config = TokenClientConfig::new(
                out.token_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("{issuer}/token")),
                out.audience.clone().unwrap_or(issuer),
                client_id.clone(),
                pem,
                out.scope
                    .clone()
                    .unwrap_or_else(|| config.instantiate_scope.clone()),
            );
            token_config.kid = out.kid.clone();
            token_config.request_timeout = timeout;
            let http = token_http_client(timeout)
                .map_err(|e| StartError::Other(format!("outgoing: {e}")))?;
            Some(Arc::new(
                TokenClient::new(token_config, http, clock)
                    .map_err(|e| StartError::Other(format!("outgoing: {e}")))?,
            ))
        }
        (None, None) => None,
        _ => {
            return Err(StartError::Other(
                "outgoing: client_id and private_key_file go together".into(),
            ));
        }
    };
    let mut downstream = BTreeMap::new();
    for (app, url) in &config.downstream {
        let id: AppId = app
            .parse()
            .map_err(|e| StartError::Other(format!("downstream: {e}")))?;
        downstream.insert(id, url.clone());
    }
    let send =
        flyt_hooks::send_message::SendMessage::new(downstream.clone(), tokens.clone(), timeout)
            .map_err(StartError::Other)?;
    let create = flyt_hooks::create_instance::CreateInstance::new(downstream, tokens, timeout)
        .map_err(StartError::Other)?;
    Ok((create, send))
}

/// Registers every app's `[[webhooks]]`: a durable delivery (its own job type,
/// `webhook:<org>/<app>#<n>`, n counting from 1 in file order, subscribed to the listed events),
/// or with `veto = true` a synchronous task-end veto hook instead (no durable deliveries: add a
/// second entry for those). Each URL must be on `webhook_allow_list`; the secret is read from
/// the environment variable `secret_env`. Deliveries default to 50 attempts, a 10 s timeout per
/// attempt (or the webhook's `timeout_ms`) and backoff from 1 s doubling to 60 s; any of these
/// can be set with `[service_tasks."webhook:<org>/<app>#<n>"]`. Returns the longest veto timeout.
fn webhooks(
    mut registry: RegistryBuilder,
    apps: &[App],
    config: &ServerConfig,
) -> Result<(RegistryBuilder, Option<Duration>), StartError> {
    use flyt_engine::hooks::{EventKind, HandlerConfig};
    use flyt_hooks::webhooks::{WebhookDelivery, WebhookSecret, WebhookVeto};
    let mut longest_veto: Option<Duration> = None;
    for app in apps {
        for (i, hook) in app.file.webhooks.iter().enumerate() {
            let job_type = format!("webhook:{}#{}", app.id, i + 1);
            let fail = |what: String| {
                StartError::Other(format!(
                    "{}: app {}, webhook #{} ({}): {what}",
                    app.dir.join("app.toml").display(),
                    app.id,
                    i + 1,
                    hook.url
                ))
            };
            let url = config.allowed_webhook(&hook.url).ok_or_else(|| {
                fail(format!(
                    "the URL `{}` is not on webhook_allow_list (allowed prefixes: {})",
                    hook.url,
                    if config.webhook_allow_list.is_empty() {
                        "none".to_string()
                    } else {
                        config.webhook_allow_list.join(", ")
                    }
                ))
            })?;
            let valid = || {
                EventKind::ALL
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if hook.events.is_empty() {
                return Err(fail(format!(
                    "`events` is empty; valid events: {}",
                    valid()
                )));
            }
            let mut events = Vec::new();
            for name in &hook.events {
                let event = EventKind::parse(name).ok_or_else(|| {
                    fail(format!("unknown event `{name}`; valid events: {}", valid()))
                })?;
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            let secret = match std::env::var(&hook.secret_env) {
                Ok(s) if !s.is_empty() => s,
                _ => {
                    return Err(fail(format!(
                        "the secret's environment variable `{}` is not set (or empty)",
                        hook.secret_env
                    )));
                }
            };
            let secret = WebhookSecret::new(&secret)
                .map_err(|e| fail(format!("`{}`: {e}", hook.secret_env)))?;
            if hook.veto {
                if events != [EventKind::TaskEnded] {
                    return Err(fail(
                        "a veto (`veto = true`) is asked before a task ends: its `events` must be [\"task.ended\"]"
                            .into(),
                    ));
                }
                let timeout = Duration::from_millis(hook.timeout_ms.unwrap_or(2_000));
                if timeout.is_zero() {
                    return Err(fail("`timeout_ms` must be positive".into()));
                }
                longest_veto = longest_veto.max(Some(timeout));
                let veto = WebhookVeto::new(url, secret, timeout, hook.fail_open).map_err(fail)?;
                registry = registry.app_hook(app.id.clone(), veto);
                continue;
            }
            if hook.fail_open {
                return Err(fail("`fail_open` applies only with `veto = true`".into()));
            }
            let s = config
                .service_tasks
                .get(&job_type)
                .cloned()
                .unwrap_or_default();
            let ms = Duration::from_millis;
            let handler_config = HandlerConfig::default()
                .with_max_attempts(s.max_attempts.unwrap_or(50))
                .with_timeout(ms(s.timeout_ms.or(hook.timeout_ms).unwrap_or(10_000)))
                .with_backoff(
                    ms(s.initial_backoff_ms.unwrap_or(1_000)),
                    ms(s.max_backoff_ms.unwrap_or(60_000)),
                );
            let delivery =
                WebhookDelivery::new(url, secret, handler_config.timeout).map_err(fail)?;
            registry = registry
                .subscribe(app.id.clone(), job_type.clone(), events)
                .service_task_with(job_type, delivery, handler_config);
        }
    }
    Ok((registry, longest_veto))
}
