//! `/openapi.json` is generated from the code and lists every route.

use crate::support::*;
use axum::http::{Method, StatusCode};

const ROUTES: &[(&str, &str)] = &[
    ("post", "/{org}/{app}/instances"),
    ("get", "/{org}/{app}/instances"),
    ("post", "/{org}/{app}/instances/create"),
    ("get", "/{org}/{app}/instances/{party_id}/{instance_guid}"),
    (
        "delete",
        "/{org}/{app}/instances/{party_id}/{instance_guid}",
    ),
    (
        "get",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/process",
    ),
    (
        "put",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/process/next",
    ),
    (
        "get",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/process/history",
    ),
    (
        "post",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/process/resume",
    ),
    (
        "post",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/actions",
    ),
    (
        "get",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}",
    ),
    (
        "put",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}",
    ),
    (
        "delete",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}",
    ),
    (
        "post",
        "/{org}/{app}/instances/{party_id}/{instance_guid}/data",
    ),
    ("get", "/{org}/{app}/process/definition"),
    ("put", "/{org}/{app}/process/definition"),
    ("post", "/{org}/{app}/process/definition/validate"),
    ("get", "/{org}/{app}/timers"),
    ("get", "/{org}/{app}/tasks/mine"),
    ("post", "/{org}/{app}/messages"),
    ("get", "/{org}/{app}/messages/subscriptions"),
    ("get", "/{org}/{app}/messages/buffered"),
    ("post", "/{org}/{app}/signals"),
    ("get", "/{org}/{app}/signals/subscriptions"),
    ("post", "/jobs/activate"),
    ("post", "/jobs/{key}/complete"),
    ("post", "/jobs/{key}/fail"),
    ("get", "/health/live"),
    ("get", "/health/ready"),
    ("get", "/metrics"),
    ("get", "/apps"),
];

#[tokio::test]
async fn every_route_is_in_the_document_and_answers() {
    let s = Server::start().await;
    let r = s.call(Method::GET, "/openapi.json", None, None).await;
    assert_eq!(r.status, StatusCode::OK);
    let paths = r.body["paths"].as_object().unwrap();
    for (method, path) in ROUTES {
        let op = paths.get(*path).and_then(|p| p.get(*method));
        assert!(op.is_some(), "{method} {path} is not in /openapi.json");
        // And the route exists: a request reaches a handler (anything but the 404 fallback's code).
        let concrete = path
            .replace("{org}", "ttd")
            .replace("{app}", "approval")
            .replace("{party_id}", "1")
            .replace("{instance_guid}", "x")
            .replace("{data_type}", "claim");
        let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
        let r = s.call(m, &concrete, None, None).await;
        assert_ne!(
            r.status,
            StatusCode::METHOD_NOT_ALLOWED,
            "{method} {concrete}"
        );
        assert!(
            !(r.status == StatusCode::NOT_FOUND && r.text.contains("no such route")),
            "{method} {concrete} is not routed"
        );
    }
    let documented: usize = paths.values().map(|p| p.as_object().unwrap().len()).sum();
    assert_eq!(
        documented,
        ROUTES.len(),
        "a route is documented that this test does not list"
    );
    let r = s
        .call(Method::GET, "/no/such/route/here/at/all", None, None)
        .await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
}
