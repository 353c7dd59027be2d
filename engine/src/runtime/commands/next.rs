//! Completing a task with an action and moving on: `PUT .../process/next`.
//!
//! The engine plans the move ([`Runtime::plan_next`]: which task, which action) and the API
//! authorises exactly that plan before [`Runtime::next_planned`] executes it, so the task and
//! action a policy is checked against are the ones the engine acts on.

use super::{Next, check_data};
use crate::bpmn::ProcessDefinition;
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::hooks::TaskRef;
use crate::model::{EventType, Instance};
use crate::runtime::pipeline::Kind;
use crate::runtime::transition::HookPoint;
use crate::runtime::{Error, Runtime};

/// What a `next` will act on: the task (its element id) and the action it completes the task
/// with (the one a policy must grant). Computed by [`Runtime::plan_next`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NextPlan {
    /// The token waiting at the task.
    pub token: u32,
    /// The task's element id.
    pub task: String,
    /// The action, as sent or the task type's default (`write`, `confirm`, `sign`, ...).
    pub action: String,
    /// A service task that lists the action (Altinn lists `reject` on some): its job is
    /// cancelled in the same commit.
    pub service_task: bool,
}

impl Runtime {
    /// Plans `req` on an instance as read: after the `If-Match` check, the task (the named one,
    /// or the only active user task, or the only service task listing the action) and the
    /// action (as sent, or the user task type's default), refused when the task does not take
    /// that action. Writes nothing.
    pub fn plan_next(&self, instance: &Instance, req: &Next) -> Result<NextPlan, Error> {
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
        let def = self.definition(&instance.app, instance.definition_version)?;
        let (token, element) = pick_task(instance, task, action, &def)?;
        let node = node_of(&def, &element, instance)?;
        let (action, service_task) = match &def.node(node).kind {
            NodeKind::UserTask(task) => {
                let action =
                    action.map_or_else(|| task.default_action().to_string(), str::to_string);
                if !task.completes_with(&action) {
                    return Err(Error::ActionNotAllowed {
                        action,
                        task: element,
                        allowed: process_actions(&task.all_actions()),
                    });
                }
                (action, false)
            }
            NodeKind::ServiceTask(task) => {
                let allowed = process_actions(&task.actions);
                let action = action.unwrap_or_default().to_string();
                if !allowed.contains(&action) {
                    return Err(Error::ActionNotAllowed {
                        action,
                        task: element,
                        allowed,
                    });
                }
                (action, true)
            }
            _ => {
                return Err(Error::TaskNotActive {
                    task: element,
                    active: Vec::new(),
                });
            }
        };
        Ok(NextPlan {
            token,
            task: element,
            action,
            service_task,
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
        let node_idx = node_of(&loaded.def, &plan.task, &loaded.instance)?;
        let cancelled_job = match plan.service_task {
            true => self.job_of_token(&loaded.instance, plan.token)?,
            false => None,
        };
        // Compute, starting with the check that the task's data is present and valid (read
        // through the transition's data cache, which the gateways after it reuse).
        let (def, app) = (loaded.def.clone(), loaded.app.clone());
        let node = def.node(node_idx);
        let task_ref = TaskRef::of(node);
        let abandon = plan.action == "reject";
        let mut t = self.begin(loaded, req.actor);
        if abandon {
            t.run_hooks(HookPoint::TaskAbandoned(&task_ref, &plan.action))
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
            t.run_hooks(HookPoint::TaskEnding(&task_ref, &plan.action))
                .await?;
        }
        t.take_task_token(plan.token);
        let event = if abandon {
            EventType::AbandonTask
        } else {
            EventType::EndTask
        };
        t.record(
            event,
            Some(node.id.clone()),
            Some(plan.action.clone()),
            None,
        );
        t.gateway_action = Some(plan.action.clone());
        let out = node.outgoing.iter().map(|&f| (f, Some(node_idx))).collect();
        t.arrive(out).await?;
        t.check_written()?;
        if let Some((rev, job)) = &cancelled_job {
            // A worker holding the job loses its lease: its completion finds no token and drops it.
            t.prelude.delete_job(job, *rev);
        }
        // Commit.
        Ok(self.commit(Kind::Move, t).await?)
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
/// qualifies only when it lists the action (e.g. `reject`).
pub(super) fn pick_task(
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
