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

use super::policy::{CompiledRule, Effect, Place, Policy, Predicate, Subject, xacml};
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
            line: None,
            description: Some("only the service owner (or a system) creates instances".into()),
        });
    }

    let bpmn = read(&bpmn_path)?;
    // A task or end event the process does not have is a typo the policy would never match.
    // (A process that does not compile stops start-up at deploy, with its own diagnostics.)
    if let Ok(compiled) = flyt_engine::bpmn::compile(&bpmn, &Default::default()) {
        let missing = |element: &str| compiled.definition.node_by_id(element).is_none();
        for rule in &rules {
            for p in rule.predicates() {
                if let Predicate::Place(Place::Task(e) | Place::EndEvent(e)) = p
                    && missing(e)
                {
                    warnings.push(LoadWarning::new(
                        &policy_path,
                        rule.line,
                        format!(
                            "{}: `{e}` is not an element of process.bpmn: that part never applies",
                            rule.origin
                        ),
                    ));
                }
            }
        }
        for dt in &meta.data_types {
            if let Some(task) = dt.task.as_deref().filter(|t| missing(t)) {
                warnings.push(LoadWarning::new(
                    &metadata_path,
                    None,
                    format!(
                        "dataTypes `{}`: taskId `{task}` is not an element of process.bpmn",
                        dt.id
                    ),
                ));
            }
        }
    }
    // In file order, so a designer reads them top-down.
    warnings.sort_by(|a, b| (&a.path, a.line).cmp(&(&b.path, b.line)));
    let file = AppFile {
        title: meta.title,
        owner_types: meta.owner_types,
        process: None,
        // applicationmetadata.json names the org by code only: a timer start event there is
        // refused at deploy for want of an organisation number to own its instances.
        service_owner: None,
        data_types: meta.data_types,
        rules: Vec::new(),
        jobs: JobsFile::default(),
        webhooks: Vec::new(),
    };
    let spec = super::spec_of(dir, &id, &file.data_types)?;
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
        line: None,
        description: Some(
            "policy.xml has no deploy or resume rule; as in Altinn, the app's own organisation is its service owner".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use crate::apps::{self, DataKindFile};
    use crate::auth::{Caller, Organisation, User};
    use flyt_engine::app::DataKind;
    use flyt_engine::model::{InstanceOwner, Party};
    use std::collections::BTreeSet;
    use std::path::{Path, PathBuf};

    fn example() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../processes/ttd/altinn-template-demo")
    }

    /// The example app copied to `root/ttd/demo`, with `edit` applied to applicationmetadata.json.
    fn copy(root: &Path, edit: impl Fn(String) -> String) -> PathBuf {
        let to = root.join("ttd/demo");
        for file in [
            "App/config/applicationmetadata.json",
            "App/config/authorization/policy.xml",
            "App/config/process/process.bpmn",
        ] {
            std::fs::create_dir_all(to.join(file).parent().unwrap()).unwrap();
            let text = std::fs::read_to_string(example().join(file)).unwrap();
            let text = if file.ends_with(".json") {
                edit(text)
            } else {
                text
            };
            std::fs::write(to.join(file), text).unwrap();
        }
        to
    }

    #[test]
    fn the_example_loads_with_its_data_types_and_owner_types() {
        let app = apps::load(&example()).unwrap();
        assert!(app.warnings.is_empty(), "{:?}", app.warnings);
        assert_eq!(app.file.owner_types, ["person", "organisation"]);
        let model = app.spec.data_type("model").unwrap();
        assert_eq!(
            (model.kind, model.task.as_deref(), model.required),
            (DataKind::Json, Some("Task_1"), true)
        );
        assert!(model.schema.is_some(), "App/models/model.schema.json");
        let attachment = app.spec.data_type("attachment").unwrap();
        assert_eq!(attachment.kind, DataKind::Binary);
        assert_eq!(
            attachment.allowed_content_types,
            ["application/pdf", "image/png"]
        );
        assert_eq!(attachment.max_size, Some(10 * 1024 * 1024));
        assert_eq!(attachment.max_count, Some(5));
        assert_eq!(app.file.data_types[1].kind, DataKindFile::Binary);
    }

    #[test]
    fn disallow_user_instantiation_leaves_instantiation_to_the_service_owner() {
        let dir = tempfile::tempdir().unwrap();
        let app = copy(dir.path(), |t| {
            t.replace(
                "\"disallowUserInstantiation\": false",
                "\"disallowUserInstantiation\": true",
            )
        });
        let app = apps::load(&app).unwrap();
        let person = InstanceOwner::new(Party::person("01017012345").unwrap());
        let alice = Caller::User(User {
            person_number: "01017012345".into(),
            roles: Default::default(),
            scopes: BTreeSet::new(),
        });
        assert!(app.policy.allows(&alice, "read", Some(&person), None));
        assert!(
            !app.policy
                .allows(&alice, "instantiate", Some(&person), None)
        );
        let ttd = Caller::Organisation(Organisation {
            organisation_number: "974760673".into(),
            org_code: Some("ttd".into()),
            scopes: BTreeSet::new(),
            client_id: None,
        });
        assert!(
            app.policy.allows(&ttd, "deploy", None, None),
            "the implicit service owner rule"
        );
        assert!(
            app.policy
                .allows(&ttd, "resume", Some(&person), Some("Task_1"))
        );
        assert!(!app.policy.allows(&ttd, "write", Some(&person), None));
    }

    #[test]
    fn tasks_the_process_does_not_have_are_warned() {
        let dir = tempfile::tempdir().unwrap();
        let app = copy(dir.path(), |t| {
            t.replacen("\"taskId\": \"Task_1\"", "\"taskId\": \"Task_9\"", 1)
        });
        let policy = app.join("App/config/authorization/policy.xml");
        let text = std::fs::read_to_string(&policy).unwrap();
        std::fs::write(&policy, text.replacen(">Task_2<", ">Task_3<", 1)).unwrap();
        let app = apps::load(&app).unwrap();
        // (The copy also lacks the model's schema and is served as `ttd/demo`: warned too.)
        let shown: Vec<String> = app
            .warnings
            .iter()
            .map(ToString::to_string)
            .filter(|w| w.contains("is not an element"))
            .collect();
        assert_eq!(shown.len(), 2, "{shown:?}");
        assert!(
            shown[0].ends_with(
                "applicationmetadata.json: dataTypes `model`: taskId `Task_9` is not an element of process.bpmn"
            ),
            "{shown:?}"
        );
        assert!(
            shown[1].contains("policy.xml:63: policy.xml line 63, ")
                && shown[1].ends_with(
                    "`Task_3` is not an element of process.bpmn: that part never applies"
                ),
            "{shown:?}"
        );
    }

    #[test]
    fn a_folder_with_both_layouts_or_broken_metadata_is_refused_with_where() {
        let dir = tempfile::tempdir().unwrap();
        let app = copy(dir.path(), |t| t);
        std::fs::write(app.join("app.toml"), "").unwrap();
        let errors = apps::load(&app).unwrap_err();
        assert!(errors[0].message.contains("both an app.toml"), "{errors:?}");

        let dir = tempfile::tempdir().unwrap();
        let app = copy(dir.path(), |t| {
            t.replacen("\"dataTypes\": [", "\"dataTypes\": [,", 1)
        });
        let errors = apps::load(&app).unwrap_err();
        let shown = errors[0].to_string();
        assert!(
            shown.contains("applicationmetadata.json:5: not a usable applicationmetadata.json"),
            "{shown}"
        );
    }
}
