//! Data model paths and a ready-made [`EvalContext`].

use std::collections::BTreeMap;

use serde_json::Value;

use super::{EvalContext, EvalError};

/// Resolves a dotted, indexed path such as `"model.ShouldDoubleSign"` or `"a.b[0].c"` (Altinn's data
/// model binding syntax) in `root`.
///
/// Each dot-separated segment is an object key followed by any number of `[n]` array indices (`a[0][1]`);
/// the first segment may be indices only (`[2].name`) to index a root array. Returns `None` when the path
/// is missing (absent key, index out of range, key on a non-object, index on a non-array) or malformed
/// (empty path or segment, unclosed `[`, non-decimal index).
pub fn lookup_path<'a>(root: &'a Value, path: &str) -> Option<&'a Value> {
    if path.is_empty() {
        return None;
    }
    let mut current = root;
    for (n, segment) in path.split('.').enumerate() {
        let (key, mut indices) = match segment.find('[') {
            Some(i) => (segment.get(..i)?, segment.get(i..)?),
            None => (segment, ""),
        };
        if key.is_empty() {
            if n > 0 || indices.is_empty() {
                return None;
            }
        } else {
            current = current.as_object()?.get(key)?;
        }
        while !indices.is_empty() {
            let inner = indices.strip_prefix('[')?;
            let (index, rest) = inner.split_once(']')?;
            if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
                return None;
            }
            current = current.as_array()?.get(index.parse::<usize>().ok()?)?;
            indices = rest;
        }
    }
    Some(current)
}

/// An [`EvalContext`] backed by plain maps; handy for tests and simple embeddings.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapContext {
    /// What `["gatewayAction"]` returns.
    pub gateway_action: Option<String>,
    /// The data type `["dataModel", path]` (without a data type) reads.
    pub default_data_type: Option<String>,
    /// JSON data by data type id.
    pub data: BTreeMap<String, Value>,
    /// `instanceContext` values by key; a missing key reads as `null`.
    pub instance: BTreeMap<String, Value>,
}

impl MapContext {
    /// A context with one data type, which is also the default.
    pub fn with_data(data_type: &str, data: Value) -> MapContext {
        MapContext {
            default_data_type: Some(data_type.to_owned()),
            data: BTreeMap::from([(data_type.to_owned(), data)]),
            ..MapContext::default()
        }
    }
}

impl EvalContext for MapContext {
    fn gateway_action(&self) -> Option<&str> {
        self.gateway_action.as_deref()
    }

    fn data_model(&self, path: &str, data_type: Option<&str>) -> Result<Value, EvalError> {
        let data_type = data_type
            .or(self.default_data_type.as_deref())
            .ok_or(EvalError::NoDefaultDataType)?;
        let data = self
            .data
            .get(data_type)
            .ok_or_else(|| EvalError::UnknownDataType {
                data_type: data_type.to_owned(),
            })?;
        Ok(lookup_path(data, path).cloned().unwrap_or(Value::Null))
    }

    fn instance_context(&self, key: &str) -> Result<Value, EvalError> {
        Ok(self.instance.get(key).cloned().unwrap_or(Value::Null))
    }
}
