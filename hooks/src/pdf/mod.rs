//! The built-in `pdf` service task (Altinn's `<altinn:taskType>pdf</altinn:taskType>`): a PDF
//! receipt of the instance's form data, added to the instance as a file of data type
//! `ref-data-as-pdf` (Altinn's name), downloadable with `GET .../data/{id}`.
//!
//! ```xml
//! <altinn:pdfConfig>
//!   <altinn:autoPdfTaskIds><altinn:taskId>Task_1</altinn:taskId></altinn:autoPdfTaskIds>
//!   <altinn:filenameTextResourceKey>receipt</altinn:filenameTextResourceKey>
//! </altinn:pdfConfig>
//! ```
//!
//! The receipt shows the app id, the instance id, and for each listed task (older files list
//! them as `tasksToIncludeInPdf/task`) the JSON data of that task's data types, field by field
//! (nested objects as dotted paths, list items as `[i]`). Without listed tasks it shows every
//! JSON data type the instance holds. The file name is the text resource key with `.pdf`
//! (flyt has no text resources), else the app's name.
//!
//! On retry it renders again; the file is committed with the move past the task, so one visit
//! adds one PDF however often its attempt runs.

mod render;

pub use render::{Receipt, Section, render};

use async_trait::async_trait;
use flyt_engine::app::DataKind;
use flyt_engine::bpmn::xml::XmlNode;
use flyt_engine::hooks::{
    Completion, FileOutput, JobContext, ServiceTaskHandler, ServiceTaskOutcome,
};
use flyt_engine::ids::DataTypeId;
use serde_json::Value;

/// The task type this handler is registered under.
pub const TASK_TYPE: &str = "pdf";

/// The data type of the receipts (Altinn's).
pub const DATA_TYPE: &str = "ref-data-as-pdf";

/// The `pdf` service task handler.
#[derive(Debug, Clone, Copy, Default)]
pub struct PdfReceipt;

#[async_trait]
impl ServiceTaskHandler for PdfReceipt {
    async fn execute(&self, ctx: JobContext) -> ServiceTaskOutcome {
        let (tasks, filename_key) = config(&ctx);
        let receipt = receipt(&ctx, &tasks);
        let rendered = tokio::task::spawn_blocking(move || render(&receipt)).await;
        let bytes = match rendered {
            Ok(Ok(bytes)) => bytes,
            Ok(Err(e)) => return ServiceTaskOutcome::fail(e),
            Err(e) => return ServiceTaskOutcome::retry(format!("rendering stopped: {e}")),
        };
        let filename = format!(
            "{}.pdf",
            filename_key.unwrap_or_else(|| ctx.app.app().to_string())
        );
        ServiceTaskOutcome::Completed(Completion {
            files: vec![FileOutput {
                data_type: DataTypeId::new(DATA_TYPE),
                content_type: "application/pdf".into(),
                filename: Some(filename),
                bytes,
            }],
            ..Completion::default()
        })
    }
}

/// The tasks whose data the receipt shows, and the file name's text resource key.
fn config(ctx: &JobContext) -> (Vec<String>, Option<String>) {
    let Some(pdf) = ctx.task.as_ref().and_then(|t| t.config.get("pdfConfig")) else {
        return (Vec::new(), None);
    };
    let mut tasks = Vec::new();
    for list in children(pdf, "autoPdfTaskIds").chain(children(pdf, "tasksToIncludeInPdf")) {
        for task in children(list, "taskId").chain(children(list, "task")) {
            let id = task.trimmed_text();
            if !id.is_empty() {
                tasks.push(id.to_string());
            }
        }
    }
    let key = children(pdf, "filenameTextResourceKey")
        .map(|k| k.trimmed_text().to_string())
        .find(|k| !k.is_empty());
    (tasks, key)
}

fn children<'a>(node: &'a XmlNode, name: &'a str) -> impl Iterator<Item = &'a XmlNode> + 'a {
    node.children.iter().filter(move |c| c.name == name)
}

/// What the receipt says for this instance.
fn receipt(ctx: &JobContext, tasks: &[String]) -> Receipt {
    let instance = &ctx.instance;
    let json_types = |task: Option<&str>| -> Vec<DataTypeId> {
        ctx.app_spec
            .data_types
            .iter()
            .filter(|d| d.kind == DataKind::Json)
            .filter(|d| task.is_none_or(|t| d.task.as_deref() == Some(t)))
            .map(|d| d.id.clone())
            .collect()
    };
    let mut sections = Vec::new();
    let mut add = |heading: String, data_type: &DataTypeId| {
        let mut fields = Vec::new();
        if let Some(value) = ctx.data.get(data_type) {
            flatten("", value, &mut fields);
        }
        sections.push(Section { heading, fields });
    };
    if tasks.is_empty() {
        let mut shown = json_types(None);
        // An open app's undeclared data types too.
        shown.extend(
            ctx.data
                .keys()
                .filter(|k| !shown.contains(k))
                .cloned()
                .collect::<Vec<_>>(),
        );
        for data_type in &shown {
            add(data_type.to_string(), data_type);
        }
    } else {
        for task in tasks {
            for data_type in json_types(Some(task)) {
                add(format!("{task} — {data_type}"), &data_type);
            }
        }
    }
    Receipt {
        title: ctx.app.to_string(),
        subtitle: vec![
            format!("Instance: {}", instance.altinn_id()),
            format!("Created: {}", instance.created.to_rfc3339()),
        ],
        sections,
    }
}

/// `{"a": {"b": 1}, "c": [true]}` → `a.b: 1`, `c[0]: true`.
fn flatten(path: &str, value: &Value, out: &mut Vec<(String, String)>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                let p = if path.is_empty() {
                    key.clone()
                } else {
                    format!("{path}.{key}")
                };
                flatten(&p, v, out);
            }
        }
        Value::Array(items) => {
            for (i, v) in items.iter().enumerate() {
                flatten(&format!("{path}[{i}]"), v, out);
            }
        }
        Value::String(s) => out.push((path.to_string(), s.clone())),
        Value::Null => out.push((path.to_string(), String::new())),
        other => out.push((path.to_string(), other.to_string())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nested_data_flattens_to_dotted_paths() {
        let mut out = Vec::new();
        flatten(
            "",
            &json!({"navn": "Ærlig Østby", "adresse": {"by": "Å"}, "barn": [{"alder": 3}, null], "ok": true}),
            &mut out,
        );
        let got: Vec<String> = out.iter().map(|(k, v)| format!("{k}: {v}")).collect();
        assert_eq!(
            got,
            [
                "adresse.by: Å",
                "barn[0].alder: 3",
                "barn[1]: ",
                "navn: Ærlig Østby",
                "ok: true"
            ]
        );
    }
}
