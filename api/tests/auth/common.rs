//! Shared test fixtures: RSA keys generated once per test binary, an EC key, a JWKS server on
//! loopback that counts its requests, token builders and a manual clock.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use flyt_api::auth::{AuthConfig, IssuerConfig, TrustedIssuer, Verifier};
use flyt_engine::time::{Clock, ManualClock, Timestamp};
use jsonwebtoken::jwk::{Jwk, PublicKeyUse};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use rand::SeedableRng;
use rsa::RsaPrivateKey;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

/// 2027-01-15T08:00:00Z, in ms.
pub const START_MS: i64 = 1_800_000_000_000;
pub const ISSUER: &str = "https://issuer.test";
pub const AUDIENCE: &str = "flyt";
pub const LEEWAY: i64 = 30;

/// A P-256 key (PKCS#8), for ES256 tokens.
pub const EC_PRIVATE_PEM: &str = "-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgCZ1gk4UiQv9+2l3H
hDRxjTu0apbkiVU5DEhr2VQgigehRANCAARKul3c6oHL4kbgilaxhv2J7cp5u371
/TBGXha7+el8HwK5Hpd6tKGvdAzZRODP0aqnXbgEXq0gL4tqf2N/s7u8
-----END PRIVATE KEY-----
";

/// An RSA key pair in the forms tests need.
pub struct RsaKey {
    pub private_pem: String,
    pub public_pem: String,
    pub encoding: EncodingKey,
}

impl RsaKey {
    fn generate(seed: u64) -> RsaKey {
        let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
        let key = RsaPrivateKey::new(&mut rng, 2048).expect("RSA key");
        let private_pem = key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string();
        let public_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .expect("public pem");
        let encoding = EncodingKey::from_rsa_pem(private_pem.as_bytes()).expect("encoding key");
        RsaKey {
            private_pem,
            public_pem,
            encoding,
        }
    }

    /// The public JWK with `kid`, alg RS256, use sig.
    pub fn jwk(&self, kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.encoding, Algorithm::RS256).expect("jwk");
        jwk.common.key_id = Some(kid.to_string());
        jwk.common.public_key_use = Some(PublicKeyUse::Signature);
        serde_json::to_value(jwk).expect("jwk json")
    }
}

pub struct Keys {
    /// The issuer's first key.
    pub rsa1: RsaKey,
    /// The issuer's rotated-in key.
    pub rsa2: RsaKey,
    /// A client of the development authority.
    pub client: RsaKey,
    /// A key nobody trusts.
    pub stranger: RsaKey,
    pub ec: EncodingKey,
}

impl Keys {
    pub fn ec_jwk(&self, kid: &str) -> Value {
        let mut jwk = Jwk::from_encoding_key(&self.ec, Algorithm::ES256).expect("ec jwk");
        jwk.common.key_id = Some(kid.to_string());
        serde_json::to_value(jwk).expect("jwk json")
    }
}

/// The keys, generated once per test binary (deterministically, from fixed seeds).
pub fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let (rsa1, rsa2, client, stranger) = std::thread::scope(|s| {
            let a = s.spawn(|| RsaKey::generate(1));
            let b = s.spawn(|| RsaKey::generate(2));
            let c = s.spawn(|| RsaKey::generate(3));
            let d = s.spawn(|| RsaKey::generate(4));
            (
                a.join().expect("k1"),
                b.join().expect("k2"),
                c.join().expect("k3"),
                d.join().expect("k4"),
            )
        });
        Keys {
            rsa1,
            rsa2,
            client,
            stranger,
            ec: EncodingKey::from_ec_pem(EC_PRIVATE_PEM.as_bytes()).expect("ec key"),
        }
    })
}

pub fn manual_clock() -> (ManualClock, Arc<dyn Clock>) {
    let clock = ManualClock::new(Timestamp(START_MS));
    let dyn_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    (clock, dyn_clock)
}

pub fn now_secs(clock: &ManualClock) -> i64 {
    clock.now().millis() / 1000
}

/// An HTTP client that keeps no idle connections, so a stopped server is really gone.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Signs `claims` with `alg` and `key`, header `kid` when given.
pub fn sign(alg: Algorithm, key: &EncodingKey, kid: Option<&str>, claims: &Value) -> String {
    let mut header = Header::new(alg);
    header.kid = kid.map(str::to_string);
    jsonwebtoken::encode(&header, claims, key).expect("sign")
}

pub fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).expect("json"))
}

/// Claims of a valid user token at `now` (seconds).
pub fn user_claims(now: i64) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 300,
        "jti": uuid::Uuid::new_v4().to_string(),
        "pid": "01017012345",
        "roles": ["991825827:DAGL", "991825827:REGNA", "912345678:DAGL"],
        "scope": "altinn:instances.read altinn:instances.write",
    })
}

/// Claims of a valid organisation (Maskinporten-shaped) token at `now`.
pub fn org_claims(now: i64) -> Value {
    json!({
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": now,
        "exp": now + 120,
        "jti": uuid::Uuid::new_v4().to_string(),
        "consumer": {"authority": "iso6523-actorid-upis", "ID": "0192:991825827"},
        "urn:altinn:org": "ttd",
        "client_id": "client-a",
        "scope": "altinn:serviceowner/instances.write",
    })
}

/// A JWKS server on 127.0.0.1 that counts its requests; the set can be replaced and the
/// server stopped.
pub struct JwksServer {
    pub addr: SocketAddr,
    pub state: Arc<JwksState>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

pub struct JwksState {
    pub jwks: parking_lot::Mutex<Value>,
    pub hits: AtomicUsize,
}

impl JwksServer {
    pub async fn start(keys: Vec<Value>) -> JwksServer {
        let state = Arc::new(JwksState {
            jwks: parking_lot::Mutex::new(json!({ "keys": keys })),
            hits: AtomicUsize::new(0),
        });
        async fn serve_jwks(State(state): State<Arc<JwksState>>) -> Json<Value> {
            state.hits.fetch_add(1, Ordering::SeqCst);
            let jwks = state.jwks.lock().clone();
            Json(jwks)
        }
        let app = axum::Router::new()
            .route("/jwks", get(serve_jwks))
            .with_state(state.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stopped.await;
                })
                .await;
        });
        JwksServer {
            addr,
            state,
            stop: Some(stop),
            task: Some(task),
        }
    }

    pub fn url(&self) -> String {
        format!("http://{}/jwks", self.addr)
    }

    pub fn hits(&self) -> usize {
        self.state.hits.load(Ordering::SeqCst)
    }

    pub fn set_keys(&self, keys: Vec<Value>) {
        *self.state.jwks.lock() = json!({ "keys": keys });
    }

    /// Stops the server and waits until it no longer accepts connections.
    pub async fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), task).await;
        }
    }
}

/// The test configuration: audience `flyt`, leeway 30 s, refetch gap 30 s, one JWKS issuer.
pub fn config(jwks_url: &str) -> AuthConfig {
    AuthConfig {
        issuers: vec![IssuerConfig {
            issuer: ISSUER.to_string(),
            jwks_url: Some(jwks_url.to_string()),
            ..IssuerConfig::default()
        }],
        audiences: vec![AUDIENCE.to_string()],
        leeway_secs: LEEWAY as u64,
        jwks_refetch_min_secs: 30,
        jwks_timeout_ms: 5_000,
        jwks_max_age_secs: 3_600,
    }
}

/// A verifier trusting a JWKS server with the RS256 key `k1` and the ES256 key `ec1`.
pub async fn jwks_verifier() -> (JwksServer, Arc<Verifier>, ManualClock) {
    let k = keys();
    let server = JwksServer::start(vec![k.rsa1.jwk("k1"), k.ec_jwk("ec1")]).await;
    let (clock, dyn_clock) = manual_clock();
    // As the server does: the tuning from the config, the issuers built by the caller.
    let verifier = Verifier::new(
        &config(&server.url()),
        vec![TrustedIssuer::with_jwks(ISSUER, server.url())],
        http(),
        dyn_clock,
    )
    .expect("verifier");
    (server, Arc::new(verifier), clock)
}
