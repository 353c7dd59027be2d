//! Altinn expressions evaluated over one instance outside a transition (in a service task
//! handler): `["instanceContext", key]` and `["dataModel", path]` (the app's first data type
//! unless another is named), as gateway conditions see them; `["gatewayAction"]` is null.

use flyt_engine::app::AppSpec;
use flyt_engine::expr::{EvalContext, EvalError, Expr, lookup_path};
use flyt_engine::ids::DataTypeId;
use flyt_engine::model::{Instance, Party};
use serde_json::Value;
use std::collections::BTreeMap;

/// The context of one instance and its data.
#[derive(Debug)]
pub struct InstanceExprContext<'a> {
    pub instance: &'a Instance,
    pub data: &'a BTreeMap<DataTypeId, Value>,
    pub app: &'a AppSpec,
}

impl EvalContext for InstanceExprContext<'_> {
    fn gateway_action(&self) -> Option<&str> {
        None
    }

    fn data_model(&self, path: &str, data_type: Option<&str>) -> Result<Value, EvalError> {
        let data_type = match data_type {
            Some(t) => DataTypeId::new(t),
            None => match self.app.data_types.first() {
                Some(d) => d.id.clone(),
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
        let i = self.instance;
        Ok(match key {
            "instanceOwnerPartyId" => Value::String(i.owner.party_id.to_string()),
            "instanceId" => Value::String(i.altinn_id()),
            "appId" => Value::String(i.app.to_string()),
            "instanceOwnerPartyType" => Value::String(
                match i.owner.party {
                    Party::Person { .. } => "person",
                    Party::Organisation { .. } => "org",
                }
                .to_string(),
            ),
            _ => Value::Null,
        })
    }
}

/// The expression's value as a string (a correlation key, a prefilled id): strings as they
/// are, numbers and booleans written out; null, an empty string, arrays and objects are errors.
pub fn eval_string(expr: &Expr, ctx: &InstanceExprContext<'_>) -> Result<String, String> {
    match expr.eval(ctx).map_err(|e| e.to_string())? {
        Value::String(s) if !s.is_empty() => Ok(s),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        Value::Null | Value::String(_) => Err("it is empty (null or \"\")".to_string()),
        other => Err(format!("it is not a single value: {other}")),
    }
}
