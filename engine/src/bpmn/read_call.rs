//! Reading call activities (`bpmn::elements::call_activity`), and the check of what they call
//! against the file's other processes and the server's hosted apps: every problem is reported
//! where it is written.

use super::diagnostic::{Code, Diagnostic, Pos};
use super::elements::{CallActivity, DataMapping};
use super::raw::{RawKind, RawProcess};
use super::validate::DeployTarget;
use super::xml::{Ns, XmlNode};
use crate::ids::{AppId, DataTypeId};

/// A `<bpmn:callActivity>`: its `calledElement` and flyt's `<flyt:calledElement>`,
/// `<flyt:input>` and `<flyt:output>` inside `<bpmn:extensionElements>`.
pub(crate) fn call_activity(node: &XmlNode, diags: &mut Vec<Diagnostic>) -> RawKind {
    let id = node.attr("id").unwrap_or("");
    let error = |pos, message: String| {
        Diagnostic::error(Code::InvalidCallActivity, pos, message).element(id)
    };
    let before = diags.len();
    let process = node
        .attr("calledElement")
        .map(str::trim)
        .filter(|p| !p.is_empty());
    if process.is_none() {
        diags.push(
            error(
                node.pos,
                format!("call activity `{id}` has no calledElement: it names no process to call"),
            )
            .hint("set calledElement=\"process-id\" to the id of a <bpmn:process> of this file, or of another app's with <flyt:calledElement app=\"org/app\"/>"),
        );
    }
    let mut call = CallActivity {
        process: process.unwrap_or_default().to_string(),
        app: None,
        version: None,
        inputs: Vec::new(),
        outputs: Vec::new(),
        pos: node.pos,
    };
    let extensions = node
        .children_named(&Ns::Bpmn, "extensionElements")
        .flat_map(|e| e.children.iter())
        .filter(|c| c.ns == Ns::Flyt);
    let mut called_seen = None;
    for ext in extensions {
        match ext.name.as_str() {
            "calledElement" => {
                if called_seen.is_some() {
                    diags.push(error(
                        ext.pos,
                        format!("call activity `{id}` has more than one <flyt:calledElement>"),
                    ));
                }
                called_seen = Some(ext.pos);
                match ext.attr("app").map(str::trim) {
                    None => {}
                    Some(app) => match app.parse::<AppId>() {
                        Ok(app) => {
                            call.app = Some(app);
                            call.pos = ext.pos;
                        }
                        Err(e) => diags.push(
                            error(
                                ext.pos,
                                format!("app=\"{app}\" of call activity `{id}` is no app id: {e}"),
                            )
                            .hint("app=\"org/app\", e.g. app=\"ttd/approval\""),
                        ),
                    },
                }
                match ext.attr("version").map(str::trim) {
                    None => {}
                    Some(v) => match v.parse::<u32>() {
                        Ok(v) if v > 0 => call.version = Some(v),
                        _ => diags.push(
                            error(
                                ext.pos,
                                format!(
                                    "version=\"{v}\" of call activity `{id}` is not a version number (1, 2, ...)"
                                ),
                            )
                            .hint("leave version out to call the latest version at call time"),
                        ),
                    },
                }
                if let Some(other) = ext
                    .attrs
                    .iter()
                    .find(|a| a.name != "app" && a.name != "version")
                {
                    diags.push(error(
                        ext.pos,
                        format!(
                            "<flyt:calledElement> of `{id}` has an attribute `{}` flyt does not read (app, version)",
                            other.name
                        ),
                    ));
                }
            }
            "input" | "output" => match mapping(ext) {
                Ok(m) if ext.name == "input" => call.inputs.push(m),
                Ok(m) => call.outputs.push(m),
                Err(message) => diags.push(
                    error(ext.pos, format!("{message} (call activity `{id}`)"))
                        .hint("<flyt:input source=\"parent data type\" target=\"child data type\"/>; target defaults to source"),
                ),
            },
            other => diags.push(
                Diagnostic::error(
                    Code::InvalidExtension,
                    ext.pos,
                    format!("<flyt:{other}> on call activity `{id}` is not read by flyt"),
                )
                .element(id)
                .hint("a call activity reads <flyt:calledElement>, <flyt:input> and <flyt:output>"),
            ),
        }
    }
    if diags.len() > before {
        return RawKind::Unsupported;
    }
    if call.version.is_some() && call.app.is_none() {
        // A pinned version of the same app would be another version of this very file.
        diags.push(
            error(
                called_seen.unwrap_or(call.pos),
                format!("call activity `{id}` pins a version without naming an app: a process of the same app runs in the caller's own version"),
            )
            .hint("name the app too: <flyt:calledElement app=\"org/app\" version=\"3\"/>"),
        );
        return RawKind::Unsupported;
    }
    RawKind::CallActivity(call)
}

fn mapping(node: &XmlNode) -> Result<DataMapping, String> {
    let name = &node.name;
    let attr = |a: &str| node.attr(a).map(str::trim).filter(|v| !v.is_empty());
    let source =
        attr("source").ok_or_else(|| format!("<flyt:{name}> needs source=\"data type\""))?;
    let target = attr("target").unwrap_or(source);
    if let Some(other) = node
        .attrs
        .iter()
        .find(|a| a.name != "source" && a.name != "target")
    {
        return Err(format!(
            "<flyt:{name}> has an attribute `{}` flyt does not read (source, target)",
            other.name
        ));
    }
    Ok(DataMapping {
        source: DataTypeId::new(source),
        target: DataTypeId::new(target),
        pos: node.pos,
    })
}

/// What each call activity of `processes` (one file) calls, and the data types its mappings
/// name. A process of the same app must be one of the file's; another app's is checked
/// against the server's hosted apps at deploy (`target`), and only named as unchecked in
/// `flyt validate` (a warning), which sees one file.
pub(crate) fn check(
    processes: &[RawProcess],
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    for process in processes {
        for node in &process.nodes {
            let RawKind::CallActivity(call) = &node.kind else {
                continue;
            };
            check_called(processes, process, &node.id, call, target, diags);
            check_mappings(&node.id, call, target, diags);
        }
    }
}

fn check_called(
    processes: &[RawProcess],
    caller: &RawProcess,
    id: &str,
    call: &CallActivity,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    let severity = |message: String| match target {
        Some(_) => Diagnostic::error(Code::UnknownCalledProcess, call.pos, message),
        None => Diagnostic::warning(Code::UnknownCalledProcess, call.pos, message),
    };
    match &call.app {
        None => {
            if call.process == caller.id {
                return; // recursion is allowed: each call is a new instance
            }
            if !processes.iter().any(|p| p.id == call.process) {
                let ids: Vec<String> = processes.iter().map(|p| format!("`{}`", p.id)).collect();
                diags.push(
                    severity(format!(
                        "call activity `{id}` calls process `{}`, which is no executable process of this file (its processes: {})",
                        call.process,
                        ids.join(", ")
                    ))
                    .element(id)
                    .hint("a process of the same app is one of the same file; for another app's name it: <flyt:calledElement app=\"org/app\"/>"),
                );
            }
        }
        Some(app) => match target {
            None => diags.push(
                Diagnostic::warning(
                    Code::UnknownCalledProcess,
                    call.pos,
                    format!(
                        "call activity `{id}` calls process `{}` of app `{app}`{}: flyt validate sees one file and cannot check it; a server checks it at deploy",
                        call.process,
                        call.version.map(|v| format!(" version {v}")).unwrap_or_default()
                    ),
                )
                .element(id),
            ),
            Some(target) => {
                if let Err(why) = target.called_process(app, &call.process, call.version) {
                    diags.push(
                        Diagnostic::error(
                            Code::UnknownCalledProcess,
                            call.pos,
                            format!(
                                "call activity `{id}` calls process `{}` of app `{app}`: {why}",
                                call.process
                            ),
                        )
                        .element(id)
                        .hint("call a process that app deploys, or host the app on this server"),
                    );
                }
            }
        },
    }
}

fn check_mappings(
    id: &str,
    call: &CallActivity,
    target: Option<&dyn DeployTarget>,
    diags: &mut Vec<Diagnostic>,
) {
    let Some(target) = target else {
        return; // flyt validate knows no data types
    };
    let own = |dt: &DataTypeId| target.has_data_type(dt.as_str());
    let called = |dt: &DataTypeId| match &call.app {
        None => target.has_data_type(dt.as_str()),
        Some(app) => target.app_has_data_type(app, dt.as_str()),
    };
    let called_app = call
        .app
        .as_ref()
        .map_or_else(|| "this app".to_string(), |a| format!("app `{a}`"));
    let mut unknown = |dt: &DataTypeId, pos: Pos, side: &str, whose: &str| {
        diags.push(
            Diagnostic::error(
                Code::UnknownDataType,
                pos,
                format!(
                    "the {side} mapping of call activity `{id}` names data type `{dt}`, which {whose} does not declare"
                ),
            )
            .element(id)
            .hint("name a data type of the app's data types (applicationmetadata.json or app.toml)"),
        );
    };
    for m in &call.inputs {
        // `multiInstance`: the inner instance's variables (a multi-instance call activity).
        if m.source.as_str() != "multiInstance" && own(&m.source) == Some(false) {
            unknown(&m.source, m.pos, "input", "this app");
        }
        if called(&m.target) == Some(false) {
            unknown(&m.target, m.pos, "input", &called_app);
        }
    }
    for m in &call.outputs {
        if called(&m.source) == Some(false) {
            unknown(&m.source, m.pos, "output", &called_app);
        }
        if own(&m.target) == Some(false) {
            unknown(&m.target, m.pos, "output", "this app");
        }
    }
}

/// Marks the processes a call activity of the same file calls (`RawProcess::called`).
pub(crate) fn mark_called(processes: &mut [RawProcess]) {
    let called: Vec<String> = processes
        .iter()
        .flat_map(|p| p.nodes.iter())
        .filter_map(|n| match &n.kind {
            RawKind::CallActivity(c) if c.app.is_none() => Some(c.process.clone()),
            _ => None,
        })
        .collect();
    for p in processes {
        p.called = called.contains(&p.id);
    }
}
