//! Files (binary data elements): upload, download and delete in Altinn's shape, and every limit
//! a data type puts on them.

use crate::support::*;
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use futures::StreamExt;
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tower::ServiceExt;

pub const FILES_TOML: &str = r#"title = "Files"
[[data_types]]
id = "form"
task = "Fill"

[[data_types]]
id = "attachments"
task = "Fill"
kind = "binary"
content_types = ["application/pdf", "text/plain"]
max_size_bytes = 1000
max_count = 2

[[rules]]
subjects = ["owner"]
actions = ["read", "instantiate", "write", "delete"]
"#;

pub const FILES_BPMN: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
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

pub const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj << /Type /Catalog >> endobj\n%%EOF\n";
const EXE: &[u8] = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00\xb8\x00\x00\x00";

/// A server with `ttd/files`, and an instance of it owned by Alice (`{party}/{guid}` path).
pub async fn files_world() -> (Server, tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    write_app(
        dir.path(),
        "ttd/files",
        &[("app.toml", FILES_TOML), ("process.bpmn", FILES_BPMN)],
    );
    let s = server_of(dir.path()).await;
    let path = new_instance(&s).await;
    (s, dir, path)
}

pub async fn new_instance(s: &Server) -> String {
    let r = s
        .call(
            Method::POST,
            "/ttd/files/instances",
            Some(&s.user(ALICE)),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    format!("/ttd/files/instances/{}", r.body["id"].as_str().unwrap())
}

pub async fn upload(
    s: &Server,
    path: &str,
    data_type: &str,
    content_type: &str,
    bytes: &[u8],
) -> Response {
    s.send(
        Method::POST,
        &format!("{path}/data?dataType={data_type}"),
        Some(&s.user(ALICE)),
        Some(bytes.to_vec()),
        &[
            ("content-type", content_type),
            (
                "content-disposition",
                "attachment; filename*=UTF-8''kvittering-%C3%A6%C3%B8%C3%A5.pdf",
            ),
        ],
    )
    .await
}

/// A file's bytes as Alice downloads them.
pub async fn download(s: &Server, uri: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let req = Request::builder()
        .uri(uri)
        .header("authorization", format!("Bearer {}", s.user(ALICE)))
        .body(Body::empty())
        .unwrap();
    let res = s.flyt.router().oneshot(req).await.unwrap();
    let (status, headers) = (res.status(), res.headers().clone());
    let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
        .await
        .unwrap();
    (status, headers, bytes.to_vec())
}

/// Files in the blob store's staging area (a refused upload must leave none).
fn staging_files(s: &Server) -> usize {
    let dir = s.flyt.state.runtime().store().blobs().root().join("tmp");
    std::fs::read_dir(dir).map_or(0, |d| d.count())
}

async fn files_of(s: &Server, path: &str) -> Vec<Value> {
    let r = s.call(Method::GET, path, Some(&s.user(ALICE)), None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    r.body["data"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|d| d["dataType"] == "attachments")
        .cloned()
        .collect()
}

#[tokio::test]
async fn an_upload_round_trips_with_its_content_type_name_and_hash() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let id = r.body["id"].as_str().unwrap().to_string();
    assert!(id.parse::<uuid::Uuid>().is_ok(), "{id}");
    assert_eq!(r.body["dataType"], "attachments");
    assert_eq!(r.body["contentType"], "application/pdf");
    assert_eq!(r.body["filename"], "kvittering-æøå.pdf");
    assert_eq!(r.body["size"], PDF.len());
    assert_eq!(r.body["createdBy"], format!("person:{ALICE}"));
    assert_eq!(r.body["locked"], false);
    use sha2::Digest;
    let sha = sha2::Sha256::digest(PDF);
    let hex: String = sha.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(r.body["sha256"], hex);
    assert!(
        r.headers["location"]
            .to_str()
            .unwrap()
            .ends_with(&format!("/data/{id}"))
    );

    // Listed in the instance beside JSON data.
    let listed = files_of(&s, &path).await;
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0]["id"], id);

    let (status, headers, bytes) = download(&s, &format!("{path}/data/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers["content-type"], "application/pdf");
    assert_eq!(bytes, PDF);
    let disposition = headers["content-disposition"].to_str().unwrap();
    assert!(
        disposition.contains("filename*=UTF-8''kvittering-%C3%A6%C3%B8%C3%A5.pdf"),
        "{disposition}"
    );
    // Another citizen cannot read it.
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/{id}"),
            Some(&s.user(BOB)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
}

#[tokio::test]
async fn a_file_over_max_size_is_refused_while_streaming_and_nothing_is_kept() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "attachments", "text/plain", &[b'a'; 1001]).await;
    refused(&r, StatusCode::PAYLOAD_TOO_LARGE, "payload-too-large");
    assert!(r.text.contains("1000"), "{}", r.text);
    assert_eq!(staging_files(&s), 0);
    assert!(files_of(&s, &path).await.is_empty());
    // Exactly the limit is fine.
    let r = upload(&s, &path, "attachments", "text/plain", &[b'a'; 1000]).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
}

/// A 30 MB body without a Content-Length, sent to a 1,000-byte data type: refused after the
/// first chunks, without reading (or keeping) the rest.
#[tokio::test]
async fn a_30_mb_upload_is_refused_without_buffering() {
    let (s, _dir, path) = files_world().await;
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    const CHUNK: usize = 64 * 1024;
    let body = futures::stream::iter(0..(30 * 1024 * 1024 / CHUNK)).map(move |_| {
        counter.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; CHUNK]))
    });
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{path}/data?dataType=attachments"))
        .header("authorization", format!("Bearer {}", s.user(ALICE)))
        .header("content-type", "text/plain")
        .header("content-disposition", "attachment; filename=big.txt")
        .body(Body::from_stream(body))
        .unwrap();
    let res = s.flyt.router().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let read = pulled.load(Ordering::SeqCst);
    assert!(
        read <= 2 * CHUNK,
        "{read} bytes were read for a 1,000-byte limit"
    );
    assert_eq!(staging_files(&s), 0);

    // A declared Content-Length over the limit is refused before a byte is read.
    let pulled = Arc::new(AtomicUsize::new(0));
    let counter = pulled.clone();
    let body = futures::stream::iter(0..80).map(move |_| {
        counter.fetch_add(CHUNK, Ordering::SeqCst);
        Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'a'; CHUNK]))
    });
    let req = Request::builder()
        .method(Method::POST)
        .uri(format!("{path}/data?dataType=attachments"))
        .header("authorization", format!("Bearer {}", s.user(ALICE)))
        .header("content-type", "text/plain")
        .header("content-length", (80 * CHUNK).to_string())
        .header("content-disposition", "attachment; filename=big.txt")
        .body(Body::from_stream(body))
        .unwrap();
    let res = s.flyt.router().oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(pulled.load(Ordering::SeqCst), 0, "the body was read");
    assert!(files_of(&s, &path).await.is_empty());
}

#[tokio::test]
async fn content_types_are_checked_against_the_data_type_and_the_bytes() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "attachments", "image/png", b"\x89PNG\r\n\x1a\n").await;
    refused(
        &r,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported-media-type",
    );
    assert!(
        r.text.contains("application/pdf, text/plain"),
        "the problem names the allowed types: {}",
        r.text
    );
    // An executable sent as a PDF (or as text) is refused by its signature.
    for declared in ["application/pdf", "text/plain"] {
        let r = upload(&s, &path, "attachments", declared, EXE).await;
        refused(
            &r,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "unsupported-media-type",
        );
        assert!(r.text.contains("exe"), "{}", r.text);
    }
    assert_eq!(staging_files(&s), 0);
    assert!(files_of(&s, &path).await.is_empty());
    // An empty file, no file name, no data type.
    let r = upload(&s, &path, "attachments", "text/plain", b"").await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    let r = s
        .send(
            Method::POST,
            &format!("{path}/data?dataType=attachments"),
            Some(&s.user(ALICE)),
            Some(b"x".to_vec()),
            &[("content-type", "text/plain")],
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(r.body["issues"][0]["field"], "Content-Disposition");
    let r = s
        .send(
            Method::POST,
            &format!("{path}/data"),
            Some(&s.user(ALICE)),
            Some(b"x".to_vec()),
            &[("content-type", "text/plain")],
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    assert_eq!(r.body["issues"][0]["field"], "dataType");
}

#[tokio::test]
async fn max_count_is_a_conflict() {
    let (s, _dir, path) = files_world().await;
    for _ in 0..2 {
        let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
        assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    }
    let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
    refused(&r, StatusCode::CONFLICT, "max-count-exceeded");
    assert_eq!(files_of(&s, &path).await.len(), 2);
}

#[tokio::test]
async fn json_and_binary_data_types_do_not_mix() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "form", "application/pdf", PDF).await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    assert!(r.text.contains("JSON data"), "{}", r.text);
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/data/attachments"),
            Some(&s.user(ALICE)),
            Some(json!({"a": 1})),
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
    assert!(r.text.contains("files"), "{}", r.text);
    // JSON data still works on the same path.
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/data/form"),
            Some(&s.user(ALICE)),
            Some(json!({"a": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/form"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.body, json!({"a": 1}));
}

#[tokio::test]
async fn a_deleted_file_is_gone_with_its_bytes() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let version = r.etag();
    let blob = s.flyt.state.runtime().store().blobs().path(
        path.rsplit('/').next().unwrap().parse().unwrap(),
        id.parse().unwrap(),
    );
    assert!(blob.exists());
    let uri = format!("{path}/data/{id}");
    let r = s.call(Method::DELETE, &uri, Some(&s.user(BOB)), None).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.text);
    let r = s
        .send(
            Method::DELETE,
            &uri,
            Some(&s.user(ALICE)),
            None,
            &[("if-match", "\"1\"")],
        )
        .await;
    refused(&r, StatusCode::PRECONDITION_FAILED, "precondition-failed");
    let r = s
        .send(
            Method::DELETE,
            &uri,
            Some(&s.user(ALICE)),
            None,
            &[("if-match", &version)],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert!(!blob.exists());
    assert!(files_of(&s, &path).await.is_empty());
    let r = s.call(Method::GET, &uri, Some(&s.user(ALICE)), None).await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
    let r = s
        .call(Method::DELETE, &uri, Some(&s.user(ALICE)), None)
        .await;
    refused(&r, StatusCode::NOT_FOUND, "not-found");
    let r = s
        .call(
            Method::DELETE,
            &format!("{path}/data/form"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    refused(&r, StatusCode::BAD_REQUEST, "bad-request");
}

#[tokio::test]
async fn no_upload_or_delete_once_the_task_is_done() {
    let (s, _dir, path) = files_world().await;
    let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
    let id = r.body["id"].as_str().unwrap().to_string();
    let r = s
        .call(
            Method::PUT,
            &format!("{path}/process/next"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = upload(&s, &path, "attachments", "application/pdf", PDF).await;
    refused(&r, StatusCode::CONFLICT, "data-not-writable");
    let r = s
        .call(
            Method::DELETE,
            &format!("{path}/data/{id}"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    refused(&r, StatusCode::CONFLICT, "data-not-writable");
    // Still readable after the process ended.
    let r = s
        .call(
            Method::GET,
            &format!("{path}/data/{id}"),
            Some(&s.user(ALICE)),
            None,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
}
