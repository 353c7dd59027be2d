//! JWKS fetching: rotation, outages, and floods of unknown kids.

use crate::common::*;
use flyt_api::auth::{AuthError, TrustedIssuer, Verifier};
use jsonwebtoken::Algorithm;
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;

#[tokio::test]
async fn keys_are_fetched_once_and_reused() {
    let (server, verifier, clock) = jwks_verifier().await;
    for _ in 0..5 {
        let token = sign(
            Algorithm::RS256,
            &keys().rsa1.encoding,
            Some("k1"),
            &user_claims(now_secs(&clock)),
        );
        verifier.verify(&token).await.expect("valid");
    }
    assert_eq!(server.hits(), 1);
    assert_eq!(verifier.jwks_fetches(ISSUER), 1);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_exactly_one_refetch() {
    let (server, verifier, clock) = jwks_verifier().await;
    let k = keys();
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    assert_eq!(server.hits(), 1);

    // The issuer rotates: k2 is published next to k1.
    server.set_keys(vec![k.rsa1.jwk("k1"), k.rsa2.jwk("k2")]);
    clock.advance(Duration::from_secs(31));
    let token = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k2 after one refetch");
    assert_eq!(server.hits(), 2, "exactly one refetch");
    let token = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k2 again");
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1 still");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn a_new_kid_within_the_refetch_interval_waits_for_the_interval() {
    let (server, verifier, clock) = jwks_verifier().await;
    let k = keys();
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    server.set_keys(vec![k.rsa1.jwk("k1"), k.rsa2.jwk("k2")]);
    clock.advance(Duration::from_secs(29));
    let token = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(
        verifier.verify(&token).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(server.hits(), 1, "rate limited: no fetch");
    clock.advance(Duration::from_secs(1));
    verifier.verify(&token).await.expect("after the interval");
    assert_eq!(server.hits(), 2);
}

#[tokio::test]
async fn cached_keys_keep_working_when_the_jwks_server_is_down() {
    let (mut server, verifier, clock) = jwks_verifier().await;
    let k = keys();
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    server.stop().await;

    // An unknown kid triggers a refetch, which fails; the cached keys stay.
    clock.advance(Duration::from_secs(31));
    let unknown = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(
        verifier.verify(&unknown).await,
        Err(AuthError::UnknownKey { .. })
    ));
    assert_eq!(verifier.jwks_fetches(ISSUER), 2, "the refetch was tried");

    // Past the max age too: a background refresh fails, the keys still work.
    clock.advance(Duration::from_secs(3_600));
    for _ in 0..3 {
        let token = sign(
            Algorithm::RS256,
            &k.rsa1.encoding,
            Some("k1"),
            &user_claims(now_secs(&clock)),
        );
        verifier
            .verify(&token)
            .await
            .expect("cached k1 still works");
    }
    let token = sign(
        Algorithm::ES256,
        &k.ec,
        Some("ec1"),
        &user_claims(now_secs(&clock)),
    );
    verifier
        .verify(&token)
        .await
        .expect("cached ec1 still works");
    assert_eq!(server.hits(), 1);
}

#[tokio::test]
async fn keys_unavailable_when_the_first_fetch_fails() {
    let mut server = JwksServer::start(vec![keys().rsa1.jwk("k1")]).await;
    let url = server.url();
    server.stop().await;
    let (clock, dyn_clock) = manual_clock();
    let verifier = Verifier::from_config(
        &config(&url),
        Vec::<TrustedIssuer>::new(),
        http(),
        dyn_clock,
    )
    .expect("verifier");
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    let err = verifier.verify(&token).await.expect_err("no keys");
    assert!(
        matches!(&err, AuthError::KeysUnavailable(m) if m.contains(&url)),
        "{err:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stale_jwks_is_refreshed_in_the_background() {
    let (server, verifier, clock) = jwks_verifier().await;
    let k = keys();
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    server.set_keys(vec![k.rsa2.jwk("k2")]);
    clock.advance(Duration::from_secs(3_600));
    // Served from the stale cache at once; the refresh runs in the background.
    let token = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier
        .verify(&token)
        .await
        .expect("stale k1 still served");
    // Wait (without sleeping) until the refreshed set is installed: k2 is known.
    let k2 = sign(
        Algorithm::RS256,
        &k.rsa2.encoding,
        Some("k2"),
        &user_claims(now_secs(&clock)),
    );
    tokio::time::timeout(Duration::from_secs(10), async {
        while verifier.verify(&k2).await.is_err() {
            tokio::task::yield_now().await;
        }
    })
    .await
    .expect("k2 is known after the background refresh");
    assert_eq!(server.hits(), 2, "one background fetch, no more");
    let old = sign(
        Algorithm::RS256,
        &k.rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    assert!(matches!(
        verifier.verify(&old).await,
        Err(AuthError::UnknownKey { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_flood_of_unknown_kids_causes_at_most_one_fetch() {
    let (server, verifier, clock) = jwks_verifier().await;
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    assert_eq!(server.hits(), 1);
    clock.advance(Duration::from_secs(31)); // a refetch is allowed again

    let claims = b64(&user_claims(now_secs(&clock)));
    let tasks: Vec<_> = (0..1000)
        .map(|_| {
            let verifier: Arc<Verifier> = verifier.clone();
            // Unknown kids are refused before any signature check: no need to sign.
            let header = b64(
                &json!({"alg": "RS256", "typ": "JWT", "kid": uuid::Uuid::new_v4().to_string()}),
            );
            let token = format!("{header}.{claims}.c2lnbmF0dXJl");
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        let result = task.await.expect("task");
        assert!(
            matches!(result, Err(AuthError::UnknownKey { .. })),
            "{result:?}"
        );
    }
    assert_eq!(server.hits(), 2, "1,000 unknown kids: one fetch");
    assert_eq!(verifier.jwks_fetches(ISSUER), 2);

    // The known key still works, without a fetch.
    let token = sign(
        Algorithm::RS256,
        &keys().rsa1.encoding,
        Some("k1"),
        &user_claims(now_secs(&clock)),
    );
    verifier.verify(&token).await.expect("k1");
    assert_eq!(server.hits(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_first_requests_share_one_fetch() {
    let (server, verifier, clock) = jwks_verifier().await;
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let verifier = verifier.clone();
            let token = sign(
                Algorithm::RS256,
                &keys().rsa1.encoding,
                Some("k1"),
                &user_claims(now_secs(&clock)),
            );
            tokio::spawn(async move { verifier.verify(&token).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("valid");
    }
    assert_eq!(server.hits(), 1);
}
