//! The token matrix: every way a token can be wrong gives its own `AuthError`; valid user,
//! organisation and ES256 tokens give the right `Caller`.

use crate::common::*;
use flyt_api::auth::{AuthConfig, AuthError, Caller, IssuerConfig, TrustedIssuer, Verifier};
use jsonwebtoken::{Algorithm, EncodingKey};
use serde_json::json;

#[tokio::test]
async fn valid_user_token_gives_a_user_with_roles_and_scopes() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    let Caller::User(user) = verifier.verify(&token).await.expect("valid") else {
        panic!("not a user")
    };
    assert_eq!(user.person_number, "01017012345");
    assert_eq!(
        user.roles["991825827"].iter().collect::<Vec<_>>(),
        ["DAGL", "REGNA"]
    );
    assert_eq!(user.roles["912345678"].iter().collect::<Vec<_>>(), ["DAGL"]);
    assert!(user.scopes.contains("altinn:instances.read"));
    assert!(user.scopes.contains("altinn:instances.write"));
    assert_eq!(user.scopes.len(), 2);
}

#[tokio::test]
async fn valid_org_token_gives_an_organisation() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &org_claims(now_secs(&clock)),
    );
    let caller = verifier.verify(&token).await.expect("valid");
    let Caller::Organisation(org) = &caller else {
        panic!("not an organisation")
    };
    assert_eq!(org.organisation_number, "991825827");
    assert_eq!(org.org_code.as_deref(), Some("ttd"));
    assert_eq!(org.client_id.as_deref(), Some("client-a"));
    assert!(caller.has_scope("altinn:serviceowner/instances.write"));
}

#[tokio::test]
async fn es256_is_accepted() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::ES256,
        &keys().ec,
        Some("ec1"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(verifier.verify(&token).await, Ok(Caller::User(_))));
}

#[tokio::test]
async fn malformed_tokens_are_refused() {
    let (server, verifier, clock) = jwks_verifier().await;
    let valid = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    let parts: Vec<&str> = valid.split('.').collect();
    for garbage in [
        "not-a-jwt".to_string(),                                      // one part
        format!("{}.{}", parts[0], parts[1]),                         // two parts
        format!("%%%.{}.{}", parts[1], parts[2]),                     // header not base64url
        format!("{}.{}.{}", b64(&json!([1, 2])), parts[1], parts[2]), // header not an object
        format!("{}.bm90IGpzb24.{}", parts[0], parts[2]),             // payload not JSON
    ] {
        let err = verifier.verify(&garbage).await.expect_err(&garbage);
        assert!(matches!(err, AuthError::Malformed(_)), "{garbage}: {err:?}");
    }
    assert_eq!(server.hits(), 0, "garbage never reaches the JWKS endpoint");
}

#[tokio::test]
async fn alg_none_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = format!(
        "{}.{}.",
        b64(&json!({"alg": "none", "typ": "JWT", "kid": "k1"})),
        b64(&user_claims(now_secs(&clock)))
    );
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::UnsupportedAlgorithm("none".into()))
    );
}

#[tokio::test]
async fn hs256_signed_with_the_rsa_public_key_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    // The classic key-confusion attack: HMAC with the public key's PEM bytes as the secret.
    let secret = EncodingKey::from_secret(keys().rsa1.public_pem.as_bytes());
    let token = sign(
        Algorithm::HS256,
        &secret,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::UnsupportedAlgorithm("HS256".into()))
    );
}

#[tokio::test]
async fn an_algorithm_that_does_not_match_the_key_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    // ES256-signed, but naming the RSA key.
    let token = sign(
        Algorithm::ES256,
        &keys().ec,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::AlgorithmMismatch { .. })
    ));
}

#[tokio::test]
async fn a_tampered_payload_is_a_bad_signature() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now),
    );
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = user_claims(now);
    claims["pid"] = json!("31129912345");
    let tampered = format!("{}.{}.{}", parts[0], b64(&claims), parts[2]);
    assert_eq!(
        verifier.verify(&tampered).await,
        Err(AuthError::BadSignature)
    );
    // Signed by a key nobody trusts, under a trusted kid.
    let forged = sign(
        Algorithm::RS256,
        &keys().stranger.encoding,
        Some("k1"),
        &claims,
    );
    assert_eq!(verifier.verify(&forged).await, Err(AuthError::BadSignature));
}

#[tokio::test]
async fn expiry_honours_the_leeway_exactly() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["exp"] = json!(now - LEEWAY);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
    claims["exp"] = json!(now - LEEWAY + 1);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(verifier.verify(&token).await.is_ok(), "within the leeway");
}

#[tokio::test]
async fn not_yet_valid_beyond_the_leeway_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["nbf"] = json!(now + LEEWAY + 1);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::NotYetValid));
    claims["nbf"] = json!(now + LEEWAY);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(verifier.verify(&token).await.is_ok(), "within the leeway");
}

#[tokio::test]
async fn a_wrong_issuer_is_unknown() {
    let (server, verifier, clock) = jwks_verifier().await;
    let mut claims = user_claims(now_secs(&clock));
    claims["iss"] = json!("https://evil.example");
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownIssuer("https://evil.example".into()))
    );
    // `iss` given as an array is not an issuer.
    claims["iss"] = json!([ISSUER]);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::BadClaim(_))
    ));
    assert_eq!(server.hits(), 0);
}

#[tokio::test]
async fn a_wrong_audience_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let mut claims = user_claims(now_secs(&clock));
    claims["aud"] = json!("someone-else");
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::WrongAudience));
    // An array naming us is fine.
    claims["aud"] = json!(["someone-else", AUDIENCE]);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(verifier.verify(&token).await.is_ok());
}

#[tokio::test]
async fn exp_and_aud_are_required() {
    let (_server, verifier, clock) = jwks_verifier().await;
    for claim in ["exp", "aud"] {
        let mut claims = user_claims(now_secs(&clock));
        claims.as_object_mut().expect("object").remove(claim);
        let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
        assert_eq!(
            verifier.verify(&token).await,
            Err(AuthError::MissingClaim(claim.into())),
            "{claim}"
        );
    }
    let mut claims = user_claims(now_secs(&clock));
    claims.as_object_mut().expect("object").remove("iss");
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::MissingClaim("iss".into()))
    );
}

#[tokio::test]
async fn a_malformed_exp_is_named_not_called_missing() {
    // Regression: an `exp` that is a string, negative, null or an array was reported as "lacks
    // the required claim `exp`". (A fractional NumericDate is valid, RFC 7519 section 2.)
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    for bad in [
        json!("tomorrow"),
        json!(format!("{}", now + 600)),
        json!(-5),
        json!(null),
        json!([now + 600]),
    ] {
        let mut claims = user_claims(now);
        claims["exp"] = bad.clone();
        let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
        match verifier.verify(&token).await {
            Err(AuthError::BadClaim(message)) => {
                assert!(
                    message.contains("`exp` must be a NumericDate"),
                    "{bad}: {message}"
                );
                assert!(message.contains("it is "), "{bad}: {message}");
            }
            other => panic!("{bad}: {other:?}"),
        }
    }
}

#[tokio::test]
async fn an_unknown_kid_is_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("nope"),
        &user_claims(now_secs(&clock)),
    );
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey {
            issuer: ISSUER.into(),
            kid: "nope".into()
        })
    );
}

#[tokio::test]
async fn a_token_without_kid_needs_an_issuer_with_one_key() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        None,
        &user_claims(now_secs(&clock)),
    );
    // The test issuer has two keys (k1, ec1).
    assert_eq!(
        verifier.verify(&token).await,
        Err(AuthError::AmbiguousKey {
            issuer: ISSUER.into(),
            keys: 2
        })
    );
}

#[tokio::test]
async fn claims_that_name_no_caller_are_refused() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let mut claims = user_claims(now_secs(&clock));
    claims.as_object_mut().expect("object").remove("pid");
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::BadClaim(_))
    ));
    let mut claims = user_claims(now_secs(&clock));
    claims["roles"] = json!(["DAGL"]);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert!(
        matches!(verifier.verify(&token).await, Err(AuthError::BadClaim(m)) if m.contains("DAGL"))
    );
}

#[tokio::test]
async fn the_error_messages_say_what_is_wrong() {
    assert_eq!(
        AuthError::Missing.to_string(),
        "no bearer token: send `Authorization: Bearer <token>`"
    );
    assert!(
        AuthError::UnsupportedAlgorithm("HS256".into())
            .to_string()
            .contains("HS256")
    );
    assert!(
        AuthError::UnknownKey {
            issuer: "i".into(),
            kid: "k9".into()
        }
        .to_string()
        .contains("k9")
    );
}

#[tokio::test]
async fn a_pem_file_issuer_needs_no_jwks() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pem = dir.path().join("issuer.pem");
    std::fs::write(&pem, &keys().rsa1.public_pem).expect("write");
    let config = AuthConfig {
        issuers: vec![IssuerConfig {
            issuer: ISSUER.into(),
            pem_file: Some(pem.clone()),
            ..IssuerConfig::default()
        }],
        ..AuthConfig::default()
    };
    let (clock, dyn_clock) = manual_clock();
    let verifier =
        Verifier::from_config(&config, Vec::new(), http(), dyn_clock.clone()).expect("verifier");
    // The only key, without a configured kid, matches tokens with or without one.
    for kid in [None, Some("whatever")] {
        let token = sign(
            Algorithm::RS256,
            &keys().rsa1.encoding,
            kid,
            &user_claims(now_secs(&clock)),
        );
        assert!(
            matches!(verifier.verify(&token).await, Ok(Caller::User(_))),
            "{kid:?}"
        );
    }
    let token = sign(
        Algorithm::RS256,
        &keys().rsa2.encoding,
        None,
        &user_claims(now_secs(&clock)),
    );
    assert_eq!(verifier.verify(&token).await, Err(AuthError::BadSignature));

    // With a kid, only that kid.
    let mut with_kid = config.clone();
    with_kid.issuers[0].pem_kid = Some("pem-1".into());
    let verifier =
        Verifier::from_config(&with_kid, Vec::new(), http(), dyn_clock.clone()).expect("verifier");
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("other"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey { .. })
    ));
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("pem-1"),
        &user_claims(now_secs(&clock)),
    );
    assert!(verifier.verify(&token).await.is_ok());

    // An issuer trusted twice, and a config with both key sources, are refused.
    let twice = vec![
        TrustedIssuer::from_config(&config.issuers[0]).expect("issuer"),
        TrustedIssuer::with_jwks(ISSUER, "http://127.0.0.1:1/jwks"),
    ];
    let err = Verifier::new(&config, twice, http(), dyn_clock.clone()).expect_err("twice");
    assert!(err.contains("twice"), "{err}");
    let mut both = config.clone();
    both.issuers[0].jwks_url = Some("http://127.0.0.1:1/jwks".into());
    assert!(Verifier::from_config(&both, Vec::new(), http(), dyn_clock).is_err());
}

#[test]
fn the_config_has_documented_defaults_and_refuses_unknown_keys() {
    let config: AuthConfig = toml::from_str("").expect("empty config");
    assert_eq!(config, AuthConfig::default());
    assert_eq!(config.audiences, ["flyt"]);
    assert_eq!(
        (
            config.leeway_secs,
            config.jwks_refetch_min_secs,
            config.jwks_timeout_ms,
            config.jwks_max_age_secs
        ),
        (30, 30, 5_000, 3_600)
    );
    assert!(toml::from_str::<AuthConfig>("leeway = 5").is_err());
    let parsed: AuthConfig = toml::from_str(
        "[[issuers]]\nissuer = \"https://idp.example\"\njwks_url = \"https://idp.example/jwks\"\n",
    )
    .expect("issuer");
    assert_eq!(
        parsed.issuers[0].jwks_url.as_deref(),
        Some("https://idp.example/jwks")
    );
    // Round trip (the server writes its development config as TOML).
    let text = toml::to_string(&parsed).expect("serialize");
    assert_eq!(
        toml::from_str::<AuthConfig>(&text).expect("reparse"),
        parsed
    );
}
