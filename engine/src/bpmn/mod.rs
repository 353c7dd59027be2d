//! BPMN process definitions: bytes → XML tree → raw structs → validated [`ProcessDefinition`].
//!
//! ```text
//!  bytes ──source::decode──▶ UTF-8 ──xml::read_tree──▶ XmlNode tree ──read::read_model──▶ RawProcess
//!        (BOM, encodings)        (limits, no DOCTYPE,        (namespaces by URI,        (elements by kind,
//!                                 diagrams skipped)           positions kept)            Altinn + flyt extensions)
//!  RawProcess ──validate──▶ ProcessDefinition  (or every diagnostic at once)
//! ```
//!
//! Reading stops at the first XML-level problem (there is no tree to check after it); everything
//! after that collects all findings.

mod definition;
mod diagnostic;
pub mod elements;
mod limits;
mod raw;
pub mod reach;
mod read;
mod read_call;
mod read_loop;
mod read_messages;
mod read_signals;
mod read_throw;
mod source;
mod validate;
pub mod xml;

pub use definition::ProcessDefinition;
pub use diagnostic::{Code, Diagnostic, Pos, Severity};
pub use limits::Limits;
pub use validate::DeployTarget;

use sha2::{Digest, Sha256};

/// How to compile a definition.
#[derive(Clone, Copy, Default)]
#[non_exhaustive]
pub struct Options<'a> {
    pub limits: Limits,
    /// The server the definition is deployed to. `None` (as in `flyt validate`) turns missing
    /// handlers and gateway hooks into warnings.
    pub target: Option<&'a dyn DeployTarget>,
    /// The id of the process instances start in, when the file holds several executable ones
    /// (an app's `process = "..."`). `None`: the only one; with several, the first, which
    /// is a warning without a target and an error when deployed.
    pub process: Option<&'a str>,
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("limits", &self.limits)
            .field("target", &self.target.is_some())
            .field("process", &self.process)
            .finish()
    }
}

impl<'a> Options<'a> {
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    pub fn with_target(mut self, target: &'a dyn DeployTarget) -> Self {
        self.target = Some(target);
        self
    }

    pub fn with_process(mut self, process: Option<&'a str>) -> Self {
        self.process = process;
        self
    }
}

/// A definition that passed validation, and the warnings it had.
#[derive(Debug, Clone)]
pub struct Compiled {
    /// The process instances start in.
    pub definition: ProcessDefinition,
    /// The file's other executable processes, validated like it (for call activities; nothing
    /// starts them by themselves).
    pub others: Vec<ProcessDefinition>,
    pub warnings: Vec<Diagnostic>,
    /// Warnings left out of `warnings` by [`Limits::max_diagnostics`].
    pub warnings_omitted: usize,
}

/// A definition that did not pass: every diagnostic, errors and warnings, sorted by position.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("the process definition has {} error(s)", self.errors().count())]
pub struct Rejected {
    /// At most [`Limits::max_diagnostics`] of them: errors before warnings when not all fit.
    pub diagnostics: Vec<Diagnostic>,
    /// Diagnostics left out of `diagnostics` by that limit.
    pub omitted: usize,
    /// Errors left out (included in `omitted`).
    pub errors_omitted: usize,
}

impl Rejected {
    /// A rejection with these diagnostics, none left out.
    pub fn new(diagnostics: Vec<Diagnostic>) -> Self {
        Rejected {
            diagnostics,
            omitted: 0,
            errors_omitted: 0,
        }
    }

    /// The errors shown (see [`error_count`](Self::error_count) for all of them).
    pub fn errors(&self) -> impl Iterator<Item = &Diagnostic> {
        self.diagnostics.iter().filter(|d| d.is_error())
    }

    /// How many errors the file has, shown or left out.
    pub fn error_count(&self) -> usize {
        self.errors().count() + self.errors_omitted
    }
}

/// Keeps at most `max` diagnostics (sorted by position): every error first, then warnings, as
/// far as they fit. Returns how many diagnostics and how many errors were left out. A file with
/// 100,000 problems must not become a 50 MB answer.
fn cap(diagnostics: &mut Vec<Diagnostic>, max: usize) -> (usize, usize) {
    if diagnostics.len() <= max {
        return (0, 0);
    }
    let errors = diagnostics.iter().filter(|d| d.is_error()).count();
    let mut warnings_left = max.saturating_sub(errors);
    let mut errors_left = max;
    let before = diagnostics.len();
    diagnostics.retain(|d| {
        let budget = if d.is_error() {
            &mut errors_left
        } else {
            &mut warnings_left
        };
        if *budget == 0 {
            false
        } else {
            *budget -= 1;
            true
        }
    });
    (before - diagnostics.len(), errors.saturating_sub(max))
}

/// SHA-256 of a definition's bytes, hex encoded: the content hash versions are keyed by.
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in digest {
        use std::fmt::Write;
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// Parses and validates a BPMN file.
pub fn compile(bytes: &[u8], options: &Options<'_>) -> Result<Compiled, Rejected> {
    let fatal = |d: Diagnostic| Rejected::new(vec![d]);
    let tree = xml::read_document(bytes, &options.limits).map_err(fatal)?;
    let model = read::read_model(&tree).map_err(fatal)?;
    let mut diagnostics = model.diagnostics;
    let mut processes = model.processes;
    let main = choose_process(&processes, options, &mut diagnostics);
    read_call::check(&processes, options.target, &mut diagnostics);
    read_call::mark_called(&mut processes);
    let mut definitions: Vec<Option<ProcessDefinition>> = Vec::with_capacity(processes.len());
    let hash = content_hash(bytes);
    for process in processes.drain(..) {
        definitions.push(validate::validate(
            process,
            options.target,
            hash.clone(),
            &mut diagnostics,
        ));
    }
    let definition = main.and_then(|m| definitions.get_mut(m).and_then(Option::take));
    let others: Vec<ProcessDefinition> = definitions.into_iter().flatten().collect();
    diagnostic::sort(&mut diagnostics);
    let valid = !diagnostics.iter().any(Diagnostic::is_error);
    let (omitted, errors_omitted) = cap(&mut diagnostics, options.limits.max_diagnostics);
    match definition {
        Some(definition) if valid => Ok(Compiled {
            definition,
            others,
            warnings: diagnostics,
            warnings_omitted: omitted,
        }),
        _ => Err(Rejected {
            diagnostics,
            omitted,
            errors_omitted,
        }),
    }
}

/// Which of the executable processes instances start in (an index into `processes`): the one
/// `options.process` names, else the only one. Several and none named: the first, with a
/// warning for `flyt validate` and an error at deploy (a server must not guess).
fn choose_process(
    processes: &[raw::RawProcess],
    options: &Options<'_>,
    diags: &mut Vec<Diagnostic>,
) -> Option<usize> {
    let ids = || {
        processes
            .iter()
            .map(|p| format!("`{}`", p.id))
            .collect::<Vec<_>>()
            .join(", ")
    };
    if let Some(named) = options.process {
        let found = processes.iter().position(|p| p.id == named);
        if found.is_none() {
            let pos = processes.first().map_or(Pos::default(), |p| p.pos);
            diags.push(
                Diagnostic::error(
                    Code::NoProcess,
                    pos,
                    format!(
                        "the app starts process `{named}`, but the executable processes of these definitions are {}",
                        ids()
                    ),
                )
                .element(named)
                .hint("set process = \"...\" in app.toml to one of them"),
            );
        }
        return found;
    }
    if let [_, second, ..] = processes {
        let message = format!(
            "these definitions hold {} executable processes ({}) and the app does not say which one an instance starts in",
            processes.len(),
            ids()
        );
        let hint = format!(
            "name it in app.toml, e.g. process = \"{}\"; the others are validated and loaded too",
            processes[0].id
        );
        let diagnostic = match options.target {
            Some(_) => Diagnostic::error(Code::AmbiguousProcess, second.pos, message),
            None => Diagnostic::warning(Code::AmbiguousProcess, second.pos, message),
        };
        diags.push(diagnostic.element(&second.id).hint(hint));
    }
    (!processes.is_empty()).then_some(0)
}
