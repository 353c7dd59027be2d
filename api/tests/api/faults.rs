//! Storage faults injected through the backend trait: a full disk (every write fails) and a
//! backend that fails everything (as sled does once it has poisoned itself). Writes answer 503
//! `storage-unavailable` with `Retry-After` and leave no trace, reads keep working while only
//! writes fail, nothing answers 500 or panics, and writes resume when the fault clears.

use crate::support::{ALICE, config, refused};
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use flyt_api::server::{Flyt, ServerBuilder};
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::memory::MemoryBackend;
use flyt_engine::store::{Backend, BackendError, CheckFailed, Entry, Store, Unit};
use serde_json::{Value, json};
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};
use tower::ServiceExt;

const HEALTHY: u8 = 0;
/// `apply` fails (disk full); reads work.
const WRITES_FAIL: u8 = 1;
/// Every call fails (a poisoned sled store, a vanished disk).
const ALL_FAIL: u8 = 2;
/// Point reads (`get`) fail, scans work: a fault that starts between the two halves of a request.
const GETS_FAIL: u8 = 3;
/// Point reads of job records fail; everything else works.
const JOB_GETS_FAIL: u8 = 4;

/// A backend that fails on demand, in front of a real one.
struct FaultyBackend {
    inner: Arc<dyn Backend>,
    mode: AtomicU8,
}

impl FaultyBackend {
    fn set(&self, mode: u8) {
        self.mode.store(mode, Ordering::SeqCst);
    }

    fn mode(&self) -> u8 {
        self.mode.load(Ordering::SeqCst)
    }

    /// Every key and value, read past the fault switch.
    fn everything(&self) -> Vec<Entry> {
        self.inner.range(&[], &[0xFF; 16], usize::MAX).unwrap()
    }
}

impl Backend for FaultyBackend {
    fn name(&self) -> &'static str {
        "faulty"
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let job = key.first() == Some(&flyt_engine::store::layout::JOB);
        if matches!(self.mode(), ALL_FAIL | GETS_FAIL) || (self.mode() == JOB_GETS_FAIL && job) {
            return Err(BackendError::Io(
                "injected: the store failed earlier".into(),
            ));
        }
        self.inner.get(key)
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        if self.mode() == ALL_FAIL {
            return Err(BackendError::Io(
                "injected: the store failed earlier".into(),
            ));
        }
        self.inner.range(start, end, limit)
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        match self.mode() {
            HEALTHY | JOB_GETS_FAIL => self.inner.apply(units),
            WRITES_FAIL => Err(BackendError::Unavailable(
                "injected: no space left on device".into(),
            )),
            _ => Err(BackendError::Io(
                "injected: the store failed earlier".into(),
            )),
        }
    }
}

struct Faulty {
    flyt: Flyt,
    backend: Arc<FaultyBackend>,
    _dir: tempfile::TempDir,
}

struct Reply {
    status: StatusCode,
    headers: HeaderMap,
    body: Value,
    text: String,
}

impl Faulty {
    async fn start() -> Faulty {
        let dir = tempfile::tempdir().unwrap();
        let backend = Arc::new(FaultyBackend {
            inner: Arc::new(MemoryBackend::new()),
            mode: AtomicU8::new(HEALTHY),
        });
        let store = Store::with_backend(backend.clone(), GroupConfig::default(), "faulty").unwrap();
        let flyt = ServerBuilder::new(config(dir.path()))
            .store(store)
            .without_worker()
            .build("127.0.0.1:8080".parse().unwrap())
            .await
            .unwrap();
        Faulty {
            flyt,
            backend,
            _dir: dir,
        }
    }

    fn user(&self, pid: &str) -> String {
        let authority = self.flyt.state.inner.authority.as_ref().unwrap();
        authority.user_token(pid, &[], &[]).unwrap()
    }

    fn designer(&self) -> String {
        let authority = self.flyt.state.inner.authority.as_ref().unwrap();
        authority
            .org_token("974760673", Some("ttd"), &[], None)
            .unwrap()
    }

    async fn send(
        &self,
        method: Method,
        uri: &str,
        token: &str,
        body: Option<(&str, Vec<u8>)>,
        headers: &[(&str, &str)],
    ) -> Reply {
        let mut req = Request::builder()
            .method(method)
            .uri(uri)
            .header("authorization", format!("Bearer {token}"));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let req = match body {
            Some((content_type, bytes)) => req
                .header("content-type", content_type)
                .body(Body::from(bytes)),
            None => req.body(Body::empty()),
        }
        .unwrap();
        let res = self.flyt.router().oneshot(req).await.unwrap();
        let status = res.status();
        let headers = res.headers().clone();
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .unwrap();
        Reply {
            status,
            headers,
            body: serde_json::from_slice(&bytes).unwrap_or(Value::Null),
            text: String::from_utf8_lossy(&bytes).into_owned(),
        }
    }

    async fn json(&self, method: Method, uri: &str, token: &str, body: Value) -> Reply {
        let bytes = body.to_string().into_bytes();
        self.send(method, uri, token, Some(("application/json", bytes)), &[])
            .await
    }

    async fn get(&self, uri: &str, token: &str) -> Reply {
        self.send(Method::GET, uri, token, None, &[]).await
    }
}

/// 503 `storage-unavailable`, problem+json, with `Retry-After`.
fn unavailable(r: &Reply) {
    let as_support = crate::support::Response {
        status: r.status,
        headers: r.headers.clone(),
        body: r.body.clone(),
        text: r.text.clone(),
    };
    refused(
        &as_support,
        StatusCode::SERVICE_UNAVAILABLE,
        "storage-unavailable",
    );
    assert_eq!(r.headers["retry-after"], "1", "{:?}", r.headers);
}

fn approval_bpmn() -> String {
    std::fs::read_to_string(crate::support::processes_dir().join("ttd/approval/process.bpmn"))
        .unwrap()
}

/// What the reads answer, to compare before and after a fault.
async fn snapshot(s: &Faulty, path: &str, alice: &str, designer: &str) -> Vec<(u16, String)> {
    let mut out = Vec::new();
    for uri in [
        path.to_string(),
        format!("{path}/process"),
        format!("{path}/process/history"),
        format!("{path}/data/claim"),
        format!("/ttd/approval/instances?partyId={}", party_of(path)),
    ] {
        let r = s.get(&uri, alice).await;
        out.push((r.status.as_u16(), r.text));
    }
    let r = s.get("/ttd/approval/process/definition", designer).await;
    out.push((r.status.as_u16(), r.text));
    out
}

fn party_of(path: &str) -> &str {
    path.trim_start_matches("/ttd/approval/instances/")
        .split('/')
        .next()
        .unwrap()
}

#[tokio::test]
async fn disk_full_writes_answer_503_leave_nothing_reads_work_and_writes_resume() {
    let s = Faulty::start().await;
    let alice = s.user(ALICE);
    let designer = s.designer();
    let claim = json!({"amount": 120, "currency": "NOK", "description": "train ticket"});
    let r = s
        .json(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            json!({"data": {"claim": claim}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/approval/instances/{}", r.body["id"].as_str().unwrap());

    let stored = s.backend.everything();
    let reads = snapshot(&s, &path, &alice, &designer).await;
    assert!(reads.iter().all(|(status, _)| *status == 200), "{reads:#?}");

    s.backend.set(WRITES_FAIL);
    // Every kind of write: refused with 503 and Retry-After.
    let keyed = [("idempotency-key", "disk-full-1")];
    let create_body = json!({"data": {"claim": claim}}).to_string().into_bytes();
    let r = s
        .send(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            Some(("application/json", create_body.clone())),
            &keyed,
        )
        .await;
    unavailable(&r);
    let more = json!({"amount": 150, "currency": "NOK", "description": "return ticket"});
    unavailable(
        &s.json(
            Method::PUT,
            &format!("{path}/data/claim"),
            &alice,
            more.clone(),
        )
        .await,
    );
    unavailable(
        &s.send(
            Method::PUT,
            &format!("{path}/process/next"),
            &alice,
            None,
            &[],
        )
        .await,
    );
    let changed = approval_bpmn().replace("Confirm the claim", "Confirm your claim");
    let deploy = |bpmn: String| {
        s.send(
            Method::PUT,
            "/ttd/approval/process/definition",
            &designer,
            Some(("application/xml", bpmn.into_bytes())),
            &[],
        )
    };
    unavailable(&deploy(changed.clone()).await);
    unavailable(&s.send(Method::DELETE, &path, &alice, None, &[]).await);

    // Nothing partial: the store holds exactly what it held, and every read answers the same.
    assert!(
        s.backend.everything() == stored,
        "a failed write left a trace"
    );
    assert_eq!(snapshot(&s, &path, &alice, &designer).await, reads);
    assert_eq!(s.get("/health/live", &alice).await.status, StatusCode::OK);

    // The fault clears: the same writes succeed, the keyed create included (its key was not
    // stored by the failed attempt, so this creates the instance).
    s.backend.set(HEALTHY);
    let r = s
        .send(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            Some(("application/json", create_body)),
            &keyed,
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let r = s
        .json(
            Method::PUT,
            &format!("{path}/data/claim"),
            &alice,
            more.clone(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    let r = s
        .send(
            Method::PUT,
            &format!("{path}/process/next"),
            &alice,
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Confirm", "{}", r.text);
    let r = deploy(changed).await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    assert_eq!(r.body["version"], 2);
    let r = s.get(&format!("{path}/data/claim"), &alice).await;
    assert_eq!(r.body, more);
    let r = s
        .get(
            &format!("/ttd/approval/instances?partyId={}", party_of(&path)),
            &alice,
        )
        .await;
    assert_eq!(
        r.body["instances"].as_array().unwrap().len(),
        2,
        "{}",
        r.text
    );
}

/// sled poisons itself after a storage error: from then on reads fail too, until the store is
/// reopened. The API must keep answering 503 (never 500, never a panic) for reads and writes.
#[tokio::test]
async fn a_backend_that_keeps_failing_answers_503_for_reads_and_writes() {
    let s = Faulty::start().await;
    let alice = s.user(ALICE);
    let designer = s.designer();
    let r = s
        .json(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            json!({"data": {"claim": {"amount": 120}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!("/ttd/approval/instances/{}", r.body["id"].as_str().unwrap());
    let stored = s.backend.everything();

    s.backend.set(ALL_FAIL);
    for uri in [
        path.clone(),
        format!("{path}/process"),
        format!("{path}/process/history"),
        format!("{path}/data/claim"),
        format!("/ttd/approval/instances?partyId={}", party_of(&path)),
    ] {
        unavailable(&s.get(&uri, &alice).await);
    }
    unavailable(&s.get("/ttd/approval/process/definition", &designer).await);
    unavailable(
        &s.json(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            json!({"data": {"claim": {"amount": 1}}}),
        )
        .await,
    );
    unavailable(
        &s.send(
            Method::PUT,
            &format!("{path}/process/next"),
            &alice,
            None,
            &[],
        )
        .await,
    );
    assert_eq!(s.get("/health/live", &alice).await.status, StatusCode::OK);
    assert!(s.backend.everything() == stored);

    s.backend.set(HEALTHY);
    let r = s.get(&format!("{path}/process"), &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(r.body["currentTask"]["elementId"], "Fill");
}

/// Regression: listing read the owner index, then each instance, and skipped any instance whose
/// read failed, so a storage error in between answered 200 with a silently short page.
#[tokio::test]
async fn listing_while_instances_cannot_be_read_answers_503_not_a_short_page() {
    let s = Faulty::start().await;
    let alice = s.user(ALICE);
    let r = s
        .json(
            Method::POST,
            "/ttd/approval/instances",
            &alice,
            json!({"data": {"claim": {"amount": 120}}}),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let list = "/ttd/approval/instances";
    let r = s.get(list, &alice).await;
    assert_eq!(
        r.body["instances"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );

    s.backend.set(GETS_FAIL);
    unavailable(&s.get(list, &alice).await);

    s.backend.set(HEALTHY);
    let r = s.get(list, &alice).await;
    assert_eq!(
        r.body["instances"].as_array().unwrap().len(),
        1,
        "{}",
        r.text
    );
}

/// Regression: `GET .../process` left out a task's job when the job could not be read, showing
/// the service task as if it had no job. Now the read fails as a whole.
#[tokio::test]
async fn a_process_view_whose_job_cannot_be_read_answers_503_not_a_task_without_its_job() {
    let s = Faulty::start().await;
    let alice = s.user(ALICE);
    let data = json!({"application": {"applicant": {"name": "Alice"}, "amount": 500}});
    let r = s
        .json(
            Method::POST,
            "/acme/grant-application/instances",
            &alice,
            json!({ "data": data }),
        )
        .await;
    assert_eq!(r.status, StatusCode::CREATED, "{}", r.text);
    let path = format!(
        "/acme/grant-application/instances/{}",
        r.body["id"].as_str().unwrap()
    );
    for action in ["write", "confirm"] {
        let r = s
            .json(
                Method::PUT,
                &format!("{path}/process/next"),
                &alice,
                json!({ "action": action }),
            )
            .await;
        assert_eq!(r.status, StatusCode::OK, "{action}: {}", r.text);
    }
    let process = format!("{path}/process");
    let r = s.get(&process, &alice).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text);
    assert_eq!(
        r.body["currentTask"]["elementId"], "SendToCaseHandling",
        "{}",
        r.text
    );
    assert!(r.body["currentTask"]["job"].is_object(), "{}", r.text);

    s.backend.set(JOB_GETS_FAIL);
    unavailable(&s.get(&process, &alice).await);

    s.backend.set(HEALTHY);
    let r = s.get(&process, &alice).await;
    assert!(r.body["currentTask"]["job"].is_object(), "{}", r.text);
}
