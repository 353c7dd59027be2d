//! Process state: tokens, the Altinn-compatible view of them, and incidents.

use crate::ids::{AppId, ElementId, InstanceId, JobKey};
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// Where a token is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "at", rename_all = "camelCase")]
pub enum TokenAt {
    /// Waiting for a person or organisation to complete a user task.
    #[serde(rename_all = "camelCase")]
    UserTask { task: TaskInfo },
    /// Waiting for a service task's job to complete.
    #[serde(rename_all = "camelCase")]
    ServiceTask { task: TaskInfo, job: JobKey },
    /// Parked at a parallel join, having arrived over flow `via`.
    #[serde(rename_all = "camelCase")]
    Join { element: ElementId, via: ElementId },
    /// Waiting at an intermediate timer catch event for its timer job.
    #[serde(rename_all = "camelCase")]
    Timer {
        element: ElementId,
        job: JobKey,
        due: Timestamp,
    },
    /// Waiting at a message catch event or receive task for a message with this name and
    /// correlation key (its subscription, stored under its own key family, opened `since`).
    #[serde(rename_all = "camelCase")]
    Message {
        element: ElementId,
        message: String,
        correlation_key: String,
        since: Timestamp,
    },
    /// Waiting at an event-based gateway for the first of the catch events after it: their
    /// timers are the token's `timers`, their subscriptions its `messages`.
    #[serde(rename_all = "camelCase")]
    EventGateway { element: ElementId },
    /// Waiting at a signal catch event for a broadcast of this signal (its subscription,
    /// stored under its own key family, opened `since`).
    #[serde(rename_all = "camelCase")]
    Signal {
        element: ElementId,
        signal: String,
        since: Timestamp,
    },
    /// Waiting at a call activity for its child instance `child` of `app` to end. The child
    /// is created by the delivery of a pending call record (`runtime::calls`).
    #[serde(rename_all = "camelCase")]
    Call {
        element: ElementId,
        app: AppId,
        child: InstanceId,
    },
}

/// The call activity that started an instance: the parent's app, instance, token and element.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ParentRef {
    pub app: AppId,
    pub instance: InstanceId,
    pub token: u32,
    pub element: ElementId,
}

/// A timer armed while a token waits: a boundary event's on a task. Its due time lives in its
/// job (the durable timer), committed with the transition that armed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedTimer {
    /// The boundary event.
    pub element: ElementId,
    pub job: JobKey,
    pub due: Timestamp,
}

/// A message subscription armed on a task's token (a boundary event), a sub-process's scope
/// instance (a boundary event, or an event sub-process's message start inside it) or the
/// process (a process-level event sub-process's message start).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ArmedMessage {
    /// The boundary event.
    pub element: ElementId,
    pub message: String,
    pub correlation_key: String,
    pub since: Timestamp,
}

/// One active path through the process.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Token {
    pub id: u32,
    #[serde(flatten)]
    pub at: TokenAt,
    /// Boundary timers armed on the task this token waits at; disarmed when it leaves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<ArmedTimer>,
    /// Message boundary events armed on the task this token waits at (their subscriptions);
    /// closed when it leaves.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ArmedMessage>,
    /// The scope instance (an active sub-process) it is in; `None` at the process level, as for
    /// every token stored before sub-processes ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scope: Option<u32>,
}

/// An active embedded sub-process: one entry into it. Nested and repeated entries are told apart
/// by `id` (drawn from the same counter as token ids).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScopeInstance {
    pub id: u32,
    /// The `<subProcess>` element.
    pub element: ElementId,
    /// The scope instance it is in; `None` at the process level.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<u32>,
    pub entered: Timestamp,
    /// Boundary timers armed on the sub-process, and the timer start events of the event
    /// sub-processes in it; disarmed when it completes or is interrupted.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<ArmedTimer>,
    /// A multi-instance activity's body: its inner instances (tokens at the task, or scope
    /// instances of the sub-process) are inside it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub multi: Option<Box<super::MultiInstanceBody>>,
    /// Message boundary events on the sub-process, and the message start events of the event
    /// sub-processes in it: their subscriptions, open while it is active (keyed by this scope
    /// instance's id as their token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ArmedMessage>,
}

impl Token {
    pub fn task(&self) -> Option<&TaskInfo> {
        match &self.at {
            TokenAt::UserTask { task } | TokenAt::ServiceTask { task, .. } => Some(task),
            TokenAt::Join { .. }
            | TokenAt::Timer { .. }
            | TokenAt::Message { .. }
            | TokenAt::EventGateway { .. }
            | TokenAt::Signal { .. }
            | TokenAt::Call { .. } => None,
        }
    }
}

/// An active task, in the shape of Altinn's `currentTask`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskInfo {
    /// Altinn's flow counter: how many tasks had started when this one did.
    pub flow: u32,
    pub started: Timestamp,
    pub element_id: ElementId,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub altinn_task_type: Option<String>,
    /// Who may act on it (`<flyt:assignee>`), on top of the app's policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assignee: Option<super::Assignee>,
}

/// A service task that ran out of attempts; `resume` clears it and retries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Incident {
    pub element_id: ElementId,
    pub job: JobKey,
    pub reason: String,
    pub attempts: u32,
    pub last_error: String,
    pub raised: Timestamp,
}

/// The process state of an instance.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProcessState {
    pub started: Option<Timestamp>,
    pub start_event: Option<ElementId>,
    pub ended: Option<Timestamp>,
    pub end_event: Option<ElementId>,
    /// Altinn's flow counter, incremented whenever a task starts.
    pub flow: u32,
    pub tokens: Vec<Token>,
    pub next_token: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<Incident>,
    /// Active sub-processes, in the order they were entered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeInstance>,
    /// Timer start events of the process-level event sub-processes, armed while the instance
    /// runs (those of a sub-process's event sub-processes are on its scope instance).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<ArmedTimer>,
    /// Message start events of the process-level event sub-processes: their subscriptions, open
    /// while the instance runs (keyed by [`PROCESS_LEVEL`] as their token).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub messages: Vec<ArmedMessage>,
    /// A child of a call activity: its parent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<ParentRef>,
    /// The process of its definition's file it runs, when not the one instances start in (a
    /// call activity calling another process of the same file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub called_process: Option<String>,
    /// A child ended by its parent (an interrupting boundary, a terminate end, a deleted parent).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub cancelled: bool,
}

/// The token id of a process-level event sub-process's message subscription (no token or
/// scope instance has it: ids count up from 0).
pub const PROCESS_LEVEL: u32 = u32::MAX;

impl ProcessState {
    /// Every active task (user and service), oldest first.
    pub fn active_tasks(&self) -> impl Iterator<Item = &TaskInfo> {
        self.tokens.iter().filter_map(Token::task)
    }

    /// Altinn's `currentTask`: the most recently started active task.
    pub fn current_task(&self) -> Option<&TaskInfo> {
        self.active_tasks().max_by_key(|t| t.flow)
    }

    pub fn user_task_tokens(&self) -> impl Iterator<Item = (&Token, &TaskInfo)> {
        self.tokens.iter().filter_map(|t| match &t.at {
            TokenAt::UserTask { task } => Some((t, task)),
            _ => None,
        })
    }

    pub fn job_tokens(&self) -> impl Iterator<Item = (&Token, &TaskInfo, JobKey)> {
        self.tokens.iter().filter_map(|t| match &t.at {
            TokenAt::ServiceTask { task, job } => Some((t, task, *job)),
            _ => None,
        })
    }
}

impl ProcessState {
    /// The multi-instance body scope instance `scope` is an inner instance of: its parent, when
    /// that is the body of the same element.
    pub fn body_of_inner(&self, scope: &ScopeInstance) -> Option<&ScopeInstance> {
        let parent = self.scopes.iter().find(|x| Some(x.id) == scope.parent)?;
        (parent.multi.is_some() && parent.element == scope.element).then_some(parent)
    }

    /// The inner instance index of task token `token`, when it is an inner instance of a
    /// multi-instance task (or waits inside one: a task in an inner sub-process).
    pub fn inner_index(&self, token: u32) -> Option<u32> {
        let scope = self.tokens.iter().find(|t| t.id == token)?.scope;
        let mut inner = token;
        let mut at = scope;
        // Each step goes to an enclosing scope instance; the bound guards a corrupted record.
        for _ in 0..=self.scopes.len() {
            let x = self.scopes.iter().find(|x| Some(x.id) == at)?;
            if let Some(found) = x.multi.as_ref().and_then(|m| m.inner_by_id(inner)) {
                return Some(found.index);
            }
            inner = x.id;
            at = x.parent;
        }
        None
    }

    /// Scope instance `id` when it is the body of a multi-instance activity of `element`.
    pub fn body(&self, id: Option<u32>, element: &ElementId) -> Option<&ScopeInstance> {
        let id = id?;
        self.scopes
            .iter()
            .find(|x| x.id == id && x.multi.is_some() && &x.element == element)
    }

    /// Whether scope instance `scope` is `within` or nested (at any depth) inside it.
    pub fn scope_within(&self, scope: Option<u32>, within: u32) -> bool {
        let mut at = scope;
        // Each step goes to a parent entered earlier, so this ends; the bound guards a
        // corrupted record.
        for _ in 0..=self.scopes.len() {
            match at {
                None => return false,
                Some(s) if s == within => return true,
                Some(s) => {
                    at = self
                        .scopes
                        .iter()
                        .find(|x| x.id == s)
                        .and_then(|x| x.parent)
                }
            }
        }
        false
    }

    /// Every armed timer: intermediate catch events and boundary events (on tasks, with the
    /// task; on sub-processes, without), soonest first.
    pub fn armed_timers(&self) -> Vec<(Option<&TaskInfo>, ArmedTimer)> {
        let mut out: Vec<(Option<&TaskInfo>, ArmedTimer)> = Vec::new();
        for token in &self.tokens {
            if let TokenAt::Timer { element, job, due } = &token.at {
                out.push((
                    None,
                    ArmedTimer {
                        element: element.clone(),
                        job: *job,
                        due: *due,
                    },
                ));
            }
            for timer in &token.timers {
                out.push((token.task(), timer.clone()));
            }
        }
        for timer in &self.timers {
            out.push((None, timer.clone()));
        }
        for scope in &self.scopes {
            for timer in &scope.timers {
                out.push((None, timer.clone()));
            }
        }
        out.sort_by_key(|(_, t)| t.due);
        out
    }
}
