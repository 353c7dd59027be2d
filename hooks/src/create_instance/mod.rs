//! The built-in `createInstance` service task: app A creates a prefilled instance of app B,
//! authenticated with an organisation token (Maskinporten JWT-bearer grant).
//!
//! It runs as a durable job after the commit that reaches the task: at least once, made exactly
//! once by sending the job's idempotency key as `Idempotency-Key`, which app B honours. The
//! target URL comes only from the server's downstream allow-list, and redirects are never
//! followed, so a definition cannot send the organisation's token anywhere else.
//!
//! Failures: connection errors, timeouts, 408, 429 (with `Retry-After`) and 5xx are retried
//! with backoff; 400, 403, 404, 409 and 422 raise an incident at once with B's problem detail
//! (or, mapped by a `<flyt:onError>` of the task, the BPMN error it names); a
//! 401 refreshes the token once, then raises an incident.

pub mod config;
pub(crate) mod schema_paths;

use crate::outgoing::{Outgoing, problem_of, retry_after};
use crate::token_client::{TokenClient, TokenError};
use crate::{Completion, ConfigCheck, JobContext, ServiceTaskHandler, ServiceTaskOutcome};
use async_trait::async_trait;
use config::{CreateInstanceConfig, OwnerSpec, Source};
use flyt_engine::bpmn::{Code, Diagnostic};
use flyt_engine::expr::lookup_path;
use flyt_engine::ids::{AppId, DataTypeId};
use flyt_engine::model::Party;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The service task type name.
pub const TASK_TYPE: &str = "createInstance";

/// The `createInstance` handler.
#[derive(Debug)]
pub struct CreateInstance {
    out: Outgoing,
}

impl CreateInstance {
    /// `downstream`: the allow-list (app → base URL). `tokens`: the organisation's token client
    /// (`None` when the server has no outgoing credentials: every attempt then fails with that).
    /// `request_timeout`: the timeout of one call to app B.
    pub fn new(
        downstream: BTreeMap<AppId, String>,
        tokens: Option<Arc<TokenClient>>,
        request_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(CreateInstance {
            out: Outgoing::new(downstream, tokens, request_timeout)?,
        })
    }
}

fn read<'a>(ctx: &'a JobContext, data_type: Option<&str>, path: &str) -> Option<&'a Value> {
    let dt = match data_type {
        Some(d) => DataTypeId::new(d),
        None => ctx.app_spec.data_types.first().map(|d| d.id.clone())?,
    };
    lookup_path(ctx.data.get(&dt)?, path)
}

fn set(root: &mut Map<String, Value>, path: &str, value: Value) {
    // `prefill` on B's side takes flat dot paths; B applies them.
    root.insert(path.to_string(), value);
}

/// The request body for app B, from A's instance and data.
fn request_body(ctx: &JobContext, config: &CreateInstanceConfig) -> Result<Value, String> {
    let owner = match &config.owner {
        OwnerSpec::SameAsSource => match &ctx.instance.owner.party {
            Party::Person { person_number } => json!({ "personNumber": person_number }),
            Party::Organisation {
                organisation_number,
            } => json!({ "organisationNumber": organisation_number }),
        },
        OwnerSpec::Organisation(n) => json!({ "organisationNumber": n }),
        OwnerSpec::FromData { data_type, path } => {
            let value = read(ctx, data_type.as_deref(), path)
                .and_then(Value::as_str)
                .ok_or_else(|| {
                    format!("the owner path `{path}` holds no string in the instance's data")
                })?;
            match value.len() {
                9 => json!({ "organisationNumber": value }),
                11 => json!({ "personNumber": value }),
                _ => {
                    return Err(format!(
                        "the owner `{value}` at `{path}` is neither a 9-digit organisation number nor an 11-digit person number"
                    ));
                }
            }
        }
    };
    let mut prefill = Map::new();
    for m in &config.prefill {
        let value = match &m.from {
            Source::Constant(v) => Some(v.clone()),
            Source::Data { data_type, path } => read(ctx, data_type.as_deref(), path).cloned(),
            Source::Expression { expr, text } => {
                let eval = crate::instance_expr::InstanceExprContext {
                    instance: &ctx.instance,
                    data: &ctx.data,
                    app: &ctx.app_spec,
                };
                match expr.eval(&eval) {
                    Ok(Value::Null) => None,
                    Ok(v) => Some(v),
                    Err(e) => {
                        return Err(format!("prefill expression {text} of `{}`: {e}", m.to));
                    }
                }
            }
        };
        // A missing source field is left out rather than sent as null.
        if let Some(v) = value {
            set(&mut prefill, &m.to, v);
        }
    }
    let mut data = Map::new();
    for dt in &config.copy {
        if let Some(v) = ctx.data.get(&DataTypeId::new(dt.as_str())) {
            data.insert(dt.clone(), v.clone());
        }
    }
    let mut body = json!({ "instanceOwner": owner });
    if !prefill.is_empty() {
        body["prefill"] = Value::Object(prefill);
    }
    if !data.is_empty() {
        body["data"] = Value::Object(data);
    }
    Ok(body)
}

/// B's problem detail, for the incident.
async fn problem(response: reqwest::Response) -> String {
    problem_of(response).await.1
}

impl CreateInstance {
    async fn call(
        &self,
        url: &str,
        token: &str,
        key: &str,
        body: &Value,
    ) -> Result<reqwest::Response, reqwest::Error> {
        self.out
            .http
            .post(url)
            .bearer_auth(token)
            .header("Idempotency-Key", key)
            .json(body)
            .send()
            .await
    }
}

#[async_trait]
impl ServiceTaskHandler for CreateInstance {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let Some(task) = ctx.task.clone() else {
            return ServiceTaskOutcome::fail("createInstance runs only as a service task");
        };
        let config = match config::parse(&ctx.element_id, flyt_engine::bpmn::Pos::default(), &task)
        {
            Ok(c) => c,
            Err(d) => {
                return ServiceTaskOutcome::fail(format!(
                    "invalid createInstance configuration: {}",
                    d.iter()
                        .map(|x| x.message.as_str())
                        .collect::<Vec<_>>()
                        .join("; ")
                ));
            }
        };
        let Some(base) = self.out.downstream.get(&config.target) else {
            return ServiceTaskOutcome::fail(format!(
                "{} is not on this server's downstream allow-list",
                config.target
            ));
        };
        let url = format!(
            "{}/{}/{}/instances",
            base.trim_end_matches('/'),
            config.target.org(),
            config.target.app()
        );
        let body = match request_body(&ctx, &config) {
            Ok(b) => b,
            Err(e) => return ServiceTaskOutcome::fail(e),
        };
        let Some(tokens) = &self.out.tokens else {
            return ServiceTaskOutcome::fail(
                "this server has no organisation credentials for outgoing calls (configure [outgoing])",
            );
        };
        let mut refreshed = false;
        loop {
            let token = match tokens.token().await {
                Ok(t) => t,
                Err(TokenError::Transient(e)) => {
                    return ServiceTaskOutcome::retry(format!("token endpoint: {e}"));
                }
                Err(TokenError::Rejected(e)) => {
                    return ServiceTaskOutcome::fail(format!(
                        "the authority refused our token request: {e}"
                    ));
                }
                Err(TokenError::Config(e)) => {
                    return ServiceTaskOutcome::fail(format!("outgoing credentials: {e}"));
                }
            };
            let response = match self.call(&url, &token, &ctx.idempotency_key, &body).await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return ServiceTaskOutcome::retry(format!(
                        "{} did not answer in time",
                        config.target
                    ));
                }
                Err(e) => {
                    return ServiceTaskOutcome::retry(format!(
                        "{} is unreachable: {}",
                        config.target,
                        e.without_url()
                    ));
                }
            };
            let status = response.status().as_u16();
            match status {
                200 | 201 => {
                    // Crash tests: B has created the instance, A has not recorded it yet.
                    flyt_engine::failpoint!("create_instance.after_response");
                    let location = response
                        .headers()
                        .get(reqwest::header::LOCATION)
                        .and_then(|v| v.to_str().ok())
                        .map(str::to_string);
                    let created: Value = match response.json().await {
                        Ok(v) => v,
                        Err(e) => {
                            return ServiceTaskOutcome::retry(format!(
                                "unreadable answer from {}: {e}",
                                config.target
                            ));
                        }
                    };
                    let id = created.get("id").cloned().unwrap_or(Value::Null);
                    let completion = Completion {
                        details: Some(json!({
                            "createdInstance": { "app": config.target.to_string(), "id": id, "url": location }
                        })),
                        ..Completion::default()
                    };
                    return ServiceTaskOutcome::Completed(completion);
                }
                401 if !refreshed => {
                    // The token may have been revoked or rotated: get a fresh one, once.
                    tokens.invalidate(&token);
                    refreshed = true;
                }
                401 => {
                    return ServiceTaskOutcome::fail(format!(
                        "{} refused a fresh organisation token: {}",
                        config.target,
                        problem(response).await
                    ));
                }
                408 | 429 | 500..=599 => {
                    let wait = retry_after(&response);
                    let reason = format!("{} answered {}", config.target, problem(response).await);
                    return match wait {
                        Some(after) => ServiceTaskOutcome::RetryAfter { after, reason },
                        None => ServiceTaskOutcome::retry(reason),
                    };
                }
                _ => {
                    let (body, detail) = problem_of(response).await;
                    let message =
                        format!("{} refused to create the instance: {detail}", config.target);
                    // Mapped to a BPMN error: an error boundary on the task catches it.
                    if let Some(rule) = config
                        .on_error
                        .iter()
                        .find(|r| r.matches(status, body.as_ref()))
                    {
                        return ServiceTaskOutcome::Error {
                            code: rule.error_code.clone(),
                            message,
                        };
                    }
                    return ServiceTaskOutcome::fail(message);
                }
            }
        }
    }

    fn check_config(&self, check: &ConfigCheck<'_>) -> Vec<Diagnostic> {
        let config = match config::parse(check.element_id, check.pos, check.task) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut problems = Vec::new();
        let node = check.task.flyt.get("createInstance");
        let at = node.map_or(check.pos, |n| n.pos);
        if !self.out.downstream.contains_key(&config.target) {
            let allowed: Vec<String> = self
                .out
                .downstream
                .keys()
                .map(ToString::to_string)
                .collect();
            problems.push(
                Diagnostic::error(
                    Code::InvalidServiceTaskConfig,
                    at,
                    format!(
                        "target `{}` of `{}` is not on this server's downstream allow-list",
                        config.target, check.element_id
                    ),
                )
                .element(check.element_id)
                .hint(if allowed.is_empty() {
                    "the allow-list ([downstream] in the server config) is empty".to_string()
                } else {
                    format!("allowed: {}", allowed.join(", "))
                }),
            );
        }
        // A's side: the data types and, where schemas exist, the paths.
        let source_type = |dt: &Option<String>| {
            dt.clone()
                .or_else(|| check.app.data_types.first().map(|d| d.id.to_string()))
        };
        let mut source_paths: Vec<(Option<String>, String, u32)> = config
            .prefill
            .iter()
            .filter_map(|m| match &m.from {
                Source::Data { data_type, path } => {
                    Some((source_type(data_type), path.clone(), m.line))
                }
                Source::Constant(_) | Source::Expression { .. } => None,
            })
            .collect();
        if let OwnerSpec::FromData { data_type, path } = &config.owner {
            source_paths.push((source_type(data_type), path.clone(), at.line));
        }
        for (dt, path, line) in source_paths {
            let pos = flyt_engine::bpmn::Pos::new(line, 1);
            let Some(dt) = dt else {
                problems.push(
                    Diagnostic::error(
                        Code::InvalidServiceTaskConfig,
                        pos,
                        format!("`{path}`: {} has no data type to read from", check.app.id),
                    )
                    .element(check.element_id),
                );
                continue;
            };
            match check.app.data_type(&dt) {
                None if !check.app.open_data_types => problems.push(
                    Diagnostic::error(
                        Code::InvalidServiceTaskConfig,
                        pos,
                        format!(
                            "prefill reads data type `{dt}`, which {} does not have",
                            check.app.id
                        ),
                    )
                    .element(check.element_id),
                ),
                Some(spec) => {
                    if let Some(schema) = &spec.schema
                        && let Err(msg) = schema_paths::check(schema.source(), &path)
                    {
                        problems.push(
                                Diagnostic::error(Code::InvalidServiceTaskConfig, pos, format!("prefill source `{dt}.{path}` does not exist in its schema: {msg}")).element(check.element_id),
                            );
                    }
                }
                None => {}
            }
        }
        for dt in &config.copy {
            if check.app.data_type(dt).is_none() && !check.app.open_data_types {
                problems.push(
                    Diagnostic::error(
                        Code::InvalidServiceTaskConfig,
                        at,
                        format!(
                            "copy names data type `{dt}`, which {} does not have",
                            check.app.id
                        ),
                    )
                    .element(check.element_id),
                );
            }
        }
        // B's side, when B is an app of this server: the target paths against its schema.
        if let Some(target) = check.apps.get(&config.target) {
            match target.data_types.first() {
                None if !config.prefill.is_empty() => problems.push(
                    Diagnostic::error(
                        Code::InvalidServiceTaskConfig,
                        at,
                        format!("{} has no data type to prefill", config.target),
                    )
                    .element(check.element_id),
                ),
                Some(first) => {
                    if let Some(schema) = &first.schema {
                        for m in &config.prefill {
                            if let Err(msg) = schema_paths::check(schema.source(), &m.to) {
                                problems.push(
                                    Diagnostic::error(Code::InvalidServiceTaskConfig, flyt_engine::bpmn::Pos::new(m.line, 1), format!("prefill target `{}.{}` does not exist in {}'s schema: {msg}", first.id, m.to, config.target))
                                        .element(check.element_id),
                                );
                            }
                        }
                    }
                }
                None => {}
            }
        }
        problems
    }
}
