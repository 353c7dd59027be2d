//! Files over real HTTP on redb: a 3 MB attachment survives a SIGKILL and a restart byte for byte,
//! and the restart sweeps the bytes a crash left unreferenced.

use flyt_tests::{Flyt, http, user_token};
use serde_json::{Value, json};

const APP_TOML: &str = r#"title = "Files"
[[data_types]]
id = "attachments"
task = "Fill"
kind = "binary"
content_types = ["text/plain"]
max_size_bytes = 5000000

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

const APP_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" id="files" targetNamespace="urn:flyt:tests">
  <bpmn:process id="files" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Fill">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attachment_survives_a_kill_and_restart_and_orphans_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    let app = dir.path().join("processes/ttd/files");
    std::fs::create_dir_all(&app).unwrap();
    std::fs::write(app.join("app.toml"), APP_TOML).unwrap();
    std::fs::write(app.join("process.bpmn"), APP_BPMN).unwrap();
    let data = dir.path().join("data");
    let config = dir.path().join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            dir.path().join("processes").display(),
            data.display()
        ),
    )
    .unwrap();

    let mut server = Flyt::start(dir.path(), &config);
    let client = http();
    let alice = user_token(&server.url, "01017012345", &[]).await;
    let r = client
        .post(format!("{}/ttd/files/instances", server.url))
        .bearer_auth(&alice)
        .json(&json!({}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let bytes: Vec<u8> = (0..3_000_000u32)
        .map(|i| b"abcdefghij\n"[(i % 11) as usize])
        .collect();
    let r = client
        .post(format!("{location}/data?dataType=attachments"))
        .bearer_auth(&alice)
        .header("content-type", "text/plain")
        .header("content-disposition", "attachment; filename=\"notat.txt\"")
        .body(bytes.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let element: Value = r.json().await.unwrap();
    let id = element["id"].as_str().unwrap().to_string();
    assert_eq!(element["size"], 3_000_000);
    server.kill();

    // What a crash between an upload's file write and its commit leaves behind.
    let guid = location.rsplit('/').next().unwrap();
    let blobs = data.join("store/blobs");
    let orphan = blobs.join(guid).join(uuid::Uuid::new_v4().to_string());
    std::fs::write(&orphan, b"never committed").unwrap();
    std::fs::write(blobs.join("tmp").join("half"), b"half an upload").unwrap();

    let server = Flyt::start(dir.path(), &config);
    let alice = user_token(&server.url, "01017012345", &[]).await;
    let location = location.replace(location.split("/ttd/").next().unwrap(), server.url.as_str());
    let r = client
        .get(format!("{location}/data/{id}"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/plain");
    let got = r.bytes().await.unwrap();
    assert!(got == bytes, "the bytes differ after the restart");
    assert!(!orphan.exists(), "the orphan was not swept");
    assert_eq!(std::fs::read_dir(blobs.join("tmp")).unwrap().count(), 0);
    assert!(blobs.join(guid).join(&id).exists());
}
