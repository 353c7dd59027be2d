//! What the API returns, in Altinn's shapes (camelCase JSON). Handlers turn engine types into
//! these; the OpenAPI document describes them.

use flyt_engine::model::{HistoryEvent, Incident, Instance, Party, TaskInfo};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The owner of an instance. On create, name the owner by exactly one of the three.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InstanceOwnerView {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub party_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub person_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub organisation_number: Option<String>,
}

/// A data element of an instance: the JSON data of a data type, or a file.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataElementView {
    /// JSON data: `{instanceGuid}/{dataType}`. A file: its own id (a UUID), as in
    /// `GET .../data/{id}`.
    pub id: String,
    pub data_type: String,
    pub content_type: String,
    pub created: String,
    pub last_changed: String,
    pub size: u64,
    /// A file's name as uploaded (`Content-Disposition`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    /// A file's SHA-256, lower-case hex.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// Who added a file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub created_by: Option<String>,
    /// Whether a signature locks the data type (it is not written again).
    pub locked: bool,
}

impl DataElementView {
    /// A file's view.
    pub fn of_file(
        instance: &Instance,
        id: flyt_engine::ids::DataElementId,
        file: &flyt_engine::model::FileElement,
    ) -> Self {
        DataElementView {
            id: id.to_string(),
            data_type: file.data_type.to_string(),
            content_type: file.content_type.clone(),
            created: file.created.to_rfc3339(),
            last_changed: file.created.to_rfc3339(),
            size: file.size,
            filename: file.filename.clone(),
            sha256: Some(file.sha256.clone()),
            created_by: Some(file.created_by.identity()),
            locked: instance.locked_by(&file.data_type).is_some(),
        }
    }
}

/// An action on the current task, and whether the caller may do it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserActionView {
    pub id: String,
    pub authorized: bool,
    /// `ProcessAction` (moves the process) or `ServerAction` (runs code, does not move it).
    #[serde(rename = "type")]
    pub kind: String,
}

/// The job of an active service task: how its attempts are going.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobView {
    pub task_type: String,
    /// `queued`, `leased` (running) or `incident`.
    pub state: String,
    pub attempts: u32,
    pub max_attempts: u32,
    /// When the next attempt may start (queued) or the running one's lease ends (leased).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_attempt_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

impl From<&flyt_engine::model::Job> for JobView {
    fn from(job: &flyt_engine::model::Job) -> Self {
        use flyt_engine::model::JobState;
        JobView {
            task_type: job.task_type.clone(),
            state: match job.state {
                JobState::Queued { .. } => "queued",
                JobState::Leased { .. } => "leased",
                JobState::Incident => "incident",
            }
            .to_string(),
            attempts: job.attempts,
            max_attempts: job.max_attempts,
            next_attempt_at: job.due().map(|t| t.to_rfc3339()),
            last_error: job.last_error.clone(),
        }
    }
}

/// An active task (Altinn's `currentTask`), with the caller's rights when known.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TaskView {
    pub flow: u32,
    pub started: String,
    pub element_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub altinn_task_type: Option<String>,
    pub flow_type: String,
    /// Action → whether the caller may perform it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actions: Option<BTreeMap<String, bool>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_actions: Option<Vec<UserActionView>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub read: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub write: Option<bool>,
    /// For a service task: its job.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub job: Option<JobView>,
    /// Who may act on it (`<flyt:assignee>`), on top of the app's policy: `{"kind": "person",
    /// "personNumber"}`, `{"kind": "organisation", "organisationNumber"}` or `{"kind": "role",
    /// "role", "organisationNumber"}`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub assignee: Option<flyt_engine::model::Assignee>,
    /// For an inner instance of a multi-instance task: its index in the collection (send it
    /// as `innerInstance` to `next` to act on this one).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inner_instance: Option<u32>,
}

impl TaskView {
    pub fn of(task: &TaskInfo) -> Self {
        TaskView {
            flow: task.flow,
            started: task.started.to_rfc3339(),
            element_id: task.element_id.to_string(),
            name: task.name.clone(),
            altinn_task_type: task.altinn_task_type.clone(),
            flow_type: "CompleteCurrentMoveToNext".into(),
            actions: None,
            user_actions: None,
            read: None,
            write: None,
            job: None,
            assignee: task.assignee.clone(),
            inner_instance: None,
        }
    }

    /// The view of `task`, with its inner instance index when it is one.
    pub fn of_in(process: &flyt_engine::model::ProcessState, task: &TaskInfo) -> Self {
        let mut view = TaskView::of(task);
        view.inner_instance = process
            .tokens
            .iter()
            .find(|t| t.task().is_some_and(|x| x.flow == task.flow))
            .and_then(|t| process.inner_index(t.id));
        view
    }
}

/// An armed timer.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TimerView {
    /// The timer event (a catch or boundary event).
    pub element_id: String,
    /// When it fires (RFC 3339).
    pub due: String,
    /// For a boundary event: the task or sub-process it watches.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attached_to: Option<String>,
}

/// An active embedded sub-process (one entry into it).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScopeView {
    /// The `<subProcess>` element.
    pub element_id: String,
    /// When the token entered it (RFC 3339).
    pub entered: String,
    /// The sub-process it is nested in, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<String>,
    /// A multi-instance activity's body: its inner instances.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub multi_instance: Option<crate::inner_views::MultiInstanceView>,
}

/// An incident: a service task out of attempts. `POST .../process/resume` retries it.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct IncidentView {
    pub element_id: String,
    pub reason: String,
    pub attempts: u32,
    pub last_error: String,
    pub raised: String,
}

impl From<&Incident> for IncidentView {
    fn from(i: &Incident) -> Self {
        IncidentView {
            element_id: i.element_id.to_string(),
            reason: i.reason.clone(),
            attempts: i.attempts,
            last_error: i.last_error.clone(),
            raised: i.raised.to_rfc3339(),
        }
    }
}

/// The child instance a call activity waits for.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalledInstanceView {
    /// The call activity.
    pub element_id: String,
    /// The app the child is an instance of (`org/app`).
    pub app: String,
    /// The child's id, `{partyId}/{guid}` (the same owner as this instance).
    pub instance_id: String,
    /// `pending` (about to be created), `active`, `ended` or `cancelled`.
    pub state: String,
}

/// The call activity whose child this instance is.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct CalledByView {
    /// The parent's app (`org/app`).
    pub app: String,
    /// The parent's id, `{partyId}/{guid}`.
    pub instance_id: String,
    /// The parent's call activity.
    pub element_id: String,
}

/// Process state (Altinn's shape, plus every active task and incidents).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProcessView {
    pub started: Option<String>,
    pub start_event: Option<String>,
    pub current_task: Option<TaskView>,
    pub ended: Option<String>,
    pub end_event: Option<String>,
    /// Every active task, oldest first (several with parallel branches).
    pub active_tasks: Vec<TaskView>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub incidents: Vec<IncidentView>,
    /// Armed timers, soonest first: intermediate catch events, and boundary events with the
    /// task they watch.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub timers: Vec<TimerView>,
    /// Active embedded sub-processes, outermost first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub scopes: Vec<ScopeView>,
    /// Open message subscriptions: the message catches its tokens wait at.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub message_subscriptions: Vec<crate::routes::messages::SubscriptionView>,
    /// Open signal subscriptions: the signal catch events its tokens wait at, and the signal
    /// boundary events of its active tasks and sub-processes (shown by `GET …/process`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub signal_subscriptions: Vec<crate::routes::signals::SignalSubscriptionView>,
    /// Instances other apps created for this one (from createInstance service tasks).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    #[schema(value_type = Vec<Object>)]
    pub created_instances: Vec<Value>,
    /// The child instances its call activities wait for (shown by `GET …/process`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub called_instances: Vec<CalledInstanceView>,
    /// A child of a call activity: its parent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub called_by: Option<CalledByView>,
}

impl ProcessView {
    /// Adds the instance's open signal subscriptions.
    pub fn with_signals(
        mut self,
        subs: &[flyt_engine::store::signals::SignalSubscription],
    ) -> Self {
        self.signal_subscriptions = subs
            .iter()
            .map(crate::routes::signals::SignalSubscriptionView::from)
            .collect();
        self
    }

    /// Adds the child instances its call activities wait for, each with its state as
    /// `child` reads it (`None`: not created yet).
    pub fn with_calls(
        mut self,
        instance: &Instance,
        child: impl Fn(flyt_engine::ids::InstanceId) -> Option<Instance>,
    ) -> Self {
        let party = instance.owner.party_id;
        self.called_instances = instance
            .process
            .tokens
            .iter()
            .filter_map(|t| match &t.at {
                flyt_engine::model::TokenAt::Call {
                    element,
                    app,
                    child: id,
                } => Some(CalledInstanceView {
                    element_id: element.to_string(),
                    app: app.to_string(),
                    instance_id: format!("{party}/{id}"),
                    state: match child(*id) {
                        None => "pending",
                        Some(c) if c.process.cancelled => "cancelled",
                        Some(c) if c.is_ended() => "ended",
                        Some(_) => "active",
                    }
                    .into(),
                }),
                _ => None,
            })
            .collect();
        self
    }

    /// Fills in the jobs of active service tasks.
    /// Adds each job-backed task's job. A job that cannot be read fails the whole view (503),
    /// rather than showing a task without its job as if it had none.
    /// Adds the job of each service task the instance waits on (`Runtime::jobs_of`).
    pub fn with_jobs(mut self, jobs: &[(String, flyt_engine::model::Job)]) -> Self {
        for (element, job) in jobs {
            for view in self
                .active_tasks
                .iter_mut()
                .chain(self.current_task.iter_mut())
            {
                if view.element_id == *element {
                    view.job = Some(JobView::from(job));
                }
            }
        }
        self
    }

    pub fn of(instance: &Instance, history: Option<&[HistoryEvent]>) -> Self {
        let p = &instance.process;
        let created_instances = history
            .map(|h| {
                h.iter()
                    .filter_map(|e| {
                        e.details
                            .as_ref()
                            .filter(|d| d.get("createdInstance").is_some())
                            .cloned()
                    })
                    .collect()
            })
            .unwrap_or_default();
        ProcessView {
            message_subscriptions: flyt_engine::runtime::instance_subscriptions(instance)
                .iter()
                .map(crate::routes::messages::SubscriptionView::from)
                .collect(),
            signal_subscriptions: Vec::new(),
            started: p.started.map(|t| t.to_rfc3339()),
            start_event: p.start_event.as_ref().map(|e| e.to_string()),
            current_task: p.current_task().map(|t| TaskView::of_in(p, t)),
            ended: p.ended.map(|t| t.to_rfc3339()),
            end_event: p.end_event.as_ref().map(|e| e.to_string()),
            active_tasks: p.active_tasks().map(|t| TaskView::of_in(p, t)).collect(),
            incidents: p.incidents.iter().map(IncidentView::from).collect(),
            timers: p
                .armed_timers()
                .into_iter()
                .map(|(task, t)| TimerView {
                    element_id: t.element.to_string(),
                    due: t.due.to_rfc3339(),
                    attached_to: task
                        .map(|task| task.element_id.to_string())
                        .or_else(|| {
                            p.scopes
                                .iter()
                                .find(|s| s.timers.iter().any(|a| a.job == t.job))
                                .map(|s| s.element.to_string())
                        })
                        .or_else(|| {
                            // A call activity's boundary timer, on the token waiting there.
                            p.tokens
                                .iter()
                                .find(|x| x.timers.iter().any(|a| a.job == t.job))
                                .and_then(|x| match &x.at {
                                    flyt_engine::model::TokenAt::Call { element, .. } => {
                                        Some(element.to_string())
                                    }
                                    _ => None,
                                })
                        }),
                })
                .collect(),
            scopes: p
                .scopes
                .iter()
                .map(|x| ScopeView {
                    element_id: x.element.to_string(),
                    entered: x.entered.to_rfc3339(),
                    parent: x.parent.and_then(|parent| {
                        p.scopes
                            .iter()
                            .find(|y| y.id == parent)
                            .map(|y| y.element.to_string())
                    }),
                    multi_instance: x
                        .multi
                        .as_deref()
                        .map(crate::inner_views::MultiInstanceView::from),
                })
                .collect(),
            created_instances,
            called_instances: Vec::new(),
            called_by: p.parent.as_ref().map(|parent| CalledByView {
                app: parent.app.to_string(),
                instance_id: format!("{}/{}", instance.owner.party_id, parent.instance),
                element_id: parent.element.to_string(),
            }),
        }
    }
}

/// An instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstanceView {
    /// `{partyId}/{instanceGuid}`.
    pub id: String,
    pub instance_owner: InstanceOwnerView,
    pub app_id: String,
    pub org: String,
    pub process: ProcessView,
    pub data: Vec<DataElementView>,
    pub created: String,
    pub last_changed: String,
    /// The instance version: the ETag, and what `If-Match` names.
    pub version: u64,
    pub definition_version: u32,
}

pub fn owner_view(owner: &flyt_engine::model::InstanceOwner) -> InstanceOwnerView {
    let (person_number, organisation_number) = match &owner.party {
        Party::Person { person_number } => (Some(person_number.clone()), None),
        Party::Organisation {
            organisation_number,
        } => (None, Some(organisation_number.clone())),
    };
    InstanceOwnerView {
        party_id: Some(owner.party_id.to_string()),
        person_number,
        organisation_number,
    }
}

impl InstanceView {
    pub fn of(instance: &Instance, history: Option<&[HistoryEvent]>) -> Self {
        InstanceView {
            id: instance.altinn_id(),
            instance_owner: owner_view(&instance.owner),
            app_id: instance.app.to_string(),
            org: instance.app.org().to_string(),
            process: ProcessView::of(instance, history),
            data: instance
                .data
                .iter()
                .map(|(data_type, d)| DataElementView {
                    id: format!("{}/{data_type}", instance.id),
                    data_type: data_type.to_string(),
                    content_type: "application/json".into(),
                    created: d.created.to_rfc3339(),
                    last_changed: d.last_changed.to_rfc3339(),
                    size: d.size,
                    filename: None,
                    sha256: None,
                    created_by: None,
                    locked: instance.locked_by(data_type).is_some(),
                })
                .chain(
                    instance
                        .files
                        .iter()
                        .map(|(id, file)| DataElementView::of_file(instance, *id, file)),
                )
                .collect(),
            created: instance.created.to_rfc3339(),
            last_changed: instance.last_changed.to_rfc3339(),
            version: instance.version,
            definition_version: instance.definition_version,
        }
    }
}

/// A page of instances.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct InstancePageView {
    pub instances: Vec<InstanceView>,
    /// Pass as `continuationToken` to get the next page; absent on the last page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub continuation_token: Option<String>,
}

/// One history entry (Altinn's process history item).
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryItemView {
    pub event_type: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub element_id: Option<String>,
    pub occured: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub performed_by: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

/// The history of an instance.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct HistoryView {
    pub process_history: Vec<HistoryItemView>,
}

impl HistoryView {
    pub fn of(events: &[HistoryEvent]) -> Self {
        HistoryView {
            process_history: events
                .iter()
                .map(|e| HistoryItemView {
                    event_type: e.event_type.as_str().to_string(),
                    element_id: e.element_id.as_ref().map(|x| x.to_string()),
                    occured: e.occurred.to_rfc3339(),
                    performed_by: e
                        .performed_by
                        .as_ref()
                        .and_then(|a| serde_json::to_value(a).ok()),
                    action: e.action.clone(),
                    details: e.details.clone(),
                })
                .collect(),
        }
    }
}
