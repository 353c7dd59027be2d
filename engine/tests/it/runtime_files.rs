//! Files (binary data elements) at the runtime level: a signature lock, a restart on redb that
//! keeps the bytes, and the start-up sweep of unreferenced blobs.

use crate::rt::{Harness, app_id, user};
use crate::support::doc;
use flyt_engine::app::{AppSpec, DataKind, DataTypeSpec};
use flyt_engine::hooks::{
    Completion, FileOutput, JobContext, Registry, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::ids::{DataElementId, DataTypeId};
use flyt_engine::model::Instance;
use flyt_engine::runtime::{AddFile, DeleteFile, Error};
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use flyt_engine::store::{Store, Txn};
use std::time::Duration;
use tokio::io::AsyncReadExt;

fn bpmn() -> String {
    doc(r#"
<startEvent id="start"><outgoing>f1</outgoing></startEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<userTask id="fill"><incoming>f1</incoming><outgoing>f2</outgoing></userTask>
<sequenceFlow id="f2" sourceRef="fill" targetRef="end"/>
<endEvent id="end"><incoming>f2</incoming></endEvent>
"#)
}

fn app() -> AppSpec {
    let mut files = DataTypeSpec::new("attachments").for_task("fill");
    files.kind = DataKind::Binary;
    AppSpec::new(app_id()).with_data_type(files)
}

async fn harness(store: Store) -> Harness {
    Harness::with(&bpmn(), store, Registry::builder().build(), app()).await
}

async fn upload(h: &Harness, instance: &Instance, bytes: &[u8]) -> Result<DataElementId, Error> {
    let mut up =
        h.rt.start_file(
            instance,
            &DataTypeId::new("attachments"),
            "text/plain",
            1 << 20,
        )
        .await?;
    up.write(bytes).await?;
    let (_, id) =
        h.rt.add_file(
            up,
            AddFile {
                filename: Some("a.txt".into()),
                actor: user(),
                expected_version: None,
            },
        )
        .await?;
    Ok(id)
}

async fn read(h: &Harness, instance: &Instance, id: DataElementId) -> Vec<u8> {
    let instance = h.rt.instance(instance.id).unwrap();
    let (_, mut file) = h.rt.open_file(&instance, id).await.unwrap();
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes).await.unwrap();
    bytes
}

#[tokio::test]
async fn a_locked_data_type_refuses_uploads_and_deletes_naming_the_signature() {
    let h = harness(Store::memory()).await;
    let i = h.create().await;
    let id = upload(&h, &i, b"first").await.unwrap();
    // Lock as the signing step does: the instance names the signature data type.
    let mut locked = h.rt.instance(i.id).unwrap();
    locked
        .locked
        .insert(DataTypeId::new("attachments"), DataTypeId::new("signature"));
    let read_version = locked.version;
    locked.version += 1;
    let mut txn = Txn::new();
    txn.update_instance(&locked, read_version);
    h.rt.store().commit(txn).await.unwrap();

    let err = upload(&h, &locked, b"second").await.unwrap_err();
    assert_eq!(
        err,
        Error::DataLocked {
            data_type: "attachments".into(),
            signature: "signature".into()
        }
    );
    let err =
        h.rt.delete_file(DeleteFile {
            instance: i.id,
            element: id,
            actor: user(),
            expected_version: None,
        })
        .await
        .unwrap_err();
    assert!(matches!(err, Error::DataLocked { .. }), "{err:?}");
    assert_eq!(read(&h, &i, id).await, b"first");
}

#[tokio::test]
async fn files_survive_a_restart_on_redb_and_the_sweep_removes_only_orphans() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        Store::open(
            BackendKind::Redb,
            dir.path(),
            1 << 20,
            GroupConfig::default(),
        )
        .unwrap()
    };
    let (i, kept, deleted) = {
        let h = harness(open()).await;
        let i = h.create().await;
        let kept = upload(&h, &i, b"kept across restarts").await.unwrap();
        let deleted = upload(&h, &i, b"deleted").await.unwrap();
        let after =
            h.rt.delete_file(DeleteFile {
                instance: i.id,
                element: deleted,
                actor: user(),
                expected_version: None,
            })
            .await
            .unwrap();
        assert!(!after.files.contains_key(&deleted));
        assert!(!h.rt.store().blobs().path(i.id, deleted).exists());
        h.rt.store().shutdown();
        (i, kept, deleted)
    };
    // A crash between an upload's blob write and its commit, and one in the middle of an
    // upload, leave files no instance references.
    let blobs_dir = dir.path().join("blobs");
    let orphan = blobs_dir.join(i.id.to_string()).join(deleted.to_string());
    std::fs::write(&orphan, b"never committed").unwrap();
    std::fs::write(blobs_dir.join("tmp").join("partial"), b"half an upload").unwrap();
    let gone = blobs_dir.join(flyt_engine::ids::InstanceId::new_random().to_string());
    std::fs::create_dir_all(&gone).unwrap();
    std::fs::write(gone.join(DataElementId::new_random().to_string()), b"x").unwrap();

    let h = harness(open()).await;
    assert_eq!(h.rt.sweep_files().unwrap(), 3);
    assert!(!orphan.exists() && !gone.exists());
    let instance = h.rt.instance(i.id).unwrap();
    assert_eq!(instance.files[&kept].size, 20);
    assert_eq!(read(&h, &i, kept).await, b"kept across restarts");

    // Deleting the instance removes its files.
    h.rt.delete_instance(i.id, None).await.unwrap();
    assert!(!blobs_dir.join(i.id.to_string()).exists());
}

fn service_bpmn() -> String {
    doc(r#"
<startEvent id="start"><outgoing>f1</outgoing></startEvent>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<userTask id="fill"><incoming>f1</incoming><outgoing>f2</outgoing></userTask>
<sequenceFlow id="f2" sourceRef="fill" targetRef="receipt"/>
<serviceTask id="receipt" flyt:type="receipt"><incoming>f2</incoming><outgoing>f3</outgoing></serviceTask>
<sequenceFlow id="f3" sourceRef="receipt" targetRef="end"/>
<endEvent id="end"><incoming>f3</incoming></endEvent>
"#)
}

/// A handler the test never runs: it leases and completes the job itself.
struct Done;

#[async_trait::async_trait]
impl ServiceTaskHandler for Done {
    async fn execute(&self, _: JobContext) -> ServiceTaskOutcome {
        ServiceTaskOutcome::done()
    }
}

fn receipt() -> Completion {
    Completion {
        files: vec![FileOutput {
            data_type: DataTypeId::new("ref-data-as-pdf"),
            content_type: "application/pdf".into(),
            filename: Some("receipt.pdf".into()),
            bytes: b"%PDF-1.7 receipt".to_vec(),
        }],
        ..Completion::default()
    }
}

/// Files in an instance's blob directory.
fn blob_count(h: &Harness, instance: &Instance) -> usize {
    let dir = h.rt.store().blobs().root().join(instance.id.to_string());
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

#[tokio::test]
async fn a_completions_files_are_added_once_and_removed_when_it_is_not_recorded() {
    let registry = Registry::builder().service_task("receipt", Done).build();
    let h = Harness::with(&service_bpmn(), Store::memory(), registry, app()).await;
    let at_receipt = |i: Instance| {
        let h = &h;
        async move {
            let i = h.next(i.id, None, None).await.unwrap();
            let (_, _, key) = i.process.job_tokens().next().unwrap();
            let leased =
                h.rt.lease_job(key, false, "w", Duration::from_secs(30))
                    .await
                    .unwrap()
                    .unwrap();
            (i, leased)
        }
    };

    // Recorded: one file, committed with the move past the task.
    let (i, leased) = at_receipt(h.create().await).await;
    h.rt.complete_job(&leased, receipt()).await.unwrap();
    let done = h.rt.instance(i.id).unwrap();
    assert!(done.is_ended());
    let (id, file) = done.files.iter().next().unwrap();
    assert_eq!(done.files.len(), 1);
    assert_eq!(file.data_type.as_str(), "ref-data-as-pdf");
    assert_eq!(read(&h, &done, *id).await, b"%PDF-1.7 receipt");
    // A second completion of the same attempt (a retry whose first answer was recorded) is
    // refused, and its bytes are not kept: one receipt per visit.
    assert!(h.rt.complete_job(&leased, receipt()).await.is_err());
    assert_eq!(h.rt.instance(i.id).unwrap().files.len(), 1);
    assert_eq!(blob_count(&h, &done), 1);

    // Not recorded (the instance vanished while its job was held: the job is dropped as stale):
    // the bytes, already placed, are removed again.
    let (i, leased) = at_receipt(h.create().await).await;
    let mut txn = Txn::new();
    txn.delete_instance(&i, i.version);
    h.rt.store().commit(txn).await.unwrap();
    let outcome = h.rt.complete_job(&leased, receipt()).await.unwrap();
    assert_eq!(outcome, flyt_engine::runtime::jobs::Completed::Stale);
    assert_eq!(blob_count(&h, &i), 0);
}

/// `sign` over a file: the signature holds the file's SHA-256 (as stored), and the signed data
/// type is locked against uploads and deletes, by `sign` itself rather than by hand.
#[tokio::test]
async fn signing_covers_the_files_of_the_signed_data_types_and_locks_them() {
    let bpmn = doc(r#"
<startEvent id="start"/>
<task id="fill"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<task id="sign"><extensionElements><altinn:taskExtension><altinn:taskType>signing</altinn:taskType>
  <altinn:actions><altinn:action>sign</altinn:action></altinn:actions>
  <altinn:signatureConfig><altinn:dataTypesToSign><altinn:dataType>attachments</altinn:dataType></altinn:dataTypesToSign>
  <altinn:signatureDataType>signature</altinn:signatureDataType></altinn:signatureConfig></altinn:taskExtension></extensionElements></task>
<task id="review"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
<sequenceFlow id="f2" sourceRef="fill" targetRef="sign"/>
<sequenceFlow id="f3" sourceRef="sign" targetRef="review"/>
<sequenceFlow id="f4" sourceRef="review" targetRef="end"/>
"#);
    let mut files = DataTypeSpec::new("attachments");
    files.kind = DataKind::Binary;
    let h = Harness::with(
        &bpmn,
        Store::memory(),
        Registry::builder().build(),
        AppSpec::new(app_id()).with_data_type(files),
    )
    .await;
    let i = h.create().await;
    let id = upload(&h, &i, b"the contract").await.unwrap();
    let i = h.next(i.id, None, None).await.unwrap();
    let i = h.next(i.id, Some("sign"), None).await.unwrap();
    assert_eq!(h.active(&i), ["review"]);
    let doc =
        h.rt.data(i.id, &DataTypeId::new("signature"))
            .unwrap()
            .unwrap();
    let signed = &doc["signatures"][0]["dataElementSignatures"][0];
    assert_eq!(signed["dataElementId"], id.to_string());
    assert_eq!(signed["sha256Digest"], i.files[&id].sha256);
    assert_eq!(i.files[&id].sha256.len(), 64);
    // The data type has no task, so only the signature stops a change at `review`.
    match upload(&h, &i, b"a forged page").await {
        Err(Error::DataLocked { signature, .. }) => assert_eq!(signature.as_str(), "signature"),
        other => panic!("expected DataLocked, got {other:?}"),
    }
    let deleted =
        h.rt.delete_file(DeleteFile {
            instance: i.id,
            element: id,
            actor: user(),
            expected_version: None,
        })
        .await;
    assert!(
        matches!(deleted, Err(Error::DataLocked { .. })),
        "{deleted:?}"
    );
    assert_eq!(read(&h, &i, id).await, b"the contract");
}
