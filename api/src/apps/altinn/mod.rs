//! An Altinn app repository's own layout, read as it is:
//!
//! ```text
//! processes/<org>/<app>/App/config/process/process.bpmn
//!                       App/config/applicationmetadata.json   (see `metadata`)
//!                       App/config/authorization/policy.xml    (see `apps::policy::xacml`)
//!                       App/models/<dataTypeId>.schema.json    (optional: a form's JSON Schema)
//! ```
//!
//! An Altinn policy has no rule for flyt's `deploy` and `resume`; as in Altinn, the app's own
//! organisation (an organisation token whose org code is the app's org) is its service owner and
//! gets both, unless a Deny rule of the file says otherwise.

pub mod metadata;

use super::policy::{CompiledRule, Effect, Policy, Predicate, Subject, xacml};
use super::{App, AppFile, JobsFile, LoadError, LoadWarning};
use flyt_engine::ids::AppId;
use std::path::Path;

/// Where an Altinn app keeps its configuration, relative to the app folder.
pub const CONFIG_DIR: &str = "App/config";

/// Whether `dir` is in Altinn's layout.
pub fn is_altinn_app(dir: &Path) -> bool {
    dir.join(CONFIG_DIR).is_dir()
}

fn read(path: &Path) -> Result<Vec<u8>, Vec<LoadError>> {
    std::fs::read(path).map_err(|e| vec![LoadError::new(path, None, format!("cannot read: {e}"))])
}

/// Loads the Altinn app in `dir` as `id`.
pub(super) fn load(dir: &Path, id: AppId) -> Result<App, Vec<LoadError>> {
    let config = dir.join(CONFIG_DIR);
    let metadata_path = config.join("applicationmetadata.json");
    let policy_path = config.join("authorization/policy.xml");
    let bpmn_path = config.join("process/process.bpmn");
    let mut warnings = Vec::new();

    let text = String::from_utf8(read(&metadata_path)?).map_err(|e| {
        vec![LoadError::new(
            &metadata_path,
            None,
            format!("not UTF-8: {e}"),
        )]
    })?;
    let mut meta = metadata::read(&text)
        .map_err(|f| vec![LoadError::new(&metadata_path, f.line, f.message)])?;
    warnings.extend(
        meta.warnings
            .drain(..)
            .map(|f| LoadWarning::new(&metadata_path, f.line, f.message)),
    );
    if let Some((file_id, line)) = &meta.id
        && *file_id != id.to_string()
    {
        warnings.push(LoadWarning::new(
            &metadata_path,
            *line,
            format!("`id` is `{file_id}`; flyt serves the app as `{id}`, from its folder's names"),
        ));
    }
    for dt in &mut meta.data_types {
        if dt.kind == super::app_file::DataKindFile::Json {
            let schema = format!("App/models/{}.schema.json", dt.id);
            if dir.join(&schema).is_file() {
                dt.schema = Some(schema);
            } else {
                warnings.push(LoadWarning::new(
                    &metadata_path,
                    None,
                    format!(
                        "dataTypes `{}`: no {schema}: its form data is not checked against a schema",
                        dt.id
                    ),
                ));
            }
        }
    }

    let read_policy = xacml::read(&read(&policy_path)?, &id).map_err(|errors| {
        errors
            .into_iter()
            .map(|f| LoadError::new(&policy_path, Some(f.line), f.message))
            .collect::<Vec<_>>()
    })?;
    warnings.extend(
        read_policy
            .warnings
            .into_iter()
            .map(|f| LoadWarning::new(&policy_path, Some(f.line), f.message)),
    );
    let mut rules = read_policy.rules;
    rules.push(service_owner(&id));
    if meta.disallow_user_instantiation {
        rules.push(CompiledRule {
            effect: Effect::Deny,
            target: vec![
                vec![vec![Predicate::Subject(Subject::AnyPerson)]],
                vec![vec![Predicate::Action("instantiate".into())]],
            ],
            origin: "applicationmetadata.json disallowUserInstantiation".into(),
            description: Some("only the service owner (or a system) creates instances".into()),
        });
    }

    // In file order, so a designer reads them top-down.
    warnings.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let file = AppFile {
        title: meta.title,
        owner_types: meta.owner_types,
        data_types: meta.data_types,
        rules: Vec::new(),
        jobs: JobsFile::default(),
        webhooks: Vec::new(),
    };
    let spec = super::spec_of(dir, &id, &file.data_types)?;
    let bpmn = read(&bpmn_path)?;
    Ok(App {
        id,
        dir: dir.to_path_buf(),
        file,
        spec,
        policy: Policy::from_rules(rules),
        bpmn,
        bpmn_path,
        warnings,
    })
}

/// The service owner's implicit rule: its own organisation deploys and resumes.
fn service_owner(id: &AppId) -> CompiledRule {
    CompiledRule {
        effect: Effect::Permit,
        target: vec![
            vec![vec![Predicate::Subject(Subject::OrgCode(id.org().to_string()))]],
            vec![
                vec![Predicate::Action("deploy".into())],
                vec![Predicate::Action("resume".into())],
            ],
        ],
        origin: "implicit: the service owner of an Altinn app".into(),
        description: Some(
            "policy.xml has no deploy or resume rule; as in Altinn, the app's own organisation is its service owner".into(),
        ),
    }
}
