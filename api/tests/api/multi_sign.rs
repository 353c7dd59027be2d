//! The example app `processes/ttd/multi-sign` through the API: one signing task per signer (a
//! parallel multi-instance task, each inner task assigned to its signer), shown in the process
//! state and in each signer's "my tasks"; a signer cannot sign another's task (403
//! `not-assignee`, naming the task); a caller with several others' tasks must name one (400
//! `innerInstance`); the contract goes on to Archive once all have signed.

use crate::support::*;
use axum::http::{Method, StatusCode};
use serde_json::json;

const SIGNERS: [&str; 3] = [BOB, CAROL, DAVE];

#[tokio::test]
async fn three_signers_each_sign_their_own_task_and_the_contract_goes_on_after_the_last() {
    let s = Server::start().await;
    let owner = s.user(ALICE);
    let signers: Vec<_> = SIGNERS.iter().map(|p| json!({ "pid": p })).collect();
    let r = s
        .call(
            Method::POST,
            "/ttd/multi-sign/instances",
            Some(&owner),
            Some(json!({ "data": { "contract": { "title": "Lease", "signers": signers } } })),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!(
        "/ttd/multi-sign/instances/{}",
        r.body["id"].as_str().unwrap()
    );
    let next = format!("{path}/process/next");
    let r = s.call(Method::PUT, &next, Some(&owner), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The process state shows the inner instances: item, index, assignee, state.
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&owner), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let multi = &r.body["scopes"][0]["multiInstance"];
    assert_eq!(r.body["scopes"][0]["elementId"], "Sign");
    assert_eq!(multi["nrOfInstances"], 3);
    assert_eq!(multi["nrOfActiveInstances"], 3);
    for (i, pid) in SIGNERS.iter().enumerate() {
        let inner = &multi["innerInstances"][i];
        assert_eq!(inner["index"], i);
        assert_eq!(inner["state"], "active");
        assert_eq!(inner["element"]["pid"], *pid);
        assert_eq!(
            inner["assignee"],
            json!({ "kind": "person", "personNumber": pid })
        );
    }
    let tasks = r.body["activeTasks"].as_array().unwrap();
    assert_eq!(tasks.len(), 3);
    assert_eq!(tasks[1]["innerInstance"], 1);
    assert_eq!(tasks[1]["assignee"]["personNumber"], CAROL);

    // Each signer's "my tasks" lists their own inner task only.
    let bob = s.user(BOB);
    let r = s
        .call(Method::GET, "/ttd/multi-sign/tasks/mine", Some(&bob), None)
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let mine = r.body["tasks"].as_array().unwrap();
    assert_eq!(mine.len(), 1, "{}", r.text);
    assert_eq!(mine[0]["elementId"], "Sign");
    assert_eq!(mine[0]["innerInstance"], 0);
    assert_eq!(
        mine[0]["instanceId"],
        path.rsplit_once("instances/").unwrap().1
    );
    let r = s
        .call(
            Method::GET,
            "/ttd/multi-sign/tasks/mine",
            Some(&owner),
            None,
        )
        .await;
    assert_eq!(r.body["tasks"], json!([]), "{}", r.text);

    // Bob may sign (the policy lets any person sign at Sign) but not Carol's task.
    let r = s
        .call(
            Method::PUT,
            &next,
            Some(&bob),
            Some(json!({ "action": "sign", "innerInstance": 1 })),
        )
        .await;
    refused(&r, StatusCode::FORBIDDEN, "not-assignee");
    assert!(
        r.body["detail"]
            .as_str()
            .unwrap()
            .contains("`Sign` (inner instance 1)"),
        "{}",
        r.text
    );
    // The owner is no signer: with several others' tasks open, which one must be said.
    let r = s
        .call(
            Method::PUT,
            &next,
            Some(&owner),
            Some(json!({ "action": "sign" })),
        )
        .await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.text);
    assert!(r.text.contains("innerInstance"), "{}", r.text);

    // Each signer signs their own without naming it.
    for pid in SIGNERS {
        let token = s.user(pid);
        let r = s
            .call(
                Method::PUT,
                &next,
                Some(&token),
                Some(json!({ "action": "sign" })),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    }
    let r = s
        .call(Method::GET, &format!("{path}/process"), Some(&owner), None)
        .await;
    assert_eq!(r.body["currentTask"]["elementId"], "Archive", "{}", r.text);
    assert!(r.body.get("scopes").is_none(), "{}", r.text);
    let r = s.call(Method::PUT, &next, Some(&owner), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(r.body["ended"].is_string(), "{}", r.text);
}

/// A deploy whose collection does not parse, or that assigns a service task, is refused with
/// each problem's code, element and line; nothing is deployed.
#[tokio::test]
async fn a_deploy_with_a_bad_collection_or_a_misplaced_assignee_is_refused_line_exact() {
    let s = Server::start().await;
    let designer = s.org(TTD_ORGNO, Some("ttd"), &[]);
    let xml = [("content-type", "application/xml")];
    let file =
        std::fs::read_to_string(processes_dir().join("ttd/multi-sign/process.bpmn")).unwrap();
    let broken = file
        .replace(
            r#"collection='["dataModel", "signers", "contract"]'"#,
            r#"collection='["dataModel", "signers"'"#,
        )
        .replace(
            r#"<bpmn:task id="Archive" name="Archive the signed contract">"#,
            r#"<bpmn:serviceTask id="Archive" flyt:type="pdf"><bpmn:extensionElements><flyt:assignee role="DAGL"/></bpmn:extensionElements>"#,
        )
        .replace(
            "<bpmn:outgoing>Flow_archive_end</bpmn:outgoing>\n    </bpmn:task>",
            "<bpmn:outgoing>Flow_archive_end</bpmn:outgoing>\n    </bpmn:serviceTask>",
        );
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i as u64 + 1)
            .unwrap()
    };
    let r = s
        .send(
            Method::PUT,
            "/ttd/multi-sign/process/definition",
            Some(&designer),
            Some(broken.clone().into_bytes()),
            &xml,
        )
        .await;
    refused(&r, StatusCode::UNPROCESSABLE_ENTITY, "invalid-definition");
    let issues = r.body["issues"].as_array().unwrap();
    let find = |code: &str| {
        issues
            .iter()
            .find(|i| i["code"] == code)
            .unwrap_or_else(|| panic!("no {code}: {}", r.text))
    };
    let collection = find("invalid-multi-instance");
    assert_eq!(collection["elementId"], "Sign");
    assert_eq!(collection["line"], line_of("<flyt:multiInstance"));
    let assignee = find("invalid-assignment");
    assert_eq!(assignee["elementId"], "Archive");
    assert_eq!(assignee["line"], line_of("<flyt:assignee role"));
}
