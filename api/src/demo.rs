//! `flyt demo`: the multi-app flow, end to end, printed step by step.
//!
//! Starts two servers on loopback, each with its own data directory: **B** (the case-handling
//! app `acme/grant-case`, which also hosts the development authority standing in for
//! Maskinporten) and **A** (the application form `acme/grant-application`, which trusts that
//! authority and holds a client key registered with it for organisation 910000001). Then it does
//! what the users do, over HTTP, and shows what happens.

use crate::config::ServerConfig;
use crate::server::ServerBuilder;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use std::path::Path;
use std::process::ExitCode;
use std::time::{Duration, Instant};

const ACME: &str = "910000001";
const GRANTS: &str = "991825827";
const ALICE: &str = "01017012345";
const CAROL: &str = "03037012345";
const DAVE: &str = "04047012345";

fn copy_app(processes: &Path, app: &str, to: &Path) -> Result<(), String> {
    let src = processes.join(app);
    let dst = to.join(app);
    std::fs::create_dir_all(&dst).map_err(|e| e.to_string())?;
    for entry in std::fs::read_dir(&src)
        .map_err(|e| format!("{}: {e}", src.display()))?
        .flatten()
    {
        std::fs::copy(entry.path(), dst.join(entry.file_name())).map_err(|e| e.to_string())?;
    }
    Ok(())
}

fn step(n: u32, text: &str) {
    crate::outln!("\n{n}. {text}");
}

fn show(label: &str, value: &Value) {
    let pretty = serde_json::to_string_pretty(value).unwrap_or_default();
    crate::outln!("   {label}:");
    for line in pretty.lines() {
        crate::outln!("     {line}");
    }
}

pub async fn run(processes: &Path) -> ExitCode {
    match demo(processes).await {
        Ok(()) => {
            crate::outln!("\nThe demo ran the whole multi-app flow. Both servers have stopped.");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("\nflyt demo failed: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Two servers on loopback: B (case handling, hosting the development authority) and A (the
/// application form, with a client key registered at B's authority). Used by the demo and by
/// `flyt bench multi-app`.
pub struct TwoServers {
    pub a_url: String,
    pub b_url: String,
    pub issuer: String,
    pub a: crate::state::AppState,
    pub b: crate::state::AppState,
    stop: tokio::sync::watch::Sender<bool>,
    tasks: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl std::fmt::Debug for TwoServers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TwoServers")
            .field("a_url", &self.a_url)
            .field("b_url", &self.b_url)
            .finish()
    }
}

impl TwoServers {
    pub async fn start(
        processes: &Path,
        root: &Path,
        tune: impl Fn(&mut ServerConfig),
    ) -> Result<TwoServers, String> {
        std::fs::create_dir_all(root).map_err(|e| format!("{}: {e}", root.display()))?;
        // A's client key, registered with the authority hosted by B.
        let key =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let private = root.join("a-client.pem");
        let public = root.join("a-client.pub.pem");
        std::fs::write(
            &private,
            key.to_pkcs8_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?
                .as_bytes(),
        )
        .map_err(|e| e.to_string())?;
        std::fs::write(
            &public,
            key.to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .map_err(|e| e.to_string())?,
        )
        .map_err(|e| e.to_string())?;

        let b_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let a_listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| e.to_string())?;
        let (b_addr, a_addr) = (
            b_listener.local_addr().map_err(|e| e.to_string())?,
            a_listener.local_addr().map_err(|e| e.to_string())?,
        );
        let b_url = format!("http://{b_addr}");
        let a_url = format!("http://{a_addr}");
        let issuer = format!("{b_url}/authority");

        let mut b = ServerConfig {
            processes_dir: root.join("b/processes"),
            ..ServerConfig::default()
        };
        copy_app(processes, "acme/grant-case", &b.processes_dir)?;
        b.storage.data_dir = root.join("b/data");
        b.dev_authority.enabled = true;
        b.dev_authority
            .clients
            .push(crate::authority::ClientConfig {
                client_id: "acme-application".into(),
                organisation_number: ACME.into(),
                org_code: Some("acme".into()),
                public_key_pem_file: public.clone(),
                scopes: vec![b.instantiate_scope.clone()],
            });
        // B answers A (its message end event sends caseDecided) with the service owner's
        // token too: a second client of the same organisation, with the same key.
        b.dev_authority
            .clients
            .push(crate::authority::ClientConfig {
                client_id: "acme-case".into(),
                organisation_number: ACME.into(),
                org_code: Some("acme".into()),
                public_key_pem_file: public.clone(),
                scopes: vec![b.instantiate_scope.clone()],
            });
        b.downstream_local_apps = false;
        b.downstream
            .insert("acme/grant-application".into(), a_url.clone());
        b.outgoing.token_endpoint = Some(format!("{issuer}/token"));
        b.outgoing.audience = Some(issuer.clone());
        b.outgoing.client_id = Some("acme-case".into());
        b.outgoing.organisation_number = Some(ACME.into());
        b.outgoing.private_key_file = Some(private.clone());
        tune(&mut b);

        let mut a = ServerConfig {
            processes_dir: root.join("a/processes"),
            ..ServerConfig::default()
        };
        copy_app(processes, "acme/grant-application", &a.processes_dir)?;
        a.storage.data_dir = root.join("a/data");
        a.downstream_local_apps = false;
        a.downstream.insert("acme/grant-case".into(), b_url.clone());
        a.auth.issuers.push(crate::auth::IssuerConfig {
            issuer: issuer.clone(),
            jwks_url: Some(format!("{issuer}/jwks")),
            pem_file: None,
            pem_kid: None,
        });
        a.outgoing.token_endpoint = Some(format!("{issuer}/token"));
        a.outgoing.audience = Some(issuer.clone());
        a.outgoing.client_id = Some("acme-application".into());
        a.outgoing.organisation_number = Some(ACME.into());
        a.outgoing.private_key_file = Some(private);
        tune(&mut a);

        let b_server = ServerBuilder::new(b)
            .build(b_addr)
            .await
            .map_err(|e| format!("B: {e}"))?;
        let a_server = ServerBuilder::new(a)
            .build(a_addr)
            .await
            .map_err(|e| format!("A: {e}"))?;
        let (stop, stop_rx) = tokio::sync::watch::channel(false);
        let stopped = |mut rx: tokio::sync::watch::Receiver<bool>| async move {
            let _ = rx.wait_for(|s| *s).await;
        };
        let (a_state, b_state) = (a_server.state.clone(), b_server.state.clone());
        let tasks = vec![
            tokio::spawn(b_server.serve(b_listener, stopped(stop_rx.clone()))),
            tokio::spawn(a_server.serve(a_listener, stopped(stop_rx))),
        ];
        Ok(TwoServers {
            a_url,
            b_url,
            issuer,
            a: a_state,
            b: b_state,
            stop,
            tasks,
        })
    }

    /// Stops both servers and waits for them to close their stores.
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        for t in self.tasks {
            let _ = t.await;
        }
    }
}

async fn demo(processes: &Path) -> Result<(), String> {
    let dir = tempfile_dir()?;
    crate::outln!(
        "flyt demo: app A (acme/grant-application) creates a prefilled case in app B (acme/grant-case), which answers with the message caseDecided"
    );
    crate::outln!("data directories under {}", dir.display());
    let servers = TwoServers::start(processes, &dir, |_| {}).await?;
    crate::outln!(
        "B listens on {} (and hosts the authority at {})",
        servers.b_url,
        servers.issuer
    );
    crate::outln!("A listens on {}", servers.a_url);
    let result = flow(&servers.a_url, &servers.b_url, &servers.issuer).await;
    servers.stop().await;
    let _ = std::fs::remove_dir_all(&dir);
    result
}

fn tempfile_dir() -> Result<std::path::PathBuf, String> {
    let dir = std::env::temp_dir().join(format!("flyt-demo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    Ok(dir)
}

async fn user(
    http: &reqwest::Client,
    issuer: &str,
    pid: &str,
    roles: &[&str],
) -> Result<String, String> {
    let r = http
        .post(format!("{issuer}/user-token"))
        .json(&json!({"pid": pid, "roles": roles}))
        .send()
        .await
        .map_err(|e| e.to_string())?;
    let body: Value = r.json().await.map_err(|e| e.to_string())?;
    body["access_token"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("no token: {body}"))
}

async fn call(req: reqwest::RequestBuilder) -> Result<(u16, Value), String> {
    let r = req.send().await.map_err(|e| e.to_string())?;
    let status = r.status().as_u16();
    let body = r.json().await.unwrap_or(Value::Null);
    Ok((status, body))
}

async fn flow(a: &str, b: &str, issuer: &str) -> Result<(), String> {
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .map_err(|e| e.to_string())?;
    step(
        1,
        &format!("Alice ({ALICE}) logs in: the authority issues her a user token"),
    );
    let alice = user(&http, issuer, ALICE, &[]).await?;

    step(2, "Alice creates an application in A");
    let (status, created) = call(
        http.post(format!("{a}/acme/grant-application/instances"))
            .bearer_auth(&alice)
            .json(&json!({})),
    )
    .await?;
    if status != 201 {
        return Err(format!("create answered {status}: {created}"));
    }
    let id = created["id"].as_str().unwrap_or_default().to_string();
    let url = format!("{a}/acme/grant-application/instances/{id}");
    crate::outln!(
        "   201 Created {url}  (task: {})",
        created["process"]["currentTask"]["elementId"]
    );

    step(3, "Alice fills in the form and confirms");
    let form = json!({"applicant": {"name": "Alice Applicant", "email": "alice@example.org"}, "amount": 25000, "purpose": "a cargo bike for deliveries"});
    show("PUT .../data/application", &form);
    let (status, body) = call(
        http.put(format!("{url}/data/application"))
            .bearer_auth(&alice)
            .json(&form),
    )
    .await?;
    if status != 200 {
        return Err(format!("writing data answered {status}: {body}"));
    }
    let (_, p) = call(http.put(format!("{url}/process/next")).bearer_auth(&alice)).await?;
    crate::outln!("   next (write) → task {}", p["currentTask"]["elementId"]);
    let (_, p) = call(
        http.put(format!("{url}/process/next"))
            .bearer_auth(&alice)
            .json(&json!({"action": "confirm"})),
    )
    .await?;
    crate::outln!(
        "   next (confirm) → task {} (createInstance, a durable job)",
        p["currentTask"]["elementId"]
    );

    step(
        4,
        "A gets an organisation token: an RS256 assertion (iss = acme-application, aud = the authority, scope, exp ≤ iat + 120 s, fresh jti) posted as a JWT-bearer grant",
    );
    let (_, metadata) =
        call(http.get(format!("{issuer}/.well-known/oauth-authorization-server"))).await?;
    crate::outln!(
        "   token endpoint {}  grant {}",
        metadata["token_endpoint"],
        metadata["grant_types_supported"]
    );
    crate::outln!("   (A never logs the assertion or the token)");

    step(
        5,
        "A calls B with the token and an Idempotency-Key derived from the job; B checks the token and its policy, creates the instance",
    );
    let started = Instant::now();
    let b_id = loop {
        let (_, history) = call(
            http.get(format!("{url}/process/history"))
                .bearer_auth(&alice),
        )
        .await?;
        let found = history["processHistory"].as_array().and_then(|h| {
            h.iter().find_map(|e| {
                e["details"]["createdInstance"]["id"]
                    .as_str()
                    .map(str::to_string)
            })
        });
        if let Some(found) = found {
            break found;
        }
        let (_, p) = call(http.get(format!("{url}/process")).bearer_auth(&alice)).await?;
        if let Some(incident) = p["incidents"].as_array().and_then(|i| i.first()) {
            return Err(format!("A raised an incident: {incident}"));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err("A did not create B's instance within 30 s".into());
        }
        tokio::task::yield_now().await;
    };
    let (_, p) = call(http.get(format!("{url}/process")).bearer_auth(&alice)).await?;
    crate::outln!(
        "   B created instance {b_id} (prefilled with A's instance id); A recorded it in its history and waits at {}",
        p["currentTask"]["elementId"]
    );

    step(
        6,
        &format!("B's instance, as a case handler of {GRANTS} sees it (Carol, role DAGL)"),
    );
    let carol = user(&http, issuer, CAROL, &[&format!("{GRANTS}:DAGL")]).await?;
    let b_url = format!("{b}/acme/grant-case/instances/{b_id}");
    let (_, instance) = call(http.get(&b_url).bearer_auth(&carol)).await?;
    crate::outln!(
        "   owner: {}   task: {}",
        instance["instanceOwner"],
        instance["process"]["currentTask"]["elementId"]
    );
    let (_, data) = call(http.get(format!("{b_url}/data/case")).bearer_auth(&carol)).await?;
    show("prefilled data", &data);

    step(7, "Who can read it");
    let dave = user(&http, issuer, DAVE, &["999888777:DAGL"]).await?;
    for (who, token) in [
        ("Carol, DAGL of the owner", &carol),
        ("Alice, A's end user", &alice),
        ("Dave, DAGL of another organisation", &dave),
    ] {
        let (status, _) = call(http.get(&b_url).bearer_auth(token)).await?;
        crate::outln!("   {who}: {status}");
    }

    step(8, "Carol decides the case: granted, with a note");
    let (_, _) = call(
        http.put(format!("{b_url}/data/case"))
            .bearer_auth(&carol)
            .json(&{
                let mut d = data.clone();
                d["decision"] = json!("granted");
                d["note"] = json!("a good use of the fund");
                d
            }),
    )
    .await?;
    let (status, p) = call(
        http.put(format!("{b_url}/process/next"))
            .bearer_auth(&carol)
            .json(&json!({"action": "complete"})),
    )
    .await?;
    crate::outln!(
        "   {status}: B's instance is at its message end event {} (a durable job)",
        p["currentTask"]["elementId"]
    );

    step(
        9,
        "B sends caseDecided to A (POST /acme/grant-application/messages, its own organisation token, a messageId derived from the job); A correlates it on its instance id",
    );
    let started = Instant::now();
    let p = loop {
        let (_, p) = call(http.get(format!("{url}/process")).bearer_auth(&alice)).await?;
        if p["currentTask"]["elementId"] == "ConfirmGrant" {
            break p;
        }
        let (_, bp) = call(http.get(format!("{b_url}/process")).bearer_auth(&carol)).await?;
        if let Some(incident) = bp["incidents"].as_array().and_then(|i| i.first()) {
            return Err(format!("B raised an incident: {incident}"));
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("A did not get B's decision within 30 s: {p}"));
        }
        tokio::task::yield_now().await;
    };
    let (_, decision) = call(http.get(format!("{url}/data/decision")).bearer_auth(&alice)).await?;
    show("A's data `decision`, merged from the message", &decision);
    crate::outln!(
        "   A's gateway took the granted branch: task {}",
        p["currentTask"]["elementId"]
    );
    // B's message end event sends the message and then commits its own end: A can have
    // correlated it a moment before B's instance shows as ended.
    let started = Instant::now();
    let bp = loop {
        let (_, bp) = call(http.get(format!("{b_url}/process")).bearer_auth(&carol)).await?;
        if !bp["endEvent"].is_null() {
            break bp;
        }
        if started.elapsed() > Duration::from_secs(30) {
            return Err(format!("B's instance did not end within 30 s: {bp}"));
        }
        tokio::task::yield_now().await;
    };
    crate::outln!("   B's instance ended at {}", bp["endEvent"]);

    step(10, "Alice confirms the grant");
    let (status, p) = call(
        http.put(format!("{url}/process/next"))
            .bearer_auth(&alice)
            .json(&json!({"action": "confirm"})),
    )
    .await?;
    crate::outln!("   {status}: A's instance ended at {}", p["endEvent"]);
    Ok(())
}
