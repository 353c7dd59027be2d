//! Writing JSON data while a task that may write it is active.

use super::WriteData;
use crate::app::DataKind;
use crate::ids::DataTypeId;
use crate::model::Instance;
use crate::runtime::pipeline::{Kind, Loaded};
use crate::runtime::transition::HookPoint;
use crate::runtime::{Error, Runtime};

impl Runtime {
    /// Writes JSON data while a task that may write it is active; `data_written` hooks may
    /// validate or enrich it. One commit.
    pub async fn write_data(&self, req: WriteData) -> Result<Instance, Error> {
        let loaded = self.load(req.instance, req.expected_version)?;
        check_writable(&loaded, &req.data_type, DataKind::Json)?;
        let mut t = self.begin(loaded, req.actor);
        t.data.set(req.data_type.clone(), req.value);
        t.run_hooks(HookPoint::DataWritten(req.data_type.as_str()))
            .await?;
        t.check_written()?;
        Ok(self.commit(Kind::Move, t).await?)
    }
}

/// The data type exists and holds `kind` of data, no signature locks it, and a task that may
/// write it is active (JSON data and files alike).
pub(super) fn check_writable(
    loaded: &Loaded,
    data_type: &DataTypeId,
    kind: DataKind,
) -> Result<(), Error> {
    let (instance, app) = (&loaded.instance, &loaded.app);
    if instance.is_ended() {
        return Err(Error::DataNotWritable {
            data_type: data_type.to_string(),
            reason: "the process has ended".into(),
        });
    }
    if loaded
        .def
        .signature_data_types()
        .any(|s| s == data_type.as_str())
    {
        return Err(Error::DataNotWritable {
            data_type: data_type.to_string(),
            reason: "it holds signatures, which only `sign` writes".into(),
        });
    }
    let spec = app.data_type(data_type.as_str());
    if spec.is_none() && !app.open_data_types {
        return Err(Error::UnknownDataType {
            app: app.id.clone(),
            data_type: data_type.to_string(),
        });
    }
    // An open app's undeclared data types hold JSON.
    let holds = spec.map_or(DataKind::Json, |s| s.kind);
    if holds != kind {
        return Err(Error::WrongDataKind {
            data_type: data_type.to_string(),
            holds: match holds {
                DataKind::Json => "JSON data",
                DataKind::Binary => "files",
            },
            hint: match holds {
                DataKind::Json => "write it with PUT .../data/{dataType}",
                DataKind::Binary => "upload files with POST .../data?dataType=...",
            },
        });
    }
    if let Some(signature) = instance.locked_by(data_type) {
        return Err(Error::DataLocked {
            data_type: data_type.to_string(),
            signature: signature.to_string(),
        });
    }
    let active: Vec<String> = instance
        .process
        .user_task_tokens()
        .map(|(_, t)| t.element_id.to_string())
        .collect();
    match spec.and_then(|s| s.task.as_deref()) {
        Some(task) if !active.iter().any(|a| a == task) => Err(Error::DataNotWritable {
            data_type: data_type.to_string(),
            reason: format!(
                "it belongs to task `{task}`, which is not active (active: {})",
                if active.is_empty() {
                    "none".into()
                } else {
                    active.join(", ")
                }
            ),
        }),
        None if active.is_empty() => Err(Error::DataNotWritable {
            data_type: data_type.to_string(),
            reason: "no user task is active".into(),
        }),
        _ => Ok(()),
    }
}
