//! Apps: loaded from `processes/<org>/<app>/`, either flyt's layout (a `process.bpmn` and an
//! `app.toml`) or an Altinn app repository's (`App/config/...`, see [`altinn`]).
//! A broken app stops start-up with the same diagnostics `flyt validate` prints.

pub mod altinn;
mod app_file;
pub mod policy;
pub(crate) mod startup;

pub use app_file::{AppFile, DataKindFile, DataTypeFile, JobsFile, WebhookFile};
pub use policy::{Effect, Policy, Rule};

use flyt_engine::app::{AppSpec, DataKind, DataTypeSpec, Schema};
use flyt_engine::ids::AppId;
use std::path::{Path, PathBuf};

/// Everything the API knows about one app.
#[derive(Debug, Clone)]
pub struct App {
    pub id: AppId,
    pub dir: PathBuf,
    pub file: AppFile,
    pub spec: AppSpec,
    pub policy: Policy,
    /// The BPMN to deploy at start-up.
    pub bpmn: Vec<u8>,
    /// Where the BPMN was read from (for diagnostics).
    pub bpmn_path: PathBuf,
    /// What flyt read but does not enforce (Altinn fields and policy constructs), with where.
    pub warnings: Vec<LoadWarning>,
}

impl App {
    pub fn allows_owner_kind(&self, kind: &str) -> bool {
        self.file.owner_types.iter().any(|t| t == kind)
    }
}

/// Why an app could not be loaded; printed like `flyt validate` output (`path:line: message`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadError {
    pub path: PathBuf,
    /// The line in `path`, when the problem has one.
    pub line: Option<u32>,
    pub message: String,
}

impl LoadError {
    pub fn new(path: &Path, line: Option<u32>, message: impl Into<String>) -> Self {
        LoadError {
            path: path.to_path_buf(),
            line,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.message),
            None => write!(f, "{}: {}", self.path.display(), self.message),
        }
    }
}

/// Something an app's files say that flyt reads but does not enforce: same shape as an error.
pub type LoadWarning = LoadError;

/// Loads every app under `dir` (sorted by id).
pub fn load_all(dir: &Path) -> Result<Vec<App>, Vec<LoadError>> {
    let mut apps = Vec::new();
    let mut errors = Vec::new();
    let read = |p: &Path| std::fs::read_dir(p).map_err(|e| LoadError::new(p, None, e.to_string()));
    let orgs = match read(dir) {
        Ok(o) => o,
        Err(e) => return Err(vec![e]),
    };
    let mut app_dirs = Vec::new();
    for org in orgs.flatten().filter(|e| e.path().is_dir()) {
        match read(&org.path()) {
            Ok(entries) => app_dirs.extend(
                entries
                    .flatten()
                    .map(|e| e.path())
                    .filter(|p| p.join("process.bpmn").exists() || altinn::is_altinn_app(p)),
            ),
            Err(e) => errors.push(e),
        }
    }
    app_dirs.sort();
    for path in app_dirs {
        match load(&path) {
            Ok(app) => apps.push(app),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(apps)
    } else {
        Err(errors)
    }
}

/// Loads one app from its folder `<org>/<app>`, in flyt's layout or Altinn's.
pub fn load(dir: &Path) -> Result<App, Vec<LoadError>> {
    let err = |path: &Path, message: String| vec![LoadError::new(path, None, message)];
    let name = |p: Option<&std::ffi::OsStr>| {
        p.map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_default()
    };
    let org = name(dir.parent().and_then(Path::file_name));
    let app_name = name(dir.file_name());
    let id = AppId::new(&org, &app_name).map_err(|e| err(dir, e.to_string()))?;
    let file_path = dir.join("app.toml");
    if altinn::is_altinn_app(dir) {
        if file_path.exists() {
            return Err(err(
                dir,
                format!(
                    "holds both an app.toml and Altinn's {}; keep one",
                    altinn::CONFIG_DIR
                ),
            ));
        }
        return altinn::load(dir, id);
    }
    let file: AppFile = match std::fs::read_to_string(&file_path) {
        Ok(text) => toml::from_str(&text).map_err(|e| err(&file_path, e.to_string()))?,
        Err(e) => return Err(err(&file_path, format!("cannot read the app file: {e}"))),
    };
    for kind in &file.owner_types {
        if kind != "person" && kind != "organisation" {
            return Err(err(
                &file_path,
                format!("owner_types: `{kind}` is not `person` or `organisation`"),
            ));
        }
    }
    let mut spec = spec_of(dir, &id, &file.data_types)?;
    spec.process = file.process.clone();
    if let Some(number) = &file.service_owner {
        let party = flyt_engine::model::Party::organisation(number).ok_or_else(|| {
            err(
                &file_path,
                format!("service_owner: `{number}` is not a 9-digit organisation number"),
            )
        })?;
        spec = spec.with_service_owner(party);
    }
    let policy = Policy::new(file.rules.clone()).map_err(|e| err(&file_path, e))?;
    let bpmn_path = dir.join("process.bpmn");
    let bpmn = std::fs::read(&bpmn_path).map_err(|e| err(&bpmn_path, e.to_string()))?;
    Ok(App {
        id,
        dir: dir.to_path_buf(),
        file,
        spec,
        policy,
        bpmn,
        bpmn_path,
        warnings: Vec::new(),
    })
}

/// The engine's view of an app's data types; schema files are relative to the app folder.
fn spec_of(dir: &Path, id: &AppId, data_types: &[DataTypeFile]) -> Result<AppSpec, Vec<LoadError>> {
    let err = |path: &Path, message: String| vec![LoadError::new(path, None, message)];
    let mut spec = AppSpec::new(id.clone());
    for dt in data_types {
        let mut data_type = DataTypeSpec::new(&dt.id);
        data_type.task = dt.task.clone();
        data_type.required = dt.required;
        data_type.kind = match dt.kind {
            DataKindFile::Json => DataKind::Json,
            DataKindFile::Binary => DataKind::Binary,
        };
        data_type.allowed_content_types = dt.content_types.clone();
        data_type.max_size = dt.max_size_bytes;
        data_type.max_count = dt.max_count;
        if let Some(schema_file) = &dt.schema {
            let path = dir.join(schema_file);
            let text = std::fs::read_to_string(&path).map_err(|e| err(&path, e.to_string()))?;
            let value: serde_json::Value =
                serde_json::from_str(&text).map_err(|e| err(&path, format!("not JSON: {e}")))?;
            data_type.schema = Some(
                Schema::compile(value)
                    .map_err(|e| err(&path, format!("not a usable JSON Schema: {e}")))?,
            );
        }
        spec.data_types.push(data_type);
    }
    Ok(spec)
}

#[cfg(test)]
mod tests {
    use flyt_engine::app::DataKind;

    #[test]
    fn an_app_toml_names_the_process_instances_start_in() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("ttd/pools");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(app.join("app.toml"), "process = \"Caseworker\"\n").unwrap();
        std::fs::write(app.join("process.bpmn"), "").unwrap();
        let app = super::load(&app).unwrap();
        assert_eq!(app.spec.process.as_deref(), Some("Caseworker"));
    }

    #[test]
    fn an_app_toml_declares_binary_data_types() {
        let dir = tempfile::tempdir().unwrap();
        let app = dir.path().join("ttd/files");
        std::fs::create_dir_all(&app).unwrap();
        std::fs::write(
            app.join("app.toml"),
            "[[data_types]]\nid = \"attachment\"\nkind = \"binary\"\ncontent_types = [\"application/pdf\"]\nmax_size_bytes = 1048576\nmax_count = 2\n\n[[data_types]]\nid = \"form\"\n",
        )
        .unwrap();
        std::fs::write(app.join("process.bpmn"), "").unwrap();
        let app = super::load(&app).unwrap();
        let attachment = app.spec.data_type("attachment").unwrap();
        assert_eq!(attachment.kind, DataKind::Binary);
        assert_eq!(attachment.allowed_content_types, ["application/pdf"]);
        assert_eq!(
            (attachment.max_size, attachment.max_count),
            (Some(1_048_576), Some(2))
        );
        let form = app.spec.data_type("form").unwrap();
        assert_eq!(
            (form.kind, form.max_size, form.max_count),
            (DataKind::Json, None, None)
        );
    }
}
