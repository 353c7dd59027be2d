//! Every instance route, called by a user of another party and by an organisation without
//! rights: refused, and the instance unchanged.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

#[tokio::test]
async fn other_parties_are_refused_on_every_instance_route() {
    let s = Server::start().await;
    let path = s.claim(ALICE, 50).await;
    let before = s
        .call(Method::GET, &path, Some(&s.user(ALICE)), None)
        .await
        .body;
    let outsiders = [
        ("another person", s.user(BOB)),
        (
            "a manager of another organisation",
            s.user_with(DAVE, &["999888777:DAGL"], &[]),
        ),
        (
            "an organisation without rights",
            s.org(OTHER_ORG, None, &["altinn:serviceowner/instances.write"]),
        ),
        (
            "another service owner",
            s.org("974760673", Some("skd"), &[]),
        ),
    ];
    let routes: Vec<(Method, String, Option<serde_json::Value>)> = vec![
        (Method::GET, path.clone(), None),
        (Method::DELETE, path.clone(), None),
        (Method::GET, format!("{path}/process"), None),
        (Method::PUT, format!("{path}/process/next"), None),
        (
            Method::PUT,
            format!("{path}/process/next"),
            Some(json!({"action": "write"})),
        ),
        (Method::GET, format!("{path}/process/history"), None),
        (Method::POST, format!("{path}/process/resume"), None),
        (
            Method::POST,
            format!("{path}/actions"),
            Some(json!({"action": "write"})),
        ),
        (Method::GET, format!("{path}/data/claim"), None),
        (
            Method::PUT,
            format!("{path}/data/claim"),
            Some(json!({"amount": 1})),
        ),
    ];
    for (who, token) in &outsiders {
        for (method, uri, body) in &routes {
            let r = s.call(method.clone(), uri, Some(token), body.clone()).await;
            assert_eq!(
                r.status,
                StatusCode::FORBIDDEN,
                "{who}: {method} {uri}: {}",
                r.text
            );
        }
        // Lists do not show the instance either.
        let r = s
            .call(Method::GET, "/ttd/approval/instances", Some(token), None)
            .await;
        assert!(
            r.body["instances"].as_array().is_none_or(|a| a.is_empty()),
            "{who}: {}",
            r.text
        );
        // Under another party id the instance does not exist at all.
        let guid = path.rsplit('/').next().unwrap();
        let r = s
            .call(
                Method::GET,
                &format!("/ttd/approval/instances/{OTHER_ORG}/{guid}"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::NOT_FOUND, "{who}");
    }
    let after = s
        .call(Method::GET, &path, Some(&s.user(ALICE)), None)
        .await
        .body;
    assert_eq!(before, after, "refused calls changed the instance");
}
