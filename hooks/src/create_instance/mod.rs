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

use crate::outgoing::{Call, Outgoing};
use crate::token_client::TokenClient;
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
        let body = match request_body(&ctx, &config) {
            Ok(b) => b,
            Err(e) => return ServiceTaskOutcome::fail(e),
        };
        let call = Call {
            target: &config.target,
            path: "instances",
            idempotency_key: &ctx.idempotency_key,
            body: &body,
            accepted: 200..=201,
            on_error: &config.on_error,
            refused: "refused to create the instance".to_string(),
        };
        let response = match self.out.post(call).await {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
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
        ServiceTaskOutcome::Completed(completion)
    }

    fn check_config(&self, check: &ConfigCheck<'_>) -> Vec<Diagnostic> {
        let config = match config::parse(check.element_id, check.pos, check.task) {
            Ok(c) => c,
            Err(d) => return d,
        };
        let mut problems = Vec::new();
        let node = check.task.flyt.get("createInstance");
        let at = node.map_or(check.pos, |n| n.pos);
        problems.extend(self.out.check_target(
            &config.target,
            check.element_id,
            Code::InvalidServiceTaskConfig,
            at,
        ));
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
