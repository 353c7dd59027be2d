//! Inclusive gateways through the engine API: diverging takes every flow whose condition holds
//! (else the default, else the move is refused), converging waits for exactly the tokens that
//! can still arrive.

use crate::rt::*;
use crate::support::{self, doc};
use flyt_engine::bpmn::Code;
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::{Instance, TokenAt};
use flyt_engine::runtime::{Error, WriteData};

fn task(id: &str) -> String {
    format!(
        r#"<task id="{id}"><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType></altinn:taskExtension></extensionElements></task>"#
    )
}

fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#)
}

/// A flow taken when the boolean field `field` of data type `model` is true.
fn when(id: &str, from: &str, to: &str, field: &str) -> String {
    format!(
        r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><conditionExpression>["equals", ["dataModel", "{field}", "model"], true]</conditionExpression></sequenceFlow>"#
    )
}

/// start → fill → fork (a → A, b → B, c → C, default → D) → join → after → again? → fill | end.
fn fork_join(default: bool) -> String {
    let fork = if default {
        r#"<inclusiveGateway id="fork" default="fd"/>"#
    } else {
        r#"<inclusiveGateway id="fork"/>"#
    };
    let mut parts = vec![
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill"),
        fork.into(),
        task("A"),
        task("B"),
        task("C"),
        r#"<inclusiveGateway id="join"/>"#.into(),
        task("after"),
        r#"<exclusiveGateway id="again" default="done"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "fork"),
        when("fa", "fork", "A", "a"),
        when("fb", "fork", "B", "b"),
        when("fc", "fork", "C", "c"),
        flow("ja", "A", "join"),
        flow("jb", "B", "join"),
        flow("jc", "C", "join"),
        flow("f3", "join", "after"),
        flow("f4", "after", "again"),
        when("loop", "again", "fill", "again"),
        flow("done", "again", "end"),
    ];
    if default {
        parts.push(task("D"));
        parts.push(flow("fd", "fork", "D"));
        parts.push(flow("jd", "D", "join"));
    }
    doc(&parts.join("\n"))
}

async fn write(h: &Harness, i: &Instance, value: serde_json::Value) -> Instance {
    h.rt.write_data(WriteData {
        instance: i.id,
        data_type: DataTypeId::new("model"),
        value,
        actor: user(),
        expected_version: None,
    })
    .await
    .unwrap()
}

fn parked(i: &Instance) -> Vec<String> {
    i.process
        .tokens
        .iter()
        .filter_map(|t| match &t.at {
            TokenAt::Join { element, via } => Some(format!("{element}<-{via}")),
            _ => None,
        })
        .collect()
}

/// Fills in `answers`, leaves `fill`, and returns the instance at the branches.
async fn fork_with(h: &Harness, answers: serde_json::Value) -> Instance {
    let i = h.create().await;
    let i = write(h, &i, answers).await;
    h.next(i.id, None, Some("fill")).await.unwrap()
}

#[tokio::test]
async fn one_true_condition_takes_one_branch_and_the_join_does_not_wait_for_the_others() {
    let h = Harness::new(&fork_join(true)).await;
    let i = fork_with(&h, serde_json::json!({"a": true})).await;
    assert_eq!(h.active(&i), ["A"]);
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    assert!(parked(&i).is_empty());
}

#[tokio::test]
async fn two_true_conditions_fork_two_and_the_join_waits_for_the_one_still_upstream() {
    let h = Harness::new(&fork_join(true)).await;
    let i = fork_with(&h, serde_json::json!({"a": true, "c": true})).await;
    assert_eq!(h.active(&i), ["A", "C"]);
    let i = h.next(i.id, None, Some("C")).await.unwrap();
    assert_eq!(h.active(&i), ["A"], "C's token waits at the join for A");
    assert_eq!(parked(&i), ["join<-jc"]);
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    assert!(
        parked(&i).is_empty(),
        "one token per incoming flow was taken"
    );
    assert_eq!(i.process.tokens.len(), 1);
}

#[tokio::test]
async fn three_true_conditions_fork_three() {
    let h = Harness::new(&fork_join(true)).await;
    let i = fork_with(&h, serde_json::json!({"a": true, "b": true, "c": true})).await;
    assert_eq!(h.active(&i), ["A", "B", "C"]);
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(h.active(&i), ["C"]);
    assert_eq!(parked(&i), ["join<-jb", "join<-ja"]);
    let i = h.next(i.id, None, Some("C")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
}

#[tokio::test]
async fn no_true_condition_takes_the_default() {
    let h = Harness::new(&fork_join(true)).await;
    let i = fork_with(&h, serde_json::json!({"a": false})).await;
    assert_eq!(h.active(&i), ["D"]);
    let i = h.next(i.id, None, Some("D")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
}

#[tokio::test]
async fn no_true_condition_and_no_default_refuses_the_move_and_changes_nothing() {
    let h = Harness::new(&fork_join(false)).await;
    let i = h.create().await;
    let i = write(&h, &i, serde_json::json!({})).await;
    let history = h.rt.history(i.id).unwrap();
    let err = h.next(i.id, None, Some("fill")).await.unwrap_err();
    let Error::Gateway {
        gateway, results, ..
    } = &err
    else {
        panic!("{err:?}")
    };
    assert_eq!(gateway, "fork");
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(err.to_string().contains("no default flow"), "{err}");
    assert_eq!(h.rt.instance(i.id).unwrap(), i);
    assert_eq!(h.rt.history(i.id).unwrap(), history);
}

#[tokio::test]
async fn loops_through_the_fork_and_join_again() {
    let h = Harness::new(&fork_join(true)).await;
    let i = fork_with(&h, serde_json::json!({"a": true, "b": true, "again": true})).await;
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    let i = h.next(i.id, None, Some("after")).await.unwrap();
    assert_eq!(h.active(&i), ["fill"], "looped back");
    let i = write(&h, &i, serde_json::json!({"b": true, "again": false})).await;
    let i = h.next(i.id, None, Some("fill")).await.unwrap();
    assert_eq!(h.active(&i), ["B"]);
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    let i = h.next(i.id, None, Some("after")).await.unwrap();
    assert!(i.is_ended());
    assert_eq!(i.visits.get("join"), None, "joins are not visits");
}

/// A token that could still reach the join but takes another way: the join fires in the same
/// move that makes it unreachable.
#[tokio::test]
async fn the_join_fires_when_the_last_upstream_token_turns_away() {
    let bpmn = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("A"),
        task("B"),
        r#"<exclusiveGateway id="skip" default="jb"/>"#.into(),
        r#"<inclusiveGateway id="join"/>"#.into(),
        task("after"),
        r#"<endEvent id="end"/>"#.into(),
        r#"<endEvent id="aside"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "A"),
        flow("fb", "fork", "B"),
        flow("ja", "A", "join"),
        flow("f2", "B", "skip"),
        when("away", "skip", "aside", "skip"),
        flow("jb", "skip", "join"),
        flow("f3", "join", "after"),
        flow("f4", "after", "end"),
    ]
    .join("\n"));
    let h = Harness::new(&bpmn).await;
    let i = h.create().await;
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(h.active(&i), ["B"], "B can still reach the join: it waits");
    assert_eq!(parked(&i), ["join<-ja"]);
    let i = write(&h, &i, serde_json::json!({"skip": true})).await;
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    assert!(parked(&i).is_empty());
}

/// One gateway that joins and forks.
#[tokio::test]
async fn a_mixed_gateway_joins_then_forks_by_its_conditions() {
    let bpmn = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("A"),
        task("B"),
        r#"<inclusiveGateway id="mixed" default="fy"/>"#.into(),
        task("X"),
        task("Y"),
        r#"<endEvent id="endx"/>"#.into(),
        r#"<endEvent id="endy"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "A"),
        flow("fb", "fork", "B"),
        flow("ja", "A", "mixed"),
        flow("jb", "B", "mixed"),
        when("fx", "mixed", "X", "x"),
        flow("fy", "mixed", "Y"),
        flow("ex", "X", "endx"),
        flow("ey", "Y", "endy"),
    ]
    .join("\n"));
    let h = Harness::new(&bpmn).await;
    let i = h.create().await;
    let i = write(&h, &i, serde_json::json!({"x": true})).await;
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    assert_eq!(h.active(&i), ["A"]);
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(
        h.active(&i),
        ["X"],
        "joined once, then took the one flow that holds"
    );
}

#[test]
fn inclusive_gateways_validate_like_exclusive_ones() {
    let ok = fork_join(true);
    let compiled = support::compile(&ok).expect("compiles");
    assert!(compiled.warnings.is_empty(), "{:?}", compiled.warnings);

    let bad = ok.replace(r#"default="fd""#, r#"default="nope""#);
    let d = support::only(&support::rejected(&bad), Code::InvalidDefault);
    support::assert_at(&d, Code::InvalidDefault, "fork", &bad, r#"id="fork""#);

    // A flow without condition is always taken, so the default never is: a warning.
    let always = ok.replace(
        r#"<sequenceFlow id="fa" sourceRef="fork" targetRef="A"><conditionExpression>["equals", ["dataModel", "a", "model"], true]</conditionExpression></sequenceFlow>"#,
        &flow("fa", "fork", "A"),
    );
    let d = support::only(&support::diagnostics(&always), Code::UnconditionedFlow);
    assert_eq!(d.element_id.as_deref(), Some("fa"));
    assert!(support::compile(&always).is_ok());
}

/// Polls (yielding, never sleeping) until `check` holds; fails after 10 s of real time.
async fn eventually<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        tokio::task::yield_now().await;
    }
}

/// A token waiting at a timer catch event can still reach the join: the join waits for the
/// timer to fire.
#[tokio::test]
async fn the_join_waits_for_a_token_at_a_timer_upstream() {
    let bpmn = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("A"),
        r#"<intermediateCatchEvent id="wait"><timerEventDefinition><timeDuration>PT1H</timeDuration></timerEventDefinition></intermediateCatchEvent>"#.into(),
        r#"<inclusiveGateway id="join"/>"#.into(),
        task("after"),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "A"),
        flow("fw", "fork", "wait"),
        flow("ja", "A", "join"),
        flow("jw", "wait", "join"),
        flow("f2", "join", "after"),
        flow("f3", "after", "end"),
    ]
    .join("\n"));
    let h = Harness::new(&bpmn).await;
    let worker = flyt_engine::runtime::worker::Worker::spawn(h.rt.clone());
    let i = h.create().await;
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert!(h.active(&i).is_empty());
    assert_eq!(
        parked(&i),
        ["join<-ja"],
        "the timer's token can still arrive"
    );
    h.clock.advance(std::time::Duration::from_secs(3600));
    let i = eventually("the join to fire", || {
        h.rt.instance(i.id)
            .ok()
            .filter(|x| h.active(x) == ["after"])
    })
    .await;
    assert!(parked(&i).is_empty());
    worker.stop(std::time::Duration::from_secs(5)).await;
}

/// start → fill → fork (a → A, b → sub-process [start → B → end]) → join → after → end: a
/// branch of the join runs inside a sub-process.
fn join_after_sub_process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill"),
        r#"<inclusiveGateway id="fork"/>"#.into(),
        task("A"),
        format!(
            r#"<subProcess id="sub"><startEvent id="s_start"/>{}<endEvent id="s_end"/>{}{}</subProcess>"#,
            task("B"),
            flow("s1", "s_start", "B"),
            flow("s2", "B", "s_end")
        ),
        r#"<inclusiveGateway id="join"/>"#.into(),
        task("after"),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "fork"),
        when("fa", "fork", "A", "a"),
        when("fb", "fork", "sub", "b"),
        flow("ja", "A", "join"),
        flow("jb", "sub", "join"),
        flow("f3", "join", "after"),
        flow("f4", "after", "end"),
    ]
    .join("\n"))
}

/// Regression (found merging sub-processes with the inclusive gateway): a token inside a
/// sub-process stands, for the join rule, at the sub-process, which reaches the join. Reading
/// its own element instead (which reaches only the sub-process's end) fired the join early.
#[tokio::test]
async fn the_join_waits_for_a_token_inside_a_sub_process_upstream() {
    let h = Harness::new(&join_after_sub_process()).await;
    let i = fork_with(&h, serde_json::json!({"a": true, "b": true})).await;
    assert_eq!(h.active(&i), ["A", "B"]);
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(
        h.active(&i),
        ["B"],
        "the join waits for the token inside `sub`"
    );
    assert_eq!(parked(&i), ["join<-ja"]);
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    assert_eq!(h.active(&i), ["after"]);
    assert!(parked(&i).is_empty());
    let i = h.next(i.id, None, None).await.unwrap();
    assert!(i.is_ended());
}

/// start → sub-process [start → fill → fork (a → A, b → B) → join → end] → after → end, with a
/// task beside the sub-process (parallel): a join inside a sub-process fires by the tokens of
/// its own scope instance, whatever waits outside it.
#[tokio::test]
async fn a_join_inside_a_sub_process_fires_by_the_tokens_of_its_own_scope() {
    let inner = [
        r#"<startEvent id="s_start"/>"#.to_string(),
        task("fill"),
        r#"<inclusiveGateway id="fork"/>"#.into(),
        task("A"),
        task("B"),
        r#"<inclusiveGateway id="join"/>"#.into(),
        r#"<endEvent id="s_end"/>"#.into(),
        flow("s1", "s_start", "fill"),
        flow("s2", "fill", "fork"),
        when("fa", "fork", "A", "a"),
        when("fb", "fork", "B", "b"),
        flow("ja", "A", "join"),
        flow("jb", "B", "join"),
        flow("s3", "join", "s_end"),
    ]
    .join("");
    let xml = doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="split"/>"#.into(),
        format!(r#"<subProcess id="sub">{inner}</subProcess>"#),
        task("beside"),
        r#"<parallelGateway id="meet"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "split"),
        flow("f2", "split", "sub"),
        flow("f3", "split", "beside"),
        flow("f4", "sub", "meet"),
        flow("f5", "beside", "meet"),
        flow("f6", "meet", "end"),
    ]
    .join("\n"));
    let h = Harness::new(&xml).await;
    let i = h.create().await;
    assert_eq!(h.active(&i), ["beside", "fill"]);
    let i = write(&h, &i, serde_json::json!({"a": true, "b": true})).await;
    let i = h.next(i.id, None, Some("fill")).await.unwrap();
    assert_eq!(h.active(&i), ["A", "B", "beside"]);
    let i = h.next(i.id, None, Some("A")).await.unwrap();
    assert_eq!(parked(&i), ["join<-ja"], "waits for B, in its own scope");
    let i = h.next(i.id, None, Some("B")).await.unwrap();
    assert_eq!(
        h.active(&i),
        ["beside"],
        "the join fired and `sub` completed"
    );
    assert!(i.process.scopes.is_empty());
    let i = h.next(i.id, None, Some("beside")).await.unwrap();
    assert!(i.is_ended());
}
