//! The data flyt keeps about instances: who owns them, where their tokens are, what happened.

mod actor;
mod cancelled;
mod history;
mod instance;
mod job;
mod multi_instance;
mod party;
mod process;
mod schedule;

pub use actor::Actor;
pub use cancelled::CancelledJob;
pub use history::{EventType, HistoryEvent};
pub use instance::{DataElement, FileElement, Instance};
pub use job::{Job, JobKind, JobState};
pub use multi_instance::{Assignee, InnerInstance, InnerState, MultiInstanceBody};
pub use party::{InstanceOwner, Party};
pub use process::{
    ArmedMessage, ArmedTimer, Incident, PROCESS_LEVEL, ParentRef, ProcessState, ScopeInstance,
    TaskInfo, Token, TokenAt,
};
pub use schedule::{Schedule, ScheduleError};
