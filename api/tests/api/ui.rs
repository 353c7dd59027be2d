//! The designer and operate pages (`/designer`, `/operate`, `/ui/...`) and `GET /apps`, which
//! the pages use to offer the hosted apps.

use crate::support::*;
use axum::http::{Method, StatusCode};

#[tokio::test]
async fn pages_and_their_files_are_served_with_a_policy_that_allows_no_inline_script() {
    let s = Server::start().await;
    for (path, media_type) in [
        ("/designer", "text/html; charset=utf-8"),
        ("/operate", "text/html; charset=utf-8"),
        ("/ui/designer.js", "text/javascript; charset=utf-8"),
        ("/ui/operate.js", "text/javascript; charset=utf-8"),
        ("/ui/ui.css", "text/css; charset=utf-8"),
        (
            "/ui/vendor/bpmn-js/bpmn-modeler.production.min.js",
            "text/javascript; charset=utf-8",
        ),
        ("/ui/vendor/bpmn-js/LICENSE", "text/plain; charset=utf-8"),
    ] {
        let r = s.call(Method::GET, path, None, None).await;
        assert_eq!(r.status, StatusCode::OK, "{path}");
        assert_eq!(r.headers["content-type"], media_type, "{path}");
        let csp = r.headers["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("script-src 'self';"), "{path}: {csp}");
        assert!(csp.contains("default-src 'none'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(r.headers["x-content-type-options"], "nosniff");
    }
    // A file that is not embedded: problem+json 404, as for any unknown route.
    let r = s.call(Method::GET, "/ui/../Cargo.toml", None, None).await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    let r = s.call(Method::GET, "/ui/secret.js", None, None).await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
}

#[tokio::test]
async fn apps_are_listed_for_any_authenticated_caller() {
    let s = Server::start().await;
    let r = s.call(Method::GET, "/apps", None, None).await;
    refused(&r, StatusCode::UNAUTHORIZED, "unauthenticated");
    let r = s
        .call(Method::GET, "/apps", Some(&s.user(ALICE)), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let apps = r.body["apps"].as_array().unwrap();
    let ids: Vec<&str> = apps.iter().map(|a| a["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "acme/grant-application",
            "acme/grant-case",
            "ttd/altinn-template-demo",
            "ttd/approval",
            "ttd/approval-call",
            "ttd/approval-flow",
            "ttd/case-deadline",
            "ttd/monthly-report",
            "ttd/multi-sign"
        ]
    );
    // An app in Altinn's own layout: its title and data types come from applicationmetadata.json.
    assert_eq!(apps[2]["title"], "Order (demo)");
    assert_eq!(
        apps[2]["dataTypes"],
        serde_json::json!(["model", "attachment"])
    );
    let approval = &apps[3];
    assert_eq!(approval["org"], "ttd");
    assert_eq!(approval["app"], "approval");
    assert_eq!(approval["title"], "Expense approval");
    assert_eq!(approval["dataTypes"], serde_json::json!(["claim"]));
}
