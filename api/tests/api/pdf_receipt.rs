//! The `pdf` service task: a real PDF receipt of the form data, stored as a file of data type
//! `ref-data-as-pdf`, whose text (read back with poppler's `pdftotext`) holds the values.

use crate::support::*;
use axum::http::{Method, StatusCode};
use flyt_engine::runtime::worker::Worker;
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const RECEIPT_TOML: &str = r#"title = "Receipt"
[[data_types]]
id = "skjema"
task = "Fill"

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write"]
"#;

const RECEIPT_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
                  xmlns:altinn="http://altinn.no/process" id="receipt" targetNamespace="urn:flyt:tests">
  <bpmn:process id="receipt" isExecutable="true">
    <bpmn:startEvent id="Start"/>
    <bpmn:task id="Fill">
      <bpmn:extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></bpmn:extensionElements>
    </bpmn:task>
    <bpmn:serviceTask id="Pdf">
      <bpmn:extensionElements><altinn:taskExtension>
        <altinn:taskType>pdf</altinn:taskType>
        <altinn:pdfConfig>
          <altinn:autoPdfTaskIds><altinn:taskId>Fill</altinn:taskId></altinn:autoPdfTaskIds>
          <altinn:filenameTextResourceKey>kvittering</altinn:filenameTextResourceKey>
        </altinn:pdfConfig>
      </altinn:taskExtension></bpmn:extensionElements>
    </bpmn:serviceTask>
    <bpmn:endEvent id="End"/>
    <bpmn:sequenceFlow id="f1" sourceRef="Start" targetRef="Fill"/>
    <bpmn:sequenceFlow id="f2" sourceRef="Fill" targetRef="Pdf"/>
    <bpmn:sequenceFlow id="f3" sourceRef="Pdf" targetRef="End"/>
  </bpmn:process>
</bpmn:definitions>
"#;

/// `pdftotext`'s text of `pdf`, or `None` (with a "skipped" line) when poppler is not installed
/// and `FLYT_REQUIRE_PDFTOTEXT` (set by `.ci/run`) is not `1`.
fn pdftotext(pdf: &[u8]) -> Option<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("receipt.pdf");
    std::fs::write(&file, pdf).unwrap();
    match std::process::Command::new("pdftotext")
        .arg(&file)
        .arg("-")
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "pdftotext failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            Some(String::from_utf8(out.stdout).unwrap())
        }
        Err(e) if std::env::var("FLYT_REQUIRE_PDFTOTEXT").as_deref() != Ok("1") => {
            println!("skipped: pdftotext is not installed ({e}); apt-get install poppler-utils");
            None
        }
        Err(e) => panic!("pdftotext: {e}, and FLYT_REQUIRE_PDFTOTEXT=1"),
    }
}

#[tokio::test]
async fn the_pdf_task_adds_a_receipt_with_the_form_values() {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "ttd/receipt",
        &[("app.toml", RECEIPT_TOML), ("process.bpmn", RECEIPT_BPMN)],
    );
    let s = server_of(dir.path()).await;
    let worker = Worker::spawn(s.flyt.state.runtime().clone());
    let alice = s.user(ALICE);
    // Enough rows to need a second page.
    let rows: Vec<Value> = (0..90)
        .map(|i| json!({"vare": format!("rad {i}"), "antall": i}))
        .collect();
    let form = json!({
        "navn": "Kåre Ærlighet",
        "merknad": "æøå ÆØÅ",
        "adresse": {"gate": "Blåbærstien 7", "poststed": "Østre Ål"},
        "rader": rows,
    });
    let r = s
        .call(
            Method::POST,
            "/ttd/receipt/instances",
            Some(&alice),
            Some(json!({"data": {"skjema": form}})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    let path = format!("/ttd/receipt/instances/{id}");
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&alice),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);

    // The worker runs the pdf task and the process ends; poll with a deadline.
    let deadline = Instant::now() + Duration::from_secs(60);
    let instance = loop {
        let r = s.call(Method::GET, &path, Some(&alice), None).await;
        if r.body["process"]["ended"].is_string() {
            break r.body;
        }
        assert!(
            Instant::now() < deadline,
            "the pdf task did not finish: {}",
            r.text
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    worker.stop(Duration::from_secs(5)).await;
    let pdfs: Vec<&Value> = instance["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dataType"] == "ref-data-as-pdf")
        .collect();
    assert_eq!(pdfs.len(), 1, "one receipt per visit: {instance}");
    assert_eq!(pdfs[0]["contentType"], "application/pdf");
    assert_eq!(pdfs[0]["filename"], "kvittering.pdf");

    let uri = format!("{path}/data/{}", pdfs[0]["id"].as_str().unwrap());
    let (status, headers, bytes) = crate::files::download(&s, &uri).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert!(bytes.starts_with(b"%PDF-"));
    assert_eq!(pdfs[0]["size"], bytes.len());
    let Some(text) = pdftotext(&bytes) else {
        return;
    };
    for expected in [
        "ttd/receipt",
        &format!("Instance: {id}"),
        "Fill — skjema",
        "navn: Kåre Ærlighet",
        "merknad: æøå ÆØÅ",
        "adresse.gate: Blåbærstien 7",
        "adresse.poststed: Østre Ål",
        "rader[0].vare: rad 0",
        "rader[89].antall: 89",
    ] {
        assert!(
            text.contains(expected),
            "`{expected}` is not in the PDF's text:\n{text}"
        );
    }
    let pages = text.matches('\u{c}').count();
    assert!(
        pages >= 2,
        "180 lines need a page break; {pages} page(s):\n{text}"
    );
}
