//! Three real servers on loopback for the multi-app flow: an authority (a flyt server with only
//! the development authority, standing in for Maskinporten over the real protocol), app A's
//! server and app B's server, each with its own data directory.
#![allow(dead_code)]

use flyt_tests::{Flyt, http, repo};
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const ACME_ORGNO: &str = "910000001";
pub const GRANTS_ORG: &str = "991825827";
pub const ALICE: &str = "01017012345";
pub const CAROL: &str = "03037012345"; // DAGL of the grants department
pub const DAVE: &str = "04047012345"; // DAGL of another organisation

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// App A as it was before the round trip (it ends after its createInstance), for the tests of
/// createInstance itself.
pub fn one_way_apps() -> PathBuf {
    repo().join("tests/fixtures/grant-application-one-way")
}

fn copy_app(from: &str, to: &Path) {
    copy_app_from(&repo().join("processes"), from, to);
}

pub fn copy_app_from(root: &Path, from: &str, to: &Path) {
    let src = root.join(from);
    let dst = to.join(from);
    std::fs::create_dir_all(&dst).unwrap();
    for entry in std::fs::read_dir(&src).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dst.join(entry.file_name())).unwrap();
    }
}

pub struct Cluster {
    pub dir: tempfile::TempDir,
    pub authority_port: u16,
    pub a_port: u16,
    pub b_port: u16,
    pub authority: Option<Flyt>,
    pub a: Option<Flyt>,
    pub b: Option<Flyt>,
}

pub struct Options {
    /// B's app file without the rule that lets A's organisation instantiate.
    pub b_denies_a: bool,
}

impl Cluster {
    /// Writes every config; starts nothing. App A is the one-way copy (it ends after its
    /// createInstance; `one_way_apps`); B is `processes/acme/grant-case`.
    pub fn new(options: Options) -> Cluster {
        Self::build(options, false)
    }

    /// As `new`, with app A from `processes/`: it waits for B's decision (the round trip).
    pub fn round_trip() -> Cluster {
        Self::build(Options { b_denies_a: false }, true)
    }

    fn build(options: Options, round_trip: bool) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (authority_port, a_port, b_port) = (free_port(), free_port(), free_port());
        // A's client key pair, registered with the authority.
        let key = rsa::RsaPrivateKey::new(&mut rand_core(), 2048).unwrap();
        std::fs::write(
            root.join("client.pem"),
            key.to_pkcs8_pem(LineEnding::LF).unwrap().as_bytes(),
        )
        .unwrap();
        std::fs::write(
            root.join("client.pub.pem"),
            key.to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .unwrap(),
        )
        .unwrap();
        let issuer = format!("http://127.0.0.1:{authority_port}/authority");
        std::fs::create_dir_all(root.join("authority/processes")).unwrap();
        std::fs::write(
            root.join("authority/flyt.toml"),
            format!(
                r#"listen = "127.0.0.1:{authority_port}"
processes_dir = "{root}/authority/processes"
[storage]
backend = "redb"
data_dir = "{root}/authority/data"
[dev_authority]
enabled = true
[[dev_authority.clients]]
client_id = "acme-application"
organisation_number = "{ACME_ORGNO}"
org_code = "acme"
public_key_pem_file = "{root}/client.pub.pem"
scopes = ["altinn:serviceowner/instances.write"]
[[dev_authority.clients]]
client_id = "acme-case"
organisation_number = "{ACME_ORGNO}"
org_code = "acme"
public_key_pem_file = "{root}/client.pub.pem"
scopes = ["altinn:serviceowner/instances.write"]
"#,
                root = root.display()
            ),
        )
        .unwrap();
        let trust =
            format!("[[auth.issuers]]\nissuer = \"{issuer}\"\njwks_url = \"{issuer}/jwks\"\n");
        if round_trip {
            copy_app("acme/grant-application", &root.join("a/processes"));
        } else {
            copy_app_from(
                &one_way_apps(),
                "acme/grant-application",
                &root.join("a/processes"),
            );
        }
        std::fs::write(
            root.join("a/flyt.toml"),
            format!(
                r#"listen = "127.0.0.1:{a_port}"
processes_dir = "{root}/a/processes"
downstream_local_apps = false
[storage]
backend = "redb"
data_dir = "{root}/a/data"
[outgoing]
token_endpoint = "{issuer}/token"
audience = "{issuer}"
client_id = "acme-application"
organisation_number = "{ACME_ORGNO}"
private_key_file = "{root}/client.pem"
request_timeout_ms = 3000
[downstream]
"acme/grant-case" = "http://127.0.0.1:{b_port}"
[service_tasks.createInstance]
max_attempts = 4
initial_backoff_ms = 300
max_backoff_ms = 5000
{trust}"#,
                root = root.display()
            ),
        )
        .unwrap();
        copy_app("acme/grant-case", &root.join("b/processes"));
        if options.b_denies_a {
            let file = root.join("b/processes/acme/grant-case/app.toml");
            let text = std::fs::read_to_string(&file).unwrap().replace(
                "subjects = [\"orgno:910000001\"]",
                "subjects = [\"orgno:123456789\"]",
            );
            std::fs::write(file, text).unwrap();
        }
        // B answers A (the message end event Decided) with the service owner's token too.
        std::fs::write(
            root.join("b/flyt.toml"),
            format!(
                r#"listen = "127.0.0.1:{b_port}"
processes_dir = "{root}/b/processes"
downstream_local_apps = false
[storage]
backend = "redb"
data_dir = "{root}/b/data"
[outgoing]
token_endpoint = "{issuer}/token"
audience = "{issuer}"
client_id = "acme-case"
organisation_number = "{ACME_ORGNO}"
private_key_file = "{root}/client.pem"
request_timeout_ms = 3000
[downstream]
"acme/grant-application" = "http://127.0.0.1:{a_port}"
[service_tasks.sendMessage]
max_attempts = 6
initial_backoff_ms = 300
max_backoff_ms = 5000
{trust}"#,
                root = root.display()
            ),
        )
        .unwrap();
        Cluster {
            dir,
            authority_port,
            a_port,
            b_port,
            authority: None,
            a: None,
            b: None,
        }
    }

    pub fn path(&self, p: &str) -> PathBuf {
        self.dir.path().join(p)
    }

    pub fn start_authority(&mut self) {
        self.authority = Some(Flyt::start(
            &self.path("authority"),
            &self.path("authority/flyt.toml"),
        ));
    }

    pub fn start_a(&mut self, env: &[(&str, &str)]) {
        self.a = Some(Flyt::start_with(
            &self.path("a"),
            &self.path("a/flyt.toml"),
            env,
        ));
    }

    pub fn start_b(&mut self) {
        self.b = Some(Flyt::start(&self.path("b"), &self.path("b/flyt.toml")));
    }

    pub fn start_b_with(&mut self, env: &[(&str, &str)]) {
        self.b = Some(Flyt::start_with(
            &self.path("b"),
            &self.path("b/flyt.toml"),
            env,
        ));
    }

    /// A's process state until it waits at the receive task (its createInstance is done).
    pub async fn wait_for_decision_wait(&self, url: &str, token: &str) -> Value {
        flyt_tests::eventually("A to wait for the decision", WAIT, || async {
            let p = self.process(url, token).await;
            let waiting = p["messageSubscriptions"]
                .as_array()
                .is_some_and(|subs| subs.iter().any(|s| s["elementId"] == "AwaitDecision"));
            waiting.then_some(p)
        })
        .await
    }

    pub fn a_url(&self) -> String {
        self.a.as_ref().unwrap().url.clone()
    }

    pub fn b_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.b_port)
    }

    pub fn issuer(&self) -> String {
        format!("http://127.0.0.1:{}/authority", self.authority_port)
    }

    pub async fn user(&self, pid: &str, roles: &[&str]) -> String {
        flyt_tests::user_token(
            &format!("http://127.0.0.1:{}", self.authority_port),
            pid,
            roles,
        )
        .await
    }

    pub async fn user_with_scope(&self, pid: &str, scope: &str) -> String {
        let r = http()
            .post(format!("{}/user-token", self.issuer()))
            .json(&serde_json::json!({ "pid": pid, "scope": scope }))
            .send()
            .await
            .unwrap();
        let body: Value = r.json().await.unwrap();
        body["access_token"].as_str().unwrap().to_string()
    }

    /// Alice fills in and confirms an application in A; returns its URL. The createInstance job
    /// starts as soon as the confirmation commits.
    pub async fn submit_application(&self, alice: &str) -> String {
        let client = http();
        let a = self.a_url();
        let r = client
            .post(format!("{a}/acme/grant-application/instances"))
            .bearer_auth(alice)
            .json(&serde_json::json!({}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
        let url = r.headers()["location"].to_str().unwrap().to_string();
        let data = serde_json::json!({"applicant": {"name": "Alice Applicant", "email": "alice@example.org"}, "amount": 25000, "purpose": "a cargo bike"});
        let r = client
            .put(format!("{url}/data/application"))
            .bearer_auth(alice)
            .json(&data)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = client
            .put(format!("{url}/process/next"))
            .bearer_auth(alice)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        let r = client
            .put(format!("{url}/process/next"))
            .bearer_auth(alice)
            .json(&serde_json::json!({"action": "confirm"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
        url
    }

    /// A's process state, as Alice sees it.
    pub async fn process(&self, url: &str, token: &str) -> Value {
        http()
            .get(format!("{url}/process"))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap()
    }

    /// B's instances of the grants department, as Carol sees them.
    pub async fn b_instances(&self, carol: &str) -> Vec<Value> {
        let r = http()
            .get(format!(
                "{}/acme/grant-case/instances?partyId={GRANTS_ORG}&limit=100",
                self.b_url()
            ))
            .bearer_auth(carol)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 200);
        let body: Value = r.json().await.unwrap();
        body["instances"].as_array().unwrap().clone()
    }
}

fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

pub const WAIT: Duration = Duration::from_secs(60);
