//! Altinn's `App/config/applicationmetadata.json`: data types, party types, instantiation.
//!
//! | field                                   | flyt                                                       |
//! |-----------------------------------------|------------------------------------------------------------|
//! | `dataTypes[].id`, `taskId`              | a data type, written during that task                      |
//! | `dataTypes[].appLogic` (with `classRef`)| JSON form data ([`DataKind::Json`]); absent: a binary type |
//! | `allowedContentTypes`, `maxCount`       | the binary type's content types and count (0: no limit)   |
//! | `maxSize` (MiB)                         | the binary type's largest element, in bytes                |
//! | `minCount` ≥ 1                          | required before its task completes                        |
//! | `partyTypesAllowed`                     | owner types (`person`, `organisation`; none set: both)     |
//! | `disallowUserInstantiation`             | only the service owner instantiates                        |
//!
//! Every other field that changes behaviour in Altinn is a warning naming its line; bookkeeping
//! fields (`created`, `versionId`, ...) are read silently.

use super::super::DataTypeFile;
use super::super::app_file::DataKindFile;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// A finding in the file: its line (when found) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub line: Option<u32>,
    pub message: String,
}

/// What flyt takes from the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Metadata {
    /// The file's `id` (`org/app`), with its line.
    pub id: Option<(String, Option<u32>)>,
    pub title: Option<String>,
    pub data_types: Vec<DataTypeFile>,
    pub owner_types: Vec<String>,
    pub disallow_user_instantiation: bool,
    pub warnings: Vec<Finding>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawMetadata {
    #[serde(default)]
    id: Option<String>,
    #[serde(default)]
    title: BTreeMap<String, String>,
    #[serde(default)]
    data_types: Vec<RawDataType>,
    #[serde(default)]
    party_types_allowed: BTreeMap<String, bool>,
    #[serde(default)]
    disallow_user_instantiation: bool,
    #[serde(flatten)]
    other: Map<String, Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawDataType {
    id: String,
    #[serde(default)]
    task_id: Option<String>,
    #[serde(default)]
    allowed_content_types: Option<Vec<String>>,
    #[serde(default)]
    max_size: Option<u64>,
    #[serde(default)]
    max_count: Option<u32>,
    #[serde(default)]
    min_count: Option<u32>,
    #[serde(default)]
    app_logic: Option<Map<String, Value>>,
    #[serde(flatten)]
    other: Map<String, Value>,
}

/// Bookkeeping and presentation fields: read, nothing to enforce.
const QUIET: &[&str] = &[
    "$schema",
    "org",
    "created",
    "createdBy",
    "lastChanged",
    "lastChangedBy",
    "versionId",
    "altinnNugetVersion",
    "description",
    "grouping",
];

/// Fields whose default (false, empty, 0) is what flyt does anyway.
fn is_default(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Bool(b) => !b,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        Value::Number(n) => n.as_f64() == Some(0.0),
        Value::String(s) => s.is_empty(),
    }
}

/// The 1-based line of the first `"key"` at or after byte `from`.
fn line_of(text: &str, key: &str, from: usize) -> Option<u32> {
    let needle = format!("\"{key}\"");
    let at = from + text.get(from..)?.find(&needle)?;
    u32::try_from(text[..at].matches('\n').count() + 1).ok()
}

/// Reads the file's text.
pub fn read(text: &str) -> Result<Metadata, Finding> {
    let raw: RawMetadata = serde_json::from_str(text).map_err(|e| Finding {
        line: u32::try_from(e.line()).ok(),
        message: format!("not a usable applicationmetadata.json: {e}"),
    })?;
    let mut warnings = Vec::new();
    for (key, value) in &raw.other {
        if !QUIET.contains(&key.as_str()) && !is_default(value) {
            warnings.push(Finding {
                line: line_of(text, key, 0),
                message: format!("`{key}` is not used by flyt and is ignored"),
            });
        }
    }
    let mut data_types = Vec::new();
    for dt in raw.data_types {
        // Where this data type's fields are: after its id, for warnings' lines.
        let from = text
            .find(&format!("\"{}\"", dt.id))
            .map_or(0, |at| text[..at].rfind('{').unwrap_or(at));
        let mut warn = |key: &str, message: String| {
            warnings.push(Finding {
                line: line_of(text, key, from),
                message: format!("dataTypes `{}`: {message}", dt.id),
            })
        };
        for (key, value) in &dt.other {
            if QUIET.contains(&key.as_str()) || is_default(value) {
                continue;
            }
            let message = match key.as_str() {
                "enablePdfCreation" => "`enablePdfCreation`: flyt makes no PDF".to_string(),
                "enableFileScan" | "enabledFileAnalysers" | "enabledFileValidators" => {
                    format!("`{key}`: flyt does not scan or analyse files")
                }
                _ => format!("`{key}` is not used by flyt and is ignored"),
            };
            warn(key, message);
        }
        let kind = match &dt.app_logic {
            Some(logic) => {
                if !logic.contains_key("classRef") {
                    warn(
                        "appLogic",
                        "`appLogic` without `classRef`: read as JSON form data".into(),
                    );
                }
                for (key, value) in logic {
                    match key.as_str() {
                        "classRef" | "allowAnonymousOnStateless" => {}
                        "autoCreate" if value == &Value::Bool(true) => warn(
                            key,
                            "`appLogic.autoCreate`: flyt does not create an empty form at instantiation; send the data with the instance or write it during the task".into(),
                        ),
                        _ if is_default(value) => {}
                        _ => warn(
                            key,
                            format!("`appLogic.{key}` is not used by flyt and is ignored"),
                        ),
                    }
                }
                DataKindFile::Json
            }
            None => DataKindFile::Binary,
        };
        let binary = kind == DataKindFile::Binary;
        data_types.push(DataTypeFile {
            required: dt.min_count.unwrap_or(0) >= 1 && dt.task_id.is_some(),
            id: dt.id,
            task: dt.task_id,
            schema: None,
            kind,
            // A form's content types are the serialisations Altinn offers (XML, JSON); flyt
            // stores JSON, so they matter only for files.
            content_types: if binary {
                dt.allowed_content_types.unwrap_or_default()
            } else {
                Vec::new()
            },
            max_size_bytes: dt.max_size.map(|mib| mib.saturating_mul(1024 * 1024)),
            max_count: dt.max_count,
        });
    }
    let party = |name: &str| raw.party_types_allowed.get(name).copied().unwrap_or(false);
    let mut owner_types = Vec::new();
    if party("person") {
        owner_types.push("person".to_string());
    }
    if party("organisation") {
        owner_types.push("organisation".to_string());
    }
    for other in ["subUnit", "bankruptcyEstate"] {
        if party(other) {
            warnings.push(Finding {
                line: line_of(text, other, 0),
                message: format!(
                    "partyTypesAllowed.{other}: flyt knows persons and organisations only; such parties cannot own instances"
                ),
            });
        }
    }
    // Altinn: no party type allowed means every party type is.
    if !raw.party_types_allowed.values().any(|v| *v) {
        owner_types = vec!["person".into(), "organisation".into()];
    }
    if owner_types.is_empty() {
        return Err(Finding {
            line: line_of(text, "partyTypesAllowed", 0),
            message: "partyTypesAllowed allows neither `person` nor `organisation`: no instance could be created".into(),
        });
    }
    let title = ["en", "nb", "nn"]
        .iter()
        .find_map(|l| raw.title.get(*l))
        .or_else(|| raw.title.values().next())
        .cloned();
    Ok(Metadata {
        id: raw.id.map(|id| (id, line_of(text, "id", 0))),
        title,
        data_types,
        owner_types,
        disallow_user_instantiation: raw.disallow_user_instantiation,
        warnings,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const FILE: &str = r#"{
  "$schema": "https://example.invalid/application-metadata.schema.v1.json",
  "id": "ttd/demo",
  "org": "ttd",
  "title": { "nb": "Demo", "en": "Demo app" },
  "dataTypes": [
    {
      "id": "form",
      "allowedContentTypes": ["application/xml"],
      "appLogic": { "autoCreate": false, "classRef": "Altinn.App.Models.Form" },
      "taskId": "Task_1",
      "maxCount": 1,
      "minCount": 1,
      "enablePdfCreation": false
    },
    {
      "id": "attachment",
      "taskId": "Task_1",
      "allowedContentTypes": ["application/pdf", "image/png"],
      "maxSize": 25,
      "maxCount": 3,
      "minCount": 0,
      "enablePdfCreation": true
    }
  ],
  "partyTypesAllowed": { "person": true, "organisation": false, "subUnit": false, "bankruptcyEstate": false },
  "disallowUserInstantiation": true,
  "onEntry": { "show": "select-instance" }
}"#;

    #[test]
    fn data_types_party_types_and_instantiation() {
        let m = read(FILE).unwrap();
        assert_eq!(m.title.as_deref(), Some("Demo app"));
        assert_eq!(m.owner_types, ["person"]);
        assert!(m.disallow_user_instantiation);
        let form = &m.data_types[0];
        assert_eq!(
            (form.kind, form.task.as_deref(), form.required),
            (DataKindFile::Json, Some("Task_1"), true)
        );
        assert!(
            form.content_types.is_empty(),
            "a form's XML/JSON is not a file type"
        );
        let file = &m.data_types[1];
        assert_eq!(file.kind, DataKindFile::Binary);
        assert_eq!(file.content_types, ["application/pdf", "image/png"]);
        assert_eq!(file.max_size_bytes, Some(25 * 1024 * 1024));
        assert_eq!(file.max_count, Some(3));
        assert!(!file.required);
    }

    #[test]
    fn what_flyt_does_not_do_is_warned_with_its_line() {
        let m = read(FILE).unwrap();
        let shown: Vec<String> = m
            .warnings
            .iter()
            .map(|w| format!("{}: {}", w.line.unwrap_or(0), w.message))
            .collect();
        assert!(
            shown.contains(
                &"23: dataTypes `attachment`: `enablePdfCreation`: flyt makes no PDF".to_string()
            ),
            "{shown:?}"
        );
        assert!(
            shown.contains(&"28: `onEntry` is not used by flyt and is ignored".to_string()),
            "{shown:?}"
        );
        assert_eq!(
            shown.len(),
            2,
            "defaults and bookkeeping are quiet: {shown:?}"
        );
    }

    #[test]
    fn no_party_type_set_means_both_and_broken_json_names_its_line() {
        let m = read(r#"{"dataTypes": [], "partyTypesAllowed": {"person": false}}"#).unwrap();
        assert_eq!(m.owner_types, ["person", "organisation"]);
        let e = read("{\n  \"dataTypes\": [\n    {\"taskId\": \"T\"}\n  ]\n}").unwrap_err();
        assert_eq!(e.line, Some(3), "{e:?}");
        assert!(e.message.contains("missing field `id`"), "{e:?}");
        let e = read(r#"{"partyTypesAllowed": {"subUnit": true}}"#).unwrap_err();
        assert!(e.message.contains("neither"), "{e:?}");
    }
}
