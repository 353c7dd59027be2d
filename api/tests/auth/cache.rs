//! The verification cache: a hot token costs a lookup, never outlives `exp` or 60 s.

use crate::common::*;
use flyt_api::auth::{AuthConfig, AuthError, TrustedIssuer, Verifier};
use jsonwebtoken::Algorithm;
use serde_json::json;
use std::time::Duration;

#[tokio::test]
async fn the_cache_never_accepts_a_token_after_its_exp() {
    let server = JwksServer::start(vec![keys().rsa1.jwk("k1")]).await;
    let (clock, dyn_clock) = manual_clock();
    // No leeway, so `exp` itself is the limit.
    let config = AuthConfig {
        leeway_secs: 0,
        ..config(&server.url())
    };
    let verifier = Verifier::from_config(&config, Vec::<TrustedIssuer>::new(), http(), dyn_clock)
        .expect("verifier");
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["exp"] = json!(now + 10);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    verifier.verify(&token).await.expect("valid");
    clock.advance(Duration::from_millis(9_999));
    verifier.verify(&token).await.expect("still valid (cached)");
    clock.advance(Duration::from_millis(1));
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
    clock.advance(Duration::from_secs(1_000));
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn with_leeway_a_cached_token_expires_at_exp_plus_leeway() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["exp"] = json!(now + 20);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    verifier.verify(&token).await.expect("valid");
    clock.advance(Duration::from_secs(20 + LEEWAY as u64 - 1));
    verifier.verify(&token).await.expect("within the leeway");
    clock.advance(Duration::from_secs(1));
    assert_eq!(verifier.verify(&token).await, Err(AuthError::Expired));
}

#[tokio::test]
async fn a_hot_token_is_served_from_the_cache_for_at_most_60_s() {
    let (server, verifier, clock) = jwks_verifier().await;
    let k = keys();
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["exp"] = json!(now + 3_000);
    let token = sign(Algorithm::RS256, &k.rsa1.encoding, Some("k1"), &claims);
    verifier.verify(&token).await.expect("valid");

    // The issuer drops k1 (and we learn it through a refetch for k2).
    server.set_keys(vec![k.rsa2.jwk("k2")]);
    clock.advance(Duration::from_secs(31));
    let k2 = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&k2).await.expect("k2");
    assert_eq!(server.hits(), 2);

    // The hot k1 token is still served from the cache: a hash lookup, no key needed.
    clock.advance(Duration::from_secs(28));
    verifier.verify(&token).await.expect("cached");
    // 60 s after its verification, it is verified again, and k1 is gone.
    clock.advance(Duration::from_secs(1));
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey { .. })
    ));
}

#[tokio::test]
async fn a_hot_token_is_a_lookup() {
    let (server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    let first = verifier.verify(&token).await.expect("valid");
    let started = std::time::Instant::now();
    for _ in 0..10_000 {
        assert_eq!(verifier.verify(&token).await.as_ref(), Ok(&first));
    }
    // Informational only (no timing assertion, so the test cannot flake).
    eprintln!(
        "cached verification: {:?} per call",
        started.elapsed() / 10_000
    );
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn refused_tokens_are_not_cached() {
    let (_server, verifier, clock) = jwks_verifier().await;
    let now = now_secs(&clock);
    let mut claims = user_claims(now);
    claims["nbf"] = json!(now + LEEWAY + 10);
    let token = sign(Algorithm::RS256, &keys().rsa1.encoding, Some("k1"), &claims);
    assert_eq!(verifier.verify(&token).await, Err(AuthError::NotYetValid));
    clock.advance(Duration::from_secs(10));
    verifier
        .verify(&token)
        .await
        .expect("valid once nbf is reached");
}
