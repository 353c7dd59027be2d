//! Each route with a body reads the media types the OpenAPI document says and refuses others
//! with 415 problem+json saying what to send: BPMN uploads XML, the others JSON. A missing
//! `Content-Type` is accepted, as it always was for JSON.

use crate::support::*;
use axum::http::{Method, StatusCode};

fn bpmn() -> Vec<u8> {
    std::fs::read(processes_dir().join("ttd/approval/process.bpmn")).unwrap()
}

#[tokio::test]
async fn bpmn_uploads_refuse_a_non_xml_content_type_with_415_and_deploy_nothing() {
    let s = Server::start().await;
    let designer = s.user_with(ALICE, &[], &["flyt:designer"]);
    let changed = String::from_utf8(bpmn())
        .unwrap()
        .replace("Confirm the claim", "Confirm your claim")
        .into_bytes();
    for uri in [
        "/ttd/approval/process/definition",
        "/ttd/approval/process/definition/validate",
    ] {
        let method = if uri.ends_with("validate") {
            Method::POST
        } else {
            Method::PUT
        };
        for media_type in ["application/json", "text/plain", "application/octet-stream"] {
            let r = s
                .send(
                    method.clone(),
                    uri,
                    Some(&designer),
                    Some(changed.clone()),
                    &[("content-type", media_type)],
                )
                .await;
            refused(
                &r,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
            );
            let detail = r.body["detail"].as_str().unwrap();
            assert!(
                detail.contains("application/xml") && detail.contains(media_type),
                "{uri} {media_type}: {detail}"
            );
        }
    }
    let r = s
        .call(
            Method::GET,
            "/ttd/approval/process/definition",
            Some(&designer),
            None,
        )
        .await;
    assert_eq!(
        r.headers["x-definition-version"], "1",
        "nothing was deployed"
    );

    // XML types, and no Content-Type at all, are read.
    for media_type in [
        Some("text/xml; charset=utf-8"),
        Some("application/bpmn+xml"),
        None,
    ] {
        let headers: Vec<(&str, &str)> = media_type
            .map(|t| ("content-type", t))
            .into_iter()
            .collect();
        let mut req = axum::http::Request::builder()
            .method(Method::POST)
            .uri("/ttd/approval/process/definition/validate")
            .header("authorization", format!("Bearer {designer}"));
        for (k, v) in &headers {
            req = req.header(*k, *v);
        }
        let res = tower::ServiceExt::oneshot(
            s.flyt.router(),
            req.body(axum::body::Body::from(changed.clone())).unwrap(),
        )
        .await
        .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{media_type:?}");
    }
}

#[tokio::test]
async fn json_bodies_without_a_json_content_type_are_refused_with_415_everywhere() {
    let s = Server::start().await;
    let path = s.claim(ALICE, 10).await;
    let alice = s.user(ALICE);
    let worker = s.org(ACME_ORGNO, Some("acme"), &["flyt:jobs"]);
    let cases = [
        (Method::POST, "/ttd/approval/instances".to_string(), &alice),
        (Method::PUT, format!("{path}/process/next"), &alice),
        (Method::POST, format!("{path}/actions"), &alice),
        (Method::PUT, format!("{path}/data/claim"), &alice),
        (Method::POST, "/jobs/activate".to_string(), &worker),
        (Method::POST, "/jobs/x.1/complete".to_string(), &worker),
        (Method::POST, "/jobs/x.1/fail".to_string(), &worker),
    ];
    let before = s.call(Method::GET, &path, Some(&alice), None).await.body;
    for (method, uri, token) in cases {
        let r = s
            .send(
                method.clone(),
                &uri,
                Some(token),
                Some(b"{}".to_vec()),
                &[("content-type", "application/xml")],
            )
            .await;
        refused(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        );
        assert!(
            r.body["detail"]
                .as_str()
                .unwrap()
                .contains("application/json"),
            "{method} {uri}: {}",
            r.text
        );
    }
    let after = s.call(Method::GET, &path, Some(&alice), None).await.body;
    assert_eq!(before, after);
}
