//! Every status `/openapi.json` lists can actually be produced. For each operation and each
//! status it lists, a real request gets that status: generic producers where one kind of request
//! gives the status on every operation (401 without a token, 404 for an unknown app, 400 for a
//! path parameter that is not UTF-8, 413 from `Content-Length`, 415 from `Content-Type`, 414 and
//! 431 from the head limits, 408/429/503 from servers configured for them), specific ones from
//! [`specific`]. A status listed with no producer fails the test, so a newly documented status
//! needs one; a status that cannot happen must leave the document instead.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, StatusCode};
use base64::Engine;
use flyt_api::server::ServerBuilder;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const TTD_ORGNO: &str = "974760673";

const LETTERS_TOML: &str = r#"title = "Letters"
[[data_types]]
id = "letter"
task = "Write"

[[data_types]]
id = "receipt"
schema = "receipt.schema.json"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "calc"]

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "resume"]

[jobs]
external = ["send-letter"]
"#;

const AWAITS_TOML: &str = r#"title = "Awaits a decision"
[[data_types]]
id = "decision"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate"]

[[rules]]
subjects = ["org:ttd"]
actions = ["read", "publish", "resume"]
"#;

const RECEIPT_SCHEMA: &str = r#"{"type": "object", "required": ["trackingId"], "properties": {"trackingId": {"type": "string"}}}"#;

/// A data task with a server action, then an external service task.
const LETTERS_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" xmlns:flyt="urn:flyt:bpmn:1"
                  id="letters" targetNamespace="urn:flyt:tests">
  <bpmn:process id="letters" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Write">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType>
        <altinn:actions><altinn:action type="serverAction">calc</altinn:action></altinn:actions>
      </altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:serviceTask id="Send" flyt:type="send-letter"/>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Write"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Write" targetRef="Send"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Send" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

const LOOP_TOML: &str = r#"title = "Loop"
[[data_types]]
id = "model"
task = "fill"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

/// Two gateways that send a token round and round unless `stop` is set: the loop guard (422).
const LOOP_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process"
                  id="loop" targetNamespace="urn:flyt:tests">
  <bpmn:process id="loop" isExecutable="true">
    <bpmn:startEvent id="start"/>
    <bpmn:task id="fill">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:exclusiveGateway id="g1" default="to_g2"/>
    <bpmn:exclusiveGateway id="g2" default="to_g1"/>
    <bpmn:endEvent id="end"/>
    <bpmn:sequenceFlow id="f1" sourceRef="start" targetRef="fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="fill" targetRef="g1"/>
    <bpmn:sequenceFlow id="to_g2" sourceRef="g1" targetRef="g2"/>
    <bpmn:sequenceFlow id="to_g1" sourceRef="g2" targetRef="g1"/>
    <bpmn:sequenceFlow id="exit" sourceRef="g2" targetRef="end"><bpmn:conditionExpression>["equals", ["dataModel", "stop", "model"], true]</bpmn:conditionExpression></bpmn:sequenceFlow>
  </bpmn:process>
</bpmn:definitions>
"#;

/// The apps: `ttd/approval` (the example), `ttd/letters` (a server action and an external job)
/// and `ttd/loop` (the loop guard), with the server action `calc` registered.
async fn world() -> (Server, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    let write = |app: &str, files: &[(&str, &str)]| write_app(dir.path(), app, files);
    write(
        "ttd/letters",
        &[
            ("app.toml", LETTERS_TOML),
            ("receipt.schema.json", RECEIPT_SCHEMA),
            ("process.bpmn", LETTERS_BPMN),
        ],
    );
    write(
        "ttd/loop",
        &[("app.toml", LOOP_TOML), ("process.bpmn", LOOP_BPMN)],
    );
    crate::messages::write_starts(dir.path());
    write(
        "ttd/awaits",
        &[
            ("app.toml", AWAITS_TOML),
            ("process.bpmn", crate::messages::BPMN),
        ],
    );
    write(
        "ttd/alarms",
        &[
            ("app.toml", crate::signals::APP),
            ("process.bpmn", crate::signals::BPMN),
        ],
    );
    write(
        "ttd/files",
        &[
            ("app.toml", crate::files::FILES_TOML),
            ("process.bpmn", crate::files::FILES_BPMN),
        ],
    );
    std::os::unix::fs::symlink(
        processes_dir().join("ttd/approval"),
        dir.path().join("ttd/approval"),
    )
    .unwrap();
    let mut config = None;
    let mut s = Server::with(|c| {
        c.processes_dir = dir.path().to_path_buf();
        c.downstream.clear();
        config = Some(c.clone());
    })
    .await;
    s.flyt = ServerBuilder::new(config.unwrap())
        .registry(|r| {
            r.server_action(
                None,
                "calc",
                flyt_hooks::server_action_fn(|_, _| Ok(json!({"sum": 3}))),
            )
        })
        .without_worker()
        .build("127.0.0.1:8080".parse().unwrap())
        .await
        .unwrap();
    (s, dir)
}

fn approval_bpmn() -> Vec<u8> {
    std::fs::read(processes_dir().join("ttd/approval/process.bpmn")).unwrap()
}

/// A new version of the approval process (`n` makes it differ from every other).
fn changed_bpmn(n: usize) -> Vec<u8> {
    String::from_utf8(approval_bpmn())
        .unwrap()
        .replace("Confirm the claim", &format!("Confirm the claim ({n})"))
        .into_bytes()
}

fn worker(s: &Server) -> String {
    s.org(TTD_ORGNO, Some("ttd"), &["flyt:jobs"])
}

fn designer(s: &Server) -> String {
    s.org(TTD_ORGNO, Some("ttd"), &[])
}

fn operator(s: &Server) -> String {
    s.org(TTD_ORGNO, Some("ttd"), &["flyt:operator"])
}

/// A new letter of Alice's, at `Write`.
async fn letter(s: &Server, alice: &str) -> String {
    let r = s
        .call(
            Method::POST,
            "/ttd/letters/instances",
            Some(alice),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    format!("/ttd/letters/instances/{}", r.body["id"].as_str().unwrap())
}

/// A letter of Alice's waiting at `Send`, and its job leased: `(instance path, job key)`.
async fn leased_letter(s: &Server) -> (String, String) {
    let alice = s.user(ALICE);
    let r = s
        .call(
            Method::POST,
            "/ttd/letters/instances",
            Some(&alice),
            Some(json!({"data": {"letter": {"to": "Bob"}}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/letters/instances/{}", r.body["id"].as_str().unwrap());
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    // Jobs of earlier letters may be due again too: take this letter's.
    let body = json!({"jobTypes": ["send-letter"], "maxJobs": 100, "lockDurationMs": 60_000, "workerId": "w"});
    let r = s
        .call(Method::POST, "/jobs/activate", Some(&worker(s)), Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let job = r.body["jobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|j| path.ends_with(j["instanceId"].as_str().unwrap()))
        .unwrap_or_else(|| panic!("no job of {path}: {}", r.text));
    let key = job["key"].as_str().unwrap().to_string();
    (path, key)
}

/// A letter with an incident (its job failed with no retries left).
async fn letter_with_incident(s: &Server) -> String {
    let (path, key) = leased_letter(s).await;
    let r = s
        .call(
            Method::POST,
            &format!("/jobs/{key}/fail"),
            Some(&worker(s)),
            Some(json!({"errorMessage": "no such address", "retries": 0})),
        )
        .await;
    assert_eq!(r.body["state"], "incident", "{}", r.text);
    path
}

/// Runs `attempt` in two tasks at once until one of them answers 409 (a lost race between two
/// writers); gives up after 30 s.
async fn race(mut attempt: impl FnMut(usize) -> (Boxed, Boxed)) -> Response {
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut n = 0;
    while Instant::now() < deadline {
        n += 1;
        let (a, b) = attempt(n);
        let (a, b) = (tokio::spawn(a), tokio::spawn(b));
        for r in [a.await.unwrap(), b.await.unwrap()] {
            if r.status == StatusCode::CONFLICT {
                return r;
            }
        }
    }
    panic!("no 409 in {n} races");
}

/// The operations' path templates with their parameters filled in.
struct Fill {
    instance: String,
}

impl Fill {
    fn uri(&self, template: &str) -> String {
        let instance = self.instance.trim_start_matches("/ttd/approval/instances/");
        let (party, guid) = instance.split_once('/').unwrap();
        template
            .replace("{org}", "ttd")
            .replace("{app}", "approval")
            .replace("{party_id}", party)
            .replace("{instance_guid}", guid)
            .replace("{data_type}", "claim")
            .replace("{key}", "x.1")
    }
}

/// A body the operation reads (JSON, or BPMN for the definition routes), for requests that must
/// get past the body extractor: `(bytes, Content-Type)`.
fn valid_body(path: &str, op: &Value) -> Option<(Vec<u8>, &'static str)> {
    op.get("requestBody")?;
    if path.contains("/process/definition") {
        return Some((approval_bpmn(), "application/xml"));
    }
    let body = match path {
        p if p.ends_with("/actions") => json!({"action": "calc"}),
        "/jobs/activate" => {
            json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 60_000, "workerId": "w"})
        }
        p if p.ends_with("/fail") => json!({"errorMessage": "x"}),
        p if p.ends_with("/messages") => json!({"name": "caseDecided", "correlationKey": "k"}),
        p if p.ends_with("/signals") => json!({"name": "alarm"}),
        _ => json!({}),
    };
    Some((body.to_string().into_bytes(), "application/json"))
}

/// A producer made for one operation and status, or `None` when this one has none.
async fn specific(s: &Server, method: &str, path: &str, status: u16) -> Option<Response> {
    let alice = s.user(ALICE);
    let bob = s.user(BOB);
    let claim = || s.claim(ALICE, 10);
    let xml = [("content-type", "application/xml")];
    let stale = [("if-match", "\"99\"")];
    let r = match (method, path, status) {
        ("get", "/health/live" | "/health/ready" | "/metrics", 200) => {
            s.call(Method::GET, path, None, None).await
        }
        ("get", "/apps", 200) => s.call(Method::GET, path, Some(&alice), None).await,
        ("post", "/jobs/activate", 200) => {
            let body = json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 60_000, "workerId": "w"});
            s.call(Method::POST, path, Some(&worker(s)), Some(body))
                .await
        }
        ("post", "/jobs/activate", 400) => {
            let body = json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 60_000, "workerId": "w", "extra": 1});
            s.call(Method::POST, path, Some(&worker(s)), Some(body))
                .await
        }
        ("post", "/jobs/activate", 403) => {
            let body = json!({"jobTypes": ["send-letter"], "maxJobs": 1, "lockDurationMs": 60_000, "workerId": "w"});
            s.call(Method::POST, path, Some(&alice), Some(body)).await
        }
        ("post", "/jobs/{key}/complete" | "/jobs/{key}/fail", _) => {
            let verb = path.rsplit('/').next().unwrap();
            let body = if verb == "fail" {
                json!({"errorMessage": "x"})
            } else {
                json!({})
            };
            let send = |key: String, token: String, body: Value| async move {
                s.call(
                    Method::POST,
                    &format!("/jobs/{key}/{verb}"),
                    Some(&token),
                    Some(body),
                )
                .await
            };
            match status {
                200 => send(leased_letter(s).await.1, worker(s), body).await,
                400 => send("x".into(), worker(s), body).await,
                403 => send(leased_letter(s).await.1, alice.clone(), body).await,
                404 => {
                    let (_, key) = leased_letter(s).await;
                    let done = s
                        .call(
                            Method::POST,
                            &format!("/jobs/{key}/complete"),
                            Some(&worker(s)),
                            Some(json!({})),
                        )
                        .await;
                    assert_eq!(done.status, StatusCode::OK, "{}", done.text);
                    send(key, worker(s), body).await
                }
                // A failed lease is spent.
                409 => {
                    let (_, key) = leased_letter(s).await;
                    let failed = s
                        .call(
                            Method::POST,
                            &format!("/jobs/{key}/fail"),
                            Some(&worker(s)),
                            Some(json!({"errorMessage": "x", "backoffMs": 60_000})),
                        )
                        .await;
                    assert_eq!(failed.status, StatusCode::OK, "{}", failed.text);
                    send(key, worker(s), body).await
                }
                422 => {
                    let (_, key) = leased_letter(s).await;
                    let body = json!({"data": {"receipt": {"trackingId": 7}}});
                    send(key, worker(s), body).await
                }
                _ => return None,
            }
        }
        ("post", "/{org}/{app}/messages", 201) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let body = json!({"name": "caseOpened", "correlationKey": "k"});
            s.call(Method::POST, "/ttd/starts/messages", Some(&ttd), Some(body))
                .await
        }
        ("post", "/{org}/{app}/messages", 200 | 202 | 403 | 409 | 422) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let unique = uuid::Uuid::now_v7().to_string();
            let publish = |token: &str, body: Value| {
                let token = token.to_string();
                async move {
                    s.call(
                        Method::POST,
                        "/ttd/awaits/messages",
                        Some(&token),
                        Some(body),
                    )
                    .await
                }
            };
            match status {
                200 => {
                    let r = s
                        .call(
                            Method::POST,
                            "/ttd/awaits/instances",
                            Some(&alice),
                            Some(json!({})),
                        )
                        .await;
                    let key = r.body["id"].as_str().unwrap().to_string();
                    publish(&ttd, json!({"name": "caseDecided", "correlationKey": key})).await
                }
                202 => {
                    let body = json!({"name": "caseDecided", "correlationKey": unique, "timeToLive": "PT1M"});
                    publish(&ttd, body).await
                }
                403 => {
                    publish(
                        &alice,
                        json!({"name": "caseDecided", "correlationKey": "k"}),
                    )
                    .await
                }
                409 => {
                    let first = json!({"name": "caseDecided", "correlationKey": "k", "messageId": unique, "timeToLive": "PT1M"});
                    let r = publish(&ttd, first).await;
                    assert_eq!(r.status, StatusCode::ACCEPTED, "{}", r.text);
                    let other = json!({"name": "caseDecided", "correlationKey": "other", "messageId": unique, "timeToLive": "PT1M"});
                    publish(&ttd, other).await
                }
                _ => publish(&ttd, json!({"name": "nobodyWaits", "correlationKey": "k"})).await,
            }
        }
        ("post", "/{org}/{app}/signals", 200 | 403 | 409 | 422) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let unique = uuid::Uuid::now_v7().to_string();
            let broadcast = |token: &str, body: Value| {
                let token = token.to_string();
                async move {
                    s.call(
                        Method::POST,
                        "/ttd/alarms/signals",
                        Some(&token),
                        Some(body),
                    )
                    .await
                }
            };
            match status {
                200 => broadcast(&ttd, json!({"name": "alarm"})).await,
                403 => broadcast(&alice, json!({"name": "alarm"})).await,
                409 => {
                    let first = json!({"name": "alarm", "signalId": unique});
                    let r = broadcast(&ttd, first).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
                    let other = json!({"name": "drill", "signalId": unique});
                    broadcast(&ttd, other).await
                }
                _ => broadcast(&ttd, json!({"name": "fire"})).await,
            }
        }
        ("get", "/{org}/{app}/signals/subscriptions", 200 | 400 | 403) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let uri = "/ttd/alarms/signals/subscriptions".to_string();
            let (uri, token) = match status {
                200 => (uri, &ttd),
                400 => (format!("{uri}?limit=lots"), &ttd),
                _ => (uri, &alice),
            };
            s.call(Method::GET, &uri, Some(token), None).await
        }
        (
            "get",
            "/{org}/{app}/messages/subscriptions" | "/{org}/{app}/messages/buffered",
            200 | 400 | 403,
        ) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let uri = path.replace("{org}/{app}", "ttd/awaits");
            let (uri, token) = match status {
                200 => (uri, &ttd),
                400 => (format!("{uri}?limit=lots"), &ttd),
                _ => (uri, &alice),
            };
            s.call(Method::GET, &uri, Some(token), None).await
        }
        ("get", "/{org}/{app}/timers", 200 | 400 | 403) => {
            let ttd = s.org(TTD_ORGNO, Some("ttd"), &[]);
            let (uri, token) = match status {
                200 => ("/ttd/letters/timers", &ttd),
                400 => ("/ttd/letters/timers?continuationToken=x", &ttd),
                _ => ("/ttd/letters/timers", &alice),
            };
            s.call(Method::GET, uri, Some(token), None).await
        }
        ("get", "/{org}/{app}/tasks/mine", 200 | 400) => {
            let uri = match status {
                200 => "/ttd/letters/tasks/mine",
                _ => "/ttd/letters/tasks/mine?continuationToken=x",
            };
            s.call(Method::GET, uri, Some(&alice), None).await
        }
        ("get", "/{org}/{app}/instances", 200) => {
            s.call(Method::GET, "/ttd/approval/instances", Some(&alice), None)
                .await
        }
        ("get", "/{org}/{app}/instances", 400) => {
            let uri = "/ttd/approval/instances?limit=lots";
            s.call(Method::GET, uri, Some(&alice), None).await
        }
        ("post", "/{org}/{app}/instances" | "/{org}/{app}/instances/create", _) => {
            let uri = path.replace("{org}/{app}", "ttd/approval");
            let create = |token: &str, body: &str, headers: &[(&str, &str)]| {
                let headers: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                send_owned(
                    s,
                    Method::POST,
                    uri.clone(),
                    Some(token.to_string()),
                    headers,
                    Some(body.as_bytes().to_vec()),
                )
            };
            match status {
                201 => create(&alice, "{}", &[]).await,
                400 => create(&alice, "[]", &[]).await,
                403 => {
                    let body = json!({"instanceOwner": {"personNumber": ALICE}}).to_string();
                    create(&bob, &body, &[]).await
                }
                409 => {
                    let key = [("idempotency-key", "statuses-409")];
                    let first = create(&alice, "{}", &key).await;
                    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
                    let other = json!({"data": {"claim": {"amount": 5}}}).to_string();
                    create(&alice, &other, &key).await
                }
                422 => {
                    let body = json!({"data": {"claim": {"amount": "lots"}}}).to_string();
                    create(&alice, &body, &[]).await
                }
                _ => return None,
            }
        }
        ("get", "/{org}/{app}/instances/{party_id}/{instance_guid}", 200 | 403) => {
            let token = if status == 200 { &alice } else { &bob };
            s.call(Method::GET, &claim().await, Some(token), None).await
        }
        ("delete", "/{org}/{app}/instances/{party_id}/{instance_guid}", _) => match status {
            204 => {
                s.call(Method::DELETE, &claim().await, Some(&alice), None)
                    .await
            }
            403 => {
                s.call(Method::DELETE, &claim().await, Some(&bob), None)
                    .await
            }
            412 => {
                let path = claim().await;
                s.send(Method::DELETE, &path, Some(&alice), None, &stale)
                    .await
            }
            // Two deletes of one instance at once: the second to commit loses.
            409 => {
                let router = s.flyt.router();
                let mut paths = Vec::new();
                for _ in 0..200 {
                    paths.push(claim().await);
                }
                race(|n| {
                    let path = &paths[(n - 1) % paths.len()];
                    (
                        delete(router.clone(), path, &alice),
                        delete(router.clone(), path, &alice),
                    )
                })
                .await
            }
            _ => return None,
        },
        ("post", "/{org}/{app}/instances/{party_id}/{instance_guid}/actions", _) => {
            let calc = json!({"action": "calc"});
            match status {
                200 => {
                    let uri = format!("{}/actions", letter(s, &alice).await);
                    s.call(Method::POST, &uri, Some(&alice), Some(calc)).await
                }
                403 => {
                    let uri = format!("{}/actions", letter(s, &alice).await);
                    s.call(Method::POST, &uri, Some(&bob), Some(calc)).await
                }
                // A task that is not active.
                409 => {
                    let uri = format!("{}/actions", claim().await);
                    let body = json!({"action": "confirm", "taskId": "Confirm"});
                    s.call(Method::POST, &uri, Some(&alice), Some(body)).await
                }
                _ => return None,
            }
        }
        (
            "get",
            "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}",
            200 | 403,
        ) => {
            let token = if status == 200 { &alice } else { &bob };
            let uri = format!("{}/data/claim", claim().await);
            s.call(Method::GET, &uri, Some(token), None).await
        }
        ("post", "/{org}/{app}/instances/{party_id}/{instance_guid}/data", _) => {
            let pdf = crate::files::PDF;
            let path = crate::files::new_instance(s).await;
            let upload = |token: String, headers: Vec<(&'static str, &'static str)>| {
                let uri = format!("{path}/data?dataType=attachments");
                async move {
                    let mut all = vec![
                        ("content-type", "application/pdf"),
                        ("content-disposition", "attachment; filename=a.pdf"),
                    ];
                    all.extend(headers);
                    s.send(Method::POST, &uri, Some(&token), Some(pdf.to_vec()), &all)
                        .await
                }
            };
            match status {
                201 => upload(alice.clone(), vec![]).await,
                403 => upload(bob.clone(), vec![]).await,
                // The data type's max_count (2) is reached.
                409 => {
                    for _ in 0..2 {
                        let r = upload(alice.clone(), vec![]).await;
                        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                    }
                    upload(alice.clone(), vec![]).await
                }
                412 => upload(alice.clone(), vec![("if-match", "\"99\"")]).await,
                // Over the data type's 1,000 bytes, and a type it does not accept.
                413 => {
                    let uri = format!("{path}/data?dataType=attachments");
                    let headers = [
                        ("content-type", "text/plain"),
                        ("content-disposition", "attachment; filename=a.txt"),
                    ];
                    s.send(
                        Method::POST,
                        &uri,
                        Some(&alice),
                        Some(vec![b'a'; 1001]),
                        &headers,
                    )
                    .await
                }
                415 => {
                    let uri = format!("{path}/data?dataType=attachments");
                    let headers = [
                        ("content-type", "image/png"),
                        ("content-disposition", "attachment; filename=a.png"),
                    ];
                    s.send(
                        Method::POST,
                        &uri,
                        Some(&alice),
                        Some(b"\x89PNG\r\n\x1a\n".to_vec()),
                        &headers,
                    )
                    .await
                }
                _ => return None,
            }
        }
        ("delete", "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}", _) => {
            let path = crate::files::new_instance(s).await;
            let r = crate::files::upload(
                s,
                &path,
                "attachments",
                "application/pdf",
                crate::files::PDF,
            )
            .await;
            assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
            let uri = format!("{path}/data/{}", r.body["id"].as_str().unwrap());
            match status {
                200 => s.call(Method::DELETE, &uri, Some(&alice), None).await,
                403 => s.call(Method::DELETE, &uri, Some(&bob), None).await,
                // Past its task, the file is no longer writable.
                409 => {
                    let next = format!("{path}/process/next");
                    let moved = s.call(Method::PUT, &next, Some(&alice), None).await;
                    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
                    s.call(Method::DELETE, &uri, Some(&alice), None).await
                }
                412 => {
                    s.send(Method::DELETE, &uri, Some(&alice), None, &stale)
                        .await
                }
                _ => return None,
            }
        }
        ("put", "/{org}/{app}/instances/{party_id}/{instance_guid}/data/{data_type}", _) => {
            let path = claim().await;
            let uri = format!("{path}/data/claim");
            let put = |token: &str, body: Value, headers: &[(&str, &str)]| {
                let headers: Vec<(String, String)> = headers
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                send_owned(
                    s,
                    Method::PUT,
                    uri.clone(),
                    Some(token.to_string()),
                    headers,
                    Some(body.to_string().into_bytes()),
                )
            };
            match status {
                200 => put(&alice, json!({"amount": 5}), &[]).await,
                403 => put(&bob, json!({"amount": 5}), &[]).await,
                // Past its task, the claim is no longer writable.
                409 => {
                    let next = format!("{path}/process/next");
                    let moved = s.call(Method::PUT, &next, Some(&alice), None).await;
                    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
                    put(&alice, json!({"amount": 5}), &[]).await
                }
                412 => put(&alice, json!({"amount": 5}), &stale).await,
                422 => put(&alice, json!({"amount": "lots"}), &[]).await,
                _ => return None,
            }
        }
        (
            "get",
            "/{org}/{app}/instances/{party_id}/{instance_guid}/process"
            | "/{org}/{app}/instances/{party_id}/{instance_guid}/process/history",
            200 | 403,
        ) => {
            let token = if status == 200 { &alice } else { &bob };
            let uri = path.replace(
                "/{org}/{app}/instances/{party_id}/{instance_guid}",
                &claim().await,
            );
            s.call(Method::GET, &uri, Some(token), None).await
        }
        ("put", "/{org}/{app}/instances/{party_id}/{instance_guid}/process/next", _) => {
            let next = format!("{}/process/next", claim().await);
            match status {
                200 => s.call(Method::PUT, &next, Some(&alice), None).await,
                403 => s.call(Method::PUT, &next, Some(&bob), None).await,
                409 => {
                    let body = json!({"action": "confirm"});
                    s.call(Method::PUT, &next, Some(&alice), Some(body)).await
                }
                412 => s.send(Method::PUT, &next, Some(&alice), None, &stale).await,
                // A process that never reaches a wait state: the loop guard.
                422 => {
                    let r = s
                        .call(
                            Method::POST,
                            "/ttd/loop/instances",
                            Some(&alice),
                            Some(json!({})),
                        )
                        .await;
                    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
                    let id = r.body["id"].as_str().unwrap();
                    let uri = format!("/ttd/loop/instances/{id}/process/next");
                    s.call(Method::PUT, &uri, Some(&alice), None).await
                }
                _ => return None,
            }
        }
        ("post", "/{org}/{app}/instances/{party_id}/{instance_guid}/process/resume", _) => {
            match status {
                200 => {
                    let uri = format!("{}/process/resume", letter_with_incident(s).await);
                    s.call(Method::POST, &uri, Some(&operator(s)), None).await
                }
                403 => {
                    let uri = format!("{}/process/resume", letter_with_incident(s).await);
                    s.call(Method::POST, &uri, Some(&alice), None).await
                }
                409 => {
                    let uri = format!("{}/process/resume", claim().await);
                    s.call(Method::POST, &uri, Some(&operator(s)), None).await
                }
                412 => {
                    let uri = format!("{}/process/resume", letter_with_incident(s).await);
                    s.send(Method::POST, &uri, Some(&operator(s)), None, &stale)
                        .await
                }
                _ => return None,
            }
        }
        ("get", "/{org}/{app}/process/definition", _) => {
            let uri = "/ttd/approval/process/definition";
            match status {
                200 => s.call(Method::GET, uri, Some(&designer(s)), None).await,
                400 => {
                    let uri = format!("{uri}?version=first");
                    s.call(Method::GET, &uri, Some(&designer(s)), None).await
                }
                403 => s.call(Method::GET, uri, Some(&alice), None).await,
                _ => return None,
            }
        }
        ("put", "/{org}/{app}/process/definition", _) => {
            let uri = "/ttd/approval/process/definition";
            let deploy = |token: String, bpmn: Vec<u8>| async move {
                s.send(Method::PUT, uri, Some(&token), Some(bpmn), &xml)
                    .await
            };
            match status {
                200 => deploy(designer(s), approval_bpmn()).await,
                201 => deploy(designer(s), changed_bpmn(0)).await,
                403 => deploy(alice.clone(), changed_bpmn(0)).await,
                422 => deploy(designer(s), b"<definitions/>".to_vec()).await,
                // Two deploys at once: the second to commit loses.
                409 => {
                    let router = s.flyt.router();
                    let designer = designer(s);
                    race(|n| {
                        (
                            deploy_raw(router.clone(), uri, &designer, changed_bpmn(2 * n + 1)),
                            deploy_raw(router.clone(), uri, &designer, changed_bpmn(2 * n + 2)),
                        )
                    })
                    .await
                }
                _ => return None,
            }
        }
        ("post", "/{org}/{app}/process/definition/validate", 200 | 403) => {
            let uri = "/ttd/approval/process/definition/validate";
            let token = if status == 200 {
                designer(s)
            } else {
                alice.clone()
            };
            s.send(Method::POST, uri, Some(&token), Some(approval_bpmn()), &xml)
                .await
        }
        _ => return None,
    };
    Some(r)
}

/// `Server::send` with owned arguments, so that closures can return its future.
async fn send_owned(
    s: &Server,
    method: Method,
    uri: String,
    token: Option<String>,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
) -> Response {
    let headers: Vec<(&str, &str)> = headers
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    s.send(method, &uri, token.as_deref(), body, &headers).await
}

type Boxed = std::pin::Pin<Box<dyn std::future::Future<Output = Response> + Send>>;

async fn oneshot(router: axum::Router, req: axum::http::Request<Body>) -> Response {
    use tower::ServiceExt;
    let res = router.oneshot(req).await.unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    Response {
        status,
        headers,
        body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        text: String::from_utf8_lossy(&bytes).into_owned(),
    }
}

fn delete(router: axum::Router, path: &str, token: &str) -> Boxed {
    let req = axum::http::Request::builder()
        .method(Method::DELETE)
        .uri(path)
        .header("authorization", format!("Bearer {token}"))
        .body(Body::empty())
        .unwrap();
    Box::pin(oneshot(router, req))
}

fn deploy_raw(router: axum::Router, uri: &str, token: &str, bpmn: Vec<u8>) -> Boxed {
    let req = axum::http::Request::builder()
        .method(Method::PUT)
        .uri(uri)
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/xml")
        .body(Body::from(bpmn))
        .unwrap();
    Box::pin(oneshot(router, req))
}

/// The servers the generic producers need.
struct Generic {
    /// Any request over one per second (burst 1) of a client gets 429.
    rate_limited: Server,
    /// Its one concurrency permit is held by a request whose body never comes: 503.
    overloaded: Server,
    _held: tokio::task::JoinHandle<()>,
    /// A 300 ms request timeout, and an issuer whose JWKS endpoint never answers: 408.
    slow: Server,
    stalled_issuer: String,
    _stalled: std::net::TcpListener,
}

impl Generic {
    async fn start() -> Generic {
        let rate_limited = Server::with(|c| {
            c.limits.rate_limit_per_second = 1;
            c.limits.rate_limit_burst = 1;
        })
        .await;
        let overloaded = Server::with(|c| {
            c.limits.concurrency = 1;
            c.limits.request_timeout_ms = 600_000;
        })
        .await;
        let router = overloaded.flyt.router();
        let alice = overloaded.user(ALICE);
        // Retried if a probe below held the permit at that moment (503).
        let held = tokio::spawn(async move {
            loop {
                let req = axum::http::Request::builder()
                    .method(Method::POST)
                    .uri("/ttd/approval/instances")
                    .header("authorization", format!("Bearer {alice}"))
                    .header("content-type", "application/json")
                    .body(Body::from_stream(futures::stream::pending::<
                        Result<bytes::Bytes, std::io::Error>,
                    >()))
                    .unwrap();
                oneshot(router.clone(), req).await;
            }
        });
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let r = overloaded
                .call(Method::GET, "/health/live", None, None)
                .await;
            if r.status == StatusCode::SERVICE_UNAVAILABLE {
                break;
            }
            assert!(Instant::now() < deadline, "the permit was never taken");
            tokio::task::yield_now().await;
        }
        let stalled = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let stalled_issuer = format!("http://{}", stalled.local_addr().unwrap());
        let issuer = stalled_issuer.clone();
        let slow = Server::with(move |c| {
            c.limits.request_timeout_ms = 300;
            c.auth.jwks_refetch_min_secs = 0;
            c.auth.jwks_timeout_ms = 60_000;
            c.auth.issuers.push(flyt_api::auth::IssuerConfig {
                issuer: issuer.clone(),
                jwks_url: Some(format!("{issuer}/jwks")),
                ..Default::default()
            });
        })
        .await;
        Generic {
            rate_limited,
            overloaded,
            _held: held,
            slow,
            stalled_issuer,
            _stalled: stalled,
        }
    }

    /// A token of the stalled issuer: verifying it waits for its keys, which never come.
    fn stalled_token(&self) -> String {
        let b64 = |v: Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        format!(
            "{}.{}.c2ln",
            b64(json!({"alg": "RS256", "kid": "k1"})),
            b64(json!({"iss": self.stalled_issuer, "aud": "flyt", "exp": 4_000_000_000u64}))
        )
    }
}

/// The generic producer of `status` for an operation, if there is one.
async fn generic(
    s: &Server,
    g: &Generic,
    fill: &Fill,
    method: &str,
    path: &str,
    op: &Value,
    status: u16,
) -> Option<Response> {
    let method: Method = method.to_ascii_uppercase().parse().unwrap();
    let uri = fill.uri(path);
    let secured = op.get("security").is_some();
    let alice = s.user(ALICE);
    let token = secured.then_some(alice.as_str());
    let body = valid_body(path, op);
    let (bytes, content_type) = body.clone().unzip();
    let with_type = |extra: &[(String, String)]| {
        let mut headers: Vec<(String, String)> = content_type
            .map(|t| vec![("content-type".to_string(), t.to_string())])
            .unwrap_or_default();
        headers.extend(extra.iter().cloned());
        headers
    };
    let owned = token.map(str::to_string);
    let r = match status {
        401 if secured => send_owned(s, method.clone(), uri, None, with_type(&[]), bytes).await,
        404 if path.starts_with("/{org}/{app}/") => {
            let uri = uri.replacen("/ttd/approval/", "/ttd/no-such-app/", 1);
            send_owned(s, method.clone(), uri, owned, with_type(&[]), bytes).await
        }
        400 if path.contains('{') => {
            // The first path parameter, not UTF-8 once percent-decoded.
            let first = &path[path.find('{')?..=path.find('}')?];
            let uri = Fill {
                instance: fill.instance.clone(),
            }
            .uri(&path.replacen(first, "%FF", 1));
            send_owned(s, method.clone(), uri, owned, with_type(&[]), bytes).await
        }
        413 if body.is_some() => {
            let headers = with_type(&[("content-length".into(), "1073741824".into())]);
            send_owned(s, method.clone(), uri, owned, headers, None).await
        }
        415 if body.is_some() => {
            let headers = vec![("content-type".to_string(), "text/plain".to_string())];
            send_owned(s, method.clone(), uri, owned, headers, bytes).await
        }
        414 => {
            let uri = format!("{uri}?pad={}", "a".repeat(9000));
            send_owned(s, method.clone(), uri, owned, with_type(&[]), bytes).await
        }
        431 => {
            // One over the default `limits.max_headers`, without counting the others.
            let extra: Vec<(String, String)> = (0..101)
                .map(|i| (format!("x-h{i}"), "v".to_string()))
                .collect();
            send_owned(s, method.clone(), uri, owned, with_type(&extra), bytes).await
        }
        429 => {
            let mut last = None;
            for _ in 0..5 {
                let r = send_owned(
                    &g.rate_limited,
                    method.clone(),
                    uri.clone(),
                    Some("one client".into()),
                    with_type(&[]),
                    bytes.clone(),
                )
                .await;
                if r.status == StatusCode::TOO_MANY_REQUESTS {
                    last = Some(r);
                    break;
                }
            }
            last?
        }
        503 => {
            send_owned(
                &g.overloaded,
                method.clone(),
                uri,
                owned,
                with_type(&[]),
                bytes,
            )
            .await
        }
        408 if secured => {
            send_owned(
                &g.slow,
                method.clone(),
                uri,
                Some(g.stalled_token()),
                with_type(&[]),
                bytes,
            )
            .await
        }
        _ => return None,
    };
    Some(r)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_the_document_lists_is_produced_by_a_real_request() {
    let (s, _dir) = world().await;
    let g = Generic::start().await;
    let doc = s.call(Method::GET, "/openapi.json", None, None).await.body;
    let fill = Fill {
        instance: s.claim(ALICE, 10).await,
    };
    let mut unproduced = Vec::new();
    let mut wrong = Vec::new();
    let mut produced = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            for status in op["responses"].as_object().unwrap().keys() {
                let code: u16 = status.parse().unwrap();
                let r = match specific(&s, method, path, code).await {
                    Some(r) => Some(r),
                    None => generic(&s, &g, &fill, method, path, op, code).await,
                };
                let Some(r) = r else {
                    unproduced.push(format!("{method} {path} {status}"));
                    continue;
                };
                produced += 1;
                if r.status.as_u16() != code {
                    wrong.push(format!(
                        "{method} {path}: expected {status}, got {} {}",
                        r.status,
                        r.text.chars().take(300).collect::<String>()
                    ));
                } else if code >= 400 && r.headers["content-type"] != "application/problem+json" {
                    wrong.push(format!(
                        "{method} {path} {status} is not problem+json: {:?}",
                        r.headers.get("content-type")
                    ));
                }
            }
        }
    }
    assert!(
        unproduced.is_empty(),
        "listed in /openapi.json, but nothing here produces them (add a producer, or remove the status from the document if it cannot happen):\n{}",
        unproduced.join("\n")
    );
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert!(produced > 200, "only {produced} statuses checked");
}
