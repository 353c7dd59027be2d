//! BPMN errors: a service task's handler (or external worker) ends the task with an error code
//! instead of a result. An error boundary event on the task that catches the code (or catches
//! every code) takes the token on, in one commit that removes the job: an error path, not an
//! incident. Without one on the task, the nearest enclosing sub-process with one catches it,
//! ending everything inside that sub-process in the same commit; an error event sub-process in a
//! scope around the task is nearer than that scope's boundary, and one at the process level
//! catches last. An error nothing catches raises an incident that names the code.

use super::jobs::{Failed, JobError, LeasedJob};
use super::pipeline::Kind;
use super::{Error, Runtime};
use crate::bpmn::elements::{NodeIdx, NodeKind};
use crate::model::{Actor, EventType, TokenAt};

/// What catches a service task's BPMN error.
enum Catcher {
    /// An error boundary event on the task itself.
    Boundary { b: NodeIdx },
    /// One on the sub-process of scope instance `scope`, around the task.
    Sub { scope: u32, b: NodeIdx },
    /// An error event sub-process in scope instance `enclosing` (`None`: the process level).
    EventSub {
        enclosing: Option<u32>,
        esp: NodeIdx,
    },
}
use crate::store::CommitError;
use serde_json::json;

/// What raising a BPMN error did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Thrown {
    /// An error boundary event caught it; the instance moved on along its flow.
    Caught,
    /// Nothing catches it: an incident names the code.
    Incident,
    /// The task was gone (it ended meanwhile); the job was dropped.
    Stale,
}

impl Runtime {
    /// Ends a leased service task's job with BPMN error `code`. Fenced by the lease like
    /// [`Runtime::complete_job`].
    pub async fn throw_error(
        &self,
        leased: &LeasedJob,
        code: &str,
        message: &str,
    ) -> Result<Thrown, JobError> {
        let result = self.throw_error_held(leased, code, message).await;
        self.fenced(leased, "BPMN error", result)
    }

    async fn throw_error_held(
        &self,
        leased: &LeasedJob,
        code: &str,
        message: &str,
    ) -> Result<Thrown, JobError> {
        for _ in 0..16 {
            let (rev, job) = self.held(leased)?;
            let Some(instance) = self.inner.store.instance(job.instance)? else {
                return self.drop_stale(&job, rev).await.map(|_| Thrown::Stale);
            };
            let token = instance.process.tokens.iter().find_map(|t| match &t.at {
                TokenAt::ServiceTask { job: k, .. } if *k == job.key => Some((t.id, t.scope)),
                _ => None,
            });
            let Some((token, token_scope)) = token else {
                return self.drop_stale(&job, rev).await.map(|_| Thrown::Stale);
            };
            let loaded = self.resolve(instance, None)?;
            let def = loaded.def.clone();
            let Some(task) = def.node_by_id(job.element_id.as_str()) else {
                return self.drop_stale(&job, rev).await.map(|_| Thrown::Stale);
            };
            // The task's own boundary first, then those of the sub-processes around it, innermost
            // first (`None`: the task's own).
            // A multi-instance task's boundary is on its body: found as a sub-process's.
            let own = def.node(task).multi.is_none();
            let caught = match own
                .then(|| super::scopes::error_boundary(&def, task, Some(code)))
                .flatten()
            {
                Some(b) => Some(Catcher::Boundary { b }),
                None => super::scopes::error_catcher(
                    &def,
                    &loaded.instance.process,
                    token_scope,
                    Some(code),
                )
                .map(|c| match c {
                    super::scopes::Catcher::Boundary { scope, boundary } => {
                        Catcher::Sub { scope, b: boundary }
                    }
                    super::scopes::Catcher::EventSub { enclosing, esp } => {
                        Catcher::EventSub { enclosing, esp }
                    }
                }),
            };
            let Some(caught) = caught else {
                let reason = format!("uncaught BPMN error `{code}`: {message}");
                return self
                    .fail_job_held(leased, &reason, false, None)
                    .await
                    .map(|f| match f {
                        Failed::Incident => Thrown::Incident,
                        Failed::Retrying { .. } => Thrown::Incident,
                    });
            };
            let (interrupted, boundary, esp) = match caught {
                Catcher::Boundary { b } => (None, b, None),
                Catcher::Sub { scope, b } => (Some(scope), b, None),
                Catcher::EventSub { enclosing, esp } => match &def.node(esp).kind {
                    NodeKind::EventSubProcess(e) => (None, e.start, Some((enclosing, esp))),
                    _ => return self.drop_stale(&job, rev).await.map(|_| Thrown::Stale),
                },
            };
            let node = def.node(boundary);
            let actor = Actor::system(format!("service task {}", job.task_type));
            let mut t = self.begin(loaded, actor);
            t.prelude.delete_job(&job, rev); // check 0: the lease is still ours
            let mut scope = t.take_task_token(token)?;
            let details =
                json!({ "errorCode": code, "errorMessage": message, "caughtBy": node.id.as_str() });
            t.record(
                EventType::AbandonTask,
                Some(job.element_id.clone()),
                None,
                Some(details.clone()),
            );
            if let Some(interrupted) = interrupted {
                // The sub-process the boundary is on ends with everything inside it.
                scope = t.interrupt_scope(interrupted, &node.id, None)?;
            }
            if let Some((enclosing, esp)) = esp {
                // An error event sub-process: everything else in its scope ends; it starts.
                scope = Some(t.start_event_sub(esp, enclosing)?);
            }
            t.record(
                EventType::ErrorCaught,
                Some(node.id.clone()),
                None,
                Some(details),
            );
            let out = node.outgoing.iter().map(|&f| (f, Some(boundary))).collect();
            t.arrive(out, scope).await?;
            t.check_written()?;
            match self.commit(Kind::Complete, t).await {
                Ok(_) => return Ok(Thrown::Caught),
                Err(CommitError::Conflict(0)) => return Err(JobError::LeaseLost(job.key)),
                Err(CommitError::Conflict(_)) => continue,
                Err(CommitError::Store(e)) => return Err(e.into()),
            }
        }
        Err(JobError::Runtime(Error::Conflict))
    }
}
