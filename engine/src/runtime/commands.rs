//! The commands that move instances: create, next, write data, resume, delete, server actions.
//! Each computes one transition and commits it atomically; on any error nothing is written.

use super::advance::{HookPoint, Work};
use super::data::DataCache;
use super::metrics::Metrics;
use super::{Error, Runtime};
use crate::app::AppSpec;
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::NodeKind;
use crate::hooks::{HookContext, HookError, TaskRef};
use crate::ids::{AppId, DataTypeId, InstanceId};
use crate::model::{Actor, EventType, Instance, InstanceOwner, JobState, ProcessState};
use crate::store::{CommitError, IdempotencyRecord, Txn};
use serde_json::Value;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A request to create an instance.
#[derive(Debug, Clone)]
pub struct CreateInstance {
    pub app: AppId,
    pub owner: InstanceOwner,
    pub actor: Actor,
    /// Initial data per data type (prefill), validated against the data types' schemas.
    pub data: BTreeMap<DataTypeId, Value>,
    /// Start at this start event instead of the first.
    pub start_event: Option<String>,
    /// `(Idempotency-Key, hash of the request)`: the same key and hash from the same caller
    /// (`actor`) return the same instance; the same key with another hash is refused. Keys are
    /// per caller: another caller's use of the same key is neither seen nor disturbed.
    pub idempotency: Option<(String, String)>,
}

/// The outcome of a create: the instance, and whether this call created it (false when an
/// `Idempotency-Key` replay returned an earlier one).
#[derive(Debug, Clone)]
pub struct Created {
    pub instance: Instance,
    pub created: bool,
}

/// A request to complete the current task and move on.
#[derive(Debug, Clone)]
pub struct Next {
    pub instance: InstanceId,
    pub action: Option<String>,
    pub task: Option<String>,
    pub actor: Actor,
    pub expected_version: Option<u64>,
}

/// A request to write JSON data of one data type.
#[derive(Debug, Clone)]
pub struct WriteData {
    pub instance: InstanceId,
    pub data_type: DataTypeId,
    pub value: Value,
    pub actor: Actor,
    pub expected_version: Option<u64>,
}

/// Checks data about to be written, whoever writes it (create, data `PUT`, a hook, a service
/// task's output): the data type must exist (or the app's data types be open), the data must be
/// a JSON object (so a data `PUT` can always write it back), and it must satisfy the schema.
pub fn check_data(app: &AppSpec, data_type: &DataTypeId, value: &Value) -> Result<(), Error> {
    let spec = match app.data_type(data_type.as_str()) {
        None if !app.open_data_types => {
            return Err(Error::UnknownDataType {
                app: app.id.clone(),
                data_type: data_type.to_string(),
            });
        }
        spec => spec,
    };
    if !value.is_object() {
        return Err(Error::DataInvalid {
            data_type: data_type.to_string(),
            issues: vec![crate::app::SchemaIssue {
                field: String::new(),
                message: "the data of a data type must be a JSON object `{...}`".into(),
            }],
        });
    }
    match spec {
        None => Ok(()),
        Some(spec) => match &spec.schema {
            Some(schema) => {
                let issues = schema.check(value);
                if issues.is_empty() {
                    Ok(())
                } else {
                    Err(Error::DataInvalid {
                        data_type: data_type.to_string(),
                        issues,
                    })
                }
            }
            None => Ok(()),
        },
    }
}

impl Runtime {
    fn load(
        &self,
        id: InstanceId,
        expected: Option<u64>,
    ) -> Result<(Instance, Arc<ProcessDefinition>, Arc<AppSpec>), Error> {
        self.resolve(self.instance(id)?, expected)
    }

    /// The definition and app of an instance already read, after the `If-Match` check.
    fn resolve(
        &self,
        instance: Instance,
        expected: Option<u64>,
    ) -> Result<(Instance, Arc<ProcessDefinition>, Arc<AppSpec>), Error> {
        if let Some(expected) = expected
            && expected != instance.version
        {
            return Err(Error::VersionMismatch {
                expected,
                actual: instance.version,
            });
        }
        let def = self.definition(&instance.app, instance.definition_version)?;
        let app = self.app(&instance.app)?;
        Ok((instance, def, app))
    }

    async fn commit(&self, work: Work<'_>, read_version: Option<u64>) -> Result<Instance, Error> {
        let (txn, instance, jobs) = work.into_txn(read_version);
        self.commit_transition(txn).await?;
        Metrics::add(&self.inner.metrics.transitions);
        if !jobs.is_empty() {
            self.inner.jobs_ready.notify_waiters();
        }
        Ok(instance)
    }

    /// Commits a transition of an existing instance, between the `transition.*` fail points.
    async fn commit_transition(&self, txn: Txn) -> Result<(), Error> {
        crate::failpoint!("transition.before_commit");
        self.commit_txn(txn).await?;
        crate::failpoint!("transition.after_commit");
        Ok(())
    }

    pub(crate) async fn commit_txn(&self, txn: Txn) -> Result<(), Error> {
        match self.inner.store.commit(txn).await {
            Ok(()) => Ok(()),
            Err(CommitError::Conflict(_)) => {
                Metrics::add(&self.inner.metrics.conflicts);
                Err(Error::Conflict)
            }
            Err(CommitError::Store(e)) => Err(Error::Store(e)),
        }
    }

    /// Creates an instance and runs its process to the first wait state, in one commit.
    pub async fn create_instance(&self, req: CreateInstance) -> Result<Created, Error> {
        let app = self.app(&req.app)?;
        if let Some((key, hash)) = &req.idempotency
            && let Some(found) = self.replay(&req.app, &req.actor, key, hash)?
        {
            return Ok(found);
        }
        let (version, def) = self.latest_definition(&req.app)?;
        let start = match &req.start_event {
            None => def.start_events().first().copied(),
            Some(id) => def
                .node_by_id(id)
                .filter(|n| matches!(def.node(*n).kind, NodeKind::StartEvent(_))),
        }
        .ok_or_else(|| {
            Error::BadRequest(format!(
                "no start event `{}`",
                req.start_event.as_deref().unwrap_or("")
            ))
        })?;
        for (data_type, value) in &req.data {
            check_data(&app, data_type, value)?;
        }
        let now = self.inner.clock.now();
        let id = InstanceId::from_uuid(uuid::Uuid::now_v7());
        let start_node = def.node(start);
        let instance = Instance {
            id,
            app: req.app.clone(),
            owner: req.owner.clone(),
            definition_version: version,
            version: 0,
            created: now,
            created_by: req.actor.clone(),
            last_changed: now,
            last_changed_by: req.actor.clone(),
            process: ProcessState {
                started: Some(now),
                start_event: Some(start_node.id.clone()),
                ..ProcessState::default()
            },
            data: BTreeMap::new(),
            history_len: 0,
            visits: BTreeMap::new(),
        };
        let mut work = Work::new(
            &self.inner,
            &def,
            &app,
            instance,
            DataCache::fresh(id),
            req.actor.clone(),
            now,
        );
        for (data_type, value) in req.data {
            work.data.set(data_type, value);
        }
        work.run_hooks(HookPoint::InstanceCreated).await?;
        work.record(
            EventType::StartEvent,
            Some(start_node.id.clone()),
            None,
            None,
        );
        let first = start_node.outgoing.iter().map(|&f| (f, None)).collect();
        work.arrive(first).await?;
        // Hooks may have written data; it must satisfy the schemas too.
        work.check_written()?;
        let (mut txn, instance, jobs) = work.into_txn(None);
        if let Some((key, hash)) = &req.idempotency {
            txn.put_idempotency(
                &req.app,
                &req.actor.identity(),
                key,
                &IdempotencyRecord {
                    request_hash: hash.clone(),
                    instance: id,
                    party: instance.owner.party_id,
                    created: now,
                },
            );
        }
        crate::failpoint!("create.before_commit");
        match self.commit_txn(txn).await {
            Ok(()) => {
                crate::failpoint!("create.after_commit");
            }
            // A concurrent request with the same key won: answer as a replay of it.
            Err(Error::Conflict) if req.idempotency.is_some() => {
                if let Some((key, hash)) = &req.idempotency
                    && let Some(found) = self.replay(&req.app, &req.actor, key, hash)?
                {
                    return Ok(found);
                }
                return Err(Error::Conflict);
            }
            Err(e) => return Err(e),
        }
        Metrics::add(&self.inner.metrics.transitions);
        Metrics::add(&self.inner.metrics.instances_created);
        if !jobs.is_empty() {
            self.inner.jobs_ready.notify_waiters();
        }
        Ok(Created {
            instance,
            created: true,
        })
    }

    fn replay(
        &self,
        app: &AppId,
        actor: &Actor,
        key: &str,
        hash: &str,
    ) -> Result<Option<Created>, Error> {
        let store = &self.inner.store;
        let record = match store.idempotency(app, &actor.identity(), key)? {
            Some(record) => Some(record),
            // A key from before keys were per caller counts only for the caller that created
            // the instance; for anyone else it does not exist.
            None => match store.idempotency_unscoped(app, key)? {
                Some(record)
                    if store
                        .instance(record.instance)?
                        .is_some_and(|i| i.created_by == *actor) =>
                {
                    Some(record)
                }
                _ => None,
            },
        };
        match record {
            None => Ok(None),
            Some(record) if record.request_hash == hash => {
                let instance = self.instance(record.instance)?;
                Ok(Some(Created {
                    instance,
                    created: false,
                }))
            }
            Some(_) => Err(Error::IdempotencyKeyReused(key.to_string())),
        }
    }

    /// Completes the current task with an action and moves the process on, in one commit.
    ///
    /// Normally the task is a user task. A service task can be acted on too when it lists the
    /// action (Altinn lists `reject` on some): its job is cancelled in the same commit.
    pub async fn next(&self, req: Next) -> Result<Instance, Error> {
        let instance = self.instance(req.instance)?;
        self.next_from(instance, req).await
    }

    /// [`next`](Self::next) from a snapshot of the instance the caller has just read (to
    /// authorise the move, say), which saves reading it again. Safe with any snapshot: the
    /// commit checks that the instance is still at the snapshot's version and fails with
    /// [`Error::Conflict`] otherwise, exactly as for two concurrent moves.
    pub async fn next_from(&self, instance: Instance, req: Next) -> Result<Instance, Error> {
        if instance.id != req.instance {
            return Err(Error::BadRequest(format!(
                "the snapshot is of instance {}, the move is of {}",
                instance.id, req.instance
            )));
        }
        let (instance, def, app) = self.resolve(instance, req.expected_version)?;
        if instance.is_ended() {
            return Err(Error::ProcessEnded);
        }
        let read_version = instance.version;
        let (token_id, element) =
            pick_task(&instance, req.task.as_deref(), req.action.as_deref(), &def)?;
        let node_idx = def.node_by_id(&element).ok_or_else(|| {
            Error::BadRequest(format!(
                "task `{element}` is not in definition version {}",
                instance.definition_version
            ))
        })?;
        let node = def.node(node_idx);
        let (action, cancelled_job) = match &node.kind {
            NodeKind::UserTask(task) => {
                let action = req
                    .action
                    .clone()
                    .unwrap_or_else(|| task.default_action().to_string());
                if !task.completes_with(&action) {
                    return Err(Error::ActionNotAllowed {
                        action,
                        task: element,
                        allowed: process_actions(&task.all_actions()),
                    });
                }
                (action, None)
            }
            NodeKind::ServiceTask(task) => {
                let allowed = process_actions(&task.actions);
                let action = req.action.clone().unwrap_or_default();
                if !allowed.contains(&action) {
                    return Err(Error::ActionNotAllowed {
                        action,
                        task: element,
                        allowed,
                    });
                }
                let job = instance
                    .process
                    .job_tokens()
                    .find(|(t, _, _)| t.id == token_id)
                    .map(|(_, _, k)| k);
                let job = match job {
                    Some(key) => self.inner.store.job(key)?,
                    None => None,
                };
                (action, job)
            }
            _ => {
                return Err(Error::TaskNotActive {
                    task: element,
                    active: Vec::new(),
                });
            }
        };
        let now = self.inner.clock.now();
        let mut work = Work::new(
            &self.inner,
            &def,
            &app,
            instance,
            DataCache::new(req.instance, self.inner.store.clone()),
            req.actor.clone(),
            now,
        );
        let task_ref = TaskRef::of(node);
        let abandon = action == "reject";
        if abandon {
            work.run_hooks(HookPoint::TaskAbandoned(&task_ref, &action))
                .await?;
        } else {
            // Data of this task must be present (if required) and valid before it completes.
            for spec in app.data_types_of_task(&element) {
                match work.data.get(&spec.id)? {
                    None if spec.required => {
                        return Err(Error::DataMissing {
                            task: element.clone(),
                            data_type: spec.id.to_string(),
                        });
                    }
                    Some(value) => check_data(&app, &spec.id, value)?,
                    None => {}
                }
            }
            work.run_hooks(HookPoint::TaskEnding(&task_ref, &action))
                .await?;
        }
        work.take_task_token(token_id);
        let event = if abandon {
            EventType::AbandonTask
        } else {
            EventType::EndTask
        };
        work.record(event, Some(node.id.clone()), Some(action.clone()), None);
        work.gateway_action = Some(action);
        let out = node.outgoing.iter().map(|&f| (f, Some(node_idx))).collect();
        work.arrive(out).await?;
        work.check_written()?;
        let mut txn = Txn::new();
        if let Some((rev, job)) = &cancelled_job {
            // A worker holding the job loses its lease: its completion finds no token and drops it.
            txn.delete_job(job, *rev);
        }
        let (instance, jobs) = work.write_into(&mut txn, Some(read_version));
        self.commit_transition(txn).await?;
        Metrics::add(&self.inner.metrics.transitions);
        if !jobs.is_empty() {
            self.inner.jobs_ready.notify_waiters();
        }
        Ok(instance)
    }

    /// Writes JSON data while a task that may write it is active; `data_written` hooks may
    /// validate or enrich it. One commit.
    pub async fn write_data(&self, req: WriteData) -> Result<Instance, Error> {
        let (instance, def, app) = self.load(req.instance, req.expected_version)?;
        if instance.is_ended() {
            return Err(Error::DataNotWritable {
                data_type: req.data_type.to_string(),
                reason: "the process has ended".into(),
            });
        }
        let spec = app.data_type(req.data_type.as_str());
        if spec.is_none() && !app.open_data_types {
            return Err(Error::UnknownDataType {
                app: app.id.clone(),
                data_type: req.data_type.to_string(),
            });
        }
        let active: Vec<String> = instance
            .process
            .user_task_tokens()
            .map(|(_, t)| t.element_id.to_string())
            .collect();
        match spec.and_then(|s| s.task.as_deref()) {
            Some(task) if !active.iter().any(|a| a == task) => {
                return Err(Error::DataNotWritable {
                    data_type: req.data_type.to_string(),
                    reason: format!(
                        "it belongs to task `{task}`, which is not active (active: {})",
                        if active.is_empty() {
                            "none".into()
                        } else {
                            active.join(", ")
                        }
                    ),
                });
            }
            None if active.is_empty() => {
                return Err(Error::DataNotWritable {
                    data_type: req.data_type.to_string(),
                    reason: "no user task is active".into(),
                });
            }
            _ => {}
        }
        let read_version = instance.version;
        let now = self.inner.clock.now();
        let mut work = Work::new(
            &self.inner,
            &def,
            &app,
            instance,
            DataCache::new(req.instance, self.inner.store.clone()),
            req.actor,
            now,
        );
        work.data.set(req.data_type.clone(), req.value);
        work.run_hooks(HookPoint::DataWritten(req.data_type.as_str()))
            .await?;
        work.check_written()?;
        self.commit(work, Some(read_version)).await
    }

    /// Clears the instance's incidents and re-queues their jobs with fresh attempts. One commit.
    pub async fn resume(
        &self,
        id: InstanceId,
        actor: Actor,
        expected_version: Option<u64>,
    ) -> Result<Instance, Error> {
        let (instance, def, app) = self.load(id, expected_version)?;
        if instance.process.incidents.is_empty() {
            return Err(Error::NoIncident);
        }
        let read_version = instance.version;
        let now = self.inner.clock.now();
        let incidents = instance.process.incidents.clone();
        let mut work = Work::new(
            &self.inner,
            &def,
            &app,
            instance,
            DataCache::new(id, self.inner.store.clone()),
            actor,
            now,
        );
        work.instance.process.incidents.clear();
        let mut job_updates = Vec::new();
        for incident in &incidents {
            if let Some((rev, job)) = self.inner.store.job(incident.job)? {
                let mut again = job.clone();
                again.attempts = 0;
                again.state = JobState::Queued { due: now };
                job_updates.push((job, rev, again));
            }
            work.record(
                EventType::IncidentResolved,
                Some(incident.element_id.clone()),
                None,
                Some(serde_json::json!({ "reason": incident.reason })),
            );
        }
        let (mut txn, instance, _) = work.into_txn(Some(read_version));
        for (old, rev, new) in &job_updates {
            txn.update_job(old, *rev, new);
        }
        self.commit_transition(txn).await?;
        Metrics::add(&self.inner.metrics.transitions);
        self.inner.jobs_ready.notify_waiters();
        Ok(instance)
    }

    /// Deletes an instance with its history, data and pending jobs. One commit.
    pub async fn delete_instance(
        &self,
        id: InstanceId,
        expected_version: Option<u64>,
    ) -> Result<(), Error> {
        let instance = self.instance(id)?;
        if let Some(expected) = expected_version
            && expected != instance.version
        {
            return Err(Error::VersionMismatch {
                expected,
                actual: instance.version,
            });
        }
        let mut txn = Txn::new();
        txn.delete_instance(&instance, instance.version);
        for (_, _, key) in instance.process.job_tokens() {
            if let Some((rev, job)) = self.inner.store.job(key)? {
                txn.delete_job(&job, rev);
            }
        }
        self.commit_transition(txn).await
    }

    /// Runs a task's server action: code that does not move the process. Data it writes is
    /// committed (one commit); its result is returned.
    pub async fn server_action(
        &self,
        id: InstanceId,
        action: &str,
        task: Option<&str>,
        actor: Actor,
    ) -> Result<(Instance, Value), Error> {
        let (instance, def, app) = self.load(id, None)?;
        let (_, element) = pick_task(&instance, task, None, &def)?;
        let node = def.node_by_id(&element).map(|n| def.node(n));
        let listed = matches!(node.map(|n| &n.kind), Some(NodeKind::UserTask(t)) if t.has_server_action(action));
        let handler = self
            .inner
            .registry
            .server_action(&app.id, action)
            .filter(|_| listed)
            .cloned();
        let (Some(node), Some(handler)) = (node, handler) else {
            return Err(Error::UnknownServerAction {
                task: element,
                action: action.to_string(),
            });
        };
        let read_version = instance.version;
        let now = self.inner.clock.now();
        let mut work = Work::new(
            &self.inner,
            &def,
            &app,
            instance,
            DataCache::new(id, self.inner.store.clone()),
            actor,
            now,
        );
        let task_ref = TaskRef::of(node);
        let timeout = self.inner.registry.hook_timeout();
        let hook = format!("server action `{action}`");
        let result = {
            let mut ctx = HookContext {
                instance: &work.instance,
                data: &mut work.data,
                app: &app,
                definition: &def,
                actor: &work.actor,
                now,
            };
            match tokio::time::timeout(timeout, handler.run(&mut ctx, &task_ref)).await {
                Ok(Ok(v)) => v,
                Ok(Err(HookError::Rejected(issues))) => {
                    return Err(Error::Refused { hook, issues });
                }
                Ok(Err(HookError::Failed(detail))) => {
                    return Err(Error::HookFailed { hook, detail });
                }
                Err(_) => {
                    return Err(Error::HookTimeout {
                        hook,
                        millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                    });
                }
            }
        };
        work.check_written()?;
        work.record(
            EventType::ServerAction,
            Some(node.id.clone()),
            Some(action.to_string()),
            None,
        );
        let instance = self.commit(work, Some(read_version)).await?;
        Ok((instance, result))
    }
}

fn process_actions(actions: &[crate::bpmn::elements::Action]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.kind == crate::bpmn::elements::ActionKind::Process)
        .map(|a| a.id.clone())
        .collect()
}

/// The token of the task to act on: the named one, or the only active user task. A service task
/// qualifies only when it lists the action (e.g. `reject`).
fn pick_task(
    instance: &Instance,
    task: Option<&str>,
    action: Option<&str>,
    def: &ProcessDefinition,
) -> Result<(u32, String), Error> {
    let users: Vec<(u32, String)> = instance
        .process
        .user_task_tokens()
        .map(|(t, info)| (t.id, info.element_id.to_string()))
        .collect();
    let service_listing = |element: &str| {
        action.is_some_and(|a| {
            def.node_by_id(element)
                .and_then(|n| def.service_task(n))
                .is_some_and(|st| st.actions.iter().any(|x| x.id == a))
        })
    };
    let services: Vec<(u32, String)> = instance
        .process
        .job_tokens()
        .map(|(t, info, _)| (t.id, info.element_id.to_string()))
        .collect();
    let active = || {
        instance
            .process
            .active_tasks()
            .map(|t| t.element_id.to_string())
            .collect::<Vec<_>>()
    };
    match task {
        Some(task) => users
            .iter()
            .chain(services.iter().filter(|(_, e)| service_listing(e)))
            .find(|(_, e)| e == task)
            .cloned()
            .ok_or_else(|| Error::TaskNotActive {
                task: task.to_string(),
                active: active(),
            }),
        None => match users.as_slice() {
            [one] => Ok(one.clone()),
            [] => {
                if let [one] = services
                    .iter()
                    .filter(|(_, e)| service_listing(e))
                    .collect::<Vec<_>>()
                    .as_slice()
                {
                    return Ok((*one).clone());
                }
                if instance.is_ended() {
                    return Err(Error::ProcessEnded);
                }
                Err(Error::NoActiveTask {
                    waiting_for: services.iter().map(|(_, e)| e.clone()).collect(),
                })
            }
            many => Err(Error::TaskRequired {
                active: many.iter().map(|(_, e)| e.clone()).collect(),
            }),
        },
    }
}
