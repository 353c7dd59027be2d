//! The built-in `sendMessage` handler: delivers the message of a message throw (a send task, or
//! a message intermediate throw or end event) to another app (or the same one), authenticated
//! with the organisation token of the sending server's service owner, as `createInstance` is.
//!
//! `POST {base}/{org}/{app}/messages` with
//! `{"name", "correlationKey", "messageId", "data", "timeToLive"}`, where `{base}` comes only
//! from the server's downstream allow-list (as `createInstance`'s targets) and redirects are
//! never followed. The `messageId` is derived from the job's idempotency key (the sending app,
//! the instance, the element and its visit), so every retry, after a crash or a restart too,
//! sends the same id and the receiver correlates the message at most once.
//!
//! The element completes when the receiver answers 200 (correlated), 201 (started an
//! instance) or 202 (buffered), and records the answer in its `process_EndTask` event.
//! Connection errors, timeouts, 408, 429 (with `Retry-After`) and 5xx are retried with backoff;
//! a 401 refreshes the token once; any other 4xx (403 not allowed to publish, 404, 409 the same
//! id with other content, 400/422 bad input) raises an incident naming the status and the
//! receiver's problem detail, or, mapped by a `<flyt:onError>`, the BPMN error it names.

use crate::instance_expr::{InstanceExprContext, eval_string};
use crate::outgoing::{Call, Outgoing};
use crate::token_client::TokenClient;
use crate::{Completion, ConfigCheck, JobContext, ServiceTaskHandler, ServiceTaskOutcome};
use async_trait::async_trait;
use flyt_engine::bpmn::elements::message_throw::{
    self, PayloadSource, SEND_MESSAGE_TYPE, SendMessageConfig,
};
use flyt_engine::bpmn::{Code, Diagnostic, Pos};
use flyt_engine::expr::lookup_path;
use flyt_engine::ids::{AppId, DataTypeId};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The task type message throws run as.
pub const TASK_TYPE: &str = SEND_MESSAGE_TYPE;

/// The `sendMessage` handler.
#[derive(Debug)]
pub struct SendMessage {
    out: Outgoing,
}

impl SendMessage {
    /// `downstream`: the allow-list (app → base URL), the same as `createInstance`'s.
    /// `tokens`: the organisation's token client (`None`: every attempt fails saying so).
    /// `request_timeout`: the timeout of one call.
    pub fn new(
        downstream: BTreeMap<AppId, String>,
        tokens: Option<Arc<TokenClient>>,
        request_timeout: Duration,
    ) -> Result<Self, String> {
        Ok(SendMessage {
            out: Outgoing::new(downstream, tokens, request_timeout)?,
        })
    }
}

/// The message id of a delivery: stable across retries and restarts of one visit of the element.
pub fn message_id(ctx: &JobContext) -> String {
    format!("{}/{}", ctx.app, ctx.idempotency_key)
}

/// Writes `value` at dot path `path`, making objects on the way.
fn put(root: &mut Map<String, Value>, path: &str, value: Value) {
    let mut parts = path.split('.').peekable();
    let mut node = root;
    while let Some(part) = parts.next() {
        if parts.peek().is_none() {
            node.insert(part.to_string(), value);
            return;
        }
        let next = node
            .entry(part.to_string())
            .or_insert_with(|| Value::Object(Map::new()));
        if !next.is_object() {
            *next = Value::Object(Map::new());
        }
        let Value::Object(map) = next else { return };
        node = map;
    }
}

/// The request body: name, key, id, payload and time to live.
pub fn request_body(ctx: &JobContext, config: &SendMessageConfig) -> Result<Value, String> {
    let eval = InstanceExprContext {
        instance: &ctx.instance,
        data: &ctx.data,
        app: &ctx.app_spec,
    };
    let key = eval_string(&config.correlation_key, &eval).map_err(|e| {
        format!(
            "the correlation key {} of `{}` has no value: {e}",
            config.correlation_key_text, ctx.element_id
        )
    })?;
    let mut data = Map::new();
    for m in &config.payload {
        let value = match &m.from {
            PayloadSource::Constant(v) => Some(v.clone()),
            PayloadSource::Data { data_type, path } => {
                let dt = match data_type {
                    Some(d) => Some(DataTypeId::new(d.as_str())),
                    None => ctx.app_spec.data_types.first().map(|d| d.id.clone()),
                };
                dt.and_then(|dt| ctx.data.get(&dt))
                    .and_then(|root| lookup_path(root, path))
                    .cloned()
            }
        };
        // A missing source field is left out rather than sent as null.
        if let Some(v) = value {
            put(&mut data, &m.to, v);
        }
    }
    let mut body = json!({
        "name": config.name,
        "correlationKey": key,
        "messageId": message_id(ctx),
        "timeToLive": config.time_to_live,
    });
    if !data.is_empty() {
        body["data"] = Value::Object(data);
    }
    Ok(body)
}

#[async_trait]
impl ServiceTaskHandler for SendMessage {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let Some(task) = ctx.task.clone() else {
            return ServiceTaskOutcome::fail("sendMessage runs only for a message throw");
        };
        let Some(throw) = &task.throw else {
            return ServiceTaskOutcome::fail(
                "sendMessage runs only for a send task or a message throw or end event",
            );
        };
        let config = match message_throw::parse(&ctx.element_id, Pos::default(), throw, &task.flyt)
        {
            Ok(c) => c,
            Err(d) => {
                return ServiceTaskOutcome::fail(format!(
                    "invalid sendMessage configuration: {}",
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
        let id = message_id(&ctx);
        let call = Call {
            target: &config.target,
            path: "messages",
            idempotency_key: &id,
            body: &body,
            accepted: 200..=202,
            on_error: &config.on_error,
            refused: format!("refused the message `{}`", config.name),
        };
        let response = match self.out.post(call).await {
            Ok(r) => r,
            Err(outcome) => return outcome,
        };
        let status = response.status().as_u16();
        // Crash tests: the receiver has the message, the sender has not recorded it.
        flyt_engine::failpoint!("send_message.after_response");
        let answer: Value = response.json().await.unwrap_or(Value::Null);
        let mut message = json!({
            "app": config.target.to_string(),
            "name": config.name,
            "messageId": id,
            "correlationKey": body["correlationKey"],
            "status": status,
        });
        for field in ["outcome", "instanceId", "bufferedUntil"] {
            if let Some(v) = answer.get(field) {
                message[field] = v.clone();
            }
        }
        ServiceTaskOutcome::Completed(Completion {
            details: Some(json!({ "sentMessage": message })),
            ..Completion::default()
        })
    }

    /// At deploy: the target must be on the allow-list, and the payload's sources must be
    /// fields of the sending app's data types (by their schemas, where they have one).
    fn check_config(&self, check: &ConfigCheck<'_>) -> Vec<Diagnostic> {
        let Some(throw) = &check.task.throw else {
            return vec![
                Diagnostic::error(
                    Code::InvalidServiceTaskConfig,
                    check.pos,
                    format!(
                        "`{}`: the sendMessage type is for send tasks and message throw events",
                        check.element_id
                    ),
                )
                .element(check.element_id)
                .hint("use a <bpmn:sendTask> or a message intermediate throw or end event"),
            ];
        };
        let config =
            match message_throw::parse(check.element_id, check.pos, throw, &check.task.flyt) {
                Ok(c) => c,
                Err(d) => return d,
            };
        let mut problems = Vec::new();
        problems.extend(self.out.check_target(
            &config.target,
            check.element_id,
            Code::InvalidMessageThrow,
            config.pos,
        ));
        // The payload's sources, and the correlation key's `dataModel` paths (at the line of
        // <flyt:sendMessage>), must be fields of the sending app's data.
        let mut sources: Vec<(Option<String>, String, Pos, &str)> = config
            .payload
            .iter()
            .filter_map(|m| match &m.from {
                PayloadSource::Data { data_type, path } => Some((
                    data_type.clone(),
                    path.clone(),
                    Pos::new(m.line, 1),
                    "payload",
                )),
                PayloadSource::Constant(_) => None,
            })
            .collect();
        for r in config.correlation_key.data_model_refs() {
            if !r.path.contains('[') {
                sources.push((r.data_type, r.path, config.pos, "correlationKey"));
            }
        }
        for (data_type, path, pos, what) in &sources {
            let (data_type, path, pos, what) = (data_type, path.as_str(), *pos, *what);
            let dt = data_type
                .clone()
                .or_else(|| check.app.data_types.first().map(|d| d.id.to_string()));
            let Some(dt) = dt else {
                if !check.app.open_data_types {
                    problems.push(
                        Diagnostic::error(
                            Code::InvalidMessageThrow,
                            pos,
                            format!(
                                "payload `{path}`: {} has no data type to read from",
                                check.app.id
                            ),
                        )
                        .element(check.element_id),
                    );
                }
                continue;
            };
            match check.app.data_type(&dt) {
                None if !check.app.open_data_types => problems.push(
                    Diagnostic::error(
                        Code::InvalidMessageThrow,
                        pos,
                        format!(
                            "{what} reads data type `{dt}`, which {} does not have",
                            check.app.id
                        ),
                    )
                    .element(check.element_id),
                ),
                Some(spec) => {
                    if let Some(schema) = &spec.schema
                        && let Err(msg) =
                            crate::create_instance::schema_paths::check(schema.source(), path)
                    {
                        problems.push(
                            Diagnostic::error(
                                Code::InvalidMessageThrow,
                                pos,
                                format!("{what} source `{dt}.{path}` does not exist in its schema: {msg}"),
                            )
                            .element(check.element_id),
                        );
                    }
                }
                None => {}
            }
        }
        problems
    }
}
