//! Apps as the engine sees them: an id and data types (with the task that writes each, and an
//! optional JSON Schema). Policies, owner types and the rest of an app file are the API's.

use crate::ids::{AppId, DataTypeId};
use serde_json::Value;
use std::fmt;
use std::sync::Arc;

/// A compiled JSON Schema.
#[derive(Clone)]
pub struct Schema {
    source: Value,
    validator: Arc<jsonschema::Validator>,
}

impl fmt::Debug for Schema {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Schema")
            .field("source", &self.source)
            .finish()
    }
}

/// One problem a schema found: where (a JSON pointer into the data) and what.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct SchemaIssue {
    pub field: String,
    pub message: String,
}

impl Schema {
    /// Compiles a schema. Remote and file `$ref`s are not resolved (no network access from a
    /// schema); a schema that needs them fails here.
    pub fn compile(source: Value) -> Result<Schema, String> {
        let validator = jsonschema::validator_for(&source).map_err(|e| e.to_string())?;
        Ok(Schema {
            source,
            validator: Arc::new(validator),
        })
    }

    pub fn source(&self) -> &Value {
        &self.source
    }

    /// Every problem, at most 50.
    pub fn check(&self, value: &Value) -> Vec<SchemaIssue> {
        self.validator
            .iter_errors(value)
            .take(50)
            .map(|e| SchemaIssue {
                field: e.instance_path().to_string(),
                message: e.to_string(),
            })
            .collect()
    }
}

/// What a data type holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DataKind {
    /// One JSON document per instance (Altinn: a data type with `appLogic`, a form).
    #[default]
    Json,
    /// Files: attachments, signatures' receipts, PDFs (Altinn: a data type without `appLogic`).
    Binary,
}

/// A data type of an app.
#[derive(Debug, Clone)]
pub struct DataTypeSpec {
    pub id: DataTypeId,
    /// The task during which the data may be written (Altinn's `taskId`). `None`: writable
    /// while any user task is active.
    pub task: Option<String>,
    pub schema: Option<Schema>,
    /// Must the data exist before its task completes?
    pub required: bool,
    pub kind: DataKind,
    /// Content types a binary element may have (Altinn's `allowedContentTypes`); empty: any.
    pub allowed_content_types: Vec<String>,
    /// The largest element in bytes (Altinn's `maxSize` is in MiB; readers convert).
    pub max_size: Option<u64>,
    /// How many elements of this type an instance may hold (Altinn's `maxCount`; 0 or `None`:
    /// no limit for binary types; JSON types hold one).
    pub max_count: Option<u32>,
}

impl DataTypeSpec {
    pub fn new(id: &str) -> Self {
        DataTypeSpec {
            id: DataTypeId::new(id),
            task: None,
            schema: None,
            required: false,
            kind: DataKind::Json,
            allowed_content_types: Vec::new(),
            max_size: None,
            max_count: None,
        }
    }

    pub fn for_task(mut self, task: &str) -> Self {
        self.task = Some(task.to_string());
        self
    }

    pub fn with_schema(mut self, schema: Schema) -> Self {
        self.schema = Some(schema);
        self
    }

    pub fn required(mut self) -> Self {
        self.required = true;
        self
    }
}

/// An app, as far as the engine is concerned.
#[derive(Debug, Clone)]
pub struct AppSpec {
    pub id: AppId,
    pub data_types: Vec<DataTypeSpec>,
    /// Accept data types that are not declared (tests and conformance runs). Default false.
    pub open_data_types: bool,
    /// The id of the process instances start in, when the definition holds several executable
    /// processes (`process = "..."` in `app.toml`). `None`: the definition's only one.
    pub process: Option<String>,
    /// The app's service owner as an organisation: the owner of the instances its timer start
    /// events create. Without one, a definition with a timer start event is refused at deploy.
    pub service_owner: Option<crate::model::InstanceOwner>,
}

impl AppSpec {
    pub fn new(id: AppId) -> Self {
        AppSpec {
            id,
            data_types: Vec::new(),
            open_data_types: false,
            process: None,
            service_owner: None,
        }
    }

    /// An app that accepts any data type name (for conformance runs and tests).
    pub fn open(id: AppId) -> Self {
        AppSpec {
            open_data_types: true,
            ..AppSpec::new(id)
        }
    }

    /// Starts instances in the process with this id (see [`AppSpec::process`]).
    pub fn with_process(mut self, process: &str) -> Self {
        self.process = Some(process.to_string());
        self
    }

    /// The organisation that owns the instances the app's timer start events create.
    pub fn with_service_owner(mut self, organisation: crate::model::Party) -> Self {
        self.service_owner = Some(crate::model::InstanceOwner::new(organisation));
        self
    }

    pub fn with_data_type(mut self, data_type: DataTypeSpec) -> Self {
        self.data_types.push(data_type);
        self
    }

    pub fn data_type(&self, id: &str) -> Option<&DataTypeSpec> {
        self.data_types.iter().find(|d| d.id.as_str() == id)
    }

    /// The data types written during `task`.
    pub fn data_types_of_task<'a>(
        &'a self,
        task: &'a str,
    ) -> impl Iterator<Item = &'a DataTypeSpec> + 'a {
        self.data_types
            .iter()
            .filter(move |d| d.task.as_deref() == Some(task))
    }

    /// The data type `dataModel` lookups read when neither the expression nor the gateway names
    /// one: the first data type of the task the token came from, else the app's first.
    pub fn default_data_type(&self, origin_task: Option<&str>) -> Option<&DataTypeId> {
        origin_task
            .and_then(|t| {
                self.data_types
                    .iter()
                    .find(|d| d.task.as_deref() == Some(t))
            })
            .or_else(|| self.data_types.first())
            .map(|d| &d.id)
    }
}
