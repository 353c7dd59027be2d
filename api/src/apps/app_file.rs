//! The app file, `processes/<org>/<app>/app.toml`: metadata, data types, owner types, policy.
//!
//! ```toml
//! title = "Expense approval"
//! owner_types = ["person", "organisation"]   # who may own instances (default both)
//! process = "Process_1"          # the process instances start in, when process.bpmn holds
//!                                # several executable ones (default: its only one)
//! service_owner = "974760673"    # the org's organisation number: owns the instances timer start events create
//!
//! [[data_types]]
//! id = "claim"
//! task = "Fill"                  # written during this task (default: while any task is active)
//! schema = "claim.schema.json"   # JSON Schema, relative to the app folder (optional)
//! required = true                # must exist before the task completes (default false)
//!
//! [[data_types]]
//! id = "attachments"
//! kind = "binary"                # files (default "json": one JSON document)
//! content_types = ["application/pdf", "image/*"]   # accepted (default: any)
//! max_size_bytes = 10485760      # largest file (default: the server's max_upload_bytes)
//! max_count = 5                  # most files per instance (default: no limit)
//!
//! [[rules]]                      # the policy; see `apps::policy`
//! subjects = ["owner"]
//! actions = ["read", "instantiate", "write", "confirm"]
//!
//! [jobs]
//! external = ["send-letter"]     # service task types run by external workers
//! ```

use super::policy::Rule;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataTypeFile {
    pub id: String,
    #[serde(default)]
    pub task: Option<String>,
    #[serde(default)]
    pub schema: Option<String>,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub kind: DataKindFile,
    #[serde(default)]
    pub content_types: Vec<String>,
    #[serde(default)]
    pub max_size_bytes: Option<u64>,
    #[serde(default)]
    pub max_count: Option<u32>,
}

/// `kind` of a data type: `json` (one JSON document) or `binary` (files).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DataKindFile {
    #[default]
    Json,
    Binary,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct JobsFile {
    /// Service task types run by external workers (`POST /jobs/activate`).
    #[serde(default)]
    pub external: Vec<String>,
}

/// A webhook subscription (see HOOKS.md).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookFile {
    pub url: String,
    /// `instance.created`, `task.started`, `task.ended`, `process.ended`.
    pub events: Vec<String>,
    /// Name of the environment variable holding the HMAC secret.
    pub secret_env: String,
    /// A synchronous task-end veto: POSTed before the move, which waits for the answer.
    #[serde(default)]
    pub veto: bool,
    /// With `veto`: what a timeout or error means. `closed` (default): refuse the move.
    #[serde(default)]
    pub fail_open: bool,
    #[serde(default)]
    pub timeout_ms: Option<u64>,
}

fn default_owner_types() -> Vec<String> {
    vec!["person".into(), "organisation".into()]
}

/// The parsed app file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AppFile {
    #[serde(default)]
    pub title: Option<String>,
    #[serde(default = "default_owner_types")]
    pub owner_types: Vec<String>,
    /// The id of the process instances start in (see the module docs).
    #[serde(default)]
    pub process: Option<String>,
    /// The organisation number of the app's service owner (its org): the owner of the
    /// instances the process's timer start events create.
    #[serde(default)]
    pub service_owner: Option<String>,
    #[serde(default)]
    pub data_types: Vec<DataTypeFile>,
    #[serde(default)]
    pub rules: Vec<Rule>,
    #[serde(default)]
    pub jobs: JobsFile,
    #[serde(default)]
    pub webhooks: Vec<WebhookFile>,
}
