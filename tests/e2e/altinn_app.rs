//! An Altinn app repository's own layout, run as it is: `processes/ttd/altinn-template-demo`
//! (`App/config/applicationmetadata.json`, `authorization/policy.xml`, `process/process.bpmn`)
//! walked over HTTP with real tokens; its policy explained by `flyt validate --explain-policy`;
//! a broken policy.xml stops start-up naming file and line.

use flyt_tests::{Flyt, http, repo, user_token};
use serde_json::{Value, json};
use std::path::Path;

const APP: &str = "ttd/altinn-template-demo";
const COMPANY: &str = "991825827";

fn write_config(dir: &Path, processes: &Path) -> std::path::PathBuf {
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"memory\"\n[dev_authority]\nenabled = true\n",
            processes.display()
        ),
    )
    .unwrap();
    config
}

async fn org_token(base: &str, number: &str, code: &str) -> String {
    let r = http()
        .post(format!("{base}/authority/org-token"))
        .json(&json!({"organisationNumber": number, "orgCode": code, "scope": "altinn:serviceowner/instances.read"}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "org-token: {}", r.status());
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

async fn next(location: &str, token: &str, action: Option<&str>) -> (u16, Value) {
    let mut request = http()
        .put(format!("{location}/process/next"))
        .bearer_auth(token);
    if let Some(action) = action {
        request = request.json(&json!({ "action": action }));
    }
    let r = request.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_altinn_app_folder_runs_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &repo().join("processes"));
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let client = http();
    // An accountant (REGNA) and the general manager (DAGL) of the owner organisation.
    let accountant = user_token(&base, "02027012345", &["991825827:REGNA"]).await;
    let manager = user_token(&base, "03037012345", &["991825827:DAGL"]).await;

    let r = client
        .post(format!("{base}/{APP}/instances"))
        .bearer_auth(&accountant)
        .json(&json!({
            "instanceOwner": {"organisationNumber": COMPANY},
            "data": {"model": {"item": "office chairs", "quantity": 4}}
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let created: Value = r.json().await.unwrap();
    assert_eq!(created["process"]["currentTask"]["elementId"], "Task_1");

    // The accountant fills in (Permit rule 1: REGNA may write).
    let (status, state) = next(&location, &accountant, None).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["currentTask"]["elementId"], "Task_2");

    // Rule 2 permits REGNA to confirm at Task_2, but the Deny rule 3 overrides it.
    let (status, problem) = next(&location, &accountant, Some("confirm")).await;
    assert_eq!(status, 403, "{problem}");
    assert_eq!(problem["code"], "forbidden", "{problem}");
    assert!(
        problem["detail"].as_str().unwrap().contains("confirm"),
        "{problem}"
    );

    // The general manager confirms: a role code of the owner organisation.
    let (status, state) = next(&location, &manager, Some("confirm")).await;
    assert_eq!(status, 200, "{state}");
    assert_eq!(state["endEvent"], "EndEvent_1");

    // The service owner reads every order (rule 4) and, as Altinn's service owner, reads and
    // deploys the definition (flyt's implicit rule); another organisation does neither.
    let ttd = org_token(&base, "974760673", "ttd").await;
    let r = client
        .get(&location)
        .bearer_auth(&ttd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = client
        .get(format!("{base}/{APP}/process/definition"))
        .bearer_auth(&ttd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let skd = org_token(&base, "974761076", "skd").await;
    let r = client
        .get(format!("{base}/{APP}/process/definition"))
        .bearer_auth(&skd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);

    // A person for themselves (PRIV) starts their own order; another person may not read it.
    let alice = user_token(&base, "01017012345", &[]).await;
    let r = client
        .post(format!("{base}/{APP}/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"model": {"item": "a lamp", "quantity": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let own = r.headers()["location"].to_str().unwrap().to_string();
    let bob = user_token(&base, "02027012345", &[]).await;
    let r = client.get(&own).bearer_auth(&bob).send().await.unwrap();
    assert_eq!(r.status(), 403);
    // The form's JSON Schema is App/models/model.schema.json.
    let r = client
        .post(format!("{base}/{APP}/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"model": {"item": "a lamp", "quantity": 0}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn validate_explains_an_altinn_policy_and_warns_with_file_and_line() {
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .args(["validate", "--explain-policy"])
        .arg(repo().join("processes").join(APP))
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    for expected in [
        "policy of ttd/altinn-template-demo:",
        "a request is allowed when a PERMIT rule matches and no DENY rule does",
        "DENY  (policy.xml line 112, urn:altinn:resource:app_ttd_altinn-template-demo:policyid:1:ruleid:3)\n  who:     a person with role REGNA for the owner organisation\n  where:   at task Task_2\n  may not: confirm\n",
        "  who:     the owner, a person acting for themselves (PRIV); or a person with role DAGL for the owner organisation; or a person with role REGNA for the owner organisation\n  where:   at task Task_2\n  may:     confirm\n",
        "PERMIT  (implicit: the service owner of an Altinn app)\n  who:     service owner `ttd` (organisation token)\n  may:     deploy, resume\n",
        "altinn-template-demo: app loads (0 warning(s))",
        "App/config/process/process.bpmn: valid (0 warning(s))",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in:\n{text}");
    }

    // What flyt does not do is a warning naming file and line; the app still loads.
    let dir = tempfile::tempdir().unwrap();
    let app = copy_example(dir.path());
    let metadata = app.join("App/config/applicationmetadata.json");
    let text = std::fs::read_to_string(&metadata).unwrap().replacen(
        "\"disallowUserInstantiation\": false",
        "\"disallowUserInstantiation\": false,\n  \"onEntry\": { \"show\": \"select-instance\" }",
        1,
    );
    std::fs::write(&metadata, text).unwrap();
    std::fs::remove_file(app.join("App/models/model.schema.json")).unwrap();
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .arg("validate")
        .arg(&app)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(
        text.contains(&format!(
            "warning: {}:37: `onEntry` is not used by flyt and is ignored",
            metadata.display()
        )),
        "{text}"
    );
    assert!(
        text.contains("dataTypes `model`: no App/models/model.schema.json: its form data is not checked against a schema"),
        "{text}"
    );
    assert!(text.contains("app loads (2 warning(s))"), "{text}");
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .args(["validate", "--format", "json"])
        .arg(&app)
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(json[0]["valid"], true, "{json}");
    assert_eq!(json[0]["warnings"], 2, "{json}");
    assert_eq!(json[0]["problems"][0]["severity"], "warning", "{json}");
}

/// The example app, copied under `dir/processes/ttd/altinn-template-demo`.
fn copy_example(dir: &Path) -> std::path::PathBuf {
    let from = repo().join("processes").join(APP);
    let to = dir.join("processes").join(APP);
    for file in [
        "App/config/applicationmetadata.json",
        "App/config/authorization/policy.xml",
        "App/config/process/process.bpmn",
        "App/models/model.schema.json",
    ] {
        std::fs::create_dir_all(to.join(file).parent().unwrap()).unwrap();
        std::fs::copy(from.join(file), to.join(file)).unwrap();
    }
    to
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bad_policy_xml_stops_start_up_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let app = copy_example(dir.path());
    let policy = app.join("App/config/authorization/policy.xml");
    // A Deny rule that names the party: flyt cannot enforce it in part, so it refuses to start.
    let text = std::fs::read_to_string(&policy).unwrap().replacen(
        "AttributeId=\"urn:altinn:task\"",
        "AttributeId=\"urn:altinn:partyid\"",
        2,
    );
    std::fs::write(&policy, text).unwrap();
    let config = write_config(dir.path(), &dir.path().join("processes"));
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .args(["serve", "--config"])
        .arg(&config)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("{}:133: rule ", policy.display()))
            && stderr.contains("attribute `urn:altinn:partyid`")
            && stderr.contains("a Deny rule cannot be enforced in part"),
        "{stderr}"
    );
}
