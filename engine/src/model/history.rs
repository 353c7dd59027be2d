//! History: what happened to an instance, in order (Altinn's process history).

use super::Actor;
use crate::ids::ElementId;
use crate::time::Timestamp;
use serde::{Deserialize, Serialize};

/// The kind of a history event. The `process_*` names are Altinn's; `flyt_*` are flyt's own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventType {
    #[serde(rename = "process_StartEvent")]
    StartEvent,
    #[serde(rename = "process_StartTask")]
    StartTask,
    #[serde(rename = "process_EndTask")]
    EndTask,
    #[serde(rename = "process_AbandonTask")]
    AbandonTask,
    #[serde(rename = "process_EndEvent")]
    EndEvent,
    /// A token reached a call activity (details: the child's app and instance id).
    #[serde(rename = "flyt_CallStarted")]
    CallStarted,
    /// A call activity's child ended and its token left it (details: child, outcome).
    #[serde(rename = "flyt_CallEnded")]
    CallEnded,
    /// A child instance was cancelled by its parent.
    #[serde(rename = "flyt_CallCancelled")]
    CallCancelled,
    /// A service task ran out of attempts.
    #[serde(rename = "flyt_IncidentRaised")]
    IncidentRaised,
    /// An operator resumed an instance after an incident.
    #[serde(rename = "flyt_IncidentResolved")]
    IncidentResolved,
    /// A server action ran on a task (it does not move the process).
    #[serde(rename = "flyt_ServerAction")]
    ServerAction,
    /// A signer signed a task's data (`sign` where a signature is configured).
    #[serde(rename = "flyt_Signed")]
    Signed,
    /// A caller ran a service task again with `next` (its job queued now, fresh attempts).
    #[serde(rename = "flyt_ServiceTaskRetried")]
    ServiceTaskRetried,
    /// A timer was armed (details: its due time).
    #[serde(rename = "flyt_TimerArmed")]
    TimerArmed,
    /// A timer fired.
    #[serde(rename = "flyt_TimerFired")]
    TimerFired,
    /// An escalation was thrown (details: code).
    #[serde(rename = "flyt_EscalationThrown")]
    EscalationThrown,
    /// An escalation boundary event caught an escalation (details: code).
    #[serde(rename = "flyt_EscalationCaught")]
    EscalationCaught,
    /// An error end event threw a BPMN error (details: code).
    #[serde(rename = "flyt_ErrorThrown")]
    ErrorThrown,
    /// A BPMN error was caught by an error boundary event (details: code, message).
    #[serde(rename = "flyt_ErrorCaught")]
    ErrorCaught,
    /// A token entered an embedded sub-process (details: the scope instance).
    #[serde(rename = "flyt_ScopeEntered")]
    ScopeEntered,
    /// An embedded sub-process completed (details: the scope instance).
    #[serde(rename = "flyt_ScopeLeft")]
    ScopeLeft,
    /// A binary data element (a file) was added; `details` name it.
    #[serde(rename = "data_Created")]
    DataCreated,
    /// A binary data element was deleted; `details` name it.
    #[serde(rename = "data_Deleted")]
    DataDeleted,
    /// A published message reached a waiting message catch (details: message name, key, id).
    #[serde(rename = "flyt_MessageCorrelated")]
    MessageCorrelated,
    /// An inner instance of a multi-instance activity completed (details: the body's scope
    /// instance, the inner instance's index).
    #[serde(rename = "flyt_InnerInstanceCompleted")]
    InnerInstanceCompleted,
    /// A signal throw or end event broadcast a signal (details: signal, broadcast, deliveries).
    #[serde(rename = "flyt_SignalThrown")]
    SignalThrown,
    /// A broadcast signal reached a signal catch, boundary or start event (details: signal,
    /// broadcast).
    #[serde(rename = "flyt_SignalCaught")]
    SignalCaught,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::StartEvent => "process_StartEvent",
            EventType::StartTask => "process_StartTask",
            EventType::EndTask => "process_EndTask",
            EventType::AbandonTask => "process_AbandonTask",
            EventType::EndEvent => "process_EndEvent",
            EventType::IncidentRaised => "flyt_IncidentRaised",
            EventType::CallStarted => "flyt_CallStarted",
            EventType::CallEnded => "flyt_CallEnded",
            EventType::CallCancelled => "flyt_CallCancelled",
            EventType::Signed => "flyt_Signed",
            EventType::ServiceTaskRetried => "flyt_ServiceTaskRetried",
            EventType::TimerArmed => "flyt_TimerArmed",
            EventType::TimerFired => "flyt_TimerFired",
            EventType::ErrorThrown => "flyt_ErrorThrown",
            EventType::EscalationThrown => "flyt_EscalationThrown",
            EventType::EscalationCaught => "flyt_EscalationCaught",
            EventType::ErrorCaught => "flyt_ErrorCaught",
            EventType::ScopeEntered => "flyt_ScopeEntered",
            EventType::ScopeLeft => "flyt_ScopeLeft",
            EventType::IncidentResolved => "flyt_IncidentResolved",
            EventType::ServerAction => "flyt_ServerAction",
            EventType::DataCreated => "data_Created",
            EventType::DataDeleted => "data_Deleted",
            EventType::MessageCorrelated => "flyt_MessageCorrelated",
            EventType::InnerInstanceCompleted => "flyt_InnerInstanceCompleted",
            EventType::SignalThrown => "flyt_SignalThrown",
            EventType::SignalCaught => "flyt_SignalCaught",
        }
    }
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEvent {
    /// Position in the instance's history, from 0.
    pub seq: u32,
    pub event_type: EventType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub element_id: Option<ElementId>,
    pub occurred: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub performed_by: Option<Actor>,
    /// The action that completed or abandoned a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub action: Option<String>,
    /// Extra facts, e.g. `{"createdInstance": "..."}` from a createInstance service task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<serde_json::Value>,
}
