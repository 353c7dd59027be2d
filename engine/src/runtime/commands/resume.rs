//! Resuming an instance after incidents: their jobs run again with fresh attempts, and a call
//! activity whose child ended with an uncaught BPMN error starts a new child.

use crate::ids::InstanceId;
use crate::model::{Actor, EventType, Instance, JobState};
use crate::runtime::pipeline::Kind;
use crate::runtime::{Error, Runtime};

impl Runtime {
    /// Clears the instance's incidents and re-queues their jobs with fresh attempts. One commit.
    pub async fn resume(
        &self,
        id: InstanceId,
        actor: Actor,
        expected_version: Option<u64>,
    ) -> Result<Instance, Error> {
        let loaded = self.load(id, expected_version)?;
        if loaded.instance.process.incidents.is_empty() {
            return Err(Error::NoIncident);
        }
        let incidents = loaded.instance.process.incidents.clone();
        let mut t = self.begin(loaded, actor);
        t.instance.process.incidents.clear();
        for incident in &incidents {
            if let Some((rev, job)) = self.inner.store.job(incident.job)? {
                let mut again = job.clone();
                again.attempts = 0;
                again.state = JobState::Queued { due: t.now };
                t.prelude.update_job(&job, rev, &again);
            } else {
                // A call activity's incident (a child's uncaught BPMN error): it runs again
                // with a new child.
                t.call_again(InstanceId::from_uuid(*incident.job.as_uuid()))?;
            }
            t.record(
                EventType::IncidentResolved,
                Some(incident.element_id.clone()),
                None,
                Some(serde_json::json!({ "reason": incident.reason })),
            );
        }
        let (txn, instance, _) = t.into_txn();
        // The re-queued jobs are in the prelude, not among the transition's new jobs: wake the
        // worker in any case.
        self.commit_txn(Kind::Move, txn, true).await?;
        Ok(instance)
    }
}
