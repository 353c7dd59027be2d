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
}

impl std::fmt::Debug for Options<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Options")
            .field("limits", &self.limits)
            .field("target", &self.target.is_some())
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
}

/// A definition that passed validation, and the warnings it had.
#[derive(Debug, Clone)]
pub struct Compiled {
    pub definition: ProcessDefinition,
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
    let definition = match model.process {
        Some(process) => validate::validate(
            process,
            options.target,
            content_hash(bytes),
            &mut diagnostics,
        ),
        None => None,
    };
    diagnostic::sort(&mut diagnostics);
    let valid = !diagnostics.iter().any(Diagnostic::is_error);
    let (omitted, errors_omitted) = cap(&mut diagnostics, options.limits.max_diagnostics);
    match definition {
        Some(definition) if valid => Ok(Compiled {
            definition,
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
