//! Hook points: when each one fires and with what context ([`points`], [`service_tasks`]), and
//! what a veto, an error or a timeout does — the instance is left exactly as it was
//! ([`paths`]).
//!
//! The fixtures: processes that reach every hook point, a recording [`Probe`] hook that can be
//! told to act (write, veto, fail, hang) at one point, a recording gateway [`Decider`] and a
//! [`Calc`] server action.

mod paths;
mod points;
mod service_tasks;

use crate::rt::*;
use crate::support::doc;
use async_trait::async_trait;
use flyt_engine::hooks::{
    GatewayContext, GatewayDecider, Hook, HookContext, HookError, HookResult, Issue, ServerAction,
    TaskRef,
};
use flyt_engine::ids::{DataTypeId, InstanceId};
use flyt_engine::model::{Actor, HistoryEvent, Instance};
use flyt_engine::runtime::WriteData;
use parking_lot::Mutex;
use serde_json::Value;
use std::sync::Arc;

fn task(id: &str, ty: &str, actions: &str) -> String {
    format!(
        r#"<task id="{id}" name="{id} name"><extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType><altinn:actions>{actions}</altinn:actions></altinn:taskExtension></extensionElements></task>"#
    )
}

fn flow(id: &str, from: &str, to: &str) -> String {
    format!(r#"<sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#)
}

/// fill (data, server action `calc`) → confirm (confirmation, may be rejected) → `g`, an
/// exclusive gateway with no conditions and no default: only a decider routes it, `back` to
/// fill or `done` to the end.
pub fn user_process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task(
            "fill",
            "data",
            r#"<altinn:action type="serverAction">calc</altinn:action>"#,
        ),
        task(
            "confirm",
            "confirmation",
            "<altinn:action>reject</altinn:action>",
        ),
        r#"<exclusiveGateway id="g"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "confirm"),
        flow("f3", "confirm", "g"),
        flow("back", "g", "fill"),
        flow("done", "g", "end"),
    ]
    .join("\n"))
}

/// Two branches, each to its own end event: the process ends when the second one does.
pub fn parallel_process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        r#"<parallelGateway id="fork"/>"#.into(),
        task("a", "data", ""),
        task("b", "data", ""),
        r#"<endEvent id="end_a"/>"#.into(),
        r#"<endEvent id="end_b"/>"#.into(),
        flow("f1", "start", "fork"),
        flow("fa", "fork", "a"),
        flow("fb", "fork", "b"),
        flow("ea", "a", "end_a"),
        flow("eb", "b", "end_b"),
    ]
    .join("\n"))
}

/// fill → `send` (a service task of type `send`) → end.
pub fn service_process() -> String {
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", ""),
        r#"<serviceTask id="send" name="Send" flyt:type="send"/>"#.into(),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "send"),
        flow("f3", "send", "end"),
    ]
    .join("\n"))
}

/// fill → `g2`, whose conditions read `model.route` (`a` or `b`), no default → ta | tb → end.
pub fn conditional_process() -> String {
    let cond = |id: &str, to: &str, value: &str| {
        format!(
            r#"<sequenceFlow id="{id}" sourceRef="g2" targetRef="{to}"><conditionExpression>["equals", ["dataModel", "route", "model"], "{value}"]</conditionExpression></sequenceFlow>"#
        )
    };
    doc(&[
        r#"<startEvent id="start"/>"#.to_string(),
        task("fill", "data", ""),
        r#"<exclusiveGateway id="g2"/>"#.into(),
        task("ta", "data", ""),
        task("tb", "data", ""),
        r#"<endEvent id="end"/>"#.into(),
        flow("f1", "start", "fill"),
        flow("f2", "fill", "g2"),
        cond("to_a", "ta", "a"),
        cond("to_b", "tb", "b"),
        flow("ea", "ta", "end"),
        flow("eb", "tb", "end"),
    ]
    .join("\n"))
}

/// The six [`Hook`] methods.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Point {
    Created,
    Started,
    Ending,
    Abandoned,
    Ended,
    Written,
}

/// What a hook saw in one call.
#[derive(Debug, Clone)]
pub struct Seen {
    pub hook: &'static str,
    pub point: Point,
    pub task: Option<String>,
    pub task_type: Option<String>,
    /// The action (task_ending, task_abandoned) or the data type (data_written).
    pub detail: Option<String>,
    pub active: Vec<String>,
    pub ended: bool,
    pub version: u64,
    pub history_len: u32,
    pub actor: Actor,
    /// `ctx.data("model")` at the time of the call.
    pub model: Option<Value>,
}

impl Seen {
    /// `point task/detail`, for comparing sequences of calls.
    pub fn short(&self) -> String {
        let what = [self.task.as_deref(), self.detail.as_deref()]
            .into_iter()
            .flatten()
            .collect::<Vec<_>>()
            .join(" ");
        format!("{:?} {what}", self.point).trim().to_string()
    }
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// What a hook does at a point (after recording the call).
#[derive(Clone, Copy)]
pub enum Act {
    Run(fn(&mut HookContext<'_>) -> HookResult),
    Hang,
}

pub fn veto(_: &mut HookContext<'_>) -> HookResult {
    Err(HookError::rejected(Issue::at("model.amount", "too large")))
}

pub fn fail(_: &mut HookContext<'_>) -> HookResult {
    Err(HookError::Failed("boom".into()))
}

/// A hook that records every call and acts where its rules say (a rule with a task applies
/// only to that task).
pub struct Probe {
    pub name: &'static str,
    pub log: Log,
    rules: Vec<(Point, Option<&'static str>, Act)>,
}

impl Probe {
    pub fn new(name: &'static str, log: &Log) -> Self {
        Probe {
            name,
            log: log.clone(),
            rules: Vec::new(),
        }
    }

    pub fn at(mut self, point: Point, task: Option<&'static str>, act: Act) -> Self {
        self.rules.push((point, task, act));
        self
    }

    async fn on(
        &self,
        point: Point,
        ctx: &mut HookContext<'_>,
        task: Option<&TaskRef>,
        detail: Option<&str>,
    ) -> HookResult {
        let model = ctx.data("model")?.cloned();
        let instance = ctx.instance();
        self.log.lock().push(Seen {
            hook: self.name,
            point,
            task: task.map(|t| t.element_id.clone()),
            task_type: task.and_then(|t| t.task_type.clone()),
            detail: detail.map(str::to_string),
            active: instance
                .process
                .active_tasks()
                .map(|t| t.element_id.to_string())
                .collect(),
            ended: instance.process.ended.is_some(),
            version: instance.version,
            history_len: instance.history_len,
            actor: ctx.actor().clone(),
            model,
        });
        for (at, only, act) in &self.rules {
            if *at != point || only.is_some_and(|o| task.is_none_or(|t| t.element_id != o)) {
                continue;
            }
            match act {
                Act::Run(f) => f(ctx)?,
                Act::Hang => std::future::pending::<()>().await,
            }
        }
        Ok(())
    }
}

#[async_trait]
impl Hook for Probe {
    fn name(&self) -> &str {
        self.name
    }
    async fn instance_created(&self, ctx: &mut HookContext<'_>) -> HookResult {
        self.on(Point::Created, ctx, None, None).await
    }
    async fn task_started(&self, ctx: &mut HookContext<'_>, task: &TaskRef) -> HookResult {
        self.on(Point::Started, ctx, Some(task), None).await
    }
    async fn task_ending(&self, ctx: &mut HookContext<'_>, t: &TaskRef, a: &str) -> HookResult {
        self.on(Point::Ending, ctx, Some(t), Some(a)).await
    }
    async fn task_abandoned(&self, ctx: &mut HookContext<'_>, t: &TaskRef, a: &str) -> HookResult {
        self.on(Point::Abandoned, ctx, Some(t), Some(a)).await
    }
    async fn process_ended(&self, ctx: &mut HookContext<'_>) -> HookResult {
        self.on(Point::Ended, ctx, None, None).await
    }
    async fn data_written(&self, ctx: &mut HookContext<'_>, data_type: &str) -> HookResult {
        self.on(Point::Written, ctx, None, Some(data_type)).await
    }
}

/// What a decider was asked: candidates, gateway action, `model` data.
pub type Asked = Arc<Mutex<Vec<(Vec<String>, Option<String>, Option<Value>)>>>;

/// A gateway decider that records what it was asked and answers with `pick` (or never).
pub struct Decider {
    pub asked: Asked,
    pub pick: fn(&GatewayContext<'_>) -> Result<String, HookError>,
    pub hang: bool,
}

/// The default routing of `g`: `reject` goes back to fill, anything else to the end.
pub fn by_action(ctx: &GatewayContext<'_>) -> Result<String, HookError> {
    Ok(if ctx.gateway_action() == Some("reject") {
        "back"
    } else {
        "done"
    }
    .into())
}

impl Decider {
    pub fn new(pick: fn(&GatewayContext<'_>) -> Result<String, HookError>) -> (Self, Asked) {
        let asked = Asked::default();
        let decider = Decider {
            asked: asked.clone(),
            pick,
            hang: false,
        };
        (decider, asked)
    }
}

#[async_trait]
impl GatewayDecider for Decider {
    async fn decide(&self, ctx: &GatewayContext<'_>) -> Result<String, HookError> {
        self.asked.lock().push((
            ctx.candidates().to_vec(),
            ctx.gateway_action().map(str::to_string),
            ctx.data("model").cloned(),
        ));
        if self.hang {
            std::future::pending::<()>().await;
        }
        (self.pick)(ctx)
    }
}

/// The server action `calc`: writes `calc` data, answers `{"sum": 3}`, or acts as told.
pub struct Calc(pub Option<Act>);

#[async_trait]
impl ServerAction for Calc {
    async fn run(&self, ctx: &mut HookContext<'_>, task: &TaskRef) -> Result<Value, HookError> {
        ctx.set_data(
            "calc",
            serde_json::json!({ "ranOn": task.element_id, "by": ctx.actor() }),
        );
        match self.0 {
            Some(Act::Run(f)) => f(ctx)?,
            Some(Act::Hang) => std::future::pending::<()>().await,
            None => {}
        }
        Ok(serde_json::json!({ "sum": 3 }))
    }
}

/// Everything a failed move must leave as it was.
pub fn state(h: &Harness, id: InstanceId) -> (Instance, Vec<HistoryEvent>, Vec<Option<Value>>) {
    let data = ["model", "calc", "extra"]
        .iter()
        .map(|d| h.rt.data(id, &DataTypeId::new(*d)).unwrap())
        .collect();
    (h.rt.instance(id).unwrap(), h.rt.history(id).unwrap(), data)
}

pub async fn write(
    h: &Harness,
    id: InstanceId,
    value: Value,
) -> Result<Instance, flyt_engine::runtime::Error> {
    h.rt.write_data(WriteData {
        instance: id,
        data_type: DataTypeId::new("model"),
        value,
        actor: user(),
        expected_version: None,
    })
    .await
}

pub fn model() -> DataTypeId {
    DataTypeId::new("model")
}

pub async fn harness(bpmn: &str, registry: flyt_engine::hooks::RegistryBuilder) -> Harness {
    Harness::with(
        bpmn,
        flyt_engine::store::Store::memory(),
        registry.build(),
        flyt_engine::app::AppSpec::open(app_id()),
    )
    .await
}

/// A registry for [`user_process`]: `g` decided [`by_action`], and `hooks`.
pub fn user_registry(hooks: Vec<Probe>) -> flyt_engine::hooks::RegistryBuilder {
    let mut r =
        flyt_engine::hooks::Registry::builder().gateway(app_id(), "g", Decider::new(by_action).0);
    for hook in hooks {
        r = r.hook(hook);
    }
    r
}
