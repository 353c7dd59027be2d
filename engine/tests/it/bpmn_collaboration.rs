//! Several executable processes in one file: the app names the one instances start in, the
//! others are validated and loaded; message flows between pools are warnings.

use crate::rt::{Harness, app_id};
use crate::support::{compile, line_of, only};
use flyt_engine::app::AppSpec;
use flyt_engine::bpmn::{self, Code, Options};
use flyt_engine::hooks::Registry;
use flyt_engine::runtime::Error;
use flyt_engine::store::Store;

fn pool(id: &str, task: &str) -> String {
    format!(
        r#"<process id="{id}" isExecutable="true">
  <startEvent id="{id}_start"/>
  <task id="{task}"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>
  <endEvent id="{id}_end"/>
  <sequenceFlow id="{id}_f1" sourceRef="{id}_start" targetRef="{task}"/>
  <sequenceFlow id="{id}_f2" sourceRef="{task}" targetRef="{id}_end"/>
</process>"#
    )
}

fn two_pools() -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<definitions xmlns="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="defs">
<collaboration id="c">
  <participant id="p1" processRef="Applicant"/>
  <participant id="p2" processRef="Caseworker"/>
  <messageFlow id="m1" sourceRef="Apply" targetRef="Handle"/>
</collaboration>
{}
{}
</definitions>
"#,
        pool("Applicant", "Apply"),
        pool("Caseworker", "Handle")
    )
}

#[test]
fn the_named_process_is_the_one_instances_start_in_and_the_others_are_loaded() {
    let text = two_pools();
    let compiled = bpmn::compile(
        text.as_bytes(),
        &Options::default().with_process(Some("Caseworker")),
    )
    .expect("compiles");
    assert_eq!(compiled.definition.process_id().as_str(), "Caseworker");
    let others: Vec<&str> = compiled
        .others
        .iter()
        .map(|d| d.process_id().as_str())
        .collect();
    assert_eq!(others, ["Applicant"]);
    let m = only(&compiled.warnings, Code::IgnoredMessageFlow);
    assert_eq!(m.element_id.as_deref(), Some("m1"));
    assert_eq!(m.line, line_of(&text, r#"<messageFlow id="m1""#));
}

#[test]
fn several_processes_and_none_named_is_a_warning_for_validate_naming_every_id() {
    let text = two_pools();
    let compiled = compile(&text).expect("flyt validate accepts it");
    let d = only(&compiled.warnings, Code::AmbiguousProcess);
    assert!(
        d.message.contains("`Applicant`, `Caseworker`"),
        "{}",
        d.message
    );
    assert_eq!(d.line, line_of(&text, r#"<process id="Caseworker""#));
    assert_eq!(compiled.definition.process_id().as_str(), "Applicant");
}

#[test]
fn a_named_process_that_is_not_there_is_refused_listing_the_ids() {
    let text = two_pools();
    let rejected = bpmn::compile(
        text.as_bytes(),
        &Options::default().with_process(Some("Clerk")),
    )
    .unwrap_err();
    let d = only(&rejected.diagnostics, Code::NoProcess);
    assert!(
        d.message.contains("`Clerk`") && d.message.contains("`Applicant`, `Caseworker`"),
        "{}",
        d.message
    );
}

#[test]
fn every_process_is_validated() {
    let text = two_pools().replace(
        r#"targetRef="Caseworker_end""#,
        r#"targetRef="Caseworker_nowhere""#,
    );
    let rejected = bpmn::compile(
        text.as_bytes(),
        &Options::default().with_process(Some("Applicant")),
    )
    .unwrap_err();
    let d = only(&rejected.diagnostics, Code::UnknownReference);
    assert_eq!(d.element_id.as_deref(), Some("Caseworker_f2"));
}

#[tokio::test]
async fn an_app_that_names_its_process_starts_instances_there() {
    let app = AppSpec::open(app_id()).with_process("Caseworker");
    let h = Harness::with(
        &two_pools(),
        Store::memory(),
        Registry::builder().build(),
        app,
    )
    .await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["Handle"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
}

#[tokio::test]
async fn a_deploy_with_several_processes_and_none_named_is_refused() {
    let h = Harness::new(&crate::support::doc(r#"<startEvent id="s"/><endEvent id="e"/><sequenceFlow id="f" sourceRef="s" targetRef="e"/>"#)).await;
    let err =
        h.rt.deploy(&h.app, two_pools().as_bytes(), "test")
            .await
            .unwrap_err();
    let Error::InvalidDefinition(rejected) = &err else {
        panic!("{err:?}")
    };
    let d = only(&rejected.diagnostics, Code::AmbiguousProcess);
    assert!(d.is_error());
    assert!(
        d.message.contains("`Applicant`, `Caseworker`"),
        "{}",
        d.message
    );
}
