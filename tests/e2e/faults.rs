//! Faults, end to end: the real `flyt` binary killed at each commit point by a fail point
//! (`FLYT_FAILPOINT`, debug builds), a downstream app B that misbehaves in every way a network
//! peer can, restarts with jobs waiting, SIGTERM under load, and stores that cannot be opened.
//!
//! Every wait polls with a deadline; every server listens on loopback only.

use crate::cluster::{ALICE, CAROL, Cluster, Options, WAIT, free_port};
use flyt_tests::{Flyt, eventually, flyt_bin, repo, user_token, wait_for_exit};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// One HTTP client for the whole file: building one costs tens of milliseconds (it loads the
/// system's root certificates), which adds up over hundreds of reads. It keeps no idle
/// connections, so no connection outlives the test (and tokio runtime) that opened it.
fn client() -> reqwest::Client {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .redirect(reqwest::redirect::Policy::none())
                .pool_max_idle_per_host(0)
                .build()
                .unwrap()
        })
        .clone()
}

// ---------------------------------------------------------------------------------------------
// A server that is started, killed and restarted on the same port and data directory.

struct Node {
    dir: tempfile::TempDir,
    port: u16,
    server: Option<Flyt>,
}

fn copy_app(app: &str, processes: &Path) {
    // A's createInstance is what these tests break: the one-way A, which ends after it.
    let root = if app == "acme/grant-application" {
        crate::cluster::one_way_apps()
    } else {
        repo().join("processes")
    };
    let src = root.join(app);
    let dst = processes.join(app);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
}

impl Node {
    /// `apps` copied from `processes/`; `tables` appended to the config (TOML tables only).
    fn new(apps: &[&str], tables: &str) -> Node {
        Self::with_backend(apps, tables, "redb")
    }

    fn with_backend(apps: &[&str], tables: &str, backend: &str) -> Node {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for app in apps {
            copy_app(app, &root.join("processes"));
        }
        let port = free_port();
        std::fs::write(
            root.join("flyt.toml"),
            format!(
                r#"listen = "127.0.0.1:{port}"
processes_dir = "{root}/processes"
downstream_local_apps = false
[storage]
backend = "{backend}"
data_dir = "{root}/data"
[dev_authority]
enabled = true
{tables}"#,
                root = root.display()
            ),
        )
        .unwrap();
        Node {
            dir,
            port,
            server: None,
        }
    }

    fn config(&self) -> PathBuf {
        self.dir.path().join("flyt.toml")
    }

    fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Starts the server (armed with `failpoint`, if any) and waits until it listens.
    fn start(&mut self, failpoint: Option<&str>) {
        assert!(self.server.is_none(), "already running");
        let env: Vec<(&str, &str)> = failpoint
            .map(|p| ("FLYT_FAILPOINT", p))
            .into_iter()
            .collect();
        let (dir, config) = (self.dir.path().to_path_buf(), self.config());
        self.server = Some(tokio::task::block_in_place(|| {
            Flyt::start_with(&dir, &config, &env)
        }));
    }

    fn log(&self) -> String {
        self.server.as_ref().map(Flyt::log_text).unwrap_or_default()
    }

    /// Waits until the server has died at `point` (it stops answering), and reaps it.
    async fn died_at(&mut self, point: &str) {
        let live = format!("{}/health/live", self.url());
        let client = client();
        eventually(&format!("the server to die at `{point}`"), WAIT, || {
            let (client, live) = (client.clone(), live.clone());
            async move { client.get(&live).send().await.is_err().then_some(()) }
        })
        .await;
        let log = self.log();
        assert!(
            log.contains(&format!("failpoint `{point}` hit")),
            "the server died, but not at `{point}`; its log:\n{log}"
        );
        self.kill();
    }

    fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            tokio::task::block_in_place(|| server.kill());
        }
    }

    /// SIGTERM; returns the exit code and how long the exit took.
    fn terminate(&mut self, within: Duration) -> (Option<i32>, Duration) {
        let mut server = self.server.take().expect("running");
        let started = Instant::now();
        let code = tokio::task::block_in_place(|| server.terminate(within));
        let took = started.elapsed();
        if code != Some(0) {
            eprintln!("log of the terminated server:\n{}", server.log_text());
        }
        (code, took)
    }

    /// Runs `flyt serve` on this node's config until it exits by itself (at most 60 s); returns
    /// whether it succeeded and its stderr.
    fn run_until_exit(&self, env: &[(&str, &str)]) -> (bool, String) {
        let log = self.dir.path().join(format!("exit-{}.log", free_port()));
        let mut cmd = std::process::Command::new(flyt_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(self.config())
            .current_dir(self.dir.path())
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap());
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd.spawn().unwrap();
        let (status, exited) = wait_for_exit(child, Duration::from_secs(60));
        assert!(
            exited,
            "flyt serve did not exit; its log:\n{}",
            std::fs::read_to_string(&log).unwrap_or_default()
        );
        (
            status.success(),
            std::fs::read_to_string(&log).unwrap_or_default(),
        )
    }
}

// ---------------------------------------------------------------------------------------------
// Reading an instance back: version, task, history and data must agree.

#[derive(Debug, Clone, PartialEq)]
struct Snapshot {
    version: u64,
    /// The current task's element id, or `ended:<end event>`.
    task: String,
    /// `eventType elementId` per history event.
    history: Vec<String>,
    data: Value,
}

async fn get_json(url: &str, token: &str) -> (u16, Value) {
    let r = client().get(url).bearer_auth(token).send().await.unwrap();
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

impl Snapshot {
    async fn of(url: &str, token: &str, data_type: &str) -> Snapshot {
        let (status, instance) = get_json(url, token).await;
        assert_eq!(status, 200, "{url}: {instance}");
        let process = &instance["process"];
        let task = match process["currentTask"]["elementId"].as_str() {
            Some(task) => task.to_string(),
            None => format!("ended:{}", process["endEvent"].as_str().unwrap_or("?")),
        };
        let (_, history) = get_json(&format!("{url}/process/history"), token).await;
        let history = history["processHistory"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                format!(
                    "{} {}",
                    e["eventType"].as_str().unwrap_or(""),
                    e["elementId"].as_str().unwrap_or("")
                )
            })
            .collect();
        let (status, data) = get_json(&format!("{url}/data/{data_type}"), token).await;
        Snapshot {
            version: instance["version"].as_u64().unwrap(),
            task,
            history,
            data: if status == 200 { data } else { Value::Null },
        }
    }
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

async fn create_claim(
    base: &str,
    token: &str,
    claim: &Value,
) -> reqwest::Result<reqwest::Response> {
    client()
        .post(format!("{base}/ttd/approval/instances"))
        .bearer_auth(token)
        .json(&json!({ "data": { "claim": claim } }))
        .send()
        .await
}

async fn instances(base: &str, app: &str, token: &str) -> Vec<Value> {
    let (status, page) = get_json(&format!("{base}/{app}/instances?limit=100"), token).await;
    assert_eq!(status, 200, "{page}");
    page["instances"].as_array().unwrap().clone()
}

fn url_of(base: &str, app: &str, instance: &Value) -> String {
    format!(
        "{base}/{app}/instances/{}",
        instance["id"].as_str().unwrap()
    )
}

// ---------------------------------------------------------------------------------------------
// Fail points: instance commits.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_create_and_transition_commit_points_instances_are_exactly_before_or_after() {
    let mut node = Node::new(&["ttd/approval"], "");
    let base = node.url();
    let app = "ttd/approval";
    let claim = json!({"amount": 120, "currency": "NOK", "description": "train ticket"});
    let changed = json!({"amount": 150, "currency": "NOK", "description": "return ticket"});
    // Acknowledged writes and what they left: each must be there after every later kill.
    let mut acked: Vec<(String, Snapshot)> = Vec::new();
    let ack_a_create = |token: String| {
        let (base, claim) = (base.clone(), claim.clone());
        async move {
            let r = create_claim(&base, &token, &claim).await.unwrap();
            assert_eq!(r.status(), 201);
            let url = r.headers()["location"].to_str().unwrap().to_string();
            let snapshot = Snapshot::of(&url, &token, "claim").await;
            (url, snapshot)
        }
    };

    // Killed before a create's commit: nothing of it exists.
    node.start(Some("create.before_commit"));
    let alice = user_token(&base, ALICE, &[]).await;
    assert!(
        create_claim(&base, &alice, &claim).await.is_err(),
        "no answer"
    );
    node.died_at("create.before_commit").await;

    // Killed after a create's commit: the instance exists whole, though nobody was told.
    node.start(Some("create.after_commit"));
    assert_eq!(instances(&base, app, &alice).await.len(), 0);
    assert!(
        create_claim(&base, &alice, &claim).await.is_err(),
        "no answer"
    );
    node.died_at("create.after_commit").await;

    node.start(Some("transition.before_commit"));
    let listed = instances(&base, app, &alice).await;
    assert_eq!(listed.len(), 1, "{listed:#?}");
    let url = url_of(&base, app, &listed[0]);
    let created = Snapshot::of(&url, &alice, "claim").await;
    assert_eq!(
        created,
        Snapshot {
            version: 1,
            task: "Fill".into(),
            history: strings(&["process_StartEvent Start", "process_StartTask Fill"]),
            data: claim.clone(),
        }
    );
    acked.push(ack_a_create(alice.clone()).await);
    // Writing data, killed before its commit.
    let put_data = |value: Value| {
        let (url, alice) = (url.clone(), alice.clone());
        async move {
            client()
                .put(format!("{url}/data/claim"))
                .bearer_auth(&alice)
                .json(&value)
                .send()
                .await
        }
    };
    assert!(put_data(changed.clone()).await.is_err(), "no answer");
    node.died_at("transition.before_commit").await;

    node.start(Some("transition.after_commit"));
    assert_eq!(
        Snapshot::of(&url, &alice, "claim").await,
        created,
        "exactly before"
    );
    acked.push(ack_a_create(alice.clone()).await);
    assert!(put_data(changed.clone()).await.is_err(), "no answer");
    node.died_at("transition.after_commit").await;

    node.start(Some("transition.before_commit"));
    let written = Snapshot {
        version: 2,
        data: changed.clone(),
        ..created.clone()
    };
    assert_eq!(
        Snapshot::of(&url, &alice, "claim").await,
        written,
        "exactly after"
    );
    let next = || {
        let (url, alice) = (url.clone(), alice.clone());
        async move {
            client()
                .put(format!("{url}/process/next"))
                .bearer_auth(&alice)
                .send()
                .await
        }
    };
    assert!(next().await.is_err(), "no answer");
    node.died_at("transition.before_commit").await;

    node.start(Some("transition.after_commit"));
    assert_eq!(
        Snapshot::of(&url, &alice, "claim").await,
        written,
        "exactly before"
    );
    assert!(next().await.is_err(), "no answer");
    node.died_at("transition.after_commit").await;

    node.start(None);
    let mut history = written.history.clone();
    history.extend(strings(&[
        "process_EndTask Fill",
        "process_StartTask Confirm",
    ]));
    assert_eq!(
        Snapshot::of(&url, &alice, "claim").await,
        Snapshot {
            version: 3,
            task: "Confirm".into(),
            history,
            data: changed,
        },
        "exactly after"
    );
    for (url, snapshot) in &acked {
        assert_eq!(&Snapshot::of(url, &alice, "claim").await, snapshot, "{url}");
    }
    assert_eq!(instances(&base, app, &alice).await.len(), 1 + acked.len());
    // And the instance moves on as if nothing happened.
    let r = client()
        .put(format!("{url}/process/next"))
        .bearer_auth(&alice)
        .json(&json!({"action": "confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        Snapshot::of(&url, &alice, "claim").await.task,
        "ended:End".to_string()
    );
}

// ---------------------------------------------------------------------------------------------
// Fail points: deploys.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_deploy_commit_points_the_definition_is_the_old_or_the_new_never_half() {
    let mut node = Node::new(&["ttd/approval"], "");
    let base = node.url();
    let old = std::fs::read_to_string(repo().join("processes/ttd/approval/process.bpmn")).unwrap();
    let new = old.replace("Confirm the claim", "Confirm your claim");
    assert_ne!(old, new);

    // At start-up, the first deploy of the app's file: killed before, then after its commit.
    for point in ["deploy.before_commit", "deploy.after_commit"] {
        let (ok, log) = node.run_until_exit(&[("FLYT_FAILPOINT", point)]);
        assert!(
            !ok && log.contains(&format!("failpoint `{point}` hit")),
            "{log}"
        );
    }
    // Armed again, but start-up finds the file already deployed: nothing to commit.
    node.start(Some("deploy.before_commit"));
    let designer = scoped_token(&base, "06067012345", "flyt:designer").await;
    let alice = user_token(&base, ALICE, &[]).await;
    let definition = |version: Option<u32>| {
        let (base, designer) = (base.clone(), designer.clone());
        async move {
            let query = version.map(|v| format!("?version={v}")).unwrap_or_default();
            let r = client()
                .get(format!("{base}/ttd/approval/process/definition{query}"))
                .bearer_auth(&designer)
                .send()
                .await
                .unwrap();
            let status = r.status().as_u16();
            let version = r
                .headers()
                .get("x-definition-version")
                .map(|v| v.to_str().unwrap().to_string());
            (status, version, r.text().await.unwrap())
        }
    };
    assert_eq!(
        definition(None).await,
        (200, Some("1".to_string()), old.clone()),
        "one version: the killed start-up before the commit left nothing behind"
    );
    let r = create_claim(&base, &alice, &json!({"amount": 5}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let instance = r.headers()["location"].to_str().unwrap().to_string();
    let deploy = || {
        let (base, designer, new) = (base.clone(), designer.clone(), new.clone());
        async move {
            client()
                .put(format!("{base}/ttd/approval/process/definition"))
                .bearer_auth(&designer)
                .header("content-type", "application/xml")
                .body(new)
                .send()
                .await
        }
    };
    assert!(deploy().await.is_err(), "no answer");
    node.died_at("deploy.before_commit").await;

    node.start(Some("deploy.after_commit"));
    assert_eq!(
        definition(None).await,
        (200, Some("1".to_string()), old.clone()),
        "exactly the old definition"
    );
    assert_eq!(definition(Some(2)).await.0, 404);
    assert!(deploy().await.is_err(), "no answer");
    node.died_at("deploy.after_commit").await;

    node.start(None);
    assert_eq!(
        definition(Some(2)).await,
        (200, Some("2".to_string()), new.clone()),
        "exactly the new definition, whole"
    );
    // Start-up offers the app directory's file again, but it is unchanged since start-up last
    // stored it (version 1): the version deployed through the API stays the latest.
    assert_eq!(
        definition(None).await,
        (200, Some("2".to_string()), new.clone())
    );
    // The instance stays on the version it started with and keeps moving.
    let (_, view) = get_json(&instance, &alice).await;
    assert_eq!(view["definitionVersion"], 1, "{view}");
    let r = client()
        .put(format!("{instance}/process/next"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let r = create_claim(&base, &alice, &json!({"amount": 5}))
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    assert_eq!(r.json::<Value>().await.unwrap()["definitionVersion"], 2);
}

async fn scoped_token(base: &str, pid: &str, scope: &str) -> String {
    let r = client()
        .post(format!("{base}/authority/user-token"))
        .json(&json!({ "pid": pid, "scope": scope }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success());
    r.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_string()
}

// ---------------------------------------------------------------------------------------------
// Fail points: jobs (lease, failure, completion), across real servers A and B.

fn rebase(url: &str, base: &str) -> String {
    format!("{base}{}", &url[url.find("/acme/").unwrap()..])
}

/// A's job incident for an application, once there is one.
async fn incident_of(c: &Cluster, url: &str, token: &str) -> Value {
    eventually("an incident", WAIT, || async {
        let p = c.process(url, token).await;
        p["incidents"]
            .as_array()
            .and_then(|i| i.first().cloned())
            .filter(|_| p["currentTask"]["job"]["state"] == "incident")
    })
    .await
}

async fn ended(c: &Cluster, url: &str, token: &str) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let p = c.process(url, token).await;
        if p["ended"].is_string() {
            return p;
        }
        if Instant::now() > deadline {
            let log = c.a.as_ref().map(Flyt::log_text).unwrap_or_default();
            panic!("{url} did not end: {p:#}\nA's log:\n{log}");
        }
        // Each check is an HTTP round trip, so this loop does not spin a core.
        tokio::task::yield_now().await;
    }
}

async fn history(url: &str, token: &str) -> Vec<Value> {
    let (_, h) = get_json(&format!("{url}/process/history"), token).await;
    h["processHistory"].as_array().unwrap().clone()
}

fn created_ids(history: &[Value]) -> Vec<String> {
    history
        .iter()
        .filter_map(|e| e["details"]["createdInstance"]["id"].as_str())
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_at_job_lease_failure_and_completion_commits_jobs_resume_and_effects_happen_once() {
    let mut c = Cluster::new(Options { b_denies_a: false });
    // One attempt per job: a failed attempt raises an incident at once, so the attempts counted
    // before and after each kill can be read off the incident.
    let config = c.path("a/flyt.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("max_attempts = 4", "max_attempts = 1"),
    )
    .unwrap();
    c.start_authority();
    let alice = c.user(ALICE, &[]).await;
    let carol = c.user(CAROL, &["991825827:DAGL"]).await;
    let operator = c.user_with_scope("05057012345", "flyt:operator").await;
    let restart_a = |c: &mut Cluster, failpoint: Option<&str>| {
        let env: Vec<(&str, &str)> = failpoint
            .map(|p| ("FLYT_FAILPOINT", p))
            .into_iter()
            .collect();
        tokio::task::block_in_place(|| c.start_a(&env));
    };

    // B is down: every attempt fails. The incident tells whether the killed commit landed: a
    // lost lease is not counted (the restarted worker makes attempt 1, which fails); a landed one
    // is, and the restarted worker finds the only attempt interrupted and raises the incident
    // without counting a second one (issue 11: attempts never exceed the maximum); a lost
    // failure leaves the attempt interrupted too; a landed failure is the incident itself.
    let mut applications = Vec::new();
    for (point, attempts, error) in [
        ("job.before_lease_commit", 1, "unreachable"),
        ("job.after_lease_commit", 1, "interrupted"),
        ("job.before_fail_commit", 1, "interrupted"),
        ("job.after_fail_commit", 1, "unreachable"),
    ] {
        restart_a(&mut c, Some(point));
        let url = submit_racing_the_kill(&c.a_url(), &alice).await;
        wait_dead(&c.a_url(), point, c.a.as_ref().unwrap()).await;
        c.a.take();
        restart_a(&mut c, None);
        let url = rebase(&url, &c.a_url());
        let incident = incident_of(&c, &url, &alice).await;
        assert_eq!(incident["attempts"], attempts, "{point}: {incident}");
        let last_error = incident["lastError"].as_str().unwrap();
        assert!(last_error.contains(error), "{point}: {incident}");
        let raised = history(&url, &alice)
            .await
            .iter()
            .filter(|e| e["eventType"] == "flyt_IncidentRaised")
            .count();
        assert_eq!(raised, 1, "{point}");
        let code =
            tokio::task::block_in_place(|| c.a.take().unwrap().terminate(Duration::from_secs(20)));
        assert_eq!(code, Some(0), "{point}");
        applications.push(url);
    }

    // Jobs created from now on get three attempts (the four above keep their one).
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(
        &config,
        text.replace("max_attempts = 1", "max_attempts = 3"),
    )
    .unwrap();
    // B is up. Killed before the completion's commit: the job runs again after the restart with
    // the same Idempotency-Key, and B answers with the instance it created the first time.
    // Killed after it: the application has moved on; nothing runs again.
    tokio::task::block_in_place(|| c.start_b());
    for point in ["job.before_complete_commit", "job.after_complete_commit"] {
        let before = c.b_instances(&carol).await.len();
        restart_a(&mut c, Some(point));
        let url = submit_racing_the_kill(&c.a_url(), &alice).await;
        wait_dead(&c.a_url(), point, c.a.as_ref().unwrap()).await;
        assert_eq!(
            c.b_instances(&carol).await.len(),
            before + 1,
            "B created one"
        );
        c.a.take();
        restart_a(&mut c, None);
        let url = rebase(&url, &c.a_url());
        ended(&c, &url, &alice).await;
        let events = history(&url, &alice).await;
        let ends = events
            .iter()
            .filter(|e| {
                e["eventType"] == "process_EndTask" && e["elementId"] == "SendToCaseHandling"
            })
            .count();
        assert_eq!(ends, 1, "{point}: {events:#?}");
        assert_eq!(created_ids(&events).len(), 1);
        let cases = c.b_instances(&carol).await;
        assert_eq!(cases.len(), before + 1, "{point}: still one: {cases:#?}");
        let code =
            tokio::task::block_in_place(|| c.a.take().unwrap().terminate(Duration::from_secs(20)));
        assert_eq!(code, Some(0), "{point}");
        applications.push(url);
    }
    restart_a(&mut c, None);

    // The incidents are resumed: each job runs once more and creates its case.
    let base = c.a_url();
    for url in &mut applications {
        *url = rebase(url, &base);
    }
    for url in &applications[..4] {
        let r = client()
            .post(format!("{url}/process/resume"))
            .bearer_auth(&operator)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    let mut ids = Vec::new();
    for url in &applications {
        ended(&c, url, &alice).await;
        ids.extend(created_ids(&history(url, &alice).await));
    }
    let cases: Vec<String> = c
        .b_instances(&carol)
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    let mut sorted = cases.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "one case per application, each recorded by A");
}

/// Fills in and confirms an application. The confirmation commits before the job starts, but
/// the worker may reach the fail point before the answer is written: then there is no answer.
async fn submit_racing_the_kill(base: &str, token: &str) -> String {
    let url = fill_application(base, token).await;
    let r = client()
        .put(format!("{url}/process/next"))
        .bearer_auth(token)
        .json(&json!({"action": "confirm"}))
        .send()
        .await;
    if let Ok(r) = r {
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    }
    url
}

/// Waits until a server stops answering and checks it died at `point`.
async fn wait_dead(base: &str, point: &str, server: &Flyt) {
    let live = format!("{base}/health/live");
    eventually(&format!("A to die at `{point}`"), WAIT, || async {
        client().get(&live).send().await.is_err().then_some(())
    })
    .await;
    let log = server.log_text();
    assert!(
        log.contains(&format!("failpoint `{point}` hit")),
        "not killed at `{point}`:\n{log}"
    );
}

// ---------------------------------------------------------------------------------------------
// A fake app B on loopback: scripted per A instance, deduplicating by Idempotency-Key like the
// real one, counting every attempt and every creation.

#[derive(Debug, Clone, Copy, PartialEq)]
enum Act {
    /// Creates (or finds, by key) the instance and answers 201.
    Create,
    /// Accepts the request and never answers (holds the connection until the client gives up).
    Hang,
    /// Creates the instance, then never answers.
    CreateThenHang,
    /// Answers 201 after this many milliseconds (creating the instance then).
    Slow(u64),
    /// Creates the instance and closes the connection without answering.
    CreateThenDrop,
    /// Answers this status, with `Retry-After` seconds if given; creates nothing.
    Status(u16, Option<u64>),
}

#[derive(Debug, Clone)]
struct Attempt {
    key: String,
    at: Instant,
    wall: SystemTime,
}

#[derive(Default)]
struct FakeState {
    /// A instance guid → what to do on each attempt (the last repeats).
    scripts: BTreeMap<String, Vec<Act>>,
    attempts: Vec<Attempt>,
    /// Idempotency-Key → B's instance id.
    created: BTreeMap<String, String>,
    hanging: usize,
}

#[derive(Clone)]
struct FakeB {
    url: String,
    state: Arc<Mutex<FakeState>>,
}

impl FakeB {
    async fn start() -> FakeB {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let b = FakeB {
            url,
            state: Arc::default(),
        };
        let serving = b.clone();
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let b = serving.clone();
                tokio::spawn(async move { b.serve(stream).await });
            }
        });
        b
    }

    fn script(&self, a_instance: &str, acts: Vec<Act>) {
        self.state
            .lock()
            .unwrap()
            .scripts
            .insert(guid(a_instance).to_string(), acts);
    }

    fn attempts(&self, a_instance: &str) -> Vec<Attempt> {
        let guid = guid(a_instance);
        let state = self.state.lock().unwrap();
        state
            .attempts
            .iter()
            .filter(|a| a.key.starts_with(guid))
            .cloned()
            .collect()
    }

    /// B instances created for this A instance (one per distinct key).
    fn created(&self, a_instance: &str) -> Vec<String> {
        let guid = guid(a_instance);
        let state = self.state.lock().unwrap();
        state
            .created
            .iter()
            .filter(|(k, _)| k.starts_with(guid))
            .map(|(_, v)| v.clone())
            .collect()
    }

    fn hanging(&self) -> usize {
        self.state.lock().unwrap().hanging
    }

    fn create(&self, key: &str) -> String {
        let mut state = self.state.lock().unwrap();
        state
            .created
            .entry(key.to_string())
            .or_insert_with(|| format!("991825827/{}", uuid::Uuid::new_v4()))
            .clone()
    }

    async fn serve(&self, mut stream: TcpStream) {
        let Some(key) = read_request(&mut stream).await else {
            return;
        };
        let act = {
            let mut state = self.state.lock().unwrap();
            let n = state.attempts.iter().filter(|a| a.key == key).count();
            state.attempts.push(Attempt {
                key: key.clone(),
                at: Instant::now(),
                wall: SystemTime::now(),
            });
            state
                .scripts
                .iter()
                .find(|(guid, _)| key.starts_with(guid.as_str()))
                .map(|(_, acts)| acts[n.min(acts.len() - 1)])
                .unwrap_or(Act::Create)
        };
        match act {
            Act::Create => {
                let id = self.create(&key);
                created(&mut stream, &self.url, &id).await;
            }
            Act::Hang => self.hold(stream).await,
            Act::CreateThenHang => {
                self.create(&key);
                self.hold(stream).await;
            }
            Act::Slow(ms) => {
                tokio::time::sleep(Duration::from_millis(ms)).await;
                let id = self.create(&key);
                created(&mut stream, &self.url, &id).await;
            }
            Act::CreateThenDrop => {
                self.create(&key);
                drop(stream);
            }
            Act::Status(status, retry_after) => {
                let extra = retry_after
                    .map(|s| format!("Retry-After: {s}\r\n"))
                    .unwrap_or_default();
                let body =
                    json!({"code": "unavailable", "detail": "scripted failure", "status": status})
                        .to_string();
                respond(&mut stream, status, &extra, &body).await;
            }
        }
    }

    /// Holds a connection without answering until the client closes it (at most a minute).
    async fn hold(&self, mut stream: TcpStream) {
        self.state.lock().unwrap().hanging += 1;
        let _ = tokio::time::timeout(Duration::from_secs(60), async {
            let mut buf = [0u8; 1024];
            while matches!(stream.read(&mut buf).await, Ok(n) if n > 0) {}
        })
        .await;
        self.state.lock().unwrap().hanging -= 1;
    }
}

/// The guid of an A instance URL (its last segment), or the guid itself.
fn guid(a_instance: &str) -> &str {
    a_instance.rsplit('/').next().unwrap()
}

/// Reads one HTTP/1.1 request; returns its `Idempotency-Key` (empty if none).
async fn read_request(stream: &mut TcpStream) -> Option<String> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let read = async {
        loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&buf[..end]).to_string();
                let header = |name: &str| {
                    head.lines().find_map(|l| {
                        let (k, v) = l.split_once(':')?;
                        k.trim()
                            .eq_ignore_ascii_case(name)
                            .then(|| v.trim().to_string())
                    })
                };
                let length: usize = header("content-length")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(0);
                while buf.len() < end + 4 + length {
                    let n = stream.read(&mut chunk).await.ok()?;
                    if n == 0 {
                        return None;
                    }
                    buf.extend_from_slice(&chunk[..n]);
                }
                return Some(header("idempotency-key").unwrap_or_default());
            }
            let n = stream.read(&mut chunk).await.ok()?;
            if n == 0 || buf.len() > 1 << 20 {
                return None;
            }
            buf.extend_from_slice(&chunk[..n]);
        }
    };
    tokio::time::timeout(Duration::from_secs(10), read)
        .await
        .ok()?
}

async fn respond(stream: &mut TcpStream, status: u16, headers: &str, body: &str) {
    let text = format!(
        "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(text.as_bytes()).await;
    let _ = stream.shutdown().await;
}

async fn created(stream: &mut TcpStream, base: &str, id: &str) {
    let body = json!({"id": id, "appId": "acme/grant-case"}).to_string();
    let location = format!("Location: {base}/acme/grant-case/instances/{id}\r\n");
    respond(stream, 201, &location, &body).await;
}

/// App A's config: createInstance against the fake B, with its own development authority as the
/// token issuer (organisation 910000001).
fn a_tables(b: &FakeB, request_timeout_ms: u64, attempts: u32, backoff_ms: (u64, u64)) -> String {
    format!(
        r#"[outgoing]
organisation_number = "910000001"
org_code = "acme"
request_timeout_ms = {request_timeout_ms}
[downstream]
"acme/grant-case" = "{}"
[service_tasks.createInstance]
max_attempts = {attempts}
initial_backoff_ms = {}
max_backoff_ms = {}
"#,
        b.url, backoff_ms.0, backoff_ms.1
    )
}

/// Creates a grant application and fills it in; returns its URL (at Confirm).
async fn fill_application(base: &str, token: &str) -> String {
    let client = client();
    let r = client
        .post(format!("{base}/acme/grant-application/instances"))
        .bearer_auth(token)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let url = r.headers()["location"].to_str().unwrap().to_string();
    let data = json!({"applicant": {"name": "Alice Applicant", "email": "alice@example.org"}, "amount": 25000, "purpose": "a cargo bike"});
    let r = client
        .put(format!("{url}/data/application"))
        .bearer_auth(token)
        .json(&data)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    let r = client
        .put(format!("{url}/process/next"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    url
}

/// Confirms an application: its createInstance job starts.
async fn confirm(url: &str, token: &str) {
    let r = client()
        .put(format!("{url}/process/next"))
        .bearer_auth(token)
        .json(&json!({"action": "confirm"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
}

async fn process(url: &str, token: &str) -> Value {
    get_json(&format!("{url}/process"), token).await.1
}

/// Waits until the application has ended or has an incident; returns its process state.
async fn settled(url: &str, token: &str) -> Value {
    eventually(
        "the application to end or raise an incident",
        WAIT,
        || async {
            let p = process(url, token).await;
            let incident = p["incidents"].as_array().is_some_and(|i| !i.is_empty());
            (p["ended"].is_string() || incident).then_some(p)
        },
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Downstream misbehaviour.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_misbehaving_downstream_ends_in_exactly_one_instance_or_an_incident_and_others_move_on() {
    let b = FakeB::start().await;
    // 800 ms per attempt, four attempts, backoff from 100 ms.
    let mut a = Node::new(
        &["acme/grant-application"],
        &a_tables(&b, 800, 4, (100, 400)),
    );
    a.start(None);
    let base = a.url();
    let alice = user_token(&base, ALICE, &[]).await;
    use Act::*;
    let cases: Vec<(&str, Vec<Act>)> = vec![
        ("answers after a hang", vec![CreateThenHang, Create]),
        ("never answers", vec![Hang]),
        ("slow within the timeout", vec![Slow(100)]),
        ("slow past the timeout", vec![Slow(1600), Create]),
        (
            "drops the connection after creating",
            vec![CreateThenDrop, Create],
        ),
        (
            "5xx, then success",
            vec![Status(500, None), Status(503, None), Create],
        ),
        (
            "429 with Retry-After: 1",
            vec![Status(429, Some(1)), Create],
        ),
    ];
    let mut urls = Vec::new();
    for (_, acts) in &cases {
        let url = fill_application(&base, &alice).await;
        b.script(&url, acts.clone());
        urls.push(url);
    }
    for url in &urls {
        confirm(url, &alice).await;
    }

    // While B holds connections open, another application is created, moved and sent at once.
    eventually("B to hold a connection", WAIT, || async {
        (b.hanging() > 0).then_some(())
    })
    .await;
    let started = Instant::now();
    let other = fill_application(&base, &alice).await;
    confirm(&other, &alice).await;
    let moved = started.elapsed();
    assert!(
        moved < Duration::from_secs(3),
        "four requests took {moved:?}"
    );
    let p = settled(&other, &alice).await;
    assert!(p["ended"].is_string(), "{p:#}");
    assert_eq!(b.attempts(&other).len(), 1);

    for ((name, _), url) in cases.iter().zip(&urls) {
        let p = settled(url, &alice).await;
        let attempts = b.attempts(url);
        let keys: std::collections::BTreeSet<&str> =
            attempts.iter().map(|a| a.key.as_str()).collect();
        assert_eq!(
            keys.len(),
            1,
            "{name}: one Idempotency-Key for every attempt: {keys:?}"
        );
        let created = b.created(url);
        let incident = p["incidents"].as_array().is_some_and(|i| !i.is_empty());
        if *name == "never answers" {
            assert!(incident, "{name}: {p:#}");
            assert!(created.is_empty());
            assert_eq!(attempts.len(), 4, "{name}: every attempt was made");
            let error = p["incidents"][0]["lastError"].as_str().unwrap();
            assert!(error.contains("did not answer in time"), "{error}");
            continue;
        }
        assert!(!incident && p["ended"].is_string(), "{name}: {p:#}");
        assert_eq!(created.len(), 1, "{name}: exactly one instance at B");
        let recorded = created_ids(&history(url, &alice).await);
        assert_eq!(recorded, created, "{name}: A recorded B's instance");
        let expected_attempts = match *name {
            "slow within the timeout" => 1,
            "5xx, then success" => 3,
            _ => 2,
        };
        assert_eq!(attempts.len(), expected_attempts, "{name}: {attempts:?}");
        if name.starts_with("429") {
            let gap = attempts[1].at - attempts[0].at;
            assert!(
                gap >= Duration::from_secs(1),
                "{name}: retried after {gap:?}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Restart with jobs waiting for their next attempt.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_with_jobs_waiting_for_their_next_attempt_no_storm_none_lost() {
    let b = FakeB::start().await;
    // Backoff 1.5–3 s after the first failure.
    let mut a = Node::new(
        &["acme/grant-application"],
        &a_tables(&b, 2000, 5, (3000, 3000)),
    );
    a.start(None);
    let base = a.url();
    let alice = user_token(&base, ALICE, &[]).await;
    let mut urls = Vec::new();
    for _ in 0..5 {
        let url = fill_application(&base, &alice).await;
        b.script(&url, vec![Act::Status(503, None), Act::Create]);
        confirm(&url, &alice).await;
        urls.push(url);
    }
    // Each job failed once and waits for its next attempt.
    let mut due = Vec::new();
    for url in &urls {
        let job = eventually("the first attempt to fail", WAIT, || async {
            let job = process(url, &alice).await["currentTask"]["job"].clone();
            (job["state"] == "queued" && job["attempts"] == 1).then_some(job)
        })
        .await;
        let at = time::OffsetDateTime::parse(
            job["nextAttemptAt"].as_str().unwrap(),
            &time::format_description::well_known::Rfc3339,
        )
        .unwrap();
        due.push(SystemTime::from(at));
    }
    let (code, took) = a.terminate(Duration::from_secs(20));
    assert_eq!(code, Some(0), "took {took:?}");
    a.start(None);
    for (url, due) in urls.iter().zip(&due) {
        let p = settled(url, &alice).await;
        assert!(p["ended"].is_string(), "{p:#}");
        let attempts = b.attempts(url);
        assert_eq!(
            attempts.len(),
            2,
            "no attempt lost, none doubled: {attempts:?}"
        );
        assert!(
            attempts[1].wall >= *due,
            "attempt 2 came {:?} before its due time",
            due.duration_since(attempts[1].wall).unwrap_or_default()
        );
        assert_eq!(b.created(url).len(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// SIGTERM under load.

#[derive(Debug)]
enum Outcome {
    /// A 2xx: the instance must be at this version after the restart.
    Acked(String, u64),
    /// No answer (refused, reset) or 503: the request may or may not have happened.
    Failed(Option<String>),
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_load_finishes_or_fails_requests_cleanly_within_the_grace_and_jobs_resume() {
    const GRACE_MS: u64 = 2000;
    const CLIENTS: usize = 32;
    let b = FakeB::start().await;
    // A long per-attempt timeout: the job below is still waiting for B when SIGTERM comes.
    let tables = format!(
        "[limits]\nshutdown_grace_ms = {GRACE_MS}\n{}",
        a_tables(&b, 20_000, 3, (100, 400))
    );
    let mut a = Node::new(&["ttd/approval", "acme/grant-application"], &tables);
    a.start(None);
    let base = a.url();
    let alice = user_token(&base, ALICE, &[]).await;

    // A job in flight: B created the case and holds the answer.
    let pending = fill_application(&base, &alice).await;
    b.script(&pending, vec![Act::CreateThenHang, Act::Create]);
    confirm(&pending, &alice).await;
    eventually("B to hold the job's call", WAIT, || async {
        (b.hanging() > 0).then_some(())
    })
    .await;

    // A request in flight that will not finish by itself: its body never completes.
    let r = create_claim(&base, &alice, &json!({"amount": 7}))
        .await
        .unwrap();
    let stalled = r.headers()["location"].to_str().unwrap().to_string();
    let mut slow = TcpStream::connect(("127.0.0.1", a.port)).await.unwrap();
    let path = &stalled[base.len()..];
    slow.write_all(
        format!(
            "PUT {path}/data/claim HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"amount\":"
        )
        .as_bytes(),
    )
    .await
    .unwrap();

    // The load: each client creates claims and moves them to the end, until told to stop or
    // until the server stops answering.
    let load = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let outcomes = Arc::new(Mutex::new(Vec::<Outcome>::new()));
    // Woken by every recorded outcome, so the test waits for load without polling.
    let recorded = Arc::new(tokio::sync::Notify::new());
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        let (base, token, stop, outcomes, recorded, client) = (
            base.clone(),
            alice.clone(),
            stop.clone(),
            outcomes.clone(),
            recorded.clone(),
            load.clone(),
        );
        clients.push(tokio::spawn(async move {
            let record = |o: Outcome| {
                outcomes.lock().unwrap().push(o);
                recorded.notify_one();
            };
            while !stop.load(Ordering::SeqCst) {
                let r = client
                    .post(format!("{base}/ttd/approval/instances"))
                    .bearer_auth(&token)
                    .json(&json!({"data": {"claim": {"amount": i}}}))
                    .send()
                    .await;
                let url = match r {
                    Ok(r) if r.status() == 201 => {
                        let url = r.headers()["location"].to_str().unwrap().to_string();
                        record(Outcome::Acked(url.clone(), 1));
                        url
                    }
                    Ok(r) if r.status() == 503 => return record(Outcome::Failed(None)),
                    Ok(r) => panic!("create answered {}", r.status()),
                    Err(_) => return record(Outcome::Failed(None)),
                };
                for (version, body) in [(2, json!({})), (3, json!({"action": "confirm"}))] {
                    let r = client
                        .put(format!("{url}/process/next"))
                        .bearer_auth(&token)
                        .json(&body)
                        .send()
                        .await;
                    match r {
                        Ok(r) if r.status() == 200 => record(Outcome::Acked(url.clone(), version)),
                        Ok(r) if r.status() == 503 => return record(Outcome::Failed(Some(url))),
                        Ok(r) => panic!("next answered {}", r.status()),
                        Err(_) => return record(Outcome::Failed(Some(url))),
                    }
                }
            }
        }));
    }
    tokio::time::timeout(WAIT, async {
        while outcomes.lock().unwrap().len() < 3 * CLIENTS {
            recorded.notified().await;
        }
    })
    .await
    .expect("some load to be acknowledged");
    let (code, took) = a.terminate(Duration::from_millis(GRACE_MS) + Duration::from_secs(20));
    assert_eq!(code, Some(0));
    assert!(
        took <= Duration::from_millis(GRACE_MS + 1500),
        "SIGTERM to exit took {took:?}; the grace is {GRACE_MS} ms"
    );
    stop.store(true, Ordering::SeqCst);
    for client in clients {
        tokio::time::timeout(Duration::from_secs(30), client)
            .await
            .expect("a client did not stop")
            .expect("a client failed");
    }
    // The stalled request was cut off: the server closed its connection.
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), slow.read_to_end(&mut rest)).await;

    a.start(None);
    let outcomes = std::mem::take(&mut *outcomes.lock().unwrap());
    let mut expected: BTreeMap<String, (u64, bool)> = BTreeMap::new();
    for outcome in &outcomes {
        match outcome {
            Outcome::Acked(url, version) => {
                let entry = expected.entry(url.clone()).or_insert((0, false));
                entry.0 = entry.0.max(*version);
            }
            Outcome::Failed(Some(url)) => {
                expected.entry(url.clone()).or_insert((0, false)).1 = true
            }
            Outcome::Failed(None) => {}
        }
    }
    let acked = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Acked(..)))
        .count();
    eprintln!(
        "{acked} requests acknowledged, {} instances, SIGTERM to exit {took:?}",
        expected.len()
    );
    // Every instance is whole: at the version of its last acknowledged move, or one further if
    // a move was interrupted; version, task and history agree.
    for (url, (version, interrupted)) in &expected {
        let s = Snapshot::of(url, &alice, "claim").await;
        let allowed = if *interrupted {
            *version..=*version + 1
        } else {
            *version..=*version
        };
        assert!(
            allowed.contains(&s.version),
            "{url}: {s:?}, acknowledged {version}"
        );
        let (task, events) = match s.version {
            1 => ("Fill", 2),
            2 => ("Confirm", 4),
            _ => ("ended:End", 6),
        };
        assert_eq!(
            (s.task.as_str(), s.history.len()),
            (task, events),
            "{url}: {s:?}"
        );
    }
    // Nothing of the stalled write.
    assert_eq!(
        Snapshot::of(&stalled, &alice, "claim").await.data,
        json!({"amount": 7})
    );
    // The job cut off by the shutdown resumes: B answers the same case; exactly one.
    let p = settled(&pending, &alice).await;
    assert!(p["ended"].is_string(), "{p:#}");
    assert_eq!(b.created(&pending).len(), 1);
    assert_eq!(
        created_ids(&history(&pending, &alice).await),
        b.created(&pending)
    );
}

// ---------------------------------------------------------------------------------------------
// Stores that cannot be opened.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_locked_or_corrupt_store_stops_start_up_with_a_clear_message() {
    for (backend, file) in [
        ("redb", "data/store/flyt.redb"),
        ("sled", "data/store/sled/db"),
    ] {
        let mut node = Node::with_backend(&["ttd/approval"], "", backend);
        node.start(None);
        let alice = user_token(&node.url(), ALICE, &[]).await;
        let r = create_claim(&node.url(), &alice, &json!({"amount": 1}))
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        let instance = r.headers()["location"].to_str().unwrap().to_string();

        // A second server on the same data directory, on another port.
        let (ok, log) = node.run_until_exit(&[("FLYT_LISTEN", "127.0.0.1:0")]);
        assert!(
            !ok,
            "{backend}: a second server started on a locked store:\n{log}"
        );
        assert!(
            log.contains("locked") && log.contains("data/store"),
            "{backend}: no clear message:\n{log}"
        );
        // The first one carries on.
        assert_eq!(get_json(&instance, &alice).await.0, 200, "{backend}");
        let (code, _) = node.terminate(Duration::from_secs(20));
        assert_eq!(code, Some(0));

        // The store's file overwritten with garbage: refused, and left exactly as it was.
        let path = node.dir.path().join(file);
        let garbage: Vec<u8> = (0..64 * 1024u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        std::fs::write(&path, &garbage).unwrap();
        let (ok, log) = node.run_until_exit(&[]);
        assert!(!ok, "{backend}: started on a corrupt store:\n{log}");
        assert!(
            log.contains("corrupt") && log.contains("data/store"),
            "{backend}: no clear message:\n{log}"
        );
        assert!(
            std::fs::read(&path).unwrap() == garbage,
            "{backend}: the damaged file was changed"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Signals: a server killed between two deliveries of a broadcast delivers the rest once.

const ALARMS_TOML: &str = r#"title = "Waits for the alarm"
[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

[[rules]]
subjects = ["org:ttd"]
actions = ["signal"]
"#;

const ALARMS_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d">
  <bpmn:signal id="Signal_alarm" name="alarm"/>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:startEvent id="s"/>
    <bpmn:intermediateCatchEvent id="AwaitAlarm"><bpmn:signalEventDefinition signalRef="Signal_alarm"/></bpmn:intermediateCatchEvent>
    <bpmn:task id="Respond"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>
    <bpmn:endEvent id="e"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="AwaitAlarm"/>
    <bpmn:sequenceFlow id="f2" sourceRef="AwaitAlarm" targetRef="Respond"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Respond" targetRef="e"/>
  </bpmn:process>
</bpmn:definitions>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_between_two_signal_deliveries_the_rest_is_delivered_once_after_the_restart() {
    let mut node = Node::new(&[], "");
    let app_dir = node.dir.path().join("processes/ttd/alarms");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(app_dir.join("app.toml"), ALARMS_TOML).unwrap();
    std::fs::write(app_dir.join("process.bpmn"), ALARMS_BPMN).unwrap();
    let base = node.url();
    node.start(Some("signal.between_deliveries"));
    let alice = user_token(&base, ALICE, &[]).await;
    let mut urls = Vec::new();
    for _ in 0..3 {
        let r = client()
            .post(format!("{base}/ttd/alarms/instances"))
            .bearer_auth(&alice)
            .json(&json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201);
        urls.push(r.headers()["location"].to_str().unwrap().to_string());
    }
    let ttd = flyt_tests::org_token(&base, "974760673", Some("ttd"), "").await;
    let signal = json!({"name": "alarm", "signalId": "alarm-1"});
    let publish = |token: String| {
        let (base, signal) = (base.clone(), signal.clone());
        async move {
            client()
                .post(format!("{base}/ttd/alarms/signals"))
                .bearer_auth(token)
                .json(&signal)
                .send()
                .await
        }
    };
    // The broadcast and its first delivery are on disk; the server dies before the second.
    assert!(publish(ttd.clone()).await.is_err(), "no answer");
    node.died_at("signal.between_deliveries").await;
    let caught = |history: &[Value]| {
        history
            .iter()
            .filter(|e| e["eventType"] == "flyt_SignalCaught")
            .count()
    };
    node.start(None);
    let alice = user_token(&base, ALICE, &[]).await;
    // The worker resumes the broadcast at start-up: every instance gets the signal once.
    for url in &urls {
        eventually(&format!("{url} to get the signal"), WAIT, || {
            let (url, alice) = (url.clone(), alice.clone());
            async move {
                let (_, p) = get_json(&format!("{url}/process"), &alice).await;
                (p["currentTask"]["elementId"] == "Respond").then_some(())
            }
        })
        .await;
        assert_eq!(caught(&history(url, &alice).await), 1, "{url}");
    }
    // The same signalId again: the first answer (three subscriptions), delivered to nobody again.
    let ttd = flyt_tests::org_token(&base, "974760673", Some("ttd"), "").await;
    let r = publish(ttd).await.unwrap();
    assert_eq!(r.status(), 200);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["subscriptions"], 3, "{body}");
    for url in &urls {
        assert_eq!(caught(&history(url, &alice).await), 1, "{url}");
    }
    node.kill();
}
