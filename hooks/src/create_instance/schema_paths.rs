//! Does a dot path exist in a JSON Schema? Follows `properties` (and local `$ref`s into
//! `$defs`/`definitions`). A level with `properties` is taken as closed, so a typo in a path is
//! caught at deploy, unless it explicitly allows more (`additionalProperties: true` or a schema);
//! a level without `properties` is free-form and accepts any name below it.

use serde_json::Value;

pub fn check(schema: &Value, path: &str) -> Result<(), String> {
    let mut node = schema;
    for part in path.split('.') {
        node = resolve(schema, node, 0);
        let Some(props) = node.get("properties").and_then(Value::as_object) else {
            return Ok(()); // free-form below here
        };
        match props.get(part) {
            Some(next) => node = next,
            None if matches!(
                node.get("additionalProperties"),
                Some(Value::Bool(true) | Value::Object(_))
            ) =>
            {
                return Ok(());
            }
            None => {
                let known: Vec<&str> = props.keys().map(String::as_str).collect();
                return Err(format!(
                    "no property `{part}` (known: {})",
                    known.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn resolve<'a>(root: &'a Value, node: &'a Value, hops: usize) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) if hops < 16 => {
            let pointer = r.trim_start_matches('#');
            match root.pointer(pointer) {
                Some(target) => resolve(root, target, hops + 1),
                None => node,
            }
        }
        _ => node,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_properties_and_refs() {
        let schema = json!({
            "type": "object",
            "properties": { "applicant": { "$ref": "#/$defs/person" }, "amount": { "type": "number" } },
            "$defs": { "person": { "type": "object", "properties": { "name": { "type": "string" } }, "additionalProperties": false } }
        });
        assert!(check(&schema, "amount").is_ok());
        assert!(check(&schema, "applicant.name").is_ok());
        assert!(
            check(&schema, "applicant.age")
                .unwrap_err()
                .contains("`age`")
        );
        let err = check(&schema, "nope").unwrap_err();
        assert!(
            err.contains("`nope`") && err.contains("amount") && err.contains("applicant"),
            "{err}"
        );
        assert!(check(&json!({"type": "object"}), "anything.goes").is_ok());
    }
}
