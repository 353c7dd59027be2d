//! Deploying (and validating, reading) definitions needs the designer right, resuming
//! incidents the operator right: every other caller gets 403, and nothing changes.

use crate::support::*;
use axum::http::{Method, StatusCode};

fn bpmn() -> Vec<u8> {
    std::fs::read_to_string(processes_dir().join("ttd/approval/process.bpmn"))
        .unwrap()
        .replace("Confirm the claim", "Confirm your claim")
        .into_bytes()
}

#[tokio::test]
async fn definitions_need_the_designer_right() {
    let s = Server::start().await;
    let xml = [("content-type", "application/xml")];
    let callers = [
        ("a user", s.user(ALICE)),
        ("an operator", s.user_with(ALICE, &[], &["flyt:operator"])),
        (
            "a user with another scope's prefix",
            s.user_with(ALICE, &[], &["flyt:designer:other"]),
        ),
        (
            "another service owner",
            s.org("974760673", Some("skd"), &[]),
        ),
        (
            "an organisation with the instantiate scope",
            s.org(ACME_ORGNO, None, &["altinn:serviceowner/instances.write"]),
        ),
    ];
    for (who, token) in &callers {
        for (method, uri) in [
            (Method::PUT, "/ttd/approval/process/definition"),
            (Method::POST, "/ttd/approval/process/definition/validate"),
            (Method::GET, "/ttd/approval/process/definition"),
        ] {
            let body = (method != Method::GET).then(bpmn);
            let r = s.send(method.clone(), uri, Some(token), body, &xml).await;
            assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {method} {uri}");
            refused(&r, StatusCode::FORBIDDEN, "forbidden");
        }
    }
    // The service owner's designers may; nothing above was deployed.
    let designer = s.org("974760673", Some("ttd"), &[]);
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&designer),
            None,
        )
        .await;
    assert_eq!(r.headers["x-definition-version"], "1");
}

#[tokio::test]
async fn resume_needs_the_operator_right() {
    let s = Server::start().await;
    let path = s.claim(ALICE, 50).await;
    let before = s
        .call(Method::GET, &path, Some(&s.user(ALICE)), None)
        .await
        .body;
    let callers = [
        ("the owner", s.user(ALICE)),
        ("a designer", s.user_with(ALICE, &[], &["flyt:designer"])),
        (
            "another service owner",
            s.org("974760673", Some("skd"), &[]),
        ),
    ];
    for (who, token) in &callers {
        let r = s
            .call(
                Method::POST,
                &format!("{path}/process/resume"),
                Some(token),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::FORBIDDEN, "{who}: {}", r.text);
    }
    // The operator scope passes the rights check (and there is no incident to resume).
    let operator = s.user_with(BOB, &[], &["flyt:operator"]);
    refused(
        &s.call(
            Method::POST,
            &format!("{path}/process/resume"),
            Some(&operator),
            None,
        )
        .await,
        StatusCode::CONFLICT,
        "no-incident",
    );
    let after = s
        .call(Method::GET, &path, Some(&s.user(ALICE)), None)
        .await
        .body;
    assert_eq!(before, after);
}
