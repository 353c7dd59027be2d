//! `/openapi.json` says what the server sends (schemathesis checks the served document against
//! the responses in CI; these are the regression tests for what it found): problem responses
//! are `application/problem+json`, and the refusals every route can give before its handler
//! runs are documented on every operation.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::Value;

const PROBLEM: &str = "#/components/schemas/Problem";

fn operations(doc: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            out.push((method.clone(), path.clone(), op.clone()));
        }
    }
    out
}

#[tokio::test]
async fn problem_responses_are_documented_as_problem_json() {
    let s = Server::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.body;
    let mut problems = 0;
    for (method, path, op) in operations(&doc) {
        for (status, response) in op["responses"].as_object().unwrap() {
            let Some(content) = response["content"].as_object() else {
                continue;
            };
            for (media_type, c) in content {
                if c["schema"]["$ref"] == PROBLEM {
                    problems += 1;
                    assert_eq!(
                        media_type, "application/problem+json",
                        "{method} {path} {status}"
                    );
                }
            }
            if status.starts_with('4') || status.starts_with('5') {
                assert!(
                    content.contains_key("application/problem+json"),
                    "{method} {path} {status} is not problem+json"
                );
            }
        }
    }
    assert!(problems > 50, "only {problems} problem responses found");
}

#[tokio::test]
async fn refusals_before_the_handler_are_documented_on_every_operation() {
    let s = Server::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.body;
    for (method, path, op) in operations(&doc) {
        let responses = op["responses"].as_object().unwrap();
        let mut expected = vec!["414", "429", "431", "503"];
        // 408 only where a request can wait: a body to read or a token to verify (health and
        // metrics answer at once; `openapi_statuses` checks that each listed status happens).
        if op.get("requestBody").is_some() || op.get("security").is_some() {
            expected.push("408");
        }
        let params = op["parameters"].as_array().cloned().unwrap_or_default();
        if params.iter().any(|p| p["in"] == "path") {
            expected.push("400");
        }
        if op.get("requestBody").is_some() {
            expected.extend(["413", "415"]);
        }
        for status in expected {
            assert!(
                responses.contains_key(status),
                "{method} {path} does not document {status}"
            );
        }
    }
}

#[tokio::test]
async fn a_refusal_is_sent_as_documented() {
    let s = Server::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.body;
    let r = s
        .call(Method::GET, "/ttd/approval/instances", None, None)
        .await;
    refused(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    assert!(
        doc["paths"]["/{org}/{app}/instances"]["get"]["responses"]["401"]["content"]
            ["application/problem+json"]
            .is_object()
    );
}

#[tokio::test]
async fn not_ready_is_problem_json_as_documented() {
    let s = Server::start().await;
    s.flyt.state.set_ready(false);
    let r = s.call(Method::GET, "/health/ready", None, None).await;
    refused(&r, StatusCode::SERVICE_UNAVAILABLE, "not-ready");
    s.flyt.state.set_ready(true);
    let r = s.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
}
