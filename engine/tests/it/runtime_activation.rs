//! External job activation is fair across job types and apps.

use crate::rt::*;
use crate::support::doc;
use flyt_engine::app::AppSpec;
use flyt_engine::hooks::{HandlerConfig, Registry};
use flyt_engine::ids::AppId;
use flyt_engine::runtime::Activation;
use flyt_engine::store::Store;
use std::time::Duration;

fn process() -> String {
    doc(r#"<startEvent id="s"/>
<exclusiveGateway id="g" default="fx"/>
<serviceTask id="X" flyt:type="x"/>
<serviceTask id="Y" flyt:type="y"/>
<endEvent id="e"/>
<sequenceFlow id="f0" sourceRef="s" targetRef="g"/>
<sequenceFlow id="fx" sourceRef="g" targetRef="X"/>
<sequenceFlow id="fy" sourceRef="g" targetRef="Y"><conditionExpression>["equals", ["dataModel", "to", "route"], "y"]</conditionExpression></sequenceFlow>
<sequenceFlow id="f1" sourceRef="X" targetRef="e"/>
<sequenceFlow id="f2" sourceRef="Y" targetRef="e"/>"#)
}

async fn harness() -> Harness {
    let registry = Registry::builder()
        .external_service_task("x", HandlerConfig::default())
        .external_service_task("y", HandlerConfig::default())
        .build();
    let mut app = AppSpec::open(app_id());
    app.open_data_types = true;
    Harness::with(&process(), Store::memory(), registry, app).await
}

fn activation<'a>(types: &'a [String], max: usize) -> Activation<'a> {
    Activation {
        job_types: types,
        max_jobs: max,
        worker: "w",
        lock: Duration::from_secs(60),
    }
}

#[tokio::test]
async fn a_job_of_another_type_is_not_starved_by_two_thousand_older_ones() {
    // Regression: activation scanned the 1,000 oldest due external jobs and then filtered by
    // type, so a Y job behind 2,000 X jobs was never found.
    let h = harness().await;
    for _ in 0..2_000 {
        h.create().await;
    }
    h.clock.advance(Duration::from_secs(1));
    let y = h
        .create_with(
            [(
                flyt_engine::ids::DataTypeId::new("route"),
                serde_json::json!({"to": "y"}),
            )]
            .into_iter()
            .collect(),
        )
        .await;
    h.clock.advance(Duration::from_secs(1));
    let all = |_: &AppId, _: &str| true;
    let types = ["y".to_string()];
    let got =
        h.rt.activate_jobs(activation(&types, 10), &all)
            .await
            .unwrap();
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].leased.job.instance, y.id);
    assert_eq!(got[0].leased.job.task_type, "y");
    // And the X jobs come oldest first, as many as asked for.
    let types = ["x".to_string()];
    let got =
        h.rt.activate_jobs(activation(&types, 100), &all)
            .await
            .unwrap();
    assert_eq!(got.len(), 100);
    assert!(
        got.windows(2)
            .all(|w| w[0].leased.job.created <= w[1].leased.job.created)
    );
}

#[tokio::test]
async fn jobs_of_apps_the_worker_does_not_serve_are_never_handed_out() {
    let h = harness().await;
    h.create().await;
    h.clock.advance(Duration::from_secs(1));
    let types = ["x".to_string()];
    let none = |_: &AppId, _: &str| false;
    assert!(
        h.rt.activate_jobs(activation(&types, 10), &none)
            .await
            .unwrap()
            .is_empty()
    );
    let this_app = |app: &AppId, t: &str| *app == app_id() && t == "x";
    assert_eq!(
        h.rt.activate_jobs(activation(&types, 10), &this_app)
            .await
            .unwrap()
            .len(),
        1
    );
}
