//! Exclusive and inclusive gateways: evaluate the conditions, take exactly one flow (exclusive)
//! or every flow that holds (inclusive), or fail with what each condition gave (and leave the
//! instance unchanged).

use super::transition::Transition;
use super::{ConditionResult, Error};
use crate::bpmn::elements::{FlowIdx, NodeIdx};
use crate::expr::{EvalContext, EvalError, lookup_path};
use crate::hooks::{GatewayContext, HookError};
use crate::ids::DataTypeId;
use serde_json::Value;
use std::collections::BTreeMap;

pub(crate) struct Context<'a> {
    pub gateway_action: Option<&'a str>,
    pub data: &'a BTreeMap<DataTypeId, Value>,
    pub default_type: Option<&'a DataTypeId>,
    pub instance: &'a crate::model::Instance,
}

impl EvalContext for Context<'_> {
    fn gateway_action(&self) -> Option<&str> {
        self.gateway_action
    }

    fn data_model(&self, path: &str, data_type: Option<&str>) -> Result<Value, EvalError> {
        let data_type = match data_type {
            Some(t) => DataTypeId::new(t),
            None => match self.default_type {
                Some(t) => t.clone(),
                None => return Ok(Value::Null),
            },
        };
        Ok(self
            .data
            .get(&data_type)
            .and_then(|root| lookup_path(root, path))
            .cloned()
            .unwrap_or(Value::Null))
    }

    fn instance_context(&self, key: &str) -> Result<Value, EvalError> {
        Ok(match key {
            "instanceOwnerPartyId" => Value::String(self.instance.owner.party_id.to_string()),
            "instanceId" => Value::String(self.instance.altinn_id()),
            "appId" => Value::String(self.instance.app.to_string()),
            "instanceOwnerPartyType" => Value::String(
                match self.instance.owner.party {
                    crate::model::Party::Person { .. } => "person",
                    crate::model::Party::Organisation { .. } => "org",
                }
                .to_string(),
            ),
            _ => Value::Null,
        })
    }
}

/// What a gateway's conditions gave: the flows that hold (the default left out), what each
/// condition gave (for error messages), and the data they read.
struct Evaluated {
    matched: Vec<FlowIdx>,
    results: Vec<ConditionResult>,
    data: BTreeMap<DataTypeId, Value>,
}

/// Evaluates the conditions of the flows leaving `gateway` (a flow without condition holds),
/// skipping `default`. Fails naming every result when one cannot be evaluated.
fn evaluate(
    work: &mut Transition<'_>,
    gateway: NodeIdx,
    origin: Option<NodeIdx>,
    default: Option<FlowIdx>,
    connected: Option<DataTypeId>,
    load_data: bool,
) -> Result<Evaluated, Error> {
    let def = work.def.clone();
    let node = def.node(gateway);
    let origin_task = origin.map(|o| def.node(o).id.to_string());
    let default_type =
        connected.or_else(|| work.app.default_data_type(origin_task.as_deref()).cloned());

    // Load data only if some condition reads it.
    let reads_data = node.outgoing.iter().any(|&f| {
        def.flow(f)
            .condition
            .as_ref()
            .is_some_and(|c| !c.expr.data_model_refs().is_empty())
    });
    let data = if reads_data || load_data {
        work.data.load_all()?;
        work.data.snapshot()
    } else {
        BTreeMap::new()
    };

    // Inside an inner instance of a multi-instance sub-process, conditions read its variables.
    let variables = work.inner_variables(work.arriving_scope, None);
    let ctx = super::multi_instance::InnerContext {
        base: Context {
            gateway_action: work.gateway_action.as_deref(),
            data: &data,
            default_type: default_type.as_ref(),
            instance: &work.instance,
        },
        variables: &variables,
    };
    let mut results = Vec::with_capacity(node.outgoing.len());
    let mut matched = Vec::new();
    let mut failed = false;
    for &f in &node.outgoing {
        if Some(f) == default {
            continue;
        }
        let flow = def.flow(f);
        let (result, holds) = match &flow.condition {
            None => ("true".to_string(), true),
            Some(cond) => match cond.expr.eval_bool(&ctx) {
                Ok(b) => (b.to_string(), b),
                Err(e) => {
                    failed = true;
                    (format!("error: {e}"), false)
                }
            },
        };
        if holds {
            matched.push(f);
        }
        results.push(ConditionResult {
            flow_id: flow.id.to_string(),
            condition: flow.condition.as_ref().map(|c| c.expr.to_string()),
            result,
        });
    }
    if failed {
        return Err(Error::Gateway {
            gateway: node.id.to_string(),
            problem: "could not evaluate its conditions".into(),
            results,
        });
    }
    Ok(Evaluated {
        matched,
        results,
        data,
    })
}

/// The outgoing flows of a diverging inclusive gateway: every flow whose condition holds; if
/// none holds, the default; otherwise an error naming the gateway and what every condition gave
/// (the move is refused, as for an exclusive gateway without a match).
pub(crate) fn decide_inclusive(
    work: &mut Transition<'_>,
    gateway: NodeIdx,
    origin: Option<NodeIdx>,
) -> Result<Vec<FlowIdx>, Error> {
    let def = work.def.clone();
    let spec = def.inclusive_gateway(gateway);
    let default = spec.and_then(|g| g.default);
    let connected = spec.and_then(|g| g.connected_data_type.clone());
    let Evaluated {
        matched, results, ..
    } = evaluate(work, gateway, origin, default, connected, false)?;
    if !matched.is_empty() {
        return Ok(matched);
    }
    if let Some(d) = default {
        return Ok(vec![d]);
    }
    Err(Error::Gateway {
        gateway: def.node(gateway).id.to_string(),
        problem: "has no flow whose condition holds and no default flow".into(),
        results,
    })
}

/// Picks the outgoing flow of an exclusive gateway: the single flow whose condition holds (a
/// flow without condition always holds); if none holds, the default; otherwise a registered
/// gateway decider; otherwise an error naming the gateway and what every condition gave.
pub(crate) async fn decide(
    work: &mut Transition<'_>,
    gateway: NodeIdx,
    origin: Option<NodeIdx>,
) -> Result<FlowIdx, Error> {
    let def = work.def.clone();
    let node = def.node(gateway);
    let default = def.exclusive_gateway(gateway).and_then(|g| g.default);
    let connected = def
        .exclusive_gateway(gateway)
        .and_then(|g| g.connected_data_type.clone());
    let has_decider = work
        .rt
        .registry
        .decider(&work.app.id, node.id.as_str())
        .is_some();
    let Evaluated {
        matched,
        results,
        data,
    } = evaluate(work, gateway, origin, default, connected, has_decider)?;
    if matched.len() == 1 {
        return Ok(matched[0]);
    }
    if matched.is_empty()
        && let Some(d) = default
    {
        return Ok(d);
    }
    if let Some(decider) = work.rt.registry.decider(&work.app.id, node.id.as_str()) {
        let candidates: Vec<String> = if matched.is_empty() {
            node.outgoing
                .iter()
                .map(|&f| def.flow(f).id.to_string())
                .collect()
        } else {
            matched
                .iter()
                .map(|&f| def.flow(f).id.to_string())
                .collect()
        };
        let gctx = GatewayContext {
            instance: &work.instance,
            gateway_id: node.id.as_str(),
            candidates: candidates.clone(),
            gateway_action: work.gateway_action.as_deref(),
            data: &data,
            actor: &work.actor,
        };
        let timeout = work.rt.registry.hook_timeout();
        let hook = format!("gateway decider for `{}`", node.id);
        let picked = match tokio::time::timeout(timeout, decider.decide(&gctx)).await {
            Ok(Ok(id)) => id,
            Ok(Err(HookError::Rejected(issues))) => return Err(Error::Refused { hook, issues }),
            Ok(Err(HookError::Failed(detail))) => return Err(Error::HookFailed { hook, detail }),
            Err(_) => {
                return Err(Error::HookTimeout {
                    hook,
                    millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                });
            }
        };
        return match node
            .outgoing
            .iter()
            .find(|&&f| def.flow(f).id == picked.as_str())
        {
            Some(&f) if candidates.contains(&picked) => Ok(f),
            _ => Err(Error::HookFailed {
                hook,
                detail: format!(
                    "picked `{picked}`, which is not one of {}",
                    candidates.join(", ")
                ),
            }),
        };
    }
    let problem = if matched.is_empty() {
        "has no flow whose condition holds and no default flow"
    } else {
        "has more than one flow whose condition holds"
    };
    Err(Error::Gateway {
        gateway: node.id.to_string(),
        problem: problem.into(),
        results,
    })
}
