//! The commands that change instances, one module each: [`create`], [`next`], [`write_data`],
//! [`add_file`], [`delete_file`], [`resume`], [`delete`], [`server_action`]. Each reads as the pipeline's steps
//! ([`super::pipeline`]): load, check, compute a transition, commit. On any error nothing is
//! written.

mod add_file;
mod create;
mod delete;
mod delete_file;
mod next;
mod resume;
mod server_action;
mod sign;
mod write_data;

pub(crate) use add_file::NewFile;
pub use add_file::{AddFile, FileUpload};
pub use delete_file::DeleteFile;
pub use next::{NextPlan, NextStep, RETRY_ACTION};

use super::Error;
use crate::app::AppSpec;
use crate::ids::{AppId, DataTypeId, InstanceId};
use crate::model::{Actor, Instance, InstanceOwner};
use serde_json::Value;
use std::collections::BTreeMap;

/// A request to create an instance.
#[derive(Debug, Clone)]
pub struct CreateInstance {
    pub app: AppId,
    pub owner: InstanceOwner,
    pub actor: Actor,
    /// Initial data per data type (prefill), validated against the data types' schemas.
    pub data: BTreeMap<DataTypeId, Value>,
    /// Start at this start event instead of the first.
    pub start_event: Option<String>,
    /// `(Idempotency-Key, hash of the request)`: the same key and hash from the same caller
    /// (`actor`) return the same instance; the same key with another hash is refused. Keys are
    /// per caller: another caller's use of the same key is neither seen nor disturbed.
    pub idempotency: Option<(String, String)>,
}

/// The outcome of a create: the instance, and whether this call created it (false when an
/// `Idempotency-Key` replay returned an earlier one).
#[derive(Debug, Clone)]
pub struct Created {
    pub instance: Instance,
    pub created: bool,
}

/// A request to complete the current task and move on.
#[derive(Debug, Clone)]
pub struct Next {
    pub instance: InstanceId,
    pub action: Option<String>,
    pub task: Option<String>,
    pub actor: Actor,
    pub expected_version: Option<u64>,
    /// The organisation the actor acts for (Altinn's `actionOnBehalfOf`), recorded in a
    /// signature. The caller (the API) checks that the actor may act for it.
    pub on_behalf_of: Option<String>,
}

/// A request to write JSON data of one data type.
#[derive(Debug, Clone)]
pub struct WriteData {
    pub instance: InstanceId,
    pub data_type: DataTypeId,
    pub value: Value,
    pub actor: Actor,
    pub expected_version: Option<u64>,
}

/// Checks data about to be written, whoever writes it (create, data `PUT`, a hook, a service
/// task's output): the data type must exist (or the app's data types be open), the data must be
/// a JSON object (so a data `PUT` can always write it back), and it must satisfy the schema.
pub fn check_data(app: &AppSpec, data_type: &DataTypeId, value: &Value) -> Result<(), Error> {
    let spec = match app.data_type(data_type.as_str()) {
        None if !app.open_data_types => {
            return Err(Error::UnknownDataType {
                app: app.id.clone(),
                data_type: data_type.to_string(),
            });
        }
        spec => spec,
    };
    if let Some(spec) = spec
        && spec.kind == crate::app::DataKind::Binary
    {
        return Err(Error::WrongDataKind {
            data_type: data_type.to_string(),
            holds: "files",
            hint: "upload files with POST .../data?dataType=...",
        });
    }
    if !value.is_object() {
        return Err(Error::DataInvalid {
            data_type: data_type.to_string(),
            issues: vec![crate::app::SchemaIssue {
                field: String::new(),
                message: "the data of a data type must be a JSON object `{...}`".into(),
            }],
        });
    }
    match spec {
        None => Ok(()),
        Some(spec) => match &spec.schema {
            Some(schema) => {
                let issues = schema.check(value);
                if issues.is_empty() {
                    Ok(())
                } else {
                    Err(Error::DataInvalid {
                        data_type: data_type.to_string(),
                        issues,
                    })
                }
            }
            None => Ok(()),
        },
    }
}
