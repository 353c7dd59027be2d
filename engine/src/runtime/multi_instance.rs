//! Multi-instance activities at run time (`bpmn::elements::multi_instance`).
//!
//! A token that reaches a multi-instance activity enters its **body**: a scope instance of the
//! activity's element holding a [`MultiInstanceBody`] (the collection as evaluated then, and
//! the inner instances started so far). Boundary timers of the activity are armed on the body,
//! so an interrupting one ends every inner instance (`interrupt_scope`), and error and
//! escalation boundaries catch as on a sub-process. Inner instances are tokens at the task
//! (user or service task) or scope instances of the sub-process, inside the body: parallel, all
//! start at once; sequential, the next starts in the commit that completes the previous one.
//! When an inner instance completes, the completion condition is evaluated; when it holds, the
//! inner instances still active are cancelled (`terminate`) in the same commit; when it holds
//! or none is left, the body completes and the token leaves by the activity's flows.

use super::Error;
use super::gateway::Context;
use super::transition::{Arrival, Transition};
use crate::bpmn::elements::multi_instance::VARIABLES;
use crate::bpmn::elements::{Items, MultiInstance, NodeIdx, NodeKind};
use crate::expr::{EvalContext, EvalError, Expr, lookup_path};
use crate::model::{EventType, InnerInstance, InnerState, MultiInstanceBody};
use serde_json::{Value, json};
use std::collections::VecDeque;

/// The most inner instances one multi-instance activity runs: each is kept in the instance's
/// state, which is read and written whole by every transition.
pub const MAX_ITEMS: usize = 10_000;

/// An expression context that reads the inner instance's variables through the reserved data
/// type `multiInstance`, and everything else as a gateway does.
pub(super) struct InnerContext<'a> {
    pub base: Context<'a>,
    pub variables: &'a Value,
}

impl EvalContext for InnerContext<'_> {
    fn gateway_action(&self) -> Option<&str> {
        self.base.gateway_action()
    }

    fn data_model(&self, path: &str, data_type: Option<&str>) -> Result<Value, EvalError> {
        if data_type == Some(VARIABLES) {
            return Ok(lookup_path(self.variables, path)
                .cloned()
                .unwrap_or(Value::Null));
        }
        self.base.data_model(path, data_type)
    }

    fn instance_context(&self, key: &str) -> Result<Value, EvalError> {
        self.base.instance_context(key)
    }
}

impl Transition<'_> {
    /// Evaluates `expr` with the instance's data and `variables` (the inner instance's).
    pub(super) fn eval_with(&mut self, expr: &Expr, variables: &Value) -> Result<Value, String> {
        // Only an expression reading the instance's data loads (and copies) it: an assignee
        // read from the item, evaluated once per inner instance, must not copy the collection
        // each time.
        let reads_data = expr
            .data_model_refs()
            .iter()
            .any(|r| r.data_type.as_deref() != Some(VARIABLES));
        let data = if !reads_data {
            Default::default()
        } else {
            self.data.load_all().map_err(|e| e.to_string())?;
            self.data.snapshot()
        };
        let ctx = InnerContext {
            base: Context {
                gateway_action: self.gateway_action.as_deref(),
                data: &data,
                default_type: None,
                instance: &self.instance,
            },
            variables,
        };
        expr.eval(&ctx).map_err(|e| e.to_string())
    }

    /// A token reaches multi-instance activity `target` in scope instance `scope`: its body is
    /// entered and its inner instances start (all, or the first when sequential). An empty
    /// collection completes it at once.
    pub(super) async fn enter_multi_instance(
        &mut self,
        target: NodeIdx,
        scope: Option<u32>,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let node = def.node(target);
        let Some(multi) = node.multi.as_deref() else {
            return Ok(());
        };
        let failed = |problem: String| Error::MultiInstance {
            element: node.id.to_string(),
            problem,
        };
        let what = match &multi.items {
            Items::Collection(_) => "collection",
            Items::Cardinality(_) => "loopCardinality",
        };
        let value = self
            .eval_with(multi.items.expr(), &Value::Null)
            .map_err(|e| failed(format!("its {what} could not be evaluated: {e}")))?;
        let text = &multi.items.condition().text;
        let items = match (&multi.items, value) {
            (Items::Collection(_), Value::Array(items)) => items,
            (_, Value::Null) => Vec::new(),
            (Items::Cardinality(_), Value::Number(n)) if n.as_u64().is_some() => {
                let n = n.as_u64().unwrap_or(0);
                vec![Value::Null; usize::try_from(n).unwrap_or(usize::MAX).min(MAX_ITEMS + 1)]
            }
            (Items::Cardinality(_), Value::String(s)) if s.trim().parse::<u32>().is_ok() => {
                let n = s.trim().parse::<usize>().unwrap_or(0);
                vec![Value::Null; n.min(MAX_ITEMS + 1)]
            }
            (Items::Collection(_), other) => {
                return Err(failed(format!(
                    "its collection `{text}` gave {}, not an array",
                    kind_of(&other)
                )));
            }
            (Items::Cardinality(_), other) => {
                return Err(failed(format!(
                    "its loopCardinality `{text}` gave {other}, not a whole number"
                )));
            }
        };
        if items.len() > MAX_ITEMS {
            return Err(failed(format!(
                "its {what} has more than {MAX_ITEMS} items, the most one activity runs"
            )));
        }
        let count = items.len();
        let body = Box::new(MultiInstanceBody {
            sequential: multi.sequential,
            items,
            inner: Vec::with_capacity(if multi.sequential { 1 } else { count }),
        });
        let (id, visit) = self.push_scope(target, scope, Some(body));
        self.arm_scope_boundaries(target, id, visit)?;
        let first = if multi.sequential {
            count.min(1)
        } else {
            count
        };
        for index in 0..first {
            self.start_inner(target, id, index_of(index), queue).await?;
        }
        // An empty collection: the body completes now.
        self.complete_scope_if_done(id, queue)
    }

    /// Starts inner instance `index` of multi-instance activity `target` in body `body`.
    async fn start_inner(
        &mut self,
        target: NodeIdx,
        body: u32,
        index: u32,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        match &def.node(target).kind {
            NodeKind::UserTask(_) => {
                self.entering_inner = Some(index);
                self.enter_task(target, None, Some(body)).await
            }
            NodeKind::ServiceTask(task) => {
                self.entering_inner = Some(index);
                let task_type = task.task_type.clone().unwrap_or_default();
                self.enter_task(target, Some(task_type), Some(body)).await
            }
            // One child instance per item (`runtime::calls`); its end calls `leave_task`.
            NodeKind::CallActivity(_) => {
                self.entering_inner = Some(index);
                self.enter_call(target, Some(body))
            }
            _ => self.start_inner_scope(target, body, index, queue),
        }
    }

    /// Starts inner instance `index` of multi-instance sub-process `target`: a scope instance
    /// inside the body, its start event's flows queued.
    fn start_inner_scope(
        &mut self,
        target: NodeIdx,
        body: u32,
        index: u32,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let NodeKind::SubProcess(sub) = &def.node(target).kind else {
            return Ok(());
        };
        let inner = self.enter_scope(target, Some(body))?;
        self.register_inner(body, index, inner);
        for &flow in &def.node(sub.start).outgoing {
            queue.push_back(Arrival {
                flow,
                origin: None,
                scope: Some(inner),
            });
        }
        Ok(())
    }

    /// Records inner instance `index` of body `body` as started with token or scope `id`.
    pub(super) fn register_inner(&mut self, body: u32, index: u32, id: u32) {
        let assignee = self
            .instance
            .process
            .tokens
            .iter()
            .rev() // just pushed
            .find(|t| t.id == id)
            .and_then(|t| t.task())
            .and_then(|t| t.assignee.clone());
        if let Some(multi) = self.scope_mut(body).and_then(|x| x.multi.as_mut()) {
            multi.inner.push(InnerInstance {
                index,
                id,
                state: InnerState::Active,
                assignee,
            });
        }
    }

    /// The task's token `token` in scope instance `scope` has completed: it leaves by the
    /// task's flows, or, for an inner instance of a multi-instance task, its body goes on.
    pub(crate) async fn leave_task(
        &mut self,
        task: NodeIdx,
        token: u32,
        scope: Option<u32>,
    ) -> Result<(), Error> {
        let def = self.def.clone();
        let node = def.node(task);
        let body = self.instance.process.body(scope, &node.id).map(|b| b.id);
        let Some(body) = body else {
            let out = node.outgoing.iter().map(|&f| (f, Some(task))).collect();
            return self.arrive(out, scope).await;
        };
        let mut queue = VecDeque::new();
        if let Some(next) = self.inner_completed(task, body, token, &mut queue)? {
            self.start_inner(task, body, next, &mut queue).await?;
        }
        self.arrive_all(queue).await
    }

    /// Inner scope instance `inner` of multi-instance sub-process `target` has completed
    /// (from `complete_scope_if_done`).
    pub(super) fn inner_scope_completed(
        &mut self,
        target: NodeIdx,
        body: u32,
        inner: u32,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<(), Error> {
        match self.inner_completed(target, body, inner, queue)? {
            Some(next) => self.start_inner_scope(target, body, next, queue),
            None => Ok(()),
        }
    }

    /// Inner instance `id` of body `body` has completed: counted; the completion condition is
    /// evaluated (true: the active inner instances are cancelled); the body completes when
    /// nothing is left in it. Returns the index of the next inner instance to start (sequential).
    fn inner_completed(
        &mut self,
        target: NodeIdx,
        body: u32,
        id: u32,
        queue: &mut VecDeque<Arrival>,
    ) -> Result<Option<u32>, Error> {
        let def = self.def.clone();
        let node = def.node(target);
        let Some(multi) = node.multi.as_deref() else {
            return Ok(None);
        };
        let Some(state) = self.scope_mut(body).and_then(|x| x.multi.as_mut()) else {
            return Ok(None);
        };
        let Some(done) = state
            .inner
            .iter_mut()
            .find(|i| i.id == id && i.state == InnerState::Active)
        else {
            return Ok(None);
        };
        done.state = InnerState::Completed;
        let index = done.index;
        let started = state.inner.len();
        let total = state.items.len();
        let variables = state.variables(Some(index), multi.element_variable.as_deref());
        self.record(
            EventType::InnerInstanceCompleted,
            Some(node.id.clone()),
            None,
            Some(json!({ "scope": body, "index": index })),
        );
        if self.completion_holds(multi, &node.id, &variables)? {
            let process = &self.instance.process;
            queue.retain(|a| !process.scope_within(a.scope, body));
            self.terminate(&node.id, Some(body))?;
            if let Some(state) = self.scope_mut(body).and_then(|x| x.multi.as_mut()) {
                for inner in state.inner.iter_mut() {
                    if inner.state == InnerState::Active {
                        inner.state = InnerState::Cancelled;
                    }
                }
            }
            self.complete_scope_if_done(body, queue)?;
            return Ok(None);
        }
        if multi.sequential && started < total {
            return Ok(Some(index_of(started)));
        }
        self.complete_scope_if_done(body, queue)?;
        Ok(None)
    }

    /// Whether the completion condition holds (false without one).
    fn completion_holds(
        &mut self,
        multi: &MultiInstance,
        element: &crate::ids::ElementId,
        variables: &Value,
    ) -> Result<bool, Error> {
        let Some(condition) = &multi.completion else {
            return Ok(false);
        };
        let value =
            self.eval_with(&condition.expr, variables)
                .map_err(|e| Error::MultiInstance {
                    element: element.to_string(),
                    problem: format!("its completion condition could not be evaluated: {e}"),
                })?;
        match value {
            Value::Bool(holds) => Ok(holds),
            Value::Null => Ok(false),
            other => Err(Error::MultiInstance {
                element: element.to_string(),
                problem: format!(
                    "its completion condition `{}` gave {}, not a boolean",
                    condition.text,
                    kind_of(&other)
                ),
            }),
        }
    }
}

fn kind_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Collections are bounded far below `u32::MAX` (see `enter_multi_instance`).
fn index_of(index: usize) -> u32 {
    u32::try_from(index).unwrap_or(u32::MAX)
}
