//! Shared helpers for the engine's integration tests.
#![allow(dead_code)]

use flyt_engine::bpmn::{self, Code, Diagnostic, Options, Rejected};
use std::path::PathBuf;

pub const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" id="defs">
<process id="p">
"#;
pub const TAIL: &str = "</process>\n</definitions>\n";

/// A whole BPMN document around `body` (the process's children, one element per line).
/// A `<task>` with Altinn's `data` task type: a user task the tests move with `next`.
pub fn data_task(id: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

pub fn doc(body: &str) -> String {
    format!("{HEAD}{}\n{TAIL}", body.trim_matches('\n'))
}

/// The 1-based line of the first line of `text` that contains `needle`.
pub fn line_of(text: &str, needle: &str) -> u32 {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i as u32 + 1)
        .unwrap_or_else(|| panic!("`{needle}` is not in the document"))
}

pub fn compile(text: &str) -> Result<bpmn::Compiled, Rejected> {
    bpmn::compile(text.as_bytes(), &Options::default())
}

pub fn rejected(text: &str) -> Vec<Diagnostic> {
    match compile(text) {
        Ok(c) => panic!(
            "expected errors, but the definition compiled (warnings: {:?})",
            c.warnings
        ),
        Err(r) => r.diagnostics,
    }
}

/// All diagnostics, whether or not the definition compiled.
pub fn diagnostics(text: &str) -> Vec<Diagnostic> {
    match compile(text) {
        Ok(c) => c.warnings,
        Err(r) => r.diagnostics,
    }
}

/// The one diagnostic with `code`; fails with the full list otherwise.
pub fn only(diags: &[Diagnostic], code: Code) -> Diagnostic {
    let found: Vec<&Diagnostic> = diags.iter().filter(|d| d.code == code).collect();
    assert_eq!(
        found.len(),
        1,
        "expected exactly one {code}, got: {diags:#?}"
    );
    found[0].clone()
}

/// Asserts a diagnostic's code, element and line (the line of `needle` in `text`).
pub fn assert_at(d: &Diagnostic, code: Code, element: &str, text: &str, needle: &str) {
    assert_eq!(d.code, code, "{d:#?}");
    assert_eq!(d.element_id.as_deref(), Some(element), "{d:#?}");
    assert_eq!(d.line, line_of(text, needle), "{d:#?}");
    assert!(d.column >= 1);
}

/// `../shared` next to the repository, or `$FLYT_SHARED_DIR`. `None` (and a plain "skipped"
/// line) when absent, unless `FLYT_REQUIRE_SHARED=1` (as in `.ci/run`), which makes it a failure.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FLYT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    if std::env::var("FLYT_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "{test}: {} has no conformance/ folder, and FLYT_REQUIRE_SHARED=1",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: {} not found (set FLYT_SHARED_DIR)",
        dir.display()
    );
    None
}
