//! Completing a task with an action and moving on: `PUT .../process/next`.
//!
//! The engine plans the move ([`Runtime::plan_next`]: which task, which action) and the API
//! authorises exactly that plan before [`Runtime::next_planned`] executes it, so the task and
//! action a policy is checked against are the ones the engine acts on.

use super::sign::sign;
use super::{Next, check_data};
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::{NodeIdx, NodeKind, UserTaskType};
use crate::hooks::TaskRef;
use crate::model::{Actor, Assignee, EventType, Instance, JobState};
use crate::runtime::assignment::assigned_to;
use crate::runtime::pipeline::Kind;
use crate::runtime::transition::HookPoint;
use crate::runtime::{Error, Runtime};

/// The policy action that lets a caller run a service task again with `next` (Altinn: `write`
/// on `pdf`, `eFormidling` and the other service task types).
pub const RETRY_ACTION: &str = "write";

/// What a `next` will act on: the task (its element id), the action as sent, and the policy
/// actions of which the caller needs one. Computed by [`Runtime::plan_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPlan {
    /// The token waiting at the task.
    pub token: u32,
    /// The task's element id.
    pub task: String,
    /// The action as sent. `None` reaches the next gateways as a null `gatewayAction`, as in
    /// Altinn; nothing is invented.
    pub action: Option<String>,
    /// The policy actions a caller needs one of: the action sent, or with none the task's own
    /// (Altinn: `write` on a data task, `sign` or `write` on a signing task, ...).
    pub authorize: Vec<String>,
    /// What the move does.
    pub step: NextStep,
    /// Only the app's service owner moves this task (a `feedback` task waits for it).
    pub service_owner_only: bool,
    /// Who the task is assigned to: the API checks the caller is (on top of the policy).
    pub assignee: Option<Assignee>,
    /// The inner instance's index, when the task is one of a multi-instance task's.
    pub inner: Option<u32>,
}

/// What a planned `next` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextStep {
    /// Completes a user task and moves on; `sign` records a signature first where one is
    /// configured.
    Complete,
    /// Abandons the task with `reject`: no data checks, `task_abandoned` hooks.
    Abandon,
    /// Leaves a service task with an action it lists (Altinn lists `reject` on some): its job
    /// is cancelled in the same commit.
    LeaveServiceTask,
    /// Runs a service task again now (Altinn runs it again on `next`): an incident on it is
    /// cleared and its job queued with fresh attempts; the process stays at the task.
    RetryServiceTask,
}

impl NextPlan {
    /// The action hooks and history see: the one sent, else the first the caller was checked
    /// for.
    pub fn checked_action(&self) -> &str {
        self.action
            .as_deref()
            .or(self.authorize.first().map(String::as_str))
            .unwrap_or("write")
    }
}

impl Runtime {
    /// Plans `req` on an instance as read: after the `If-Match` check, the task (the named one,
    /// or the only active user task, or the only service task) and what the action does there,
    /// refused when the task does not take that action. Writes nothing.
    pub fn plan_next(&self, instance: &Instance, req: &Next) -> Result<NextPlan, Error> {
        self.plan_next_inner(instance, req, None)
    }

    /// [`plan_next`](Self::plan_next) naming the inner instance (by index) of a multi-instance
    /// task. Without one, of several inner instances of the task the one assigned to the
    /// caller (by person or organisation number) is picked.
    pub fn plan_next_inner(
        &self,
        instance: &Instance,
        req: &Next,
        inner: Option<u32>,
    ) -> Result<NextPlan, Error> {
        if let Some(expected) = req.expected_version
            && expected != instance.version
        {
            return Err(Error::VersionMismatch {
                expected,
                actual: instance.version,
            });
        }
        if instance.is_ended() {
            return Err(Error::ProcessEnded);
        }
        let (task, action) = (req.task.as_deref(), req.action.as_deref());
        let def = self.definition_of(instance)?;
        let (token, element) = pick_task(instance, task, action, &def, inner, &req.actor)?;
        let node = node_of(&def, &element, instance)?;
        let not_allowed = |action: &str, allowed: Vec<String>| Error::ActionNotAllowed {
            action: action.to_string(),
            task: element.clone(),
            allowed,
        };
        let (authorize, step, service_owner_only) = match &def.node(node).kind {
            NodeKind::UserTask(task) => {
                let step = match action {
                    None => NextStep::Complete,
                    Some(a) if !task.completes_with(a) => {
                        return Err(not_allowed(a, task.process_actions()));
                    }
                    Some("reject") => NextStep::Abandon,
                    Some(_) => NextStep::Complete,
                };
                let authorize = match action {
                    Some(a) => vec![a.to_string()],
                    None => task.own_actions().iter().map(|a| a.to_string()).collect(),
                };
                let feedback = task.task_type == UserTaskType::Feedback;
                (authorize, step, feedback)
            }
            NodeKind::ServiceTask(task) => {
                let listed = process_actions(&task.actions);
                match action {
                    Some(a) if listed.iter().any(|l| l == a) => {
                        (vec![a.to_string()], NextStep::LeaveServiceTask, false)
                    }
                    None | Some(RETRY_ACTION) => (
                        vec![RETRY_ACTION.to_string()],
                        NextStep::RetryServiceTask,
                        false,
                    ),
                    Some(a) => {
                        let mut allowed = listed;
                        allowed.push(RETRY_ACTION.to_string());
                        return Err(not_allowed(a, allowed));
                    }
                }
            }
            _ => {
                return Err(Error::TaskNotActive {
                    task: element,
                    active: Vec::new(),
                });
            }
        };
        let assignee = instance
            .process
            .tokens
            .iter()
            .find(|t| t.id == token)
            .and_then(|t| t.task())
            .and_then(|t| t.assignee.clone());
        Ok(NextPlan {
            token,
            task: element,
            action: action.map(str::to_string),
            authorize,
            step,
            service_owner_only,
            assignee,
            inner: instance.process.inner_index(token),
        })
    }

    /// Completes the current task with an action and moves the process on, in one commit.
    pub async fn next(&self, req: Next) -> Result<Instance, Error> {
        let instance = self.instance(req.instance)?;
        self.next_from(instance, req).await
    }

    /// [`next`](Self::next) from a snapshot of the instance the caller has just read. Safe with
    /// any snapshot: the commit checks that the instance is still at the snapshot's version
    /// and fails with [`Error::Conflict`] otherwise, exactly as for two concurrent moves.
    pub async fn next_from(&self, instance: Instance, req: Next) -> Result<Instance, Error> {
        let plan = self.plan_next(&instance, &req)?;
        self.next_planned(instance, &plan, req).await
    }

    /// Executes a plan from [`plan_next`](Self::plan_next) of this same snapshot (the API
    /// authorises the plan first). `req.task` and `req.action` are not consulted again.
    pub async fn next_planned(
        &self,
        instance: Instance,
        plan: &NextPlan,
        req: Next,
    ) -> Result<Instance, Error> {
        if instance.id != req.instance {
            return Err(Error::BadRequest(format!(
                "the snapshot is of instance {}, the move is of {}",
                instance.id, req.instance
            )));
        }
        // Load, and check the plan is of this snapshot: its token still waits at its task.
        let loaded = self.resolve(instance, req.expected_version)?;
        let waiting = loaded.instance.process.tokens.iter().any(|t| {
            t.id == plan.token
                && t.task()
                    .is_some_and(|task| task.element_id.as_str() == plan.task)
        });
        if !waiting {
            return Err(Error::TaskNotActive {
                task: plan.task.clone(),
                active: loaded
                    .instance
                    .process
                    .active_tasks()
                    .map(|t| t.element_id.to_string())
                    .collect(),
            });
        }
        if plan.step == NextStep::RetryServiceTask {
            return self.retry_service_task(loaded, plan, req.actor).await;
        }
        let node_idx = node_of(&loaded.def, &plan.task, &loaded.instance)?;
        let cancelled_job = match plan.step {
            NextStep::LeaveServiceTask => self.job_of_token(&loaded.instance, plan.token)?,
            _ => None,
        };
        // Compute, starting with the check that the task's data is present and valid (read
        // through the transition's data cache, which the gateways after it reuse).
        let (def, app) = (loaded.def.clone(), loaded.app.clone());
        let node = def.node(node_idx);
        let task_ref = TaskRef::of(node);
        let checked = plan.checked_action().to_string();
        let abandon = plan.action.as_deref() == Some("reject");
        let mut t = self.begin(loaded, req.actor);
        if abandon {
            t.run_hooks(HookPoint::TaskAbandoned(&task_ref, &checked))
                .await?;
        } else {
            for spec in app.data_types_of_task(&plan.task) {
                match t.data.get(&spec.id)? {
                    None if spec.required => {
                        return Err(Error::DataMissing {
                            task: plan.task.clone(),
                            data_type: spec.id.to_string(),
                        });
                    }
                    Some(value) => check_data(&app, &spec.id, value)?,
                    None => {}
                }
            }
            if plan.action.as_deref() == Some("sign")
                && let NodeKind::UserTask(task) = &node.kind
                && let Some(config) = &task.signature
            {
                sign(&mut t, &plan.task, config, req.on_behalf_of.as_deref())?;
            }
            t.run_hooks(HookPoint::TaskEnding(&task_ref, &checked))
                .await?;
        }
        let scope = t.take_task_token(plan.token)?;
        let event = if abandon {
            EventType::AbandonTask
        } else {
            EventType::EndTask
        };
        t.record(event, Some(node.id.clone()), plan.action.clone(), None);
        // As Altinn: the action as sent, or null; gateways match no `gatewayAction` on null.
        t.gateway_action = plan.action.clone();
        t.leave_task(node_idx, plan.token, scope).await?;
        t.check_written()?;
        if let Some((rev, job)) = &cancelled_job {
            // A worker holding the job loses its lease: its completion finds no token and drops it.
            t.prelude.delete_job(job, *rev);
        }
        // Commit.
        Ok(self.commit(Kind::Move, t).await?)
    }

    /// `next` on a service task: its job runs again now with fresh attempts, and an incident on
    /// it is cleared. Refused while an attempt is running (its lease is held).
    async fn retry_service_task(
        &self,
        loaded: crate::runtime::pipeline::Loaded,
        plan: &NextPlan,
        actor: crate::model::Actor,
    ) -> Result<Instance, Error> {
        let Some((rev, job)) = self.job_of_token(&loaded.instance, plan.token)? else {
            return Err(Error::TaskNotActive {
                task: plan.task.clone(),
                active: Vec::new(),
            });
        };
        if let JobState::Leased { .. } = job.state {
            return Err(Error::ServiceTaskRunning {
                task: plan.task.clone(),
            });
        }
        let mut t = self.begin(loaded, actor);
        let cleared: Vec<_> = t
            .instance
            .process
            .incidents
            .iter()
            .filter(|i| i.job == job.key)
            .cloned()
            .collect();
        t.instance.process.incidents.retain(|i| i.job != job.key);
        let mut again = job.clone();
        again.attempts = 0;
        again.state = JobState::Queued { due: t.now };
        t.prelude.update_job(&job, rev, &again);
        for incident in &cleared {
            t.record(
                EventType::IncidentResolved,
                Some(incident.element_id.clone()),
                None,
                Some(serde_json::json!({ "reason": incident.reason })),
            );
        }
        t.record(
            EventType::ServiceTaskRetried,
            Some(crate::ids::ElementId::new(plan.task.clone())),
            plan.action.clone(),
            None,
        );
        let (txn, instance, _) = t.into_txn();
        // The re-queued job is in the prelude: wake the worker.
        self.commit_txn(Kind::Move, txn, true).await?;
        Ok(instance)
    }

    /// The job a service task's token waits on, with its revision.
    fn job_of_token(
        &self,
        instance: &Instance,
        token: u32,
    ) -> Result<Option<(u64, crate::model::Job)>, Error> {
        let key = instance
            .process
            .job_tokens()
            .find(|(t, _, _)| t.id == token)
            .map(|(_, _, k)| k);
        Ok(match key {
            Some(key) => self.inner.store.job(key)?,
            None => None,
        })
    }
}

fn node_of(def: &ProcessDefinition, element: &str, instance: &Instance) -> Result<NodeIdx, Error> {
    def.node_by_id(element).ok_or_else(|| {
        Error::BadRequest(format!(
            "task `{element}` is not in definition version {}",
            instance.definition_version
        ))
    })
}

fn process_actions(actions: &[crate::bpmn::elements::Action]) -> Vec<String> {
    actions
        .iter()
        .filter(|a| a.kind == crate::bpmn::elements::ActionKind::Process)
        .map(|a| a.id.clone())
        .collect()
}

/// The token of the task to act on: the named one, or the only active user task. A service task
/// qualifies when it lists the action (e.g. `reject`), or for a retry (`write` or no action).
pub(super) fn pick_task(
    instance: &Instance,
    task: Option<&str>,
    action: Option<&str>,
    def: &ProcessDefinition,
    inner: Option<u32>,
    actor: &Actor,
) -> Result<(u32, String), Error> {
    let users: Vec<(u32, String)> = instance
        .process
        .user_task_tokens()
        .map(|(t, info)| (t.id, info.element_id.to_string()))
        .collect();
    let users = own_inner(instance, users, task, inner, actor)?;
    // A service task takes the actions it lists, and `write` (or none) to run it again.
    let service_listing = |element: &str| match action {
        None | Some(RETRY_ACTION) => true,
        Some(a) => def
            .node_by_id(element)
            .and_then(|n| def.service_task(n))
            .is_some_and(|st| st.actions.iter().any(|x| x.id == a)),
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

/// Narrows the user tasks to act on when inner instances of a multi-instance task are among
/// them: to inner instance `inner` when named, else, of several at one task, to the one
/// assigned to `actor` (several and none of them the caller's: the caller must name one).
fn own_inner(
    instance: &Instance,
    users: Vec<(u32, String)>,
    task: Option<&str>,
    inner: Option<u32>,
    actor: &Actor,
) -> Result<Vec<(u32, String)>, Error> {
    let process = &instance.process;
    let named = |e: &str| task.is_none_or(|t| t == e);
    if let Some(index) = inner {
        let found: Vec<(u32, String)> = users
            .into_iter()
            .filter(|(t, e)| named(e) && process.inner_index(*t) == Some(index))
            .collect();
        if found.is_empty() {
            return Err(Error::TaskNotActive {
                task: format!("{} (inner instance {index})", task.unwrap_or("any task")),
                active: process
                    .active_tasks()
                    .map(|t| t.element_id.to_string())
                    .collect(),
            });
        }
        return Ok(found);
    }
    let candidates: Vec<&(u32, String)> = users.iter().filter(|(_, e)| named(e)).collect();
    let inner_at: Vec<(u32, &str, u32)> = candidates
        .iter()
        .filter_map(|(t, e)| process.inner_index(*t).map(|i| (*t, e.as_str(), i)))
        .collect();
    if candidates.len() < 2 {
        return Ok(users);
    }
    let assignee_of = |token: u32| {
        process
            .tokens
            .iter()
            .find(|t| t.id == token)
            .and_then(|t| t.task())
            .and_then(|t| t.assignee.as_ref())
    };
    let mine: Vec<(u32, String)> = candidates
        .iter()
        .filter(|(t, _)| assignee_of(*t).is_some_and(|a| assigned_to(a, actor)))
        .map(|c| (*c).clone())
        .collect();
    if mine.len() == 1 {
        return Ok(mine);
    }
    if inner_at.len() < 2 {
        return Ok(users);
    }
    // Several inner instances of one task and none (or several) of them the caller's.
    if let [(_, first, _), rest @ ..] = inner_at.as_slice()
        && rest.iter().all(|(_, e, _)| e == first)
        && inner_at.len() == candidates.len()
    {
        return Err(Error::InnerInstanceRequired {
            task: first.to_string(),
            active: inner_at.iter().map(|(_, _, i)| *i).collect(),
        });
    }
    Ok(users)
}
