//! `flyt validate` on app folders: an Altinn app's `App/config` files (applicationmetadata.json,
//! policy.xml) are read exactly as `flyt serve` reads them, and `--explain-policy` prints any
//! app's policy in words.

use flyt_api::apps::{self, altinn};
use std::path::{Path, PathBuf};

/// App folders at or under `path` (at most three levels down: `processes/<org>/<app>`): Altinn
/// apps always, `app.toml` apps too when `all`.
pub fn app_dirs(path: &Path, all: bool, out: &mut Vec<PathBuf>) {
    fn walk(dir: &Path, all: bool, depth: usize, out: &mut Vec<PathBuf>) {
        if altinn::is_altinn_app(dir)
            || (all && dir.join("app.toml").is_file() && dir.join("process.bpmn").is_file())
        {
            out.push(dir.to_path_buf());
            return;
        }
        if depth == 0 {
            return;
        }
        let Ok(entries) = std::fs::read_dir(dir) else {
            return;
        };
        let mut dirs: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.is_dir())
            .collect();
        dirs.sort();
        for d in dirs {
            walk(&d, all, depth - 1, out);
        }
    }
    if path.is_dir() {
        walk(path, all, 3, out);
    }
}

/// What checking one app folder found.
pub struct Checked {
    pub dir: PathBuf,
    pub errors: Vec<String>,
    pub warnings: Vec<String>,
    /// The policy in words, when asked for and the app loaded.
    pub policy: Option<String>,
}

/// Loads the app in `dir` as the server would.
pub fn check(dir: &Path, explain: bool) -> Checked {
    match apps::load(dir) {
        Ok(app) => Checked {
            dir: dir.to_path_buf(),
            errors: Vec::new(),
            warnings: app.warnings.iter().map(ToString::to_string).collect(),
            policy: explain.then(|| format!("policy of {}:\n{}", app.id, app.policy.explain())),
        },
        Err(errors) => Checked {
            dir: dir.to_path_buf(),
            errors: errors.iter().map(ToString::to_string).collect(),
            warnings: Vec::new(),
            policy: None,
        },
    }
}

impl Checked {
    /// The text report: `path:line: warning: ...` lines, the policy, a summary line.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for e in &self.errors {
            out.push_str(&format!("error: {e}\n"));
        }
        for w in &self.warnings {
            out.push_str(&format!("warning: {w}\n"));
        }
        if let Some(policy) = &self.policy {
            out.push_str(policy);
        }
        out.push_str(&format!(
            "{}: app {}",
            self.dir.display(),
            if self.errors.is_empty() {
                format!("loads ({} warning(s))", self.warnings.len())
            } else {
                format!("{} error(s)", self.errors.len())
            }
        ));
        out
    }

    /// The JSON report, counting like a BPMN file's entry (`errors`, `warnings`) and listing
    /// each finding as `path:line: message`.
    pub fn json(&self) -> serde_json::Value {
        let findings = |severity: &str, list: &[String]| {
            list.iter()
                .map(|m| serde_json::json!({ "severity": severity, "message": m }))
                .collect::<Vec<_>>()
        };
        let mut problems = findings("error", &self.errors);
        problems.extend(findings("warning", &self.warnings));
        serde_json::json!({
            "app": self.dir.display().to_string(),
            "valid": self.errors.is_empty(),
            "errors": self.errors.len(),
            "warnings": self.warnings.len(),
            "problems": problems,
            "policy": self.policy,
        })
    }
}
