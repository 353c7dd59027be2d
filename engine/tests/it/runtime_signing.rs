//! `sign` as Altinn signs: a signature data element naming the signer and the SHA-256 of each
//! signed element, the signed data locked, signing again by the same signer adding nothing.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::Actor;
use flyt_engine::runtime::{Error, Next, WriteData};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

fn signing_task(id: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>signing</altinn:taskType>
  <altinn:actions><altinn:action>sign</altinn:action><altinn:action>reject</altinn:action></altinn:actions>
  <altinn:signatureConfig><altinn:dataTypesToSign><altinn:dataType>model</altinn:dataType></altinn:dataTypesToSign>
  <altinn:signatureDataType>signatures</altinn:signatureDataType></altinn:signatureConfig>
</altinn:taskExtension></extensionElements></task>"#
    )
}

fn user_task(id: &str, ty: &str, actions: &[&str]) -> String {
    let actions: String = actions
        .iter()
        .map(|a| format!("<altinn:action>{a}</altinn:action>"))
        .collect();
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType><altinn:actions>{actions}</altinn:actions></altinn:taskExtension></extensionElements></task>"#
    )
}

/// fill → sign → check (confirm, or reject back to sign) → end.
fn process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        user_task("fill", "data", &[]),
        signing_task("sign"),
        user_task("check", "confirmation", &["reject"]),
        r#"<exclusiveGateway id="g"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        r#"<sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>"#.into(),
        r#"<sequenceFlow id="f2" sourceRef="fill" targetRef="sign"/>"#.into(),
        r#"<sequenceFlow id="f3" sourceRef="sign" targetRef="check"/>"#.into(),
        r#"<sequenceFlow id="f4" sourceRef="check" targetRef="g"/>"#.into(),
        r#"<sequenceFlow id="back" sourceRef="g" targetRef="sign"><conditionExpression>["equals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>"#.into(),
        r#"<sequenceFlow id="on" sourceRef="g" targetRef="end"><conditionExpression>["notEquals", ["gatewayAction"], "reject"]</conditionExpression></sequenceFlow>"#.into(),
    ]
    .join("\n"))
}

fn model() -> DataTypeId {
    DataTypeId::new("model")
}

fn sha256_hex(value: &Value) -> String {
    Sha256::digest(serde_json::to_vec(value).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn next_as(h: &Harness, id: flyt_engine::ids::InstanceId, actor: Actor, action: &str) {
    h.rt.next(Next {
        instance: id,
        action: Some(action.into()),
        task: None,
        actor,
        expected_version: None,
        on_behalf_of: None,
    })
    .await
    .unwrap();
}

#[tokio::test]
async fn sign_stores_the_signer_and_digests_locks_the_data_and_is_idempotent_per_signer() {
    let h = Harness::new(&process()).await;
    let data = json!({ "amount": 1200, "name": "Ærlig Øystein Åsen" });
    let i = h
        .create_with(BTreeMap::from([(model(), data.clone())]))
        .await;
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["sign"]);
    assert_eq!(
        h.rt.data(i.id, &DataTypeId::new("signatures")).unwrap(),
        None,
        "nothing signed before `sign`"
    );

    let i = h.next(i.id, Some("sign"), None).await.unwrap();
    assert_eq!(h.active(&i), ["check"]);
    let doc =
        h.rt.data(i.id, &DataTypeId::new("signatures"))
            .unwrap()
            .expect("a signature element after `sign`");
    let signatures = doc["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 1);
    assert_eq!(signatures[0]["task"], "sign");
    assert_eq!(signatures[0]["signee"]["personNumber"], "01017012345");
    assert_eq!(
        signatures[0]["dataElementSignatures"],
        json!([{ "dataType": "model", "sha256Digest": sha256_hex(&data), "signed": true }])
    );
    assert!(signatures[0]["signedTime"].is_string());
    assert_eq!(
        i.locked_by(&model()).map(|d| d.as_str()),
        Some("signatures")
    );

    // Signed data is locked: the write is refused and nothing changes.
    let before = h.rt.instance(i.id).unwrap();
    let write =
        h.rt.write_data(WriteData {
            instance: i.id,
            data_type: model(),
            value: json!({ "amount": 1 }),
            actor: user(),
            expected_version: None,
        })
        .await;
    match write {
        Err(Error::DataLocked {
            data_type,
            signature,
        }) => assert_eq!(
            (data_type.as_str(), signature.as_str()),
            ("model", "signatures")
        ),
        other => panic!("expected DataLocked, got {other:?}"),
    }
    assert_eq!(h.rt.instance(i.id).unwrap(), before);
    // Nor may anyone write the signatures themselves.
    let forged =
        h.rt.write_data(WriteData {
            instance: i.id,
            data_type: DataTypeId::new("signatures"),
            value: json!({ "signatures": [] }),
            actor: user(),
            expected_version: None,
        })
        .await;
    assert!(
        matches!(forged, Err(Error::DataNotWritable { .. })),
        "{forged:?}"
    );

    // Rejected back to signing: the same signer over the same data adds no second signature;
    // another signer adds theirs.
    let i = h.next(i.id, Some("reject"), None).await.unwrap();
    assert_eq!(h.active(&i), ["sign"]);
    let i = h.next(i.id, Some("sign"), None).await.unwrap();
    let doc =
        h.rt.data(i.id, &DataTypeId::new("signatures"))
            .unwrap()
            .unwrap();
    assert_eq!(doc["signatures"].as_array().unwrap().len(), 1, "idempotent");
    let i = h.next(i.id, Some("reject"), None).await.unwrap();
    next_as(&h, i.id, Actor::user("02028012345"), "sign").await;
    let doc =
        h.rt.data(i.id, &DataTypeId::new("signatures"))
            .unwrap()
            .unwrap();
    let signatures = doc["signatures"].as_array().unwrap();
    assert_eq!(signatures.len(), 2);
    assert_eq!(signatures[1]["signee"]["personNumber"], "02028012345");

    let i = h.next(i.id, Some("confirm"), None).await.unwrap();
    assert!(i.is_ended());
    assert!(
        h.events(i.id)
            .iter()
            .filter(|e| *e == "flyt_Signed sign")
            .count()
            == 3,
        "{:?}",
        h.events(i.id)
    );
}

#[tokio::test]
async fn no_action_at_a_signing_task_does_not_sign() {
    let h = Harness::new(&process()).await;
    let i = h
        .create_with(BTreeMap::from([(model(), json!({ "amount": 1 }))]))
        .await;
    let i = h.next(i.id, None, None).await.unwrap();
    let i = h.next(i.id, None, None).await.unwrap();
    assert_eq!(h.active(&i), ["check"], "moved with no action");
    assert_eq!(
        h.rt.data(i.id, &DataTypeId::new("signatures")).unwrap(),
        None,
        "as Altinn: only the `sign` action signs"
    );
    assert!(i.locked.is_empty());
}
