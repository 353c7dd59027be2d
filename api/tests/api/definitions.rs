//! `/{org}/{app}/process/definition`.

use crate::support::*;
use axum::http::{Method, StatusCode};

fn bpmn() -> Vec<u8> {
    std::fs::read(processes_dir().join("ttd/approval/process.bpmn")).unwrap()
}

#[tokio::test]
async fn designers_read_validate_and_deploy() {
    let s = Server::start().await;
    let designer = s.org("974760673", Some("ttd"), &[]);
    let xml = [("content-type", "application/xml")];
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&designer),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.headers["x-definition-version"], "1");
    assert!(r.text.contains("ManagerSign"));
    // Identical content: 200, unchanged.
    let r = s
        .send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(bpmn()),
            &xml,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["unchanged"], true);
    // A new version: 201.
    let changed = String::from_utf8(bpmn())
        .unwrap()
        .replace("Confirm the claim", "Confirm your claim");
    let r = s
        .send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(changed.into_bytes()),
            &xml,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition?version=1",
            Some(&designer),
            None,
        )
        .await;
    assert!(r.text.contains("Confirm the claim"));
    refused(
        &s.call(
            Method::GET,
            "/ttd/approval/process/definition?version=9",
            Some(&designer),
            None,
        )
        .await,
        StatusCode::NOT_FOUND,
        "not-found",
    );
    refused(
        &s.call(
            Method::GET,
            "/ttd/approval/process/definition?version=x",
            Some(&designer),
            None,
        )
        .await,
        StatusCode::BAD_REQUEST,
        "bad-request",
    );
    // An invalid file: 422 with every diagnostic, element ids and lines.
    let broken = String::from_utf8(bpmn())
        .unwrap()
        .replace(r#"targetRef="End""#, r#"targetRef="Nowhere""#);
    let r = s
        .send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(broken.clone().into_bytes()),
            &xml,
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition");
    let issues = r.body["issues"].as_array().unwrap();
    assert!(
        issues.iter().any(|i| i["code"] == "unknown-reference"
            && i["elementId"] == "Flow_confirm_end"
            && i["line"].as_u64().is_some()),
        "{}",
        r.text
    );
    // Dry run: nothing stored.
    let r = s
        .send(
            Method::POST,
            "/ttd/approval/process/definition/validate",
            Some(&designer),
            Some(broken.into_bytes()),
            &xml,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(r.body["valid"], false);
    assert!(r.body["errors"].as_u64().unwrap() >= 2);
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&designer),
            None,
        )
        .await;
    assert_eq!(r.headers["x-definition-version"], "2");
}

#[tokio::test]
async fn non_designers_are_refused() {
    let s = Server::start().await;
    let alice = s.user(ALICE);
    let xml = [("content-type", "application/xml")];
    refused(
        &s.call(Method::GET, "/ttd/approval/process/definition", None, None)
            .await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    );
    refused(
        &s.call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&alice),
            None,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    refused(
        &s.send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&alice),
            Some(bpmn()),
            &xml,
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    );
    // The designer scope works for any app.
    let scoped = s.user_with(ALICE, &[], &["flyt:designer"]);
    let r = s
        .send(
            Method::POST,
            "/acme/grant-case/process/definition/validate",
            Some(&scoped),
            Some(bpmn()),
            &xml,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}

#[tokio::test]
async fn a_create_instance_target_off_the_allow_list_is_refused_at_deploy() {
    let s = Server::start().await;
    let designer = s.org("910000001", Some("acme"), &[]);
    let xml = [("content-type", "application/xml")];
    let bpmn = std::fs::read_to_string(processes_dir().join("acme/grant-application/process.bpmn"))
        .unwrap()
        .replace("acme/grant-case", "evil/exfiltrate");
    let r = s
        .send(
            Method::PUT,
            "/acme/grant-application/process/definition",
            Some(&designer),
            Some(bpmn.into_bytes()),
            &xml,
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition");
    assert!(
        r.text.contains("evil/exfiltrate") && r.text.contains("allow-list"),
        "{}",
        r.text
    );
}
