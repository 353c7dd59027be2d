//! The `sendMessage` handler end to end in one process: a runtime with the handler and a job
//! worker, a fake authority issuing RS256 organisation tokens, and a stand-in receiver on a real
//! loopback socket that speaks the publishing contract (`POST /{org}/{app}/messages`) and
//! answers as each test scripts it.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use flyt_engine::app::{AppSpec, DataTypeSpec, Schema};
use flyt_engine::hooks::{HandlerConfig, Registry};
use flyt_engine::ids::{AppId, DataTypeId};
use flyt_engine::model::{Actor, EventType, Instance, InstanceOwner, Party};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::runtime::{CreateInstance, Runtime, RuntimeConfig};
use flyt_engine::store::Store;
use flyt_engine::time::{Clock, SystemClock};
use flyt_hooks::send_message::SendMessage;
use flyt_hooks::token_client::{TokenClient, TokenClientConfig, token_http_client};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use rand::SeedableRng;
use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

const SCOPE: &str = "altinn:serviceowner/instances.write";
const AUTHORITY: &str = "http://authority.test";

struct Keys {
    private_pem: String,
    public_pem: String,
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let mut rng = rand::rngs::StdRng::seed_from_u64(16);
        let key = rsa::RsaPrivateKey::new(&mut rng, 2048).expect("key");
        Keys {
            private_pem: key.to_pkcs8_pem(LineEnding::LF).expect("pem").to_string(),
            public_pem: key
                .to_public_key()
                .to_public_key_pem(LineEnding::LF)
                .expect("pem"),
        }
    })
}

/// What the stand-in receiver saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    claims: Option<Map<String, Value>>,
    body: Value,
}

#[derive(Default)]
struct Receiver {
    /// Answers in order; when empty: 200 correlated.
    script: parking_lot::Mutex<Vec<(u16, Value)>>,
    seen: parking_lot::Mutex<Vec<Seen>>,
}

/// The fake authority: a JWT-bearer grant gives an RS256 organisation token for acme.
async fn token() -> Response {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let claims = json!({
        "iss": AUTHORITY,
        "scope": SCOPE,
        "consumer": { "authority": "iso6523-actorid-upis", "ID": "0192:991825827" },
        "client_id": "acme-client",
        "iat": now,
        "exp": now + 3600,
    });
    let key = EncodingKey::from_rsa_pem(keys().private_pem.as_bytes()).expect("key");
    let jwt = jsonwebtoken::encode(&Header::new(Algorithm::RS256), &claims, &key).expect("jwt");
    axum::Json(
        json!({ "access_token": jwt, "token_type": "Bearer", "expires_in": 3600, "scope": SCOPE }),
    )
    .into_response()
}

async fn messages(
    State(receiver): State<Arc<Receiver>>,
    Path((org, app)): Path<(String, String)>,
    headers: HeaderMap,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    let claims = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .and_then(|jwt| {
            let key = DecodingKey::from_rsa_pem(keys().public_pem.as_bytes()).ok()?;
            let mut validation = Validation::new(Algorithm::RS256);
            validation.set_issuer(&[AUTHORITY]);
            validation.validate_aud = false;
            jsonwebtoken::decode::<Map<String, Value>>(jwt, &key, &validation)
                .ok()
                .map(|d| d.claims)
        });
    receiver.seen.lock().push(Seen {
        path: format!("/{org}/{app}/messages"),
        claims,
        body: body.clone(),
    });
    let next = {
        let mut script = receiver.script.lock();
        (!script.is_empty()).then(|| script.remove(0))
    };
    let (status, answer) = next.unwrap_or_else(|| {
        (
            200,
            json!({ "outcome": "correlated", "messageId": body["messageId"], "instanceId": "50001/0d6a1f6e-7b4c-4f57-9d35-2b3a8f5a1c11" }),
        )
    });
    let content_type = if status >= 400 {
        "application/problem+json"
    } else {
        "application/json"
    };
    (
        StatusCode::from_u16(status).expect("status"),
        [(header::CONTENT_TYPE, content_type)],
        answer.to_string(),
    )
        .into_response()
}

/// App B's instance creation, for createInstance: records the request, answers 201.
async fn instances(
    State(receiver): State<Arc<Receiver>>,
    Path((org, app)): Path<(String, String)>,
    axum::Json(body): axum::Json<Value>,
) -> Response {
    receiver.seen.lock().push(Seen {
        path: format!("/{org}/{app}/instances"),
        claims: None,
        body,
    });
    (
        StatusCode::CREATED,
        axum::Json(json!({ "id": "50001/0d6a1f6e-7b4c-4f57-9d35-2b3a8f5a1c11" })),
    )
        .into_response()
}

/// Serves the authority and the receiver on one loopback port; returns its base URL.
async fn serve(receiver: Arc<Receiver>) -> String {
    let router = axum::Router::new()
        .route("/token", post(token))
        .route("/{org}/{app}/messages", post(messages))
        .route("/{org}/{app}/instances", post(instances))
        .with_state(receiver);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, router).await.unwrap();
    });
    format!("http://{addr}")
}

fn case_schema() -> Schema {
    Schema::compile(json!({
        "type": "object",
        "properties": {
            "decision": { "type": "string", "enum": ["granted", "refused"] },
            "note": { "type": "string" },
            "sourceInstance": { "type": "string" }
        },
        "additionalProperties": false
    }))
    .unwrap()
}

fn bpmn(element: &str, extra: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:t">
  <message id="Message_caseDecided" name="caseDecided"/>
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    {element}
    {extra}
    <sequenceFlow id="f1" sourceRef="start" targetRef="answer"/>
  </process>
</definitions>"#
    )
}

fn answer_end(config_attrs: &str, payload: &str) -> String {
    format!(
        r#"<endEvent id="answer">
      <extensionElements>
        <flyt:sendMessage target="acme/grant-application" correlationKey='["dataModel", "sourceInstance"]'{config_attrs}>
          {payload}
        </flyt:sendMessage>
      </extensionElements>
      <messageEventDefinition messageRef="Message_caseDecided"/>
    </endEvent>"#
    )
}

const PAYLOAD: &str = r#"<flyt:payload from="decision" to="decision"/>
          <flyt:payload from="note" to="comment"/>
          <flyt:payload value="acme/grant-case" to="from"/>"#;

struct Setup {
    rt: Runtime,
    app: AppId,
    worker: Worker,
}

async fn setup(base: &str, bpmn_text: &str, downstream: &[&str]) -> Result<Setup, String> {
    let clock: Arc<dyn Clock> = Arc::new(SystemClock);
    let mut token_config = TokenClientConfig::new(
        format!("{base}/token"),
        AUTHORITY,
        "acme-client",
        keys().private_pem.clone(),
        SCOPE,
    );
    token_config.request_timeout = Duration::from_secs(5);
    let tokens = TokenClient::new(
        token_config,
        token_http_client(Duration::from_secs(5)).unwrap(),
        clock.clone(),
    )
    .unwrap();
    let allow: BTreeMap<AppId, String> = downstream
        .iter()
        .map(|a| (a.parse().unwrap(), base.to_string()))
        .collect();
    let tokens = Arc::new(tokens);
    let handler =
        SendMessage::new(allow.clone(), Some(tokens.clone()), Duration::from_secs(5)).unwrap();
    let create = flyt_hooks::create_instance::CreateInstance::new(
        allow,
        Some(tokens),
        Duration::from_secs(5),
    )
    .unwrap();
    let registry = Registry::builder()
        .service_task("createInstance", create)
        .service_task_with(
            "sendMessage",
            handler,
            HandlerConfig::default()
                .with_max_attempts(3)
                .with_backoff(Duration::from_millis(5), Duration::from_millis(20)),
        )
        .build();
    let rt = Runtime::with(Store::memory(), registry, clock, RuntimeConfig::default());
    let app: AppId = "acme/grant-case".parse().unwrap();
    let mut spec = AppSpec::new(app.clone());
    spec.data_types
        .push(DataTypeSpec::new("case").with_schema(case_schema()));
    rt.register_app(spec);
    rt.deploy(&app, bpmn_text.as_bytes(), "test")
        .await
        .map_err(|e| format!("{e:?}"))?;
    let worker = Worker::spawn(rt.clone());
    Ok(Setup { rt, app, worker })
}

async fn create(s: &Setup) -> Instance {
    let data = BTreeMap::from([(
        DataTypeId::new("case"),
        json!({ "decision": "granted", "note": "well argued", "sourceInstance": "50001/7c1e2b1a-9d0f-4d8e-a1c2-3b4d5e6f7a8b" }),
    )]);
    s.rt.create_instance(CreateInstance {
        app: s.app.clone(),
        owner: InstanceOwner::new(Party::person("01017012345").unwrap()),
        actor: Actor::user("01017012345"),
        data,
        start_event: None,
        idempotency: None,
    })
    .await
    .expect("create")
    .instance
}

async fn until(s: &Setup, i: &Instance, what: &str, done: impl Fn(&Instance) -> bool) -> Instance {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let now = s.rt.instance(i.id).unwrap();
        if done(&now) {
            return now;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {now:#?}"
        );
        tokio::task::yield_now().await;
    }
}

#[tokio::test]
async fn a_retry_after_a_503_sends_the_same_message_id_with_an_organisation_token() {
    let receiver = Arc::new(Receiver::default());
    receiver.script.lock().push((
        503,
        json!({ "type": "about:blank", "title": "down for maintenance", "status": 503 }),
    ));
    let base = serve(receiver.clone()).await;
    let s = setup(
        &base,
        &bpmn(&answer_end("", PAYLOAD), ""),
        &["acme/grant-application"],
    )
    .await
    .unwrap();
    let i = create(&s).await;
    let ended = until(&s, &i, "the process to end", |x| x.process.ended.is_some()).await;
    assert_eq!(ended.process.end_event.as_ref().unwrap().as_str(), "answer");

    let seen = receiver.seen.lock().clone();
    assert_eq!(seen.len(), 2, "one 503, one retry: {seen:#?}");
    for request in &seen {
        assert_eq!(request.path, "/acme/grant-application/messages");
        let claims = request
            .claims
            .as_ref()
            .expect("a valid RS256 token from the authority");
        assert_eq!(claims["scope"], SCOPE);
        assert_eq!(claims["consumer"]["ID"], "0192:991825827");
    }
    let first = &seen[0].body;
    assert_eq!(
        first["messageId"], seen[1].body["messageId"],
        "the retry reuses the id"
    );
    assert_eq!(first, &seen[1].body, "and sends the same content");
    let id = first["messageId"].as_str().unwrap();
    assert!(
        id.starts_with("acme/grant-case/") && id.ends_with("/answer/1"),
        "{id}"
    );
    assert_eq!(first["name"], "caseDecided", "from the messageRef's name");
    assert_eq!(
        first["correlationKey"],
        "50001/7c1e2b1a-9d0f-4d8e-a1c2-3b4d5e6f7a8b"
    );
    assert_eq!(first["timeToLive"], "PT1H");
    assert_eq!(
        first["data"],
        json!({ "decision": "granted", "comment": "well argued", "from": "acme/grant-case" })
    );

    // The answer is recorded with the element's end.
    let history = s.rt.history(i.id).unwrap();
    let end = history
        .iter()
        .find(|e| {
            e.event_type == EventType::EndTask
                && e.element_id.as_ref().map(|x| x.as_str()) == Some("answer")
        })
        .expect("the end of `answer`");
    let details = end.details.as_ref().expect("details");
    assert_eq!(details["sentMessage"]["outcome"], "correlated");
    assert_eq!(details["sentMessage"]["messageId"], id);
    s.worker.stop(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn a_403_from_the_receiver_is_an_incident_naming_status_and_detail() {
    let receiver = Arc::new(Receiver::default());
    receiver.script.lock().push((
        403,
        json!({ "type": "https://flyt.dev/problems/forbidden", "title": "Forbidden", "status": 403,
                "code": "publish-not-allowed", "detail": "org:acme may not publish caseDecided to acme/grant-application" }),
    ));
    let base = serve(receiver.clone()).await;
    let s = setup(
        &base,
        &bpmn(&answer_end("", PAYLOAD), ""),
        &["acme/grant-application"],
    )
    .await
    .unwrap();
    let i = create(&s).await;
    let stuck = until(&s, &i, "the incident", |x| !x.process.incidents.is_empty()).await;
    assert!(stuck.process.ended.is_none());
    let error = &stuck.process.incidents[0].last_error;
    assert!(error.contains("403"), "{error}");
    assert!(error.contains("publish-not-allowed"), "{error}");
    assert!(error.contains("may not publish caseDecided"), "{error}");
    assert_eq!(receiver.seen.lock().len(), 1, "a 403 is not retried");
    s.worker.stop(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn an_on_error_rule_turns_a_403_into_a_bpmn_error_for_the_boundary() {
    let receiver = Arc::new(Receiver::default());
    receiver
        .script
        .lock()
        .push((403, json!({ "status": 403, "code": "publish-not-allowed" })));
    let base = serve(receiver.clone()).await;
    let send = r#"<sendTask id="answer">
      <extensionElements>
        <flyt:sendMessage target="acme/grant-application" name="caseDecided" correlationKey='["dataModel", "sourceInstance"]'>
          <flyt:onError status="403" errorCode="notAllowed"/>
        </flyt:sendMessage>
      </extensionElements>
    </sendTask>"#;
    let extra = r#"<boundaryEvent id="refused" attachedToRef="answer"><errorEventDefinition/></boundaryEvent>
    <userTask id="callSomeone"/>
    <endEvent id="end"/>
    <sequenceFlow id="f2" sourceRef="answer" targetRef="end"/>
    <sequenceFlow id="f3" sourceRef="refused" targetRef="callSomeone"/>
    <sequenceFlow id="f4" sourceRef="callSomeone" targetRef="end"/>"#;
    let s = setup(&base, &bpmn(send, extra), &["acme/grant-application"])
        .await
        .unwrap();
    let i = create(&s).await;
    let moved = until(&s, &i, "the boundary", |x| {
        x.process
            .active_tasks()
            .any(|t| t.element_id.as_str() == "callSomeone")
    })
    .await;
    assert!(moved.process.incidents.is_empty());
    s.worker.stop(Duration::from_secs(2)).await;
}

#[tokio::test]
async fn deploy_refuses_a_target_off_the_allow_list_and_a_payload_field_the_data_has_not() {
    let receiver = Arc::new(Receiver::default());
    let base = serve(receiver).await;
    let text = bpmn(&answer_end("", PAYLOAD), "");
    let err = setup(&base, &text, &["acme/other"])
        .await
        .err()
        .expect("refused");
    assert!(err.contains("InvalidMessageThrow"), "{err}");
    assert!(
        err.contains("not on this server's downstream allow-list"),
        "{err}"
    );
    let line = text
        .lines()
        .position(|l| l.contains("<flyt:sendMessage"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line: {line}")), "line {line}: {err}");

    let text = bpmn(
        &answer_end("", r#"<flyt:payload from="verdict" to="decision"/>"#),
        "",
    );
    let err = setup(&base, &text, &["acme/grant-application"])
        .await
        .err()
        .expect("refused");
    assert!(
        err.contains("payload source `case.verdict` does not exist"),
        "{err}"
    );
    let line = text
        .lines()
        .position(|l| l.contains("from=\"verdict\""))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line: {line}")), "line {line}: {err}");
}

/// createInstance can prefill B with an expression over A's instance: A's own id, which B's
/// message end event later uses as the correlation key to answer A.
#[tokio::test]
async fn create_instance_prefills_an_expression_over_the_source_instance() {
    let receiver = Arc::new(Receiver::default());
    let base = serve(receiver.clone()).await;
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <serviceTask id="toCase" flyt:type="createInstance">
      <extensionElements>
        <flyt:createInstance target="acme/grant-application">
          <flyt:prefill expression='["instanceContext", "instanceId"]' to="sourceInstance"/>
          <flyt:prefill expression='["concat", "case of ", ["instanceContext", "appId"]]' to="note"/>
        </flyt:createInstance>
      </extensionElements>
    </serviceTask>
    <endEvent id="end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="toCase"/>
    <sequenceFlow id="f2" sourceRef="toCase" targetRef="end"/>
  </process>
</definitions>"#;
    let s = setup(&base, text, &["acme/grant-application"])
        .await
        .unwrap();
    let i = create(&s).await;
    until(&s, &i, "the process to end", |x| x.process.ended.is_some()).await;
    let seen = receiver.seen.lock().clone();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/acme/grant-application/instances");
    assert_eq!(seen[0].body["prefill"]["sourceInstance"], i.altinn_id());
    assert_eq!(seen[0].body["prefill"]["note"], "case of acme/grant-case");
    s.worker.stop(Duration::from_secs(2)).await;
}

#[test]
fn a_prefill_expression_that_does_not_parse_is_refused_at_its_line() {
    use flyt_engine::bpmn::{Options, compile};
    let text = r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:flyt="urn:flyt:bpmn:1" id="d" targetNamespace="urn:t">
  <process id="p" isExecutable="true">
    <startEvent id="start"/>
    <serviceTask id="toCase" flyt:type="createInstance">
      <extensionElements>
        <flyt:createInstance target="acme/grant-application">
          <flyt:prefill expression='["instanceContext"' to="sourceInstance"/>
        </flyt:createInstance>
      </extensionElements>
    </serviceTask>
    <endEvent id="end"/>
    <sequenceFlow id="f1" sourceRef="start" targetRef="toCase"/>
    <sequenceFlow id="f2" sourceRef="toCase" targetRef="end"/>
  </process>
</definitions>"#;
    let compiled = compile(text.as_bytes(), &Options::default()).unwrap();
    let node = compiled.definition.node_by_id("toCase").unwrap();
    let task = compiled.definition.service_task(node).unwrap();
    let err =
        flyt_hooks::create_instance::config::parse("toCase", Default::default(), task).unwrap_err();
    assert_eq!(err.len(), 1);
    assert_eq!(err[0].line, 8);
    assert!(
        err[0].message.contains("prefill expression does not parse"),
        "{}",
        err[0].message
    );
}

#[tokio::test]
async fn deploy_refuses_a_correlation_key_reading_a_field_the_data_has_not() {
    let receiver = Arc::new(Receiver::default());
    let base = serve(receiver).await;
    let text = bpmn(&answer_end("", PAYLOAD), "").replace(
        r#"correlationKey='["dataModel", "sourceInstance"]'"#,
        r#"correlationKey='["dataModel", "sourceInstanceId"]'"#,
    );
    let err = setup(&base, &text, &["acme/grant-application"])
        .await
        .err()
        .expect("refused");
    assert!(
        err.contains("correlationKey source `case.sourceInstanceId` does not exist"),
        "{err}"
    );
    let line = text
        .lines()
        .position(|l| l.contains("<flyt:sendMessage"))
        .unwrap()
        + 1;
    assert!(err.contains(&format!("line: {line}")), "line {line}: {err}");
}
