//! `sign`: recording who signed which data, and locking that data.
//!
//! As Altinn's signing action, a signature is a data element of the task's
//! `signatureDataType` that names the signer and holds the SHA-256 of each element of the
//! `dataTypesToSign` at that moment (a JSON document's, or each file's bytes'). flyt keeps the signatures of one signature data type in one
//! JSON document, `{"signatures": [...]}`, one entry per signer, task and signed data; signing
//! again by the same signer at the same task over the same data adds nothing. The signed data types are locked: a later
//! write is refused ([`Error::DataLocked`]) until their own task starts again (Altinn unlocks a
//! task's data when the task starts).

use crate::bpmn::elements::SignatureConfig;
use crate::ids::DataTypeId;
use crate::model::Actor;
use crate::runtime::Error;
use crate::runtime::transition::Transition;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

/// Signs `config.data_types_to_sign` at `task` as the transition's actor: writes the signature
/// and locks what it covers. Part of the transition's commit.
pub(crate) fn sign(
    t: &mut Transition<'_>,
    task: &str,
    config: &SignatureConfig,
    on_behalf_of: Option<&str>,
) -> Result<(), Error> {
    let mut elements = Vec::new();
    for data_type in &config.data_types_to_sign {
        let id = DataTypeId::new(data_type.clone());
        if let Some(value) = t.data.get(&id)? {
            elements.push(json!({
                "dataType": data_type,
                "sha256Digest": digest(value),
                "signed": true,
            }));
        }
        // Files (attachments) of the data type: the SHA-256 of their bytes, taken when stored.
        for (element, file) in t.instance.files.iter().filter(|(_, f)| f.data_type == id) {
            elements.push(json!({
                "dataType": data_type,
                "dataElementId": element.to_string(),
                "sha256Digest": file.sha256,
                "signed": true,
            }));
        }
    }
    let mut signee = signee(&t.actor);
    if let Some(org) = on_behalf_of {
        signee["onBehalfOf"] = json!({ "organisationNumber": org });
    }
    let signature_type = DataTypeId::new(config.signature_data_type.clone());
    let mut signatures: Vec<Value> = match t.data.get(&signature_type)? {
        Some(Value::Object(doc)) => match doc.get("signatures") {
            Some(Value::Array(list)) => list.clone(),
            _ => Vec::new(),
        },
        _ => Vec::new(),
    };
    let again = signatures.iter().any(|s| {
        s["signee"] == signee
            && s["task"] == task
            && s["dataElementSignatures"] == Value::Array(elements.clone())
    });
    if !again {
        signatures.push(json!({
            "task": task,
            "signee": signee,
            "signedTime": t.now.to_rfc3339(),
            "dataElementSignatures": elements,
        }));
        t.data
            .set(signature_type.clone(), json!({ "signatures": signatures }));
        t.engine_written.insert(signature_type.clone());
    }
    for data_type in &config.data_types_to_sign {
        let id = DataTypeId::new(data_type.clone());
        let has_file = t.instance.files.values().any(|f| f.data_type == id);
        if has_file || t.data.get(&id)?.is_some() {
            t.instance.locked.insert(id, signature_type.clone());
        }
    }
    t.record(
        crate::model::EventType::Signed,
        Some(crate::ids::ElementId::new(task.to_string())),
        Some("sign".into()),
        Some(json!({
            "signatureDataType": config.signature_data_type,
            "dataTypes": config.data_types_to_sign,
            "repeated": again,
        })),
    );
    Ok(())
}

/// Who signs: a person (by national identity number), or an organisation.
fn signee(actor: &Actor) -> Value {
    match actor {
        Actor::User { person_number } => json!({ "personNumber": person_number }),
        Actor::Organisation {
            organisation_number,
            org_code,
        } => json!({ "organisationNumber": organisation_number, "orgCode": org_code }),
        Actor::System { component } => json!({ "system": component }),
    }
}

/// The SHA-256 of a JSON data element, over its compact serialisation (keys in order), hex.
pub(crate) fn digest(value: &Value) -> String {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let hash = Sha256::digest(&bytes);
    hash.iter().map(|b| format!("{b:02x}")).collect()
}
