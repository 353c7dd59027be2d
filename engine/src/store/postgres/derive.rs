//! The derived columns of a row, computed from its key and value when it is written.
//!
//! Best effort by design: a value that does not decode (a test's raw bytes, a record of a newer
//! format) leaves its derived columns NULL; the row itself (`k`, `v`) is always written exactly.
//! Every column is sent as text and cast by the SQL of [`super::schema::Column::cast`].
//!
//! A derived value the database refuses would fail the whole batch, every unit in it, and
//! again at every retry: so no column carries a NUL character, which PostgreSQL's `text`
//! refuses as a byte and `jsonb` as `\u0000` (a worker's error message, say, can hold one).
//! It becomes U+FFFD in the derived copy; the row's `v` keeps the value exactly.

use serde_json::Value;

use super::schema::Table;
use crate::store::codec;
use crate::store::layout;

/// The derived columns of one row, in the order of [`Table::columns`].
pub fn columns(table: Table, key: &[u8], value: &[u8]) -> Vec<Option<String>> {
    let out = match table {
        Table::DefinitionHeads | Table::OwnerIndex | Table::Idempotency | Table::Schedules => {
            vec![app_of_key(key)]
        }
        Table::Definitions => {
            let version = key
                .len()
                .checked_sub(4)
                .and_then(|at| key.get(at..))
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u32::from_be_bytes(b).to_string());
            vec![app_of_key(key), version]
        }
        Table::Instances => instance(key, value),
        Table::History => {
            let seq = key
                .get(18..22)
                .and_then(|b| <[u8; 4]>::try_from(b).ok())
                .map(|b| u32::from_be_bytes(b).to_string());
            let events = codec::decode::<Value>(value).ok().map(jsonb_text);
            vec![uuid_at(key, 1), seq, events]
        }
        Table::Data => {
            let data_type = key
                .get(18..)
                .map(|b| String::from_utf8_lossy(b).into_owned());
            vec![uuid_at(key, 1), data_type]
        }
        Table::Jobs => job(key, value),
        Table::Due => {
            let class = key.get(1).map(u8::to_string);
            let due = layout::parse_due(key).map(|(at, _)| at.millis().to_string());
            vec![class, due, uuid_at(key, 10)]
        }
        Table::WorkQueue => {
            let mut parts = key.get(1..).unwrap_or_default().split(|&b| b == 0);
            let job_type = parts
                .next()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            let app = parts
                .next()
                .map(|b| String::from_utf8_lossy(b).into_owned());
            vec![job_type, app]
        }
        Table::Tombstones => vec![uuid_at(key, 1)],
        Table::Meta | Table::TombstoneExpiry | Table::Kv => Vec::new(),
    };
    debug_assert_eq!(out.len(), table.columns().len(), "{table:?}");
    out.into_iter()
        .map(|c| {
            c.map(|s| {
                if s.contains('\0') {
                    s.replace('\0', "\u{FFFD}")
                } else {
                    s
                }
            })
        })
        .collect()
}

/// `value` as JSON text `jsonb` takes: every NUL in its strings and keys becomes U+FFFD.
fn jsonb_text(mut value: Value) -> String {
    fn clean(value: &mut Value) {
        match value {
            Value::String(s) if s.contains('\0') => *s = s.replace('\0', "\u{FFFD}"),
            Value::Array(items) => items.iter_mut().for_each(clean),
            Value::Object(fields) => {
                if fields.keys().any(|k| k.contains('\0')) {
                    let old = std::mem::take(fields);
                    for (k, v) in old {
                        fields.insert(k.replace('\0', "\u{FFFD}"), v);
                    }
                }
                fields.values_mut().for_each(clean);
            }
            _ => {}
        }
    }
    clean(&mut value);
    value.to_string()
}

/// `org/app` between the tag and the first 0 byte (or the key's end).
fn app_of_key(key: &[u8]) -> Option<String> {
    let rest = key.get(1..)?;
    let end = rest.iter().position(|&b| b == 0).unwrap_or(rest.len());
    std::str::from_utf8(&rest[..end]).ok().map(str::to_string)
}

/// The 16 bytes at `at` as a UUID in text.
fn uuid_at(key: &[u8], at: usize) -> Option<String> {
    let bytes: [u8; 16] = key.get(at..at + 16)?.try_into().ok()?;
    Some(uuid::Uuid::from_bytes(bytes).to_string())
}

fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

fn instance(key: &[u8], value: &[u8]) -> Vec<Option<String>> {
    let Ok((revision, record)) = codec::decode_revisioned::<Value>(value) else {
        return vec![uuid_at(key, 1), None, None, None, None, None, None];
    };
    let process = record.get("process");
    // The elements the instance waits at: tasks, joins, timers (one per token).
    let elements: Vec<Value> = process
        .and_then(|p| p.get("tokens"))
        .and_then(Value::as_array)
        .map(|tokens| {
            tokens
                .iter()
                .filter_map(|t| {
                    t.get("task")
                        .and_then(|task| task.get("elementId"))
                        .or_else(|| t.get("element"))
                        .cloned()
                })
                .collect()
        })
        .unwrap_or_default();
    let ended = process.map(|p| p.get("ended").is_some_and(|e| !e.is_null()));
    let incident = process.map(|p| {
        p.get("incidents")
            .and_then(Value::as_array)
            .is_some_and(|i| !i.is_empty())
    });
    vec![
        uuid_at(key, 1),
        text(record.get("app")),
        Some(revision.to_string()),
        Some(jsonb_text(Value::Array(elements))),
        ended.map(|b| b.to_string()),
        incident.map(|b| b.to_string()),
        text(record.get("lastChanged")),
    ]
}

fn job(key: &[u8], value: &[u8]) -> Vec<Option<String>> {
    let Ok((_, job)) = codec::decode_revisioned::<Value>(value) else {
        let mut out = vec![uuid_at(key, 1)];
        out.resize(Table::Jobs.columns().len(), None);
        return out;
    };
    let state = job.get("state");
    let due = state.and_then(|s| s.get("due").or_else(|| s.get("until")));
    vec![
        uuid_at(key, 1),
        text(job.get("instance")),
        text(job.get("app")),
        text(job.get("elementId")),
        text(job.get("taskType")),
        text(job.get("kind")).or_else(|| Some("serviceTask".into())),
        state.and_then(|s| text(s.get("state"))),
        text(due),
        text(job.get("attempts")),
        Some(
            job.get("external")
                .and_then(Value::as_bool)
                .unwrap_or(false)
                .to_string(),
        ),
        // Who holds the lease (an external worker's name, or the node's boot id for its
        // in-process worker) and its token; empty unless leased.
        state.and_then(|s| text(s.get("worker"))),
        state.and_then(|s| text(s.get("lease"))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn raw_values_leave_derived_columns_empty_but_keep_the_row() {
        let id = crate::ids::InstanceId::new_random();
        let cols = columns(Table::Instances, &layout::instance(id), b"not a record");
        assert_eq!(cols.len(), Table::Instances.columns().len());
        assert_eq!(cols[0], Some(id.to_string()));
        assert!(cols[1..].iter().all(Option::is_none));
    }

    #[test]
    fn no_derived_column_carries_a_nul() {
        let id = crate::ids::InstanceId::new_random();
        let events = serde_json::json!([{ "seq": 0, "message": "a\u{0}b", "k\u{0}": 1 }]);
        let cols = columns(
            Table::History,
            &layout::history(id, 0),
            &codec::encode(&events),
        );
        let json = cols[2].clone().unwrap();
        assert!(!json.contains("\\u0000") && !json.contains('\0'), "{json}");
        assert!(
            json.contains("a\u{FFFD}b") && json.contains("k\u{FFFD}"),
            "{json}"
        );
        let cols = columns(
            Table::Data,
            &layout::data(id, &crate::ids::DataTypeId::new("d\u{0}t")),
            b"{}",
        );
        assert_eq!(cols[1].as_deref(), Some("d\u{FFFD}t"));
    }

    #[test]
    fn due_keys_give_class_time_and_job() {
        let job = crate::ids::JobKey::new_random();
        let key = layout::due(2, crate::time::Timestamp::from_millis(1234), job);
        let cols = columns(Table::Due, &key, b"");
        assert_eq!(cols[0].as_deref(), Some("2"));
        assert_eq!(cols[1].as_deref(), Some("1234"));
        assert!(cols[2].is_some());
    }
}
