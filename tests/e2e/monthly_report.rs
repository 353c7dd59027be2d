//! Timer start events in a real server: the example app `ttd/monthly-report` starts a report
//! on the first of every month. The tests read its schedule, then deploy the same process with
//! a cycle of seconds (a designer's deploy replaces the schedule) and watch the ticks start
//! reports owned by the service owner; across a SIGKILL, a tick that fell due while the server
//! was down starts exactly one report. Time is real: the tests poll with a bound, and never
//! sleep for a fixed time.

use flyt_tests::{Flyt, eventually, http, org_token, repo};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::time::Duration;

const TTD_ORGNO: &str = "974760673";
const APP: &str = "ttd/monthly-report";

fn config(dir: &std::path::Path) -> std::path::PathBuf {
    let config = dir.join("flyt.toml");
    std::fs::write(
        &config,
        format!(
            "listen = \"127.0.0.1:0\"\nprocesses_dir = \"{}\"\n[storage]\nbackend = \"redb\"\ndata_dir = \"{}\"\n[dev_authority]\nenabled = true\n",
            repo().join("processes").display(),
            dir.join("data").display()
        ),
    )
    .unwrap();
    config
}

/// The example's process with its monthly cycle replaced by `cycle`.
fn with_cycle(cycle: &str) -> String {
    let file =
        std::fs::read_to_string(repo().join("processes/ttd/monthly-report/process.bpmn")).unwrap();
    assert!(file.contains("R/2027-01-01T00:00:00Z/P1M"));
    file.replace("R/2027-01-01T00:00:00Z/P1M", cycle)
}

fn at(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap()
}

async fn deploy(base: &str, ttd: &str, bpmn: &str) {
    let r = http()
        .put(format!("{base}/{APP}/process/definition"))
        .bearer_auth(ttd)
        .header("content-type", "application/xml")
        .body(bpmn.to_string())
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
}

async fn get(url: &str, token: &str) -> Value {
    let r = http().get(url).bearer_auth(token).send().await.unwrap();
    assert_eq!(r.status(), 200, "{url}");
    r.json().await.unwrap()
}

/// The reports the schedule started: (instance URL, the tick it was started for).
async fn scheduled_reports(base: &str, ttd: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut url = format!("{base}/{APP}/instances?limit=100");
        if let Some(t) = &token {
            url.push_str(&format!("&continuationToken={t}"));
        }
        let page = get(&url, ttd).await;
        for i in page["instances"].as_array().unwrap() {
            let location = format!("{base}/{APP}/instances/{}", i["id"].as_str().unwrap());
            let history = get(&format!("{location}/process/history"), ttd).await;
            let start = &history["processHistory"][0];
            if start["elementId"] == "Monthly" {
                assert_eq!(i["instanceOwner"]["organisationNumber"], TTD_ORGNO, "{i}");
                let tick = start["details"]["tick"].as_str().unwrap().to_string();
                out.push((location, tick));
            }
        }
        match page["continuationToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return out,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_starts_on_each_tick_and_is_written_by_the_service_owner() {
    let dir = tempfile::tempdir().unwrap();
    let server = Flyt::start(dir.path(), &config(dir.path()));
    let base = server.url.clone();
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), "").await;

    // As shipped: the first report is due on the first of January 2027.
    let timers = get(&format!("{base}/{APP}/timers"), &ttd).await;
    assert_eq!(timers["schedules"][0]["elementId"], "Monthly", "{timers}");
    assert_eq!(timers["schedules"][0]["due"], "2027-01-01T00:00:00Z");

    // A designer deploys it with three ticks a second apart: the deploy replaces the schedule.
    deploy(&base, &ttd, &with_cycle("R3/PT1S")).await;
    let reports = eventually("three reports", Duration::from_secs(30), || {
        let (base, ttd) = (base.clone(), ttd.clone());
        async move {
            let reports = scheduled_reports(&base, &ttd).await;
            (reports.len() >= 3).then_some(reports)
        }
    })
    .await;
    assert_eq!(reports.len(), 3, "R3: three ticks, three reports");
    let ticks: BTreeSet<&String> = reports.iter().map(|(_, t)| t).collect();
    assert_eq!(ticks.len(), 3, "one report per tick: {reports:?}");
    let timers = get(&format!("{base}/{APP}/timers"), &ttd).await;
    assert_eq!(
        timers["schedules"],
        json!([]),
        "the cycle is over: {timers}"
    );

    // The service owner writes and submits one.
    let (report, _) = &reports[0];
    let r = http()
        .put(format!("{report}/data/report"))
        .bearer_auth(&ttd)
        .json(&json!({"summary": "Quiet month", "casesHandled": 12}))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let r = http()
        .put(format!("{report}/process/next"))
        .bearer_auth(&ttd)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let state: Value = r.json().await.unwrap();
    assert_eq!(state["endEvent"], "Submitted", "{state}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_due_while_the_server_was_killed_start_one_report_each() {
    let dir = tempfile::tempdir().unwrap();
    let config = config(dir.path());
    let mut server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), "").await;
    deploy(&base, &ttd, &with_cycle("R/PT1S")).await;
    eventually("a first report", Duration::from_secs(30), || {
        let (base, ttd) = (base.clone(), ttd.clone());
        async move { (!scheduled_reports(&base, &ttd).await.is_empty()).then_some(()) }
    })
    .await;
    let timers = get(&format!("{base}/{APP}/timers"), &ttd).await;
    let due_text = timers["schedules"][0]["due"].as_str().unwrap().to_string();
    let due = at(&due_text);
    server.kill();
    // Down until the next tick (and likely more) has fallen due.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while time::OffsetDateTime::now_utc() <= due + time::Duration::milliseconds(1500) {
        assert!(
            std::time::Instant::now() < deadline,
            "the clock stands still"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let server = Flyt::start(dir.path(), &config);
    let base = server.url.clone();
    let ttd = org_token(&base, TTD_ORGNO, Some("ttd"), "").await;
    let reports = eventually("reports after the restart", Duration::from_secs(30), || {
        let (base, ttd) = (base.clone(), ttd.clone());
        async move {
            let reports = scheduled_reports(&base, &ttd).await;
            let after = reports.iter().filter(|(_, t)| at(t) >= due).count();
            (after >= 2).then_some(reports)
        }
    })
    .await;
    // Stop the ticking (the shipped file's schedule replaces the fast one), then count again.
    deploy(&base, &ttd, &with_cycle("R/2027-01-01T00:00:00Z/P1M")).await;
    let reports_now = scheduled_reports(&base, &ttd).await;
    assert!(reports_now.len() >= reports.len());
    let ticks: BTreeSet<&String> = reports_now.iter().map(|(_, t)| t).collect();
    assert_eq!(
        ticks.len(),
        reports_now.len(),
        "a tick started two reports: {reports_now:?}"
    );
    // The tick that fell due while the server was down started exactly one report.
    assert_eq!(
        reports_now.iter().filter(|(_, t)| *t == due_text).count(),
        1,
        "{reports_now:?}"
    );
}
