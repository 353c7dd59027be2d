//! The token client against a small fake authority on a real loopback socket. The fake checks
//! each assertion (signature, claims) and answers as the test tells it to.

use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flyt_engine::time::{Clock, ManualClock, Timestamp};
use flyt_hooks::token_client::{
    JWT_BEARER_GRANT, RETRY_PAUSE, TokenClient, TokenClientConfig, TokenError, token_http_client,
};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use rand::SeedableRng;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Map, Value, json};
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

const START_MS: i64 = 1_800_000_000_000;
const CLIENT: &str = "client-a";
const SCOPE: &str = "altinn:serviceowner/instances.write";
const KID: &str = "client-a-2025";

struct Keys {
    private_pem: String,
    public_pem: String,
}

/// One RSA key pair per test binary.
fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("key");
        Keys {
            private_pem: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            public_pem: key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem"),
        }
    })
}

/// How the fake authority answers.
#[derive(Clone)]
enum Mode {
    /// 200 with a new token `token-N` and this `expires_in`.
    Issue(u64),
    /// This status and body.
    Fail(u16, Value),
    /// A redirect elsewhere.
    Redirect,
}

/// An assertion's verified claims and header `kid`.
type Checked = (Map<String, Value>, Option<String>);

struct Fake {
    mode: parking_lot::Mutex<Mode>,
    requests: AtomicUsize,
    /// Checked assertion claims and headers, one per request.
    assertions: parking_lot::Mutex<Vec<Checked>>,
    /// Problems found in requests (empty when all were right).
    problems: parking_lot::Mutex<Vec<String>>,
    audience: String,
    /// Answers wait for this many permits (`None`: at once).
    gate: Option<Arc<tokio::sync::Semaphore>>,
}

async fn token_endpoint(
    State(fake): State<Arc<Fake>>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let n = fake.requests.fetch_add(1, Ordering::SeqCst) + 1;
    if let Some(gate) = &fake.gate {
        let _ = gate.acquire().await.map(|p| p.forget());
    }
    let mut problems = Vec::new();
    if headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        != Some("application/x-www-form-urlencoded")
    {
        problems.push("content type".to_string());
    }
    if form.get("grant_type").map(String::as_str) != Some(JWT_BEARER_GRANT) {
        problems.push(format!("grant_type {:?}", form.get("grant_type")));
    }
    match form.get("assertion") {
        None => problems.push("no assertion".into()),
        Some(assertion) => {
            let key = DecodingKey::from_rsa_pem(keys().public_pem.as_bytes()).expect("public key");
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_audience(&[&fake.audience]);
            validation.set_issuer(&[CLIENT]);
            validation.set_required_spec_claims(&["exp", "iss", "aud"]);
            validation.validate_exp = false; // the test clock is not the system clock
            match jsonwebtoken::decode::<Map<String, Value>>(assertion, &key, &validation) {
                Ok(data) => fake.assertions.lock().push((data.claims, data.header.kid)),
                Err(e) => problems.push(format!("assertion: {e}")),
            }
        }
    }
    fake.problems.lock().extend(problems);
    let mode = fake.mode.lock().clone();
    match mode {
        Mode::Issue(expires_in) => axum::Json(json!({
            "access_token": format!("token-{n}"),
            "token_type": "Bearer",
            "expires_in": expires_in,
            "scope": SCOPE,
        }))
        .into_response(),
        Mode::Fail(status, body) => (
            StatusCode::from_u16(status).expect("status"),
            axum::Json(body),
        )
            .into_response(),
        Mode::Redirect => (
            StatusCode::TEMPORARY_REDIRECT,
            [(header::LOCATION, "/elsewhere")],
        )
            .into_response(),
    }
}

struct Setup {
    fake: Arc<Fake>,
    client: Arc<TokenClient>,
    clock: ManualClock,
}

async fn start_fake(mode: Mode, gate: Option<Arc<tokio::sync::Semaphore>>) -> (Arc<Fake>, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let fake = Arc::new(Fake {
        mode: parking_lot::Mutex::new(mode),
        requests: AtomicUsize::new(0),
        assertions: parking_lot::Mutex::new(Vec::new()),
        problems: parking_lot::Mutex::new(Vec::new()),
        audience: format!("{base}/authority"),
        gate,
    });
    let app = axum::Router::new()
        .route("/authority/token", post(token_endpoint))
        .with_state(fake.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    (fake, base)
}

fn client_for(base: &str, clock: &ManualClock, timeout: Duration) -> TokenClient {
    let mut config = TokenClientConfig::new(
        format!("{base}/authority/token"),
        format!("{base}/authority"),
        CLIENT,
        keys().private_pem.clone(),
        SCOPE,
    );
    config.kid = Some(KID.into());
    config.request_timeout = timeout;
    let dyn_clock: Arc<dyn Clock> = Arc::new(clock.clone());
    TokenClient::new(
        config,
        token_http_client(Duration::from_secs(30)).expect("http"),
        dyn_clock,
    )
    .expect("client")
}

async fn setup(mode: Mode) -> Setup {
    setup_gated(mode, None).await
}

async fn setup_gated(mode: Mode, gate: Option<Arc<tokio::sync::Semaphore>>) -> Setup {
    let (fake, base) = start_fake(mode, gate).await;
    let clock = ManualClock::new(Timestamp(START_MS));
    let client = Arc::new(client_for(&base, &clock, Duration::from_secs(10)));
    Setup {
        fake,
        client,
        clock,
    }
}

impl Setup {
    fn requests(&self) -> usize {
        self.fake.requests.load(Ordering::SeqCst)
    }

    fn assert_no_problems(&self) {
        assert!(
            self.fake.problems.lock().is_empty(),
            "{:?}",
            self.fake.problems.lock()
        );
    }
}

#[tokio::test]
async fn a_token_is_cached() {
    let s = setup(Mode::Issue(300)).await;
    let first = s.client.token().await.expect("token");
    let second = s.client.token().await.expect("token");
    assert_eq!(first, "token-1");
    assert_eq!(second, first);
    assert_eq!(s.requests(), 1);
    s.assert_no_problems();
}

#[tokio::test]
async fn a_token_is_refreshed_before_it_expires() {
    let s = setup(Mode::Issue(300)).await;
    assert_eq!(s.client.token().await.expect("token"), "token-1");
    // refresh_before = 30 s: cached for 270 s.
    s.clock.advance(Duration::from_millis(269_999));
    assert_eq!(s.client.token().await.expect("token"), "token-1");
    assert_eq!(s.requests(), 1);
    s.clock.advance(Duration::from_millis(1));
    assert_eq!(s.client.token().await.expect("token"), "token-2");
    assert_eq!(s.requests(), 2);
    s.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_one_request() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let s = setup_gated(Mode::Issue(300), Some(gate.clone())).await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = s.client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    // Let the one request through only once it has arrived.
    while s.requests() == 0 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for task in tasks {
        assert_eq!(task.await.expect("task").expect("token"), "token-1");
    }
    assert_eq!(s.requests(), 1);
    s.assert_no_problems();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_callers_share_a_failure() {
    let gate = Arc::new(tokio::sync::Semaphore::new(0));
    let s = setup_gated(
        Mode::Fail(503, json!({"error": "temporarily_unavailable"})),
        Some(gate.clone()),
    )
    .await;
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let client = s.client.clone();
            tokio::spawn(async move { client.token().await })
        })
        .collect();
    while s.requests() == 0 {
        tokio::task::yield_now().await;
    }
    gate.add_permits(100);
    for task in tasks {
        assert!(matches!(
            task.await.expect("task"),
            Err(TokenError::Transient(_))
        ));
    }
    assert_eq!(s.requests(), 1, "one request, its failure shared");
}

#[tokio::test]
async fn server_errors_and_429_are_transient() {
    for status in [500, 502, 503, 429] {
        let s = setup(Mode::Fail(
            status,
            json!({"error": "server_error", "error_description": "down"}),
        ))
        .await;
        let err = s.client.token().await.expect_err("fails");
        assert!(
            matches!(&err, TokenError::Transient(m) if m.contains(&status.to_string()) && m.contains("down")),
            "{status}: {err:?}"
        );
        assert!(err.is_transient());
    }
}

#[tokio::test]
async fn a_connection_refused_is_transient() {
    // A port that was just free: nobody listens.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let clock = ManualClock::new(Timestamp(START_MS));
    let err = client_for(&base, &clock, Duration::from_secs(10))
        .token()
        .await
        .expect_err("refused");
    assert!(
        matches!(&err, TokenError::Transient(m) if m.contains("cannot reach")),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_timeout_is_transient() {
    // A listener that accepts connections (the kernel does) but never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", silent.local_addr().expect("addr"));
    let clock = ManualClock::new(Timestamp(START_MS));
    let client = client_for(&base, &clock, Duration::from_millis(200));
    let started = std::time::Instant::now();
    let err = client.token().await.expect_err("times out");
    assert!(
        matches!(&err, TokenError::Transient(m) if m.contains("within 200 ms")),
        "{err:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    drop(silent);
}

#[tokio::test]
async fn a_4xx_is_rejected() {
    let s = setup(Mode::Fail(
        400,
        json!({"error": "invalid_grant", "error_description": "the assertion's signature does not verify"}),
    ))
    .await;
    let err = s.client.token().await.expect_err("rejected");
    assert!(
        matches!(&err, TokenError::Rejected(m) if m.contains("invalid_grant") && m.contains("signature")),
        "{err:?}"
    );
    assert!(!err.is_transient());
    // Within the retry pause the failure is repeated without a request.
    assert_eq!(s.client.token().await, Err(err));
    assert_eq!(s.requests(), 1);
    s.clock.advance(RETRY_PAUSE);
    *s.fake.mode.lock() = Mode::Fail(401, json!({"error": "invalid_client"}));
    assert!(
        matches!(s.client.token().await, Err(TokenError::Rejected(m)) if m.contains("invalid_client"))
    );
    assert_eq!(s.requests(), 2);
}

#[tokio::test]
async fn a_redirect_is_rejected_and_not_followed() {
    let s = setup(Mode::Redirect).await;
    let err = s.client.token().await.expect_err("rejected");
    assert!(
        matches!(&err, TokenError::Rejected(m) if m.contains("redirect")),
        "{err:?}"
    );
    assert_eq!(s.requests(), 1);
}

#[tokio::test]
async fn a_transient_failure_while_the_token_is_still_valid_keeps_the_token() {
    let s = setup(Mode::Issue(300)).await;
    assert_eq!(s.client.token().await.expect("token"), "token-1");
    *s.fake.mode.lock() = Mode::Fail(503, json!({}));
    s.clock.advance(Duration::from_secs(280)); // refresh due, 20 s left
    assert_eq!(s.client.token().await.expect("still valid"), "token-1");
    assert_eq!(s.requests(), 2);
    // Right after a failed refresh, no new request for RETRY_PAUSE.
    s.clock.advance(RETRY_PAUSE - Duration::from_millis(1));
    assert_eq!(s.client.token().await.expect("still valid"), "token-1");
    assert_eq!(s.requests(), 2);
    s.clock.advance(Duration::from_millis(1));
    assert_eq!(s.client.token().await.expect("still valid"), "token-1");
    assert_eq!(s.requests(), 3);
    s.clock.advance(Duration::from_secs(19)); // expired now
    assert!(matches!(
        s.client.token().await,
        Err(TokenError::Transient(_))
    ));
    assert_eq!(s.requests(), 4);
    *s.fake.mode.lock() = Mode::Issue(300);
    s.clock.advance(RETRY_PAUSE);
    assert_eq!(s.client.token().await.expect("token"), "token-5");
}

#[tokio::test]
async fn invalidate_forgets_the_token() {
    let s = setup(Mode::Issue(300)).await;
    let first = s.client.token().await.expect("token");
    s.client.invalidate("some-other-token");
    assert_eq!(
        s.client.token().await.expect("token"),
        first,
        "another token does not invalidate"
    );
    assert_eq!(s.requests(), 1);
    s.client.invalidate(&first);
    let second = s.client.token().await.expect("token");
    assert_ne!(second, first);
    assert_eq!(s.requests(), 2);
    // Invalidating the old token again does not drop the new one.
    s.client.invalidate(&first);
    assert_eq!(s.client.token().await.expect("token"), second);
    assert_eq!(s.requests(), 2);
}

#[tokio::test]
async fn assertions_have_the_maskinporten_claims() {
    let s = setup(Mode::Issue(300)).await;
    for _ in 0..5 {
        let token = s.client.token().await.expect("token");
        s.client.invalidate(&token);
        s.clock.advance(Duration::from_secs(1));
    }
    s.assert_no_problems();
    let assertions = s.fake.assertions.lock().clone();
    assert_eq!(assertions.len(), 5);
    let mut jtis = HashSet::new();
    for (i, (claims, kid)) in assertions.iter().enumerate() {
        assert_eq!(kid.as_deref(), Some(KID));
        assert_eq!(claims["iss"], CLIENT);
        assert_eq!(claims["scope"], SCOPE);
        let iat = claims["iat"].as_i64().expect("iat");
        let exp = claims["exp"].as_i64().expect("exp");
        assert_eq!(
            iat,
            START_MS / 1000 + i as i64,
            "iat from the injected clock"
        );
        assert_eq!(exp - iat, 120);
        let jti = claims["jti"].as_str().expect("jti");
        assert!(uuid::Uuid::parse_str(jti).is_ok(), "{jti}");
        assert!(jtis.insert(jti.to_string()), "jti {jti} reused");
    }
}

#[tokio::test]
async fn debug_output_redacts_secrets() {
    let s = setup(Mode::Issue(300)).await;
    let token = s.client.token().await.expect("token");
    let debug = format!("{:?} {:?}", s.client, s.client.config());
    assert!(!debug.contains(&token), "{debug}");
    assert!(!debug.contains("PRIVATE KEY"), "{debug}");
    assert!(debug.contains("[redacted]"));
}

#[tokio::test]
async fn bad_configuration_is_a_config_error() {
    let clock: Arc<dyn Clock> = Arc::new(ManualClock::new(Timestamp(START_MS)));
    let http = token_http_client(Duration::from_secs(1)).expect("http");
    let good = TokenClientConfig::new(
        "http://127.0.0.1:1/token",
        "aud",
        CLIENT,
        keys().private_pem.clone(),
        SCOPE,
    );
    assert!(TokenClient::new(good.clone(), http.clone(), clock.clone()).is_ok());
    let mut bad = good.clone();
    bad.private_key_pem = "not a key".into();
    assert!(matches!(
        TokenClient::new(bad, http.clone(), clock.clone()),
        Err(TokenError::Config(_))
    ));
    let mut bad = good.clone();
    bad.token_endpoint = "ftp://x/token".into();
    assert!(matches!(
        TokenClient::new(bad, http.clone(), clock.clone()),
        Err(TokenError::Config(_))
    ));
    let mut bad = good;
    bad.scope = " ".into();
    assert!(matches!(
        TokenClient::new(bad, http, clock),
        Err(TokenError::Config(_))
    ));
}
