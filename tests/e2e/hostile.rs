//! Hostile input against the real binary over real HTTP on loopback: hostile BPMN uploads are
//! refused fast with the precise diagnostic, oversized bodies with 413 before they are read,
//! slow clients (slow bodies, headers that never finish, idle connections) are cut off, a flood
//! from one client gets prompt 429s, and the server keeps serving everyone else throughout.
//!
//! Every bound here is a hang detector, not a benchmark: generous, and asserted.

use flyt_tests::{Flyt, repo};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Each hostile request is answered within this.
const FAST: Duration = Duration::from_secs(5);

const ALICE: &str = "01017012345";
const BOB: &str = "02027012345";

/// `flyt serve` on the example apps, in memory, development authority on, with extra
/// `[limits]` lines.
fn start(dir: &Path, limits: &str) -> Flyt {
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"memory\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n[limits]\n{limits}\n",
            repo().join("processes").display(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    Flyt::start(dir, &config)
}

/// A client that opens a new connection per request (servers here close idle connections fast).
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(0)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A user token with scopes, from the server's development authority.
async fn token(base: &str, pid: &str, scope: &str) -> String {
    let r = client()
        .post(format!("{base}/authority/user-token"))
        .json(&json!({ "pid": pid, "scope": scope }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "user-token: {}", r.status());
    let body: Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// `host:port` of a base URL.
fn addr(base: &str) -> String {
    base.trim_start_matches("http://").to_string()
}

/// The server still serves: liveness, and a new instance created for Alice.
async fn still_serving(base: &str) {
    let c = client();
    let r = c.get(format!("{base}/health/live")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let alice = token(base, ALICE, "").await;
    let r = c
        .post(format!("{base}/ttd/approval/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"claim": {"amount": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
}

/// A raw HTTP response: status, headers (lower-cased names) and body.
#[derive(Debug)]
struct Raw {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Raw {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

/// Reads one response (head, then a `Content-Length` body) from `read`. `None` when the server
/// closed the connection (or reset it) before sending a complete head.
async fn read_response(read: &mut (impl AsyncReadExt + Unpin)) -> Option<Raw> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k == "content-length")
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = buf[head_end..].to_vec();
    while body.len() < length {
        match read.read(&mut chunk).await {
            Ok(0) | Err(_) => break,
            Ok(n) => body.extend_from_slice(&chunk[..n]),
        }
    }
    Some(Raw {
        status,
        headers,
        body: String::from_utf8_lossy(&body).into_owned(),
    })
}

/// Whether the server closes the connection (EOF or reset) within `within`, reading and
/// discarding anything it sends first.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> bool {
    let mut chunk = [0u8; 1024];
    tokio::time::timeout(within, async {
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await
    .is_ok()
}

// --- hostile BPMN ------------------------------------------------------------------------------

const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<definitions xmlns=\"http://www.omg.org/spec/BPMN/20100524/MODEL\" id=\"defs\">\n<process id=\"p\">\n";
const TAIL: &str = "</process>\n</definitions>\n";

/// A document whose `body` is on line 4.
fn doc(body: &str) -> String {
    format!("{HEAD}{body}\n{TAIL}")
}

/// One hostile upload and what it must be refused with.
struct Hostile {
    what: &'static str,
    bytes: Vec<u8>,
    code: &'static str,
    line: u32,
    column: Option<u32>,
    says: &'static str,
}

fn hostile_uploads() -> Vec<Hostile> {
    let billion_laughs = br#"<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;"><!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;"><!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;"><!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;"><!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;"><!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;"><!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t" name="&lol9;"/></process></definitions>"#;
    let xxe = br#"<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL"><process id="p"><task id="t" name="&xxe;"/></process></definitions>"#;
    let depth = 100_000;
    let mut deep = String::from(&HEAD[..HEAD.find("<process").unwrap()]);
    deep.push_str(&"<a>".repeat(depth));
    deep.push_str(&"</a>".repeat(depth));
    deep.push_str("</definitions>");
    let attributes: String = (0..200_000).map(|i| format!(" a{i}=\"\"")).collect();
    let mut invalid_utf8 = doc("<task id=\"t\" name=\"ok\"/>").into_bytes();
    let at = invalid_utf8.windows(2).position(|w| w == b"ok").unwrap();
    invalid_utf8[at] = 0xC3;
    invalid_utf8[at + 1] = 0x28;
    vec![
        Hostile {
            what: "billion laughs",
            bytes: billion_laughs.to_vec(),
            code: "doctype-forbidden",
            line: 2,
            column: None,
            says: "DOCTYPE",
        },
        Hostile {
            what: "external entity",
            bytes: xxe.to_vec(),
            code: "doctype-forbidden",
            line: 2,
            column: None,
            says: "DOCTYPE",
        },
        Hostile {
            what: "100,000-deep nesting",
            bytes: deep.into_bytes(),
            code: "limit-exceeded",
            line: 3,
            column: None,
            says: "64",
        },
        Hostile {
            what: "a 4 MiB attribute (under the body limit, over the attribute limit)",
            bytes: doc(&format!(
                "<task id=\"t\" name=\"{}\"/>",
                "x".repeat(4 * 1024 * 1024)
            ))
            .into_bytes(),
            code: "limit-exceeded",
            line: 4,
            column: None,
            says: "attribute",
        },
        Hostile {
            what: "200,000 attributes",
            bytes: doc(&format!("<task id=\"t\"{attributes}/>")).into_bytes(),
            code: "limit-exceeded",
            line: 4,
            column: None,
            says: "attributes",
        },
        Hostile {
            what: "duplicate attributes",
            bytes: doc("<task id=\"t\" id=\"u\"/>").into_bytes(),
            code: "xml-syntax",
            line: 4,
            column: None,
            says: "attribute",
        },
        Hostile {
            what: "invalid UTF-8",
            bytes: invalid_utf8,
            code: "encoding",
            line: 4,
            column: Some(20),
            says: "UTF-8",
        },
    ]
}

/// The diagnostic with `code` in a list of issues, checked for line (and column).
fn diagnostic<'a>(issues: &'a Value, h: &Hostile) -> &'a Value {
    let found = issues
        .as_array()
        .and_then(|a| a.iter().find(|i| i["code"] == h.code))
        .unwrap_or_else(|| panic!("{}: no `{}` diagnostic in {issues}", h.what, h.code));
    assert_eq!(found["line"], h.line, "{}: {found}", h.what);
    if let Some(column) = h.column {
        assert_eq!(found["column"], column, "{}: {found}", h.what);
    }
    assert!(
        found["message"]
            .as_str()
            .is_some_and(|m| m.to_lowercase().contains(&h.says.to_lowercase())),
        "{}: the message should mention `{}`: {found}",
        h.what,
        h.says
    );
    found
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bpmn_uploads_are_refused_fast_with_a_precise_diagnostic() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let base = server.url.clone();
    let designer = token(&base, ALICE, "flyt:designer").await;
    let c = client();
    let definition = format!("{base}/ttd/approval/process/definition");
    for h in hostile_uploads() {
        // Deploy: 422 with every diagnostic.
        let started = Instant::now();
        let r = c
            .put(&definition)
            .bearer_auth(&designer)
            .header("content-type", "application/xml")
            .body(h.bytes.clone())
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        let status = r.status();
        let content_type = r.headers()["content-type"].to_str().unwrap().to_string();
        let text = r.text().await.unwrap();
        assert_eq!(status, 422, "{}: {text}", h.what);
        assert!(took < FAST, "{}: deploy answered in {took:?}", h.what);
        assert_eq!(content_type, "application/problem+json", "{}", h.what);
        let body: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(body["code"], "invalid-definition", "{}: {text}", h.what);
        diagnostic(&body["issues"], &h);
        assert!(
            !text.contains("root:"),
            "{}: file contents leaked: {text}",
            h.what
        );
        // Dry run: 200 with `valid: false` and the same diagnostic.
        let started = Instant::now();
        let r = c
            .post(format!("{definition}/validate"))
            .bearer_auth(&designer)
            .header("content-type", "application/xml")
            .body(h.bytes.clone())
            .send()
            .await
            .unwrap();
        let took = started.elapsed();
        assert_eq!(r.status(), 200, "{}", h.what);
        assert!(took < FAST, "{}: validate answered in {took:?}", h.what);
        let body: Value = r.json().await.unwrap();
        assert_eq!(body["valid"], false, "{}: {body}", h.what);
        diagnostic(&body["diagnostics"], &h);
    }
    // Nothing was deployed, and the server is unaffected.
    let r = c
        .get(&definition)
        .bearer_auth(&designer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["x-definition-version"], "1");
    still_serving(&base).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_oversized_upload_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    // 5 MiB, the default BPMN limit.
    let server = start(dir.path(), "bpmn_body_bytes = 5242880");
    let base = server.url.clone();
    let designer = token(&base, ALICE, "flyt:designer").await;
    let fifty_mb = 50 * 1024 * 1024;
    let start_of_document = doc(&format!("<task id=\"t\" name=\"{}", "x".repeat(60_000)));

    // A 50 MB attribute, announced by Content-Length: refused from the header, with only the
    // first 60 KB ever sent.
    let mut stream = TcpStream::connect(addr(&base)).await.unwrap();
    let head = format!(
        "PUT /ttd/approval/process/definition HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {designer}\r\nContent-Type: application/xml\r\nContent-Length: {fifty_mb}\r\n\r\n",
        addr(&base)
    );
    let started = Instant::now();
    stream.write_all(head.as_bytes()).await.unwrap();
    stream
        .write_all(start_of_document.as_bytes())
        .await
        .unwrap();
    let r = tokio::time::timeout(FAST, read_response(&mut stream))
        .await
        .expect("413 within the bound, without the server waiting for the 50 MB")
        .expect("a response");
    assert_eq!(r.status, 413, "{r:?}");
    assert!(started.elapsed() < FAST);
    assert_eq!(r.header("content-type"), Some("application/problem+json"));
    assert_eq!(r.json()["code"], "payload-too-large", "{r:?}");
    drop(stream);

    // The same without Content-Length (chunked): cut off once it grows past the limit.
    let stream = TcpStream::connect(addr(&base)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let head = format!(
        "POST /ttd/approval/process/definition/validate HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {designer}\r\nContent-Type: application/xml\r\nTransfer-Encoding: chunked\r\n\r\n",
        addr(&base)
    );
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        let mut sent = 0usize;
        write.write_all(head.as_bytes()).await.ok()?;
        let chunk = vec![b'x'; 64 * 1024];
        // At most 50 MB; the server stops reading long before.
        while sent < fifty_mb {
            write
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .ok()?;
            write.write_all(&chunk).await.ok()?;
            write.write_all(b"\r\n").await.ok()?;
            sent += chunk.len();
        }
        Some(sent)
    });
    let r = tokio::time::timeout(FAST, read_response(&mut read))
        .await
        .expect("413 within the bound")
        .expect("a response");
    assert_eq!(r.status, 413, "{r:?}");
    assert_eq!(r.json()["code"], "payload-too-large", "{r:?}");
    assert!(started.elapsed() < FAST);
    writer.abort();
    still_serving(&base).await;
}

// --- slow clients ------------------------------------------------------------------------------

/// Sends `head` then the body one byte per second (a slowloris body); returns the response and
/// how long it took.
async fn slow_body(base: &str, head: String, within: Duration) -> (Option<Raw>, Duration) {
    let stream = TcpStream::connect(addr(base)).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let started = Instant::now();
    let writer = tokio::spawn(async move {
        write.write_all(head.as_bytes()).await.ok()?;
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        for _ in 0..60 {
            tick.tick().await;
            write.write_all(b" ").await.ok()?;
        }
        Some(())
    });
    let r = tokio::time::timeout(within, read_response(&mut read))
        .await
        .ok()
        .flatten();
    writer.abort();
    (r, started.elapsed())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_clients_are_cut_off_and_others_are_served() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "request_timeout_ms = 500");
    let base = server.url.clone();
    let alice = token(&base, ALICE, "").await;
    let host = addr(&base);

    // A body at one byte per second: 408 once the request timeout is over, while another
    // client is served meanwhile.
    let slow = {
        let head = format!(
            "POST /ttd/approval/instances HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {alice}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n"
        );
        let base = base.clone();
        tokio::spawn(async move { slow_body(&base, head, FAST).await })
    };
    let r = client()
        .get(format!("{base}/health/live"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "another client is served meanwhile");
    let (r, took) = slow.await.unwrap();
    let r = r.expect("408 within the bound");
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.json()["code"], "request-timeout", "{r:?}");
    assert!(
        took >= Duration::from_millis(400) && took < FAST,
        "answered after {took:?}"
    );
    let r = client()
        .get(format!("{base}/ttd/approval/instances"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap();
    let page: Value = r.json().await.unwrap();
    assert_eq!(
        page["instances"].as_array().map(Vec::len),
        Some(0),
        "the slow request created nothing"
    );

    // Headers that never finish: the connection is closed (hyper's header read timeout, the
    // request timeout), not held.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let started = Instant::now();
    stream
        .write_all(format!("GET /health/live HTTP/1.1\r\nHost: {host}\r\nX-Slow: ").as_bytes())
        .await
        .unwrap();
    assert!(
        closed_within(&mut stream, FAST).await,
        "a connection with unfinished headers was held open"
    );
    assert!(started.elapsed() >= Duration::from_millis(400));

    // Headers trickled a byte at a time: the bound is on the whole head, not per byte.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    let trickle = format!(
        "GET /health/live HTTP/1.1\r\nHost: {host}\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n\r\n"
    );
    let started = Instant::now();
    let mut closed = false;
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    for byte in trickle.as_bytes() {
        tick.tick().await;
        if stream.write_all(&[*byte]).await.is_err() {
            closed = true;
            break;
        }
        if started.elapsed() > FAST {
            break;
        }
    }
    assert!(
        closed || closed_within(&mut stream, Duration::from_millis(100)).await,
        "a trickled head was still open after {:?}",
        started.elapsed()
    );
    assert!(started.elapsed() < FAST);

    // A connection that sends nothing at all is closed too.
    let mut stream = TcpStream::connect(&host).await.unwrap();
    assert!(
        closed_within(&mut stream, FAST).await,
        "an idle connection was held open"
    );

    // The development authority reads its bodies under its own bound (5 s): a slow token
    // request is answered 408 rather than held.
    let head = format!(
        "POST /authority/token HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\n"
    );
    let (r, took) = slow_body(&base, head, Duration::from_secs(10)).await;
    let r = r.expect("the authority answers a slow body");
    assert_eq!(r.status, 408, "{r:?}");
    assert!(took < Duration::from_secs(10), "answered after {took:?}");

    still_serving(&base).await;
}

// --- rate limiting -----------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_from_one_client_gets_prompt_429s_not_a_queue() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(
        dir.path(),
        "rate_limit_per_second = 2\nrate_limit_burst = 5",
    );
    let base = server.url.clone();
    let alice = token(&base, ALICE, "").await;
    let flood = 200;
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let started = Instant::now();
    let mut requests = tokio::task::JoinSet::new();
    for _ in 0..flood {
        let c = c.clone();
        let url = format!("{base}/ttd/approval/instances");
        let alice = alice.clone();
        requests.spawn(async move {
            let sent = Instant::now();
            let r = c.get(url).bearer_auth(alice).send().await.unwrap();
            let status = r.status().as_u16();
            let retry_after = r
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse::<u64>().ok());
            let code = r.json::<Value>().await.ok().map(|b| b["code"].clone());
            (status, retry_after, code, sent.elapsed())
        });
    }
    let mut ok = 0;
    let mut limited = 0;
    let mut slowest_429 = Duration::ZERO;
    while let Some(result) = requests.join_next().await {
        let (status, retry_after, code, took) = result.unwrap();
        match status {
            200 => ok += 1,
            429 => {
                limited += 1;
                assert!(
                    retry_after.is_some_and(|s| s >= 1),
                    "429 without Retry-After"
                );
                assert_eq!(code, Some(json!("rate-limited")));
                slowest_429 = slowest_429.max(took);
            }
            other => panic!("unexpected status {other}"),
        }
    }
    let took = started.elapsed();
    // The burst, plus what refills at 2/s while the flood lasts.
    let allowed = 5 + 2 * (took.as_secs() as usize + 1);
    assert!(ok >= 1 && ok <= allowed, "{ok} of {flood} got through");
    assert_eq!(ok + limited, flood);
    assert!(took < FAST, "the flood took {took:?}");
    assert!(
        slowest_429 < Duration::from_secs(2),
        "a 429 took {slowest_429:?}: refusals must not queue"
    );
    // Without a token the client is its address (the server passes each connection's peer
    // address to the limiter): a burst of anonymous requests is limited too.
    let mut anonymous = Vec::new();
    for _ in 0..20 {
        let r = client()
            .get(format!("{base}/health/live"))
            .send()
            .await
            .unwrap();
        anonymous.push(r.status().as_u16());
    }
    assert!(anonymous.contains(&429), "{anonymous:?}");
    // Another client is not affected.
    let bob = token(&base, BOB, "").await;
    let r = client()
        .get(format!("{base}/ttd/approval/instances"))
        .bearer_auth(&bob)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

// --- rights ------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deploy_and_resume_without_the_right_are_403_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path(), "");
    let base = server.url.clone();
    let c = client();
    let bpmn = std::fs::read(repo().join("processes/ttd/approval/process.bpmn")).unwrap();
    let changed = String::from_utf8(bpmn)
        .unwrap()
        .replace("Confirm the claim", "Confirm your claim");
    let alice = token(&base, ALICE, "").await;
    let operator = token(&base, ALICE, "flyt:operator").await;
    for (who, t) in [("a user", &alice), ("an operator", &operator)] {
        for (method, path) in [
            (reqwest::Method::PUT, "/ttd/approval/process/definition"),
            (
                reqwest::Method::POST,
                "/ttd/approval/process/definition/validate",
            ),
        ] {
            let r = c
                .request(method.clone(), format!("{base}{path}"))
                .bearer_auth(t)
                .header("content-type", "application/xml")
                .body(changed.clone())
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 403, "{who}: {method} {path}");
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["code"], "forbidden", "{who}: {body}");
        }
    }
    // An instance of Alice's: she may not resume it (no operator scope, not the policy's
    // `resume`); a designer may not either.
    let r = c
        .post(format!("{base}/ttd/approval/instances"))
        .bearer_auth(&alice)
        .json(&json!({"data": {"claim": {"amount": 1}}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201);
    let location = r.headers()["location"].to_str().unwrap().to_string();
    let designer = token(&base, ALICE, "flyt:designer").await;
    for (who, t) in [("the owner", &alice), ("a designer", &designer)] {
        let r = c
            .post(format!("{location}/process/resume"))
            .bearer_auth(t)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{who}");
    }
    // Nothing was deployed.
    let r = c
        .get(format!("{base}/ttd/approval/process/definition"))
        .bearer_auth(&designer)
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-definition-version"], "1");
}
