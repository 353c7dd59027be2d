//! Every Altinn process in `../shared/conformance/altinn/` (and the repo's Altinn-shaped cases
//! in `engine/tests/fixtures/altinn-reading/`: a stale end-event incoming, gateway flows with a
//! wrong sourceRef that the gateway lists) deployed as an app of a real server and walked to its end over
//! HTTP, with Altinn's answers on the way: the `actions` map is `read`, `write` and the declared
//! actions; a task is moved with a declared action where it has one and with no action
//! otherwise; after `sign` the signature data element is there; service tasks are worked by an
//! external worker of the service owner (or by the built-in handler where one is registered).

use flyt_tests::{Flyt, eventually, http, org_token, repo, shared_dir, user_token};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

const OWNER: &str = "01017012345";
const TTD_ORGNO: &str = "974760673";
/// Service task types the walk works as an external worker. flyt reads a task type that is no
/// user task type as a service task's handler (README, "What flyt executes"): app-lib's
/// `simple-gateway-default` has a task of type `confirm`, which is one here.
const EXTERNAL: &[&str] = &["eFormidling", "fail", "pdf", "confirm"];

/// The data types a file names (`<altinn:dataType>`, `dataModel` lookups), minus the ones only
/// the engine writes (signatures) and PDFs.
fn data_types(bpmn: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let signature_types: BTreeSet<&str> = bpmn
        .split("<altinn:signatureDataType>")
        .skip(1)
        .filter_map(|s| s.split('<').next())
        .collect();
    for part in bpmn.split("<altinn:dataType>").skip(1) {
        if let Some(name) = part.split('<').next() {
            out.insert(name.trim().to_string());
        }
    }
    out.retain(|d| {
        !signature_types.contains(d.as_str()) && d != "ref-data-as-pdf" && !d.is_empty()
    });
    out
}

fn app_toml(types: &BTreeSet<String>) -> String {
    let mut toml = String::from("title = \"conformance walk\"\n");
    for t in types {
        toml.push_str(&format!("[[data_types]]\nid = \"{t}\"\n"));
    }
    toml.push_str(
        "[[rules]]\nsubjects = [\"owner\"]\nactions = [\"*\"]\n[[rules]]\nsubjects = [\"org:ttd\"]\nactions = [\"*\"]\n",
    );
    toml.push_str(&format!(
        "[jobs]\nexternal = [{}]\n",
        EXTERNAL
            .iter()
            .map(|t| format!("\"{t}\""))
            .collect::<Vec<_>>()
            .join(", ")
    ));
    toml
}

fn slug(path: &Path) -> String {
    let stem = path.file_stem().unwrap().to_string_lossy().to_lowercase();
    let s: String = stem
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    let s = s.trim_matches('-').replace("--", "-");
    s.chars()
        .take(60)
        .collect::<String>()
        .trim_matches('-')
        .to_string()
}

fn files(shared: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for dir in [
        shared.join("conformance/altinn"),
        repo().join("engine/tests/fixtures/altinn-reading"),
    ] {
        let entries = std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
        for e in entries {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "bpmn") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_altinn_process_walks_to_its_end_over_http() {
    let Some(shared) = shared_dir("every_altinn_process_walks_to_its_end_over_http") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let processes = dir.path().join("processes");
    let mut apps = Vec::new();
    for file in files(&shared) {
        let bpmn = std::fs::read_to_string(&file).unwrap();
        let name = slug(&file);
        let app_dir = processes.join("ttd").join(&name);
        std::fs::create_dir_all(&app_dir).unwrap();
        std::fs::write(app_dir.join("process.bpmn"), &bpmn).unwrap();
        std::fs::write(app_dir.join("app.toml"), app_toml(&data_types(&bpmn))).unwrap();
        apps.push((name, file, data_types(&bpmn), bpmn));
    }
    assert!(apps.len() >= 13, "{} files", apps.len());
    let config = dir.path().join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            processes.display(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let owner = user_token(&base, OWNER, &[]).await;
    let scope = EXTERNAL
        .iter()
        .map(|t| format!("flyt:jobs:{t}"))
        .collect::<Vec<_>>()
        .join(" ");
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), &scope).await;
    let mut walked = Vec::new();
    for (app, file, types, bpmn) in &apps {
        let steps = walk(&base, app, bpmn, types, &owner, &ttd)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "{}: {e}\nserver log:\n{}",
                    file.display(),
                    server.log_text()
                )
            });
        walked.push(format!("{app}: {}", steps.join(" → ")));
    }
    eprintln!("walked:\n{}", walked.join("\n"));
}

/// Creates an instance of `ttd/{app}` and walks it to its end; returns the steps taken.
async fn walk(
    base: &str,
    app: &str,
    bpmn: &str,
    types: &BTreeSet<String>,
    owner: &str,
    ttd: &str,
) -> Result<Vec<String>, String> {
    let client = http();
    let r = client
        .post(format!("{base}/ttd/{app}/instances"))
        .bearer_auth(owner)
        .json(&json!({}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let status = r.status();
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    if status != 201 {
        return Err(format!("create: {status} {body}"));
    }
    let location = format!(
        "{base}/ttd/{app}/instances/{}",
        body["id"].as_str().unwrap()
    );
    let mut steps = Vec::new();
    for _ in 0..30 {
        // The state and its version from one answer: a built-in handler may move the instance
        // on at any moment, and a version read later would already be the moved one.
        let r = client
            .get(format!("{location}/process"))
            .bearer_auth(owner)
            .send()
            .await
            .map_err(|e| e.to_string())?;
        let version = r
            .headers()
            .get("etag")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let process: Value = r.json().await.map_err(|e| e.to_string())?;
        if process["ended"].is_string() {
            steps.push(format!(
                "end {}",
                process["endEvent"].as_str().unwrap_or("?")
            ));
            return Ok(steps);
        }
        let task = &process["currentTask"];
        let element = task["elementId"]
            .as_str()
            .ok_or(format!("no current task: {process}"))?
            .to_string();
        let actions = task["actions"]
            .as_object()
            .ok_or(format!("no actions map: {task}"))?;
        let keys: Vec<&str> = actions.keys().map(String::as_str).collect();
        if !(keys.contains(&"read") && keys.contains(&"write")) {
            return Err(format!(
                "{element}: the actions map lacks read/write: {task}"
            ));
        }
        if task.get("job").is_some_and(|j| !j.is_null()) {
            // A service task: work its job as the service owner's worker (or wait for the
            // built-in handler), then wait until the process has left the task.
            work_jobs(&client, base, ttd).await?;
            eventually(
                &format!("{app}: leaving {element}"),
                Duration::from_secs(30),
                || {
                    let (client, location, owner, version) = (
                        client.clone(),
                        location.clone(),
                        owner.to_string(),
                        version.clone(),
                    );
                    async move {
                        let _ = work_jobs(&client, base, ttd).await;
                        let v = process_version(&client, &location, &owner).await.ok()?;
                        (v != version).then_some(())
                    }
                },
            )
            .await;
            steps.push(format!("{element}(job)"));
            continue;
        }
        // A user task: fill its data, then move with a declared action or none.
        for t in types {
            let _ = client
                .put(format!("{location}/data/{t}"))
                .bearer_auth(owner)
                .json(&json!({ "walked": true, "name": "Åse" }))
                .send()
                .await;
        }
        let action = ["sign", "confirm", "pay", "submit"]
            .into_iter()
            .find(|a| actions.contains_key(*a));
        let token = if task["altinnTaskType"] == "feedback" {
            ttd
        } else {
            owner
        };
        let mut req = client
            .put(format!("{location}/process/next"))
            .bearer_auth(token);
        if let Some(a) = action {
            req = req.json(&json!({ "action": a }));
        }
        let r = req.send().await.map_err(|e| e.to_string())?;
        let status = r.status();
        let text = r.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!("{element} next {action:?}: {status} {text}"));
        }
        if action == Some("sign") {
            let signature_type = signature_type_of(bpmn, &element);
            let r = client
                .get(format!("{location}/data/{signature_type}"))
                .bearer_auth(owner)
                .send()
                .await
                .map_err(|e| e.to_string())?;
            if r.status() != 200 {
                return Err(format!(
                    "{element}: no signature element `{signature_type}` after sign: {}",
                    r.status()
                ));
            }
        }
        // As Altinn: the action as sent, or none; nothing is invented for the history (and the
        // gateways).
        let history: Value = client
            .get(format!("{location}/process/history"))
            .bearer_auth(owner)
            .send()
            .await
            .map_err(|e| e.to_string())?
            .json()
            .await
            .map_err(|e| e.to_string())?;
        let ended = history["processHistory"]
            .as_array()
            .into_iter()
            .flatten()
            .rev()
            .find(|e| e["eventType"] == "process_EndTask" && e["elementId"] == element.as_str())
            .cloned()
            .ok_or(format!("{element}: no process_EndTask in {history}"))?;
        if ended["action"].as_str() != action {
            return Err(format!(
                "{element}: history records {} for action {action:?}",
                ended["action"]
            ));
        }
        steps.push(format!("{element}({})", action.unwrap_or("-")));
    }
    Err(format!("did not end in 30 steps: {steps:?}"))
}

async fn process_version(
    client: &reqwest::Client,
    location: &str,
    owner: &str,
) -> Result<String, String> {
    let r = client
        .get(format!("{location}/process"))
        .bearer_auth(owner)
        .send()
        .await
        .map_err(|e| e.to_string())?;
    Ok(r.headers()
        .get("etag")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string())
}

/// Activates and completes every job of the walked types the service owner is handed.
async fn work_jobs(client: &reqwest::Client, base: &str, ttd: &str) -> Result<(), String> {
    let r = client
        .post(format!("{base}/jobs/activate"))
        .bearer_auth(ttd)
        .json(&json!({ "jobTypes": EXTERNAL, "maxJobs": 10, "lockDurationMs": 30000, "workerId": "walk" }))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    for job in body["jobs"].as_array().cloned().unwrap_or_default() {
        let key = job["key"].as_str().unwrap_or_default();
        client
            .post(format!("{base}/jobs/{key}/complete"))
            .bearer_auth(ttd)
            .json(&json!({}))
            .send()
            .await
            .map_err(|e| e.to_string())?;
    }
    Ok(())
}

/// The signature data type of a task, from the file (flyt's default `signature` when it names
/// none).
fn signature_type_of(bpmn: &str, task: &str) -> String {
    let after = bpmn
        .split(&format!("id=\"{task}\""))
        .nth(1)
        .unwrap_or_default();
    let config = after.split("</bpmn:task>").next().unwrap_or_default();
    config
        .split("<altinn:signatureDataType>")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .unwrap_or("signature")
        .to_string()
}
