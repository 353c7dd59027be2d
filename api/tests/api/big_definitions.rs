//! Big BPMN uploads: validation runs off the async workers, a bounded number at once, and the
//! answer stays bounded however many problems the file has.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt;

/// 100,000 tasks with no flows, all on one line (about 4 MB): every task is a problem.
fn one_line_file() -> Vec<u8> {
    let mut xml = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:x"><bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="S"/>"#,
    );
    for i in 0..100_000 {
        xml.push_str(&format!(r#"<bpmn:task id="T{i}"/>"#));
    }
    xml.push_str("</bpmn:process></bpmn:definitions>");
    assert!(!xml.contains('\n'));
    xml.into_bytes()
}

#[tokio::test]
async fn an_answer_lists_at_most_max_diagnostics_and_counts_the_rest() {
    // Regression: a 4.9 MB one-line upload returned a 54 MB 422 with every diagnostic.
    let s = Server::start().await;
    let designer = s.org("974760673", Some("ttd"), &[]);
    let xml = [("content-type", "application/xml")];
    let r = s
        .send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(one_line_file()),
            &xml,
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition");
    let issues = r.body["issues"].as_array().unwrap();
    assert_eq!(issues.len(), 200, "the default limits.max_diagnostics");
    let omitted = r.body["issuesOmitted"].as_u64().unwrap();
    assert!(omitted >= 100_000 - 200, "{omitted} left out");
    assert!(
        issues.iter().all(|i| i["severity"] == "error"),
        "errors first"
    );
    assert!(
        r.text.len() < 200_000,
        "the answer is {} bytes",
        r.text.len()
    );
    // Every issue still names its element and its place on the one line.
    assert!(
        issues
            .iter()
            .all(|i| i["line"] == 1 && i["column"].as_u64() > Some(1))
    );

    // The dry run is bounded the same way and says how many it left out.
    let r = s
        .send(
            Method::POST,
            "/ttd/approval/process/definition/validate",
            Some(&designer),
            Some(one_line_file()),
            &xml,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["diagnostics"].as_array().unwrap().len(), 200);
    assert_eq!(r.body["valid"], false);
    let total = r.body["errors"].as_u64().unwrap() + r.body["warnings"].as_u64().unwrap();
    assert_eq!(r.body["omitted"].as_u64().unwrap(), total - 200);

    // A smaller limit is honoured.
    let s = Server::with(|c| c.limits.max_diagnostics = 3).await;
    let designer = s.org("974760673", Some("ttd"), &[]);
    let r = s
        .send(
            Method::PUT,
            "/ttd/approval/process/definition",
            Some(&designer),
            Some(one_line_file()),
            &xml,
        )
        .await;
    assert_eq!(r.body["issues"].as_array().unwrap().len(), 3, "{}", r.text);
}

fn deploy(token: &str, body: Vec<u8>) -> Request<Body> {
    Request::builder()
        .method(Method::PUT)
        .uri("/ttd/approval/process/definition")
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/xml")
        .body(Body::from(body))
        .unwrap()
}

/// One async worker thread, as the worst case: if validation ran on it, nothing else could be
/// answered until both deploys were done.
#[tokio::test(flavor = "current_thread")]
async fn health_answers_while_two_big_deploys_are_validated() {
    // Regression: two 4.9 MB deploys at once left /health/live unanswered for 32 s.
    let s = Server::start().await;
    let designer = s.org("974760673", Some("ttd"), &[]);
    let file = one_line_file();
    let deploys: Vec<_> = (0..2)
        .map(|_| {
            let router = s.flyt.router();
            let req = deploy(&designer, file.clone());
            tokio::spawn(async move { router.oneshot(req).await.unwrap().status() })
        })
        .collect();
    // Let both deploys run up to the point where they wait for their validation.
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    let health = s.call(Method::GET, "/health/live", None, None).await;
    assert_eq!(health.status, StatusCode::OK);
    assert!(
        deploys.iter().all(|d| !d.is_finished()),
        "the health check was answered only after the deploys"
    );
    for d in deploys {
        assert_eq!(d.await.unwrap(), StatusCode::UNPROCESSABLE_ENTITY);
    }
}
