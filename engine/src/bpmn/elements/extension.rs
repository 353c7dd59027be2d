//! Extension configuration kept as a structured tree that hooks and service tasks can read.

use crate::bpmn::xml::XmlNode;
use serde_json::{Map, Value};

/// Extension elements of one namespace on one BPMN element, kept as written (with positions, so
/// a handler validating its configuration can point at the exact line).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Extension {
    pub nodes: Vec<XmlNode>,
}

impl Extension {
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// The first element with this local name.
    pub fn get(&self, name: &str) -> Option<&XmlNode> {
        self.nodes.iter().find(|n| n.name == name)
    }

    /// A JSON view: `{ "signatureConfig": { "dataTypesToSign": { "dataType": "Model" } } }`.
    /// Attributes become `@name`, repeated children become arrays, and text next to children or
    /// attributes becomes `#text`.
    pub fn to_json(&self) -> Value {
        let mut map = Map::new();
        for node in &self.nodes {
            insert(&mut map, &node.name, node_json(node));
        }
        Value::Object(map)
    }
}

fn node_json(node: &XmlNode) -> Value {
    let text = node.trimmed_text();
    if node.children.is_empty() && node.attrs.is_empty() {
        return Value::String(text.to_string());
    }
    let mut map = Map::new();
    for attr in &node.attrs {
        map.insert(format!("@{}", attr.name), Value::String(attr.value.clone()));
    }
    for child in &node.children {
        insert(&mut map, &child.name, node_json(child));
    }
    if !text.is_empty() {
        map.insert("#text".to_string(), Value::String(text.to_string()));
    }
    Value::Object(map)
}

fn insert(map: &mut Map<String, Value>, key: &str, value: Value) {
    match map.get_mut(key) {
        None => {
            map.insert(key.to_string(), value);
        }
        Some(Value::Array(items)) => items.push(value),
        Some(existing) => {
            let first = existing.take();
            *existing = Value::Array(vec![first, value]);
        }
    }
}
