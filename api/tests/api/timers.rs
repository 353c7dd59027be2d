//! The operator's view of pending timers (`GET /{org}/{app}/timers`) and API instantiation of
//! processes with timer start events.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

const TTD_ORGNO: &str = "974760673";

#[tokio::test]
async fn operators_see_schedules_and_armed_timers_soonest_first() {
    let s = Server::start().await;
    let operator = s.user_with(ALICE, &[], &["flyt:operator"]);
    let ttd = s.org(
        TTD_ORGNO,
        Some("ttd"),
        &["altinn:serviceowner/instances.write"],
    );

    // The monthly report's schedule: the first of January 2027, from the example's file.
    let r = s
        .call(
            Method::GET,
            "/ttd/monthly-report/timers",
            Some(&operator),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["schedules"][0]["elementId"], "Monthly", "{}", r.text);
    assert_eq!(r.body["schedules"][0]["kind"], "start");
    assert_eq!(r.body["schedules"][0]["due"], "2027-01-01T00:00:00Z");
    assert_eq!(r.body["schedules"][0]["ticks"], 0);
    assert_eq!(r.body["timers"], json!([]));
    assert!(r.body.get("continuationToken").is_none_or(|t| t.is_null()));

    // Its none start event still takes API instantiation, by the service owner.
    let r = s
        .call(
            Method::POST,
            "/ttd/monthly-report/instances",
            Some(&ttd),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);

    // Two cases at Handle: their deadline timers, soonest first, one per page.
    let owner = s.user(ALICE);
    for deadline in ["2030-01-01T00:00:00Z", "2029-01-01T00:00:00Z"] {
        let r = s
            .call(
                Method::POST,
                "/ttd/case-deadline/instances",
                Some(&owner),
                Some(json!({"data": {"case": {"subject": "s", "deadline": deadline}}})),
            )
            .await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
        let id = r.body["id"].as_str().unwrap();
        let r = s
            .call(
                Method::PUT,
                &format!("/ttd/case-deadline/instances/{id}/process/next"),
                Some(&owner),
                None,
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = s
        .call(
            Method::GET,
            "/ttd/case-deadline/timers?limit=1",
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["schedules"], json!([]));
    assert_eq!(r.body["timers"][0]["elementId"], "Deadline");
    assert_eq!(r.body["timers"][0]["kind"], "boundary");
    assert_eq!(r.body["timers"][0]["attachedTo"], "Handle");
    assert_eq!(r.body["timers"][0]["due"], "2029-01-01T00:00:00Z");
    let token = r.body["continuationToken"].as_str().unwrap().to_string();
    let r = s
        .call(
            Method::GET,
            &format!("/ttd/case-deadline/timers?limit=1&continuationToken={token}"),
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["timers"][0]["due"], "2030-01-01T00:00:00Z");

    // Not for the instances' owner, and a token of another list is refused.
    let r = s
        .call(Method::GET, "/ttd/case-deadline/timers", Some(&owner), None)
        .await;
    refused(&r, StatusCode::FORBIDDEN, "forbidden");
    let r = s
        .call(
            Method::GET,
            "/ttd/case-deadline/timers?continuationToken=nope",
            Some(&ttd),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
}
