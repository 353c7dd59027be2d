//! Messages: subscriptions, correlation, idempotent publishing and buffering.
//!
//! - A token that reaches a message catch (intermediate catch event or receive task) evaluates
//!   the correlation key over the instance and waits there (`TokenAt::Message`). Its
//!   subscription record (`store::messages`) is written in the commit that reaches it and
//!   deleted in the commit that ends the wait, whatever ends it (a correlation, a terminate
//!   end event, an interrupting boundary or event sub-process): [`Transition::into_txn`]
//!   compares the instance's message tokens before and after the transition and writes the
//!   difference.
//! - [`Runtime::publish_message`] takes the oldest open subscription for (app, name, key) and
//!   moves its instance in one commit that also records the `messageId` (checked absent) and
//!   deletes the subscription; the instance's version check makes a race of two publishes for
//!   one subscription one commit and one retry (which then takes the next subscription).
//! - A message nobody waits for is buffered when it has a `timeToLive`: the first subscription
//!   for its name and key that opens before it expires takes it in the commit that opens it
//!   (the token does not wait). Without a `timeToLive` (or `PT0S`) it is refused: 404
//!   `no-subscription`, nothing stored.
//! - Expired buffered messages are never delivered. They are removed when a subscription for
//!   their name and key next opens, and are not listed.

use super::gateway::Context;
use super::pipeline::Kind;
use super::scope_messages::Caught;
use super::transition::Transition;
use super::{Error, Runtime};
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::timer::IsoDuration;
use crate::bpmn::elements::{MessageCatch, NodeIdx, NodeKind};
use crate::ids::{AppId, DataTypeId, ElementId};
use crate::model::{Actor, ArmedMessage, EventType, Instance, PROCESS_LEVEL, Token, TokenAt};
use crate::store::messages::{BufferedMessage, PublishRecord, SubscriptionRecord};
use crate::store::{CommitError, Txn};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::time::Duration;

/// Most bytes of a message's `data` (as JSON).
pub const MAX_MESSAGE_DATA: usize = 256 * 1024;
/// Longest message name, correlation key and message id.
pub const MAX_MESSAGE_FIELD: usize = 512;
/// Longest `timeToLive`.
pub const MAX_TIME_TO_LIVE: Duration = Duration::from_secs(30 * 86_400);

/// A message to publish to an app.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PublishMessage {
    pub name: String,
    pub correlation_key: String,
    #[serde(default)]
    pub message_id: Option<String>,
    #[serde(default)]
    pub data: Option<Value>,
    /// An ISO 8601 duration (`PT1H`); absent or `PT0S`: not buffered.
    #[serde(default)]
    pub time_to_live: Option<String>,
}

/// What publishing did: the answer, stored as the first answer to its `messageId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "camelCase")]
pub enum Published {
    /// A waiting subscription took it; its instance moved.
    #[serde(rename_all = "camelCase")]
    Correlated {
        message_id: String,
        instance_id: String,
    },
    /// Nobody waited, and a message start event started a new instance with it.
    #[serde(rename_all = "camelCase")]
    Started {
        message_id: String,
        instance_id: String,
    },
    /// Nobody waited: it is kept until `buffered_until`.
    #[serde(rename_all = "camelCase")]
    Buffered {
        message_id: String,
        buffered_until: Timestamp,
    },
}

impl Published {
    pub fn message_id(&self) -> &str {
        match self {
            Published::Correlated { message_id, .. }
            | Published::Started { message_id, .. }
            | Published::Buffered { message_id, .. } => message_id,
        }
    }
}

/// How one correlation attempt ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    Moved,
    /// Check 0 (the messageId record, or the buffered message) failed.
    FirstCheckFailed,
    /// The subscription or its instance changed meanwhile: read again.
    Retry,
}

/// A message that starts an instance at a message start event (see
/// `Runtime::create_at`).
pub(crate) struct StartedBy {
    pub element: ElementId,
    pub message_id: String,
    pub name: String,
    pub correlation_key: String,
    pub data: Option<Value>,
    pub data_type: Option<DataTypeId>,
    pub fingerprint: String,
}

/// The open subscriptions an instance holds: its tokens at message catches, the message
/// boundary events armed on the tasks its tokens wait at (and the catches after an event-based
/// gateway a token waits at), those armed on its scope instances (boundary events on
/// sub-processes, event sub-processes' message starts) and on the process (process-level event
/// sub-processes' message starts).
pub(crate) fn subscriptions_of(instance: &Instance) -> Vec<SubscriptionRecord> {
    let process = &instance.process;
    let record = |token: u32, m: &ArmedMessage| SubscriptionRecord {
        app: instance.app.clone(),
        message: m.message.clone(),
        correlation_key: m.correlation_key.clone(),
        since: m.since,
        instance: instance.id,
        token,
        element: m.element.clone(),
    };
    let boundaries = process
        .tokens
        .iter()
        .flat_map(|t| t.messages.iter().map(move |m| (t.id, m)))
        .chain(
            process
                .scopes
                .iter()
                .flat_map(|x| x.messages.iter().map(move |m| (x.id, m))),
        )
        .chain(process.messages.iter().map(|m| (PROCESS_LEVEL, m)))
        .map(move |(token, m)| record(token, m));
    instance
        .process
        .tokens
        .iter()
        .filter_map(|t| match &t.at {
            TokenAt::Message {
                element,
                message,
                correlation_key,
                since,
            } => Some(SubscriptionRecord {
                app: instance.app.clone(),
                message: message.clone(),
                correlation_key: correlation_key.clone(),
                since: *since,
                instance: instance.id,
                token: t.id,
                element: element.clone(),
            }),
            _ => None,
        })
        .chain(boundaries)
        .collect()
}

/// Whether subscription `sub` of `instance` is a token's at a catch event or receive task
/// (waiting there, or at the event-based gateway before it).
fn waits_at_catch(instance: &Instance, sub: &SubscriptionRecord) -> bool {
    instance.process.tokens.iter().any(|t| {
        t.id == sub.token && matches!(t.at, TokenAt::Message { .. } | TokenAt::EventGateway { .. })
    })
}

/// The (name, key) of subscriptions open `after` that were not `before`, without repeats.
pub(crate) fn opened(
    before: &[SubscriptionRecord],
    after: &[SubscriptionRecord],
) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = after
        .iter()
        .filter(|s| !before.contains(s))
        .map(|s| (s.message.clone(), s.correlation_key.clone()))
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The subscription writes of a transition: those `before` no longer open are deleted, new
/// ones written.
pub(crate) fn write_difference(
    txn: &mut Txn,
    before: &[SubscriptionRecord],
    after: &[SubscriptionRecord],
) {
    for gone in before.iter().filter(|s| !after.contains(s)) {
        txn.delete_subscription(gone);
    }
    for new in after.iter().filter(|s| !before.contains(s)) {
        txn.put_subscription(new);
    }
}

impl Transition<'_> {
    /// A token reaches message catch `target`: returns true when a buffered message was taken
    /// at once (the token goes on), false when it now waits.
    pub(crate) fn catch_message(
        &mut self,
        target: NodeIdx,
        catch: &MessageCatch,
        scope: Option<u32>,
    ) -> Result<bool, Error> {
        let def = self.def.clone();
        let node = def.node(target);
        let key = self.correlation_key(&node.id, catch)?;
        if self.take_buffered(&node.id, catch, &key)? {
            return Ok(true);
        }
        let token = self.push_token(
            TokenAt::Message {
                element: node.id.clone(),
                message: catch.message.clone(),
                correlation_key: key,
                since: self.now,
            },
            scope,
        );
        // A receive task is an activity: its boundary timers run while it waits (and are
        // disarmed with the token, as a task's).
        if catch.receive_task {
            let visits = self.instance.visits.entry(node.id.to_string()).or_insert(0);
            *visits += 1;
            let visit = *visits;
            self.arm_boundaries(target, token, visit)?;
        }
        Ok(false)
    }

    /// The new instance's start by message `m` at `start`: the `messageId` recorded (check 0 of
    /// the commit), the data merged into the message's data type, the correlation recorded.
    pub(crate) fn start_by_message(&mut self, start: &ElementId, m: &StartedBy) {
        let answer = Published::Started {
            message_id: m.message_id.clone(),
            instance_id: self.instance.altinn_id(),
        };
        let app = self.instance.app.clone();
        self.prelude.put_publish_record(
            &app,
            &m.message_id,
            &PublishRecord {
                fingerprint: m.fingerprint.clone(),
                answer: serde_json::to_string(&answer).unwrap_or_default(),
            },
        );
        if let (Some(data_type), Some(Value::Object(fields))) = (&m.data_type, &m.data) {
            self.data
                .set(data_type.clone(), Value::Object(fields.clone()));
        }
        self.record(
            EventType::MessageCorrelated,
            Some(start.clone()),
            None,
            Some(json!({
                "message": m.name,
                "correlationKey": m.correlation_key,
                "messageId": m.message_id,
                "dataType": m.data_type.as_ref().map(DataTypeId::as_str),
            })),
        );
    }

    /// Opens the subscriptions of the message boundary events on the task token `token` now
    /// waits at. (They take messages published from now on; a buffered message is taken only
    /// by a catch event or receive task.)
    pub(crate) fn arm_message_boundaries(
        &mut self,
        task: NodeIdx,
        token: u32,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        for &b in &def.node(task).boundaries {
            let node = def.node(b);
            let NodeKind::MessageBoundary(boundary) = &node.kind else {
                continue;
            };
            let armed = self.armed_message(&node.id, &boundary.catch)?;
            if let Some(t) = self
                .instance
                .process
                .tokens
                .iter_mut()
                .find(|t| t.id == token)
            {
                t.messages.push(armed);
            }
        }
        Ok(())
    }

    /// A message reaches boundary event `boundary` on the task token `holder` waits at.
    /// Interrupting: the task ends (its job cancelled, its timers disarmed, its other
    /// subscriptions closed with the token). Returns the scope the boundary's token leaves in.
    pub(super) fn interrupt_for_message(
        &mut self,
        holder: &Token,
        boundary: &ElementId,
        attached: &ElementId,
    ) -> Result<Option<u32>, Error> {
        self.disarm(&holder.timers)?;
        if let TokenAt::ServiceTask { job, .. } = &holder.at
            && let Some(stored) = self.cancel_job(*job)?
            && stored.external
        {
            let tombstone = super::timers::tombstone(stored, boundary, self.now);
            self.prelude.put_cancelled_job(&tombstone);
        }
        self.instance.process.tokens.retain(|x| x.id != holder.id);
        self.instance
            .process
            .incidents
            .retain(|i| i.element_id != *attached);
        self.record(
            EventType::AbandonTask,
            Some(attached.clone()),
            None,
            Some(json!({ "interruptedBy": boundary.as_str() })),
        );
        Ok(holder.scope)
    }

    /// Takes the oldest unexpired buffered message for `catch` with `key`, if there is one
    /// (removing expired ones it passes); returns whether it took one.
    pub(crate) fn take_buffered(
        &mut self,
        element: &ElementId,
        catch: &MessageCatch,
        key: &str,
    ) -> Result<bool, Error> {
        let buffered = self
            .rt
            .store
            .buffered_for(&self.instance.app, &catch.message, key, 64)?;
        for (stored, message) in buffered {
            if message.expires <= self.now {
                self.prelude.delete_buffered(&message);
                continue;
            }
            self.prelude.consume_buffered(&message, &stored);
            self.take_message(
                element,
                catch,
                &message.message_id,
                key,
                message.data.as_ref(),
            )?;
            return Ok(true);
        }
        Ok(false)
    }

    /// The correlation key of a catch, evaluated over the instance now.
    pub(crate) fn correlation_key(
        &mut self,
        element: &ElementId,
        catch: &MessageCatch,
    ) -> Result<String, Error> {
        self.data.load_all()?;
        let data = self.data.snapshot();
        let ctx = Context {
            gateway_action: self.gateway_action.as_deref(),
            data: &data,
            default_type: self.app.default_data_type(None),
            instance: &self.instance,
        };
        let text = &catch.subscription.key_text;
        let problem = |p: String| Error::CorrelationKey {
            element: element.to_string(),
            problem: p,
        };
        let value = catch
            .subscription
            .correlation_key
            .eval(&ctx)
            .map_err(|e| problem(format!("`{text}` could not be evaluated: {e}")))?;
        let key = match value {
            Value::String(s) => s,
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            other => return Err(problem(format!("`{text}` gave {other}, not a string"))),
        };
        if key.is_empty() || key.len() > MAX_MESSAGE_FIELD {
            return Err(problem(format!(
                "`{text}` gave a key of {} bytes; a key has 1 to {MAX_MESSAGE_FIELD}",
                key.len()
            )));
        }
        Ok(key)
    }

    /// A message's or signal's `data` merged into the instance's data of `data_type`: an
    /// object's fields replace those of the same name; anything but an object writes nothing.
    pub(crate) fn merge_event_data(
        &mut self,
        data_type: &DataTypeId,
        data: Option<&Value>,
    ) -> Result<(), Error> {
        let Some(Value::Object(fields)) = data else {
            return Ok(());
        };
        let mut merged = match self.data.get(data_type)? {
            Some(Value::Object(current)) => current.clone(),
            _ => serde_json::Map::new(),
        };
        for (k, v) in fields {
            merged.insert(k.clone(), v.clone());
        }
        self.data.set(data_type.clone(), Value::Object(merged));
        Ok(())
    }

    /// A message reaches catch `element`: its data merged into the catch's data type, and the
    /// correlation recorded.
    fn take_message(
        &mut self,
        element: &ElementId,
        catch: &MessageCatch,
        message_id: &str,
        key: &str,
        data: Option<&Value>,
    ) -> Result<(), Error> {
        if let Some(data_type) = &catch.subscription.data_type {
            self.merge_event_data(data_type, data)?;
        }
        self.record(
            EventType::MessageCorrelated,
            Some(element.clone()),
            None,
            Some(json!({
                "message": catch.message,
                "correlationKey": key,
                "messageId": message_id,
                "dataType": catch.subscription.data_type.as_ref().map(DataTypeId::as_str),
            })),
        );
        Ok(())
    }
}

/// Every message catch of a definition: catch events, receive tasks, boundary events and the
/// message starts of event sub-processes.
fn catches_of(def: &ProcessDefinition) -> impl Iterator<Item = &MessageCatch> {
    def.nodes().filter_map(|(_, n)| match &n.kind {
        NodeKind::MessageCatch(c) => Some(c),
        NodeKind::MessageBoundary(b) => Some(&b.catch),
        NodeKind::EventSubProcess(e) => e.message.as_ref(),
        _ => None,
    })
}

/// The process-level message start event for message `name`, if any.
fn message_start<'d>(
    def: &'d ProcessDefinition,
    name: &str,
) -> Option<(&'d ElementId, &'d crate::bpmn::elements::MessageStart)> {
    def.start_events().iter().find_map(|&n| {
        let node = def.node(n);
        match &node.kind {
            NodeKind::StartEvent(s) => s
                .message
                .as_ref()
                .filter(|m| m.name == name)
                .map(|m| (&node.id, m)),
            _ => None,
        }
    })
}

/// What a request must look like; `Err` is a 400 with what is wrong.
fn check_request(msg: &PublishMessage) -> Result<Option<Duration>, Error> {
    let bad = |s: String| Err(Error::BadRequest(s));
    for (field, value) in [
        ("name", &msg.name),
        ("correlationKey", &msg.correlation_key),
    ] {
        if value.trim().is_empty() {
            return bad(format!("`{field}` is empty"));
        }
        if value.len() > MAX_MESSAGE_FIELD {
            return bad(format!(
                "`{field}` has {} bytes; at most {MAX_MESSAGE_FIELD}",
                value.len()
            ));
        }
    }
    if let Some(id) = &msg.message_id
        && (id.is_empty() || id.len() > MAX_MESSAGE_FIELD)
    {
        return bad(format!(
            "`messageId` has {} bytes; it needs 1 to {MAX_MESSAGE_FIELD}",
            id.len()
        ));
    }
    match &msg.data {
        None | Some(Value::Object(_)) => {}
        Some(_) => return bad("`data` must be a JSON object".into()),
    }
    if let Some(data) = &msg.data {
        let size = serde_json::to_vec(data)
            .map(|v| v.len())
            .unwrap_or(usize::MAX);
        if size > MAX_MESSAGE_DATA {
            return Err(Error::MessageTooLarge {
                size,
                limit: MAX_MESSAGE_DATA,
            });
        }
    }
    let Some(ttl) = &msg.time_to_live else {
        return Ok(None);
    };
    let d = IsoDuration::parse(ttl).map_err(|e| Error::BadRequest(format!("`timeToLive`: {e}")))?;
    if d.months > 0 {
        return bad(format!(
            "`timeToLive` `{ttl}` counts months or years; give it in days (at most P30D)"
        ));
    }
    let d = Duration::from_millis(d.millis);
    if d > MAX_TIME_TO_LIVE {
        return bad(format!("`timeToLive` `{ttl}` is longer than P30D"));
    }
    Ok((!d.is_zero()).then_some(d))
}

/// A fingerprint of what was published (name, key, data, timeToLive), to tell a repeat from a
/// reuse of a `messageId`.
fn fingerprint(msg: &PublishMessage) -> String {
    digest(&json!({
        "name": msg.name,
        "correlationKey": msg.correlation_key,
        "data": msg.data,
        "timeToLive": msg.time_to_live,
    }))
}

/// The SHA-256 of published content's JSON: the fingerprint a `messageId` or `signalId` record
/// keeps.
pub(super) fn digest(canonical: &Value) -> String {
    let bytes = serde_json::to_vec(canonical).unwrap_or_default();
    format!("{:x}", Sha256::digest(&bytes))
}

/// The first answer kept in `record` for the id `id`, if it was published with the same
/// content (`print`); `reused` if with other content; `None` if there is no record yet.
pub(super) fn first_answer<T: serde::de::DeserializeOwned>(
    record: Option<PublishRecord>,
    id: &str,
    print: &str,
    reused: fn(String) -> Error,
) -> Result<Option<T>, Error> {
    let Some(record) = record else {
        return Ok(None);
    };
    if record.fingerprint != print {
        return Err(reused(id.to_string()));
    }
    serde_json::from_str(&record.answer)
        .map(Some)
        .map_err(|e| Error::Internal(format!("stored answer of {id}: {e}")))
}

impl Runtime {
    /// Publishes a message to `app` on behalf of `actor`: correlates it to the oldest open
    /// subscription for its name and key (moving that instance in the same commit), or buffers
    /// it for its `timeToLive`. The same `messageId` with the same content again returns the
    /// first answer and changes nothing; with other content it is
    /// [`Error::MessageIdReused`].
    pub async fn publish_message(
        &self,
        app: &AppId,
        msg: PublishMessage,
        actor: Actor,
    ) -> Result<Published, Error> {
        let spec = self.app(app)?;
        let ttl = check_request(&msg)?;
        let message_id = msg
            .message_id
            .clone()
            .unwrap_or_else(|| uuid::Uuid::now_v7().to_string());
        let print = fingerprint(&msg);
        if let Some(first) = self.repeat(app, &message_id, &print)? {
            return Ok(first);
        }
        // The name must be one a catch of the current definition waits for; the data must
        // then pass the schema of every data type such a catch merges into (checked before
        // anything is stored, so a bad message is refused whether it correlates or waits).
        let (_, def) = self.latest_definition(app)?;
        let catches: Vec<&MessageCatch> =
            catches_of(&def).filter(|c| c.message == msg.name).collect();
        let starts = message_start(&def, &msg.name).map(|(e, m)| (e.clone(), m.clone()));
        if catches.is_empty() && starts.is_none() {
            let mut known: Vec<String> = catches_of(&def).map(|c| c.message.clone()).collect();
            known.extend(
                def.start_events()
                    .iter()
                    .filter_map(|&n| match &def.node(n).kind {
                        NodeKind::StartEvent(s) => s.message.as_ref().map(|m| m.name.clone()),
                        _ => None,
                    }),
            );
            known.sort();
            known.dedup();
            return Err(Error::UnknownMessage {
                app: app.clone(),
                name: msg.name.clone(),
                known,
            });
        }
        if let Some(Value::Object(fields)) = &msg.data {
            for data_type in catches
                .iter()
                .filter_map(|c| c.subscription.data_type.as_ref())
                .chain(starts.iter().filter_map(|(_, s)| s.data_type.as_ref()))
            {
                // The merged result is checked at correlation; here the fields alone, so that
                // a message whose fields break the schema is never stored.
                if let Some(dt) = spec.data_type(data_type.as_str())
                    && let Some(schema) = &dt.schema
                {
                    let issues = schema.check(&Value::Object(fields.clone()));
                    let fatal: Vec<_> = issues
                        .into_iter()
                        .filter(|i| {
                            fields.contains_key(
                                i.field
                                    .trim_start_matches('/')
                                    .split('/')
                                    .next()
                                    .unwrap_or(""),
                            )
                        })
                        .collect();
                    if !fatal.is_empty() {
                        return Err(Error::DataInvalid {
                            data_type: data_type.to_string(),
                            issues: fatal,
                        });
                    }
                }
            }
        }
        let record = |answer: &Published| PublishRecord {
            fingerprint: print.clone(),
            answer: serde_json::to_string(answer).unwrap_or_default(),
        };
        for _ in 0..16 {
            let open =
                self.inner
                    .store
                    .subscriptions_for(app, &msg.name, &msg.correlation_key, 32)?;
            let mut stale = Vec::new();
            let mut target = None;
            for sub in open {
                match self.inner.store.instance(sub.instance)? {
                    Some(instance)
                        if subscriptions_of(&instance).contains(&sub) && !instance.is_ended() =>
                    {
                        target = Some((sub, instance));
                        break;
                    }
                    // Its instance was deleted, or the record outlived its token: drop it.
                    _ => stale.push(sub),
                }
            }
            let Some((sub, instance)) = target else {
                // Nobody waits: a message start event starts an instance, owned by the app's
                // service owner.
                if let Some((element, start)) = &starts {
                    let Some(owner) = spec.service_owner.clone() else {
                        return Err(Error::BadRequest(format!(
                            "message start event `{element}`: app {app} has no service owner organisation to own the instances it starts"
                        )));
                    };
                    let by = StartedBy {
                        element: element.clone(),
                        message_id: message_id.clone(),
                        name: msg.name.clone(),
                        correlation_key: msg.correlation_key.clone(),
                        data: msg.data.clone(),
                        data_type: start.data_type.clone(),
                        fingerprint: print.clone(),
                    };
                    let req = super::CreateInstance {
                        app: app.clone(),
                        owner,
                        actor: actor.clone(),
                        data: std::collections::BTreeMap::new(),
                        start_event: None,
                        idempotency: None,
                    };
                    return match self.create_at(req, None, Some(&by)).await {
                        Ok(created) => Ok(Published::Started {
                            message_id,
                            instance_id: created.instance.altinn_id(),
                        }),
                        Err(Error::Conflict) => self.raced(app, &by.message_id, &print),
                        Err(e) => Err(e),
                    };
                }
                let Some(ttl) = ttl else {
                    if !stale.is_empty() {
                        let mut txn = Txn::new();
                        for s in &stale {
                            txn.delete_subscription(s);
                        }
                        let _ = self.inner.store.commit(txn).await;
                    }
                    return Err(Error::NoSubscription {
                        name: msg.name.clone(),
                        correlation_key: msg.correlation_key.clone(),
                    });
                };
                let now = self.inner.clock.now();
                let buffered = BufferedMessage {
                    app: app.clone(),
                    message: msg.name.clone(),
                    correlation_key: msg.correlation_key.clone(),
                    message_id: message_id.clone(),
                    data: msg.data.clone(),
                    published: now,
                    expires: now.plus(ttl),
                };
                let answer = Published::Buffered {
                    message_id: message_id.clone(),
                    buffered_until: buffered.expires,
                };
                let mut txn = Txn::new();
                txn.put_publish_record(app, &message_id, &record(&answer));
                txn.put_buffered(&buffered);
                for s in &stale {
                    txn.delete_subscription(s);
                }
                return match self.commit_txn(Kind::Move, txn, false).await {
                    Ok(()) => {
                        // A subscription that opened while this was being buffered (it read
                        // no buffered message, this read no subscription) takes it now.
                        if let Err(e) = self
                            .deliver_buffered(app, &msg.name, &msg.correlation_key)
                            .await
                        {
                            tracing::warn!(app = %app, error = %e, "could not deliver a buffered message");
                        }
                        Ok(answer)
                    }
                    Err(CommitError::Conflict(_)) => self.raced(app, &message_id, &print),
                    Err(CommitError::Store(e)) => Err(e.into()),
                };
            };
            let answer = Published::Correlated {
                message_id: message_id.clone(),
                instance_id: instance.altinn_id(),
            };
            let first = record(&answer);
            let step = self
                .correlate_to(
                    &sub,
                    instance,
                    |txn| {
                        // Check 0: the messageId is new.
                        txn.put_publish_record(app, &message_id, &first);
                    },
                    &stale,
                    &message_id,
                    msg.data.as_ref(),
                    &actor,
                    false,
                )
                .await?;
            match step {
                Step::Moved => return Ok(answer),
                Step::FirstCheckFailed => return self.raced(app, &message_id, &print),
                Step::Retry => continue,
            }
        }
        Err(Error::Conflict)
    }

    /// Moves `instance` for a message reaching its subscription `sub`, in one commit that
    /// starts with `first` (check 0) and removes `stale` subscription records. `catches_only`:
    /// a boundary event's subscription is not taken (a buffered message goes to catch events
    /// and receive tasks).
    #[allow(clippy::too_many_arguments)]
    async fn correlate_to(
        &self,
        sub: &SubscriptionRecord,
        instance: Instance,
        first: impl FnOnce(&mut Txn),
        stale: &[SubscriptionRecord],
        message_id: &str,
        data: Option<&Value>,
        actor: &Actor,
        catches_only: bool,
    ) -> Result<Step, Error> {
        let loaded = self.resolve(instance, None)?;
        let def = loaded.def.clone();
        let Some(node_idx) = def.node_by_id(sub.element.as_str()) else {
            return Ok(Step::Retry);
        };
        let Some(caught) = Caught::find(&def, node_idx, &loaded.instance, sub) else {
            return Ok(Step::Retry);
        };
        if catches_only && !caught.is_catch() {
            return Ok(Step::Retry);
        }
        let mut t = self.begin(loaded, actor.clone());
        first(&mut t.prelude);
        for s in stale {
            t.prelude.delete_subscription(s);
        }
        t.take_message(
            &sub.element,
            caught.catch(),
            message_id,
            &sub.correlation_key,
            data,
        )?;
        let scope = t.catch_by(caught, &sub.element)?;
        let out = def
            .node(node_idx)
            .outgoing
            .iter()
            .map(|&f| (f, Some(node_idx)))
            .collect();
        t.arrive(out, scope).await?;
        t.check_written()?;
        // Committed without the rescan of `Runtime::commit` (which would recurse here).
        let (txn, _, jobs) = t.into_txn();
        match self.commit_txn(Kind::Move, txn, !jobs.is_empty()).await {
            Ok(()) => Ok(Step::Moved),
            Err(CommitError::Conflict(0)) => Ok(Step::FirstCheckFailed),
            Err(CommitError::Conflict(_)) => Ok(Step::Retry),
            Err(CommitError::Store(e)) => Err(e.into()),
        }
    }

    /// Gives the oldest unexpired buffered message for (app, name, key) to the oldest open
    /// catch subscription for them, if both exist: closes the race of a message buffered while
    /// a subscription opened (each read before the other committed). Run after a message is
    /// buffered and after a commit that opened subscriptions; returns whether one moved.
    pub async fn deliver_buffered(
        &self,
        app: &AppId,
        name: &str,
        key: &str,
    ) -> Result<bool, Error> {
        for _ in 0..8 {
            let now = self.inner.clock.now();
            let Some((stored, message)) = self
                .inner
                .store
                .buffered_for(app, name, key, 64)?
                .into_iter()
                .find(|(_, m)| m.expires > now)
            else {
                return Ok(false);
            };
            let mut target = None;
            for sub in self.inner.store.subscriptions_for(app, name, key, 32)? {
                // Boundary events and event sub-processes take no buffered message.
                if let Some(instance) = self.inner.store.instance(sub.instance)?
                    && subscriptions_of(&instance).contains(&sub)
                    && !instance.is_ended()
                    && waits_at_catch(&instance, &sub)
                {
                    target = Some((sub, instance));
                    break;
                }
            }
            let Some((sub, instance)) = target else {
                return Ok(false);
            };
            let step = self
                .correlate_to(
                    &sub,
                    instance,
                    |txn| {
                        txn.consume_buffered(&message, &stored);
                    },
                    &[],
                    &message.message_id,
                    message.data.as_ref(),
                    &Actor::system("messages"),
                    true,
                )
                .await?;
            if step == Step::Moved {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// After a commit that opened subscriptions: a message buffered meanwhile is delivered.
    pub(crate) async fn after_opening(&self, app: &AppId, opened: Vec<(String, String)>) {
        for (name, key) in opened {
            if let Err(e) = self.deliver_buffered(app, &name, &key).await {
                tracing::warn!(app = %app, error = %e, "could not deliver a buffered message");
            }
        }
    }

    /// The first answer to `message_id` if it was published with the same content; an error if
    /// with other content; `None` if it is new.
    fn repeat(
        &self,
        app: &AppId,
        message_id: &str,
        print: &str,
    ) -> Result<Option<Published>, Error> {
        first_answer(
            self.inner.store.publish_record(app, message_id)?,
            message_id,
            print,
            Error::MessageIdReused,
        )
    }

    /// Another publish of the same `messageId` committed first: its answer (or 409).
    fn raced(&self, app: &AppId, message_id: &str, print: &str) -> Result<Published, Error> {
        self.repeat(app, message_id, print)?.ok_or(Error::Conflict)
    }

    /// The open message subscriptions of an app, by name and key then age, at most `limit`.
    pub fn message_subscriptions(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<SubscriptionRecord>, Error> {
        self.app(app)?;
        Ok(self.inner.store.subscriptions_of(app, limit)?)
    }

    /// The buffered messages of an app that have not expired, at most `limit`.
    pub fn buffered_messages(
        &self,
        app: &AppId,
        limit: usize,
    ) -> Result<Vec<BufferedMessage>, Error> {
        self.app(app)?;
        let now = self.inner.clock.now();
        Ok(self
            .inner
            .store
            .buffered_of(app, limit)?
            .into_iter()
            .filter(|m| m.expires > now)
            .collect())
    }
}

/// The subscription of one waiting token, for views.
pub fn instance_subscriptions(instance: &Instance) -> Vec<SubscriptionRecord> {
    subscriptions_of(instance)
}
