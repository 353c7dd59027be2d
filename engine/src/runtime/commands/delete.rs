//! Deleting an instance with everything of it.

use crate::ids::InstanceId;
use crate::runtime::pipeline::Kind;
use crate::runtime::{Error, Runtime};
use crate::store::Txn;
use crate::store::calls::CallDelivery;

impl Runtime {
    /// Deletes an instance with its history, data, files and pending jobs. One commit; the
    /// files' bytes are removed after it.
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
        // Its open message subscriptions go with it.
        super::super::messages::write_difference(
            &mut txn,
            &super::super::messages::subscriptions_of(&instance),
            &[],
        );
        // The children its call activities wait for are cancelled.
        let cancels: Vec<CallDelivery> = crate::runtime::calls::children_of(&instance.process)
            .into_iter()
            .map(|child| CallDelivery::Cancel { child, by: None })
            .collect();
        for c in &cancels {
            txn.put_call_delivery(c);
        }
        self.commit_txn(Kind::Move, txn, false).await?;
        if !cancels.is_empty() {
            self.after_calls(cancels).await;
        }
        // After the commit: a crash before this leaves unreferenced files for the sweep.
        if let Err(e) = self.inner.store.blobs().remove_instance(id) {
            tracing::warn!(instance = %id, error = %e, "could not remove a deleted instance's files");
        }
        Ok(())
    }
}
