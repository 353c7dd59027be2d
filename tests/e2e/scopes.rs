//! Embedded sub-processes in a real server: an app (written to a temporary processes directory)
//! whose review round is a sub-process with two parallel reviews inside. `GET .../process` shows
//! the active sub-process while the reviews run; the history records entering and leaving it.

use flyt_tests::{Flyt, http, user_token};
use serde_json::{Value, json};

const OWNER: &str = "01017012345";

const APP: &str = r#"title = "Review round"
owner_types = ["person"]

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

fn task(id: &str) -> String {
    format!(
        r#"<bpmn:task id="{id}"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>"#
    )
}

fn process() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="d" targetNamespace="urn:test">
  <bpmn:process id="review-round" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:subProcess id="Round" name="Review round">
      <bpmn:startEvent id="RoundStart"/>
      <bpmn:parallelGateway id="Fork"/>
      {}
      {}
      <bpmn:parallelGateway id="Join"/>
      <bpmn:endEvent id="RoundEnd"/>
      <bpmn:sequenceFlow id="r1" sourceRef="RoundStart" targetRef="Fork"/>
      <bpmn:sequenceFlow id="r2" sourceRef="Fork" targetRef="Legal"/>
      <bpmn:sequenceFlow id="r3" sourceRef="Fork" targetRef="Finance"/>
      <bpmn:sequenceFlow id="r4" sourceRef="Legal" targetRef="Join"/>
      <bpmn:sequenceFlow id="r5" sourceRef="Finance" targetRef="Join"/>
      <bpmn:sequenceFlow id="r6" sourceRef="Join" targetRef="RoundEnd"/>
    </bpmn:subProcess>
    {}
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Round"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Round" targetRef="Decide"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Decide" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#,
        task("Legal"),
        task("Finance"),
        task("Decide")
    )
}

async fn next(location: &str, token: &str, task: &str) -> Value {
    let r = http()
        .put(format!("{location}/process/next"))
        .bearer_auth(token)
        .json(&json!({ "taskId": task }))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "{}", r.text().await.unwrap());
    r.json().await.unwrap()
}

fn active(state: &Value) -> Vec<String> {
    let mut v: Vec<String> = state["activeTasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["elementId"].as_str().unwrap().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_review_round_runs_as_a_sub_process_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let app_dir = dir.path().join("processes/ttd/review-round");
    std::fs::create_dir_all(&app_dir).unwrap();
    std::fs::write(app_dir.join("app.toml"), APP).unwrap();
    std::fs::write(app_dir.join("process.bpmn"), process()).unwrap();
    let config = dir.path().join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            dir.path().join("processes").display(),
            dir.path().join("data").display()
        ),
    )
    .unwrap();
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let owner = user_token(&base, OWNER, &[]).await;

    let r = http()
        .post(format!("{base}/ttd/review-round/instances"))
        .bearer_auth(&owner)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let location = r.headers()["location"].to_str().unwrap().to_string();

    let state: Value = http()
        .get(format!("{location}/process"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(active(&state), ["Finance", "Legal"], "{state}");
    assert_eq!(state["scopes"][0]["elementId"], "Round", "{state}");

    let state = next(&location, &owner, "Legal").await;
    assert_eq!(active(&state), ["Finance"], "{state}");
    assert_eq!(state["scopes"][0]["elementId"], "Round", "{state}");
    let state = next(&location, &owner, "Finance").await;
    assert_eq!(active(&state), ["Decide"], "{state}");
    assert!(state.get("scopes").is_none(), "the round is over: {state}");
    let state = next(&location, &owner, "Decide").await;
    assert_eq!(state["endEvent"], "End", "{state}");

    let history: Value = http()
        .get(format!("{location}/process/history"))
        .bearer_auth(&owner)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let events: Vec<String> = history["processHistory"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["eventType"].as_str().unwrap(),
                e["elementId"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        events.contains(&"flyt_ScopeEntered Round".to_string()),
        "{events:?}"
    );
    assert!(
        events.contains(&"flyt_ScopeLeft Round".to_string()),
        "{events:?}"
    );
}
