//! The development authority over real HTTP: the JWT grant, its refusals, user tokens,
//! metadata, JWKS, and key persistence.

use crate::common::*;
use flyt_api::auth::{AuthConfig, Caller, IssuerConfig, Verifier};
use flyt_api::authority::{ClientConfig, DevAuthority, DevAuthorityConfig, JWT_BEARER_GRANT};
use flyt_engine::time::ManualClock;
use flyt_hooks::token_client::{TokenClient, TokenClientConfig, TokenError, token_http_client};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;

const CLIENT: &str = "client-a";
const SCOPE: &str = "altinn:serviceowner/instances.write";

struct Authority {
    authority: Arc<DevAuthority>,
    base: String,
    clock: ManualClock,
    _dir: tempfile::TempDir,
}

impl Authority {
    fn issuer(&self) -> String {
        format!("{}/authority", self.base)
    }

    fn token_url(&self) -> String {
        format!("{}/authority/token", self.base)
    }

    fn now(&self) -> i64 {
        now_secs(&self.clock)
    }

    /// A valid assertion for `client-a`.
    fn assertion_claims(&self) -> Value {
        let now = self.now();
        json!({
            "aud": self.issuer(),
            "iss": CLIENT,
            "scope": SCOPE,
            "iat": now,
            "exp": now + 120,
            "jti": uuid::Uuid::new_v4().to_string(),
        })
    }

    async fn post_form(&self, body: String) -> (u16, Value) {
        let response = http()
            .post(self.token_url())
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()
            .await
            .expect("request");
        let status = response.status().as_u16();
        assert_eq!(
            response
                .headers()
                .get("cache-control")
                .and_then(|v| v.to_str().ok()),
            Some("no-store")
        );
        (status, response.json().await.expect("json"))
    }

    async fn grant(&self, assertion: &str) -> (u16, Value) {
        self.post_form(format!(
            "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion={assertion}"
        ))
        .await
    }

    /// A verifier trusting the authority in-process.
    fn verifier(&self) -> Verifier {
        let dyn_clock: Arc<dyn flyt_engine::time::Clock> = Arc::new(self.clock.clone());
        Verifier::new(
            &AuthConfig::default(),
            vec![self.authority.trusted_issuer()],
            http(),
            dyn_clock,
        )
        .expect("verifier")
    }
}

fn client_config(dir: &std::path::Path) -> DevAuthorityConfig {
    let pem = dir.join("client-a.pem");
    std::fs::write(&pem, &keys().client.public_pem).expect("write client key");
    DevAuthorityConfig {
        enabled: true,
        clients: vec![ClientConfig {
            client_id: CLIENT.into(),
            organisation_number: "991825827".into(),
            org_code: Some("ttd".into()),
            public_key_pem_file: pem,
            scopes: vec![SCOPE.into(), "flyt:designer".into()],
        }],
        ..DevAuthorityConfig::default()
    }
}

/// Pre-seeds the authority's signing key in `dir`, so tests do not each generate one.
fn seed_in(dir: &std::path::Path) {
    std::fs::create_dir_all(dir).expect("mkdir");
    std::fs::write(dir.join("signing-key.pem"), &keys().rsa2.private_pem).expect("seed key");
}

async fn start_seeded() -> Authority {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_in(&dir.path().join("authority"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    let (clock, dyn_clock) = manual_clock();
    let authority = Arc::new(
        DevAuthority::load_or_create(
            &dir.path().join("authority"),
            format!("{base}/authority/"),
            &client_config(dir.path()),
            dyn_clock,
        )
        .expect("authority"),
    );
    let app = axum::Router::new()
        .nest("/authority", DevAuthority::router())
        .with_state(authority.clone());
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Authority {
        authority,
        base,
        clock,
        _dir: dir,
    }
}

fn sign_assertion(key: &EncodingKey, claims: &Value) -> String {
    sign(Algorithm::RS256, key, Some("client-a-key"), claims)
}

#[tokio::test]
async fn the_jwt_grant_issues_an_organisation_token_that_verifies() {
    let a = start_seeded().await;
    assert_eq!(
        a.authority.issuer(),
        a.issuer(),
        "the trailing slash is dropped"
    );
    let assertion = sign_assertion(&keys().client.encoding, &a.assertion_claims());
    let (status, body) = a.grant(&assertion).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], SCOPE);
    let token = body["access_token"].as_str().expect("token");

    // In-process trust.
    let caller = a.verifier().verify(token).await.expect("verifies");
    let Caller::Organisation(org) = &caller else {
        panic!("not an organisation: {caller:?}")
    };
    assert_eq!(org.organisation_number, "991825827");
    assert_eq!(org.org_code.as_deref(), Some("ttd"));
    assert_eq!(org.client_id.as_deref(), Some(CLIENT));
    assert!(caller.has_scope(SCOPE));
    assert!(
        !caller.has_scope("flyt:designer"),
        "only the requested scopes"
    );

    // Trust over HTTP, through the published JWKS.
    let dyn_clock: Arc<dyn flyt_engine::time::Clock> = Arc::new(a.clock.clone());
    let over_http = Verifier::from_config(
        &AuthConfig {
            issuers: vec![IssuerConfig {
                issuer: a.issuer(),
                jwks_url: Some(format!("{}/jwks", a.issuer())),
                ..IssuerConfig::default()
            }],
            ..AuthConfig::default()
        },
        Vec::new(),
        http(),
        dyn_clock,
    )
    .expect("verifier");
    assert_eq!(
        over_http.verify(token).await.expect("verifies over JWKS"),
        caller
    );

    // The token has the Maskinporten shape.
    let payload: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            token.split('.').nth(1).expect("payload"),
        )
        .expect("b64"),
    )
    .expect("json");
    assert_eq!(
        payload["consumer"],
        json!({"authority": "iso6523-actorid-upis", "ID": "0192:991825827"})
    );
    assert_eq!(payload["urn:altinn:org"], "ttd");
    assert_eq!(payload["client_id"], CLIENT);
    assert_eq!(payload["aud"], "flyt");
    assert_eq!(payload["iss"], a.issuer());
    assert_eq!(payload["exp"].as_i64(), Some(a.now() + 300));
    for claim in ["iat", "nbf", "jti"] {
        assert!(payload.get(claim).is_some(), "{claim}");
    }
}

#[tokio::test]
async fn the_token_client_gets_tokens_from_the_authority() {
    let a = start_seeded().await;
    let dyn_clock: Arc<dyn flyt_engine::time::Clock> = Arc::new(a.clock.clone());
    let mut config = TokenClientConfig::new(
        a.token_url(),
        a.issuer(),
        CLIENT,
        keys().client.private_pem.clone(),
        SCOPE,
    );
    config.kid = Some("client-a-key".into());
    let client = TokenClient::new(
        config,
        token_http_client(Duration::from_secs(10)).expect("http"),
        dyn_clock,
    )
    .expect("client");
    let token = client.token().await.expect("token");
    assert_eq!(client.token().await.expect("cached"), token);
    assert!(matches!(
        a.verifier().verify(&token).await,
        Ok(Caller::Organisation(_))
    ));

    // A scope the client may not have is refused, not retried.
    let dyn_clock: Arc<dyn flyt_engine::time::Clock> = Arc::new(a.clock.clone());
    let config = TokenClientConfig::new(
        a.token_url(),
        a.issuer(),
        CLIENT,
        keys().client.private_pem.clone(),
        "altinn:admin",
    );
    let client = TokenClient::new(
        config,
        token_http_client(Duration::from_secs(10)).expect("http"),
        dyn_clock,
    )
    .expect("client");
    let err = client.token().await.expect_err("refused");
    assert!(
        matches!(&err, TokenError::Rejected(m) if m.contains("invalid_scope")),
        "{err:?}"
    );
}

async fn assert_refused(a: &Authority, assertion: &str, status: u16, error: &str, says: &str) {
    let (got, body) = a.grant(assertion).await;
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(error)),
        "{body}"
    );
    let description = body["error_description"].as_str().expect("description");
    assert!(
        description.contains(says),
        "`{description}` should say `{says}`"
    );
}

#[tokio::test]
async fn a_bad_signature_is_an_invalid_grant() {
    let a = start_seeded().await;
    let assertion = sign_assertion(&keys().stranger.encoding, &a.assertion_claims());
    assert_refused(&a, &assertion, 400, "invalid_grant", "signature").await;
}

#[tokio::test]
async fn a_wrong_audience_is_an_invalid_grant() {
    let a = start_seeded().await;
    let mut claims = a.assertion_claims();
    claims["aud"] = json!("https://test.maskinporten.no/");
    let assertion = sign_assertion(&keys().client.encoding, &claims);
    assert_refused(&a, &assertion, 400, "invalid_grant", "`aud`").await;
    // The issuer with a trailing slash and the token endpoint are fine.
    for aud in [format!("{}/", a.issuer()), a.token_url()] {
        let mut claims = a.assertion_claims();
        claims["aud"] = json!(aud);
        let (status, body) = a
            .grant(&sign_assertion(&keys().client.encoding, &claims))
            .await;
        assert_eq!(status, 200, "{aud}: {body}");
    }
}

#[tokio::test]
async fn an_assertion_living_longer_than_120_s_is_an_invalid_grant() {
    let a = start_seeded().await;
    let mut claims = a.assertion_claims();
    claims["exp"] = json!(a.now() + 121);
    let assertion = sign_assertion(&keys().client.encoding, &claims);
    assert_refused(&a, &assertion, 400, "invalid_grant", "at most 120 s").await;
}

#[tokio::test]
async fn an_expired_or_future_assertion_is_an_invalid_grant() {
    let a = start_seeded().await;
    let mut claims = a.assertion_claims();
    claims["iat"] = json!(a.now() - 200);
    claims["exp"] = json!(a.now() - 80);
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &claims),
        400,
        "invalid_grant",
        "expired",
    )
    .await;
    let mut claims = a.assertion_claims();
    claims["iat"] = json!(a.now() + 11);
    claims["exp"] = json!(a.now() + 100);
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &claims),
        400,
        "invalid_grant",
        "future",
    )
    .await;
    let mut claims = a.assertion_claims();
    claims.as_object_mut().expect("object").remove("iat");
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &claims),
        400,
        "invalid_grant",
        "`iat`",
    )
    .await;
}

#[tokio::test]
async fn a_reused_jti_is_an_invalid_grant() {
    let a = start_seeded().await;
    let assertion = sign_assertion(&keys().client.encoding, &a.assertion_claims());
    let (status, _) = a.grant(&assertion).await;
    assert_eq!(status, 200);
    assert_refused(&a, &assertion, 400, "invalid_grant", "used before").await;
    // The same jti in a fresh assertion is still a replay.
    let mut claims = a.assertion_claims();
    let jti = json!("fixed-jti");
    claims["jti"] = jti.clone();
    let (status, _) = a
        .grant(&sign_assertion(&keys().client.encoding, &claims))
        .await;
    assert_eq!(status, 200);
    a.clock.advance(Duration::from_secs(1));
    let mut claims = a.assertion_claims();
    claims["jti"] = jti;
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &claims),
        400,
        "invalid_grant",
        "used before",
    )
    .await;
    // No jti at all.
    let mut claims = a.assertion_claims();
    claims.as_object_mut().expect("object").remove("jti");
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &claims),
        400,
        "invalid_grant",
        "`jti`",
    )
    .await;
}

#[tokio::test]
async fn an_unknown_client_is_an_invalid_client() {
    let a = start_seeded().await;
    let mut claims = a.assertion_claims();
    claims["iss"] = json!("client-z");
    let assertion = sign_assertion(&keys().client.encoding, &claims);
    assert_refused(&a, &assertion, 401, "invalid_client", "client-z").await;
}

#[tokio::test]
async fn a_scope_not_allowed_is_an_invalid_scope() {
    let a = start_seeded().await;
    let mut claims = a.assertion_claims();
    claims["scope"] = json!(format!("{SCOPE} altinn:admin"));
    let assertion = sign_assertion(&keys().client.encoding, &claims);
    assert_refused(&a, &assertion, 400, "invalid_scope", "altinn:admin").await;
    // The refused request did not burn its jti.
    claims["scope"] = json!(SCOPE);
    let mut fixed = claims.clone();
    fixed["jti"] = json!("not-burnt");
    let mut first = claims;
    first["jti"] = json!("not-burnt");
    first["scope"] = json!("altinn:admin");
    assert_refused(
        &a,
        &sign_assertion(&keys().client.encoding, &first),
        400,
        "invalid_scope",
        "altinn:admin",
    )
    .await;
    let (status, body) = a
        .grant(&sign_assertion(&keys().client.encoding, &fixed))
        .await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn request_errors_are_rfc_6749_errors() {
    let a = start_seeded().await;
    let assertion = sign_assertion(&keys().client.encoding, &a.assertion_claims());
    let (status, body) = a
        .post_form(format!(
            "grant_type=client_credentials&assertion={assertion}"
        ))
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, body) = a
        .post_form("grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer".into())
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    assert!(
        body["error_description"]
            .as_str()
            .unwrap_or("")
            .contains("assertion")
    );
    let (status, body) = a.post_form(format!("assertion={assertion}")).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (400, Some("invalid_request"))
    );
    // JSON instead of a form.
    let response = http()
        .post(a.token_url())
        .json(&json!({"grant_type": JWT_BEARER_GRANT, "assertion": assertion}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
    // An HS256 assertion, and garbage.
    let hs = sign(
        Algorithm::HS256,
        &EncodingKey::from_secret(keys().client.public_pem.as_bytes()),
        None,
        &a.assertion_claims(),
    );
    assert_refused(&a, &hs, 400, "invalid_grant", "RS256").await;
    assert_refused(&a, "garbage", 400, "invalid_grant", "not a JWT").await;
}

#[tokio::test]
async fn the_user_token_endpoint_issues_user_tokens() {
    let a = start_seeded().await;
    let response = http()
        .post(format!("{}/user-token", a.issuer()))
        .json(&json!({"pid": "01017012345", "roles": ["991825827:DAGL"], "scope": "altinn:instances.read"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    let body: Value = response.json().await.expect("json");
    let token = body["access_token"].as_str().expect("token");
    let Caller::User(user) = a.verifier().verify(token).await.expect("verifies") else {
        panic!("not a user")
    };
    assert_eq!(user.person_number, "01017012345");
    assert!(user.roles["991825827"].contains("DAGL"));
    assert!(user.scopes.contains("altinn:instances.read"));

    for bad in [
        json!({"pid": "123"}),
        json!({"pid": "01017012345", "roles": ["DAGL"]}),
        json!({"pid": "01017012345", "extra": 1}),
    ] {
        let response = http()
            .post(format!("{}/user-token", a.issuer()))
            .json(&bad)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_request", "{bad}");
    }
}

#[tokio::test]
async fn the_org_token_endpoint_issues_organisation_tokens() {
    let a = start_seeded().await;
    let response = http()
        .post(format!("{}/org-token", a.issuer()))
        .json(&json!({"organisationNumber": "991825827", "orgCode": "ttd", "scope": "altinn:serviceowner/instances.write flyt:designer"}))
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 200);
    assert_eq!(
        response
            .headers()
            .get("cache-control")
            .and_then(|v| v.to_str().ok()),
        Some("no-store")
    );
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(
        body["scope"],
        "altinn:serviceowner/instances.write flyt:designer"
    );
    let token = body["access_token"].as_str().expect("token");
    let Caller::Organisation(org) = a.verifier().verify(token).await.expect("verifies") else {
        panic!("not an organisation")
    };
    assert_eq!(org.organisation_number, "991825827");
    assert_eq!(org.org_code.as_deref(), Some("ttd"));
    assert!(org.client_id.is_none());
    assert!(org.scopes.contains("altinn:serviceowner/instances.write"));
    assert!(org.scopes.contains("flyt:designer"));

    // Without an org code: a consumer-only token.
    let body: Value = http()
        .post(format!("{}/org-token", a.issuer()))
        .json(&json!({"organisationNumber": "991825827", "scope": "x"}))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    let token = body["access_token"].as_str().expect("token");
    let Caller::Organisation(org) = a.verifier().verify(token).await.expect("verifies") else {
        panic!("not an organisation")
    };
    assert!(org.org_code.is_none());

    for bad in [
        json!({"organisationNumber": "12345678"}),
        json!({"organisationNumber": "99182582a"}),
        json!({"organisationNumber": "991825827", "orgCode": "t d"}),
        json!({"organisationNumber": "991825827", "extra": 1}),
        json!({"orgCode": "ttd"}),
    ] {
        let response = http()
            .post(format!("{}/org-token", a.issuer()))
            .json(&bad)
            .send()
            .await
            .expect("request");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let body: Value = response.json().await.expect("json");
        assert_eq!(body["error"], "invalid_request", "{bad}");
        assert!(body["error_description"].is_string(), "{bad}");
    }

    // The same media-type check as /user-token.
    let response = http()
        .post(format!("{}/org-token", a.issuer()))
        .header("content-type", "text/plain")
        .body(r#"{"organisationNumber": "991825827"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(response.status().as_u16(), 400);
    let body: Value = response.json().await.expect("json");
    assert_eq!(body["error"], "invalid_request");
}

#[tokio::test]
async fn metadata_and_jwks_are_published() {
    let a = start_seeded().await;
    let metadata: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server",
            a.issuer()
        ))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(metadata["issuer"], a.issuer());
    assert_eq!(metadata["token_endpoint"], a.token_url());
    assert_eq!(metadata["jwks_uri"], format!("{}/jwks", a.issuer()));
    assert_eq!(metadata["grant_types_supported"], json!([JWT_BEARER_GRANT]));
    assert_eq!(
        metadata["token_endpoint_auth_methods_supported"],
        json!(["private_key_jwt"])
    );

    let jwks: Value = http()
        .get(format!("{}/jwks", a.issuer()))
        .send()
        .await
        .expect("request")
        .json()
        .await
        .expect("json");
    assert_eq!(jwks, a.authority.jwks());
    let key = &jwks["keys"][0];
    assert_eq!(key["kid"], a.authority.kid());
    assert_eq!(
        (
            key["kty"].as_str(),
            key["alg"].as_str(),
            key["use"].as_str()
        ),
        (Some("RSA"), Some("RS256"), Some("sig"))
    );
    assert_eq!(a.authority.kid().len(), 16);
}

#[tokio::test]
async fn keys_persist_across_load_or_create() {
    let dir = tempfile::tempdir().expect("tempdir");
    let keydir = dir.path().join("authority");
    let config = DevAuthorityConfig::default();
    let (clock, dyn_clock) = manual_clock();
    // First start: a new key is generated.
    let first = DevAuthority::load_or_create(
        &keydir,
        "http://127.0.0.1:8080/authority".into(),
        &config,
        dyn_clock.clone(),
    )
    .expect("first");
    let kid_file = std::fs::read_to_string(keydir.join("kid")).expect("kid file");
    assert_eq!(kid_file.trim(), first.kid());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(keydir.join("signing-key.pem"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let pem = std::fs::read_to_string(keydir.join("signing-key.pem")).expect("pem");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"), "PKCS#8");
    let token = first.user_token("01017012345", &[], &[]).expect("token");

    // Second start: the same key.
    let second = DevAuthority::load_or_create(
        &keydir,
        "http://127.0.0.1:8080/authority".into(),
        &config,
        dyn_clock.clone(),
    )
    .expect("second");
    assert_eq!(second.kid(), first.kid());
    assert_eq!(second.jwks(), first.jwks());
    let verifier = Verifier::new(
        &AuthConfig::default(),
        vec![second.trusted_issuer()],
        http(),
        dyn_clock,
    )
    .expect("verifier");
    assert!(matches!(verifier.verify(&token).await, Ok(Caller::User(_))));
    let _ = clock;
}

#[tokio::test]
async fn org_and_user_tokens_validate_their_inputs() {
    let a = start_seeded().await;
    assert!(a.authority.org_token("12345678", None, &[], None).is_err());
    assert!(
        a.authority
            .org_token("991825827", None, &["a b".into()], None)
            .is_err()
    );
    assert!(a.authority.user_token("0101701234", &[], &[]).is_err());
    assert!(
        a.authority
            .user_token("01017012345", &["991825827-DAGL".into()], &[])
            .is_err()
    );
    let token = a
        .authority
        .org_token("991825827", None, &["x".into()], None)
        .expect("token");
    let caller = a.verifier().verify(&token).await.expect("verifies");
    assert!(
        matches!(caller, Caller::Organisation(o) if o.org_code.is_none() && o.client_id.is_none())
    );
}

#[tokio::test]
async fn bad_client_configuration_is_refused_at_load() {
    let dir = tempfile::tempdir().expect("tempdir");
    seed_in(&dir.path().join("authority"));
    let (_clock, dyn_clock) = manual_clock();
    let mut config = client_config(dir.path());
    config.clients[0].organisation_number = "123".into();
    let err = DevAuthority::load_or_create(
        &dir.path().join("authority"),
        "http://x/authority".into(),
        &config,
        dyn_clock.clone(),
    )
    .expect_err("bad orgno");
    assert!(err.contains("9 digits"), "{err}");
    let mut config = client_config(dir.path());
    config.clients[0].public_key_pem_file = dir.path().join("missing.pem");
    let err = DevAuthority::load_or_create(
        &dir.path().join("authority"),
        "http://x/authority".into(),
        &config,
        dyn_clock.clone(),
    )
    .expect_err("missing key");
    assert!(err.contains("missing.pem"), "{err}");
    let mut config = client_config(dir.path());
    config.clients.push(config.clients[0].clone());
    let err = DevAuthority::load_or_create(
        &dir.path().join("authority"),
        "http://x/authority".into(),
        &config,
        dyn_clock,
    )
    .expect_err("twice");
    assert!(err.contains("twice"), "{err}");
}

#[test]
fn the_authority_config_has_documented_defaults() {
    let config: DevAuthorityConfig = toml::from_str("").expect("empty");
    assert_eq!(config, DevAuthorityConfig::default());
    assert!(!config.enabled);
    assert_eq!(
        (config.audience.as_str(), config.token_lifetime_secs),
        ("flyt", 300)
    );
    assert!(config.clients.is_empty());
    assert!(toml::from_str::<DevAuthorityConfig>("lifetime = 5").is_err());
    let dir = tempfile::tempdir().expect("tempdir");
    let text = toml::to_string(&client_config(dir.path())).expect("toml");
    assert!(text.contains("client_id = \"client-a\""), "{text}");
}
