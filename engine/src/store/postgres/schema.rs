//! The PostgreSQL schema: one table per key family, the derived columns an operator queries, and
//! the versioned migrations that create them.
//!
//! Every table has the same two columns the backend needs, `k bytea PRIMARY KEY` (the key of
//! [`crate::store::layout`], so `range` stays byte-exact) and `v bytea` (the value as the codec
//! wrote it). Beside them are columns derived from the key and value whenever a row is written
//! ([`super::derive`]): the app, the instance id, the current elements, the job type, the due
//! time, the incident flag, history as `jsonb`. They are never read back by flyt; they exist so
//! that "instances of app X at task Y", "open incidents" and "what did this instance do" are
//! plain SQL with indexes (README, "Running several nodes").
//!
//! Keys that belong to no known family (tests, tags added later by a newer build) land in
//! `flyt_kv`, which has no derived columns, so nothing is ever refused or lost.

use std::collections::BTreeSet;
use std::ops::RangeInclusive;

use crate::store::layout;

/// A table of one key family.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    Meta,
    DefinitionHeads,
    Definitions,
    Instances,
    History,
    Data,
    OwnerIndex,
    Jobs,
    Due,
    WorkQueue,
    Idempotency,
    Tombstones,
    TombstoneExpiry,
    Schedules,
    /// Everything else.
    Kv,
}

/// A derived column: its name and the SQL that turns the text the backend sends into the
/// column's type (`u.<name>` is the text).
#[derive(Debug)]
pub struct Column {
    pub name: &'static str,
    pub cast: &'static str,
}

impl Table {
    pub const ALL: [Table; 15] = [
        Table::Meta,
        Table::DefinitionHeads,
        Table::Definitions,
        Table::Instances,
        Table::History,
        Table::Data,
        Table::OwnerIndex,
        Table::Jobs,
        Table::Due,
        Table::WorkQueue,
        Table::Idempotency,
        Table::Tombstones,
        Table::TombstoneExpiry,
        Table::Schedules,
        Table::Kv,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "flyt_meta",
            Table::DefinitionHeads => "flyt_definition_heads",
            Table::Definitions => "flyt_definitions",
            Table::Instances => "flyt_instances",
            Table::History => "flyt_history",
            Table::Data => "flyt_data",
            Table::OwnerIndex => "flyt_owner_index",
            Table::Jobs => "flyt_jobs",
            Table::Due => "flyt_due",
            Table::WorkQueue => "flyt_work_queue",
            Table::Idempotency => "flyt_idempotency",
            Table::Tombstones => "flyt_tombstones",
            Table::TombstoneExpiry => "flyt_tombstone_expiry",
            Table::Schedules => "flyt_schedules",
            Table::Kv => "flyt_kv",
        }
    }

    /// The key's first byte for every key of this table (`None`: any, for `flyt_kv`).
    pub fn tag(self) -> Option<u8> {
        Some(match self {
            Table::Meta => layout::META,
            Table::DefinitionHeads => layout::DEFINITION_HEAD,
            Table::Definitions => layout::DEFINITION,
            Table::Instances | Table::History | Table::Data => layout::INSTANCE,
            Table::OwnerIndex => layout::OWNER_INDEX,
            Table::Jobs => layout::JOB,
            Table::Due => layout::DUE,
            Table::WorkQueue => layout::WORK_QUEUE,
            Table::Idempotency => layout::IDEMPOTENCY,
            Table::Tombstones => layout::CANCELLED,
            Table::TombstoneExpiry => layout::CANCELLED_EXPIRY,
            Table::Schedules => layout::SCHEDULE,
            Table::Kv => return None,
        })
    }

    /// The table a key lives in.
    pub fn of(key: &[u8]) -> Table {
        let Some(&tag) = key.first() else {
            return Table::Kv;
        };
        match tag {
            layout::META => Table::Meta,
            layout::DEFINITION_HEAD => Table::DefinitionHeads,
            layout::DEFINITION => Table::Definitions,
            layout::INSTANCE if key.len() >= 18 => match key[17] {
                layout::INSTANCE_RECORD if key.len() == 18 => Table::Instances,
                layout::HISTORY => Table::History,
                layout::DATA => Table::Data,
                _ => Table::Kv,
            },
            layout::OWNER_INDEX => Table::OwnerIndex,
            layout::JOB => Table::Jobs,
            layout::DUE => Table::Due,
            layout::WORK_QUEUE => Table::WorkQueue,
            layout::IDEMPOTENCY => Table::Idempotency,
            layout::CANCELLED => Table::Tombstones,
            layout::CANCELLED_EXPIRY => Table::TombstoneExpiry,
            layout::SCHEDULE => Table::Schedules,
            _ => Table::Kv,
        }
    }

    /// Whether keys of this table can fall in `start..end`.
    pub fn may_hold(self, start: &[u8], end: &[u8]) -> bool {
        match self.tag() {
            None => true,
            Some(tag) => start < [tag + 1].as_slice() && end > [tag].as_slice(),
        }
    }

    /// The tables a range query over `start..end` (`start < end`) must read: only those the
    /// keys in the range can be routed to by [`Table::of`], so a job scan or an instance's
    /// history is one statement, not one per table plus `flyt_kv`.
    pub fn for_range(start: &[u8], end: &[u8]) -> Vec<Table> {
        let common = start.iter().zip(end).take_while(|(a, b)| a == b).count();
        let mut tables = BTreeSet::new();
        let tags = if common >= 1 {
            start[0]..=start[0]
        } else {
            byte_span(start, end, 0, &mut tables)
        };
        for tag in tags {
            if tag != layout::INSTANCE {
                tables.insert(Table::of(&[tag]));
            } else if common >= 17 {
                // The id is fixed; the byte after it picks the table.
                let subtags = if common >= 18 {
                    start[17]..=start[17]
                } else {
                    byte_span(start, end, 17, &mut tables)
                };
                for subtag in subtags {
                    tables.extend(match subtag {
                        layout::INSTANCE_RECORD => &[Table::Instances, Table::Kv][..],
                        layout::HISTORY => &[Table::History],
                        layout::DATA => &[Table::Data],
                        _ => &[Table::Kv],
                    });
                }
            } else {
                tables.extend([Table::Instances, Table::History, Table::Data, Table::Kv]);
            }
        }
        tables.into_iter().collect()
    }

    /// The derived columns, in the order [`super::derive::columns`] fills them.
    pub fn columns(self) -> &'static [Column] {
        match self {
            Table::DefinitionHeads | Table::OwnerIndex | Table::Idempotency | Table::Schedules => {
                &[Column {
                    name: "app",
                    cast: "u.app",
                }]
            }
            Table::Definitions => &[
                Column {
                    name: "app",
                    cast: "u.app",
                },
                Column {
                    name: "version",
                    cast: "u.version::integer",
                },
            ],
            Table::Instances => &[
                Column {
                    name: "instance_id",
                    cast: "u.instance_id::uuid",
                },
                Column {
                    name: "app",
                    cast: "u.app",
                },
                Column {
                    name: "revision",
                    cast: "u.revision::bigint",
                },
                Column {
                    name: "elements",
                    cast: "u.elements::jsonb",
                },
                Column {
                    name: "ended",
                    cast: "u.ended::boolean",
                },
                Column {
                    name: "incident",
                    cast: "u.incident::boolean",
                },
                Column {
                    name: "last_changed",
                    cast: "u.last_changed::timestamptz",
                },
            ],
            Table::History => &[
                Column {
                    name: "instance_id",
                    cast: "u.instance_id::uuid",
                },
                Column {
                    name: "seq",
                    cast: "u.seq::integer",
                },
                Column {
                    name: "events",
                    cast: "u.events::jsonb",
                },
            ],
            Table::Data => &[
                Column {
                    name: "instance_id",
                    cast: "u.instance_id::uuid",
                },
                Column {
                    name: "data_type",
                    cast: "u.data_type",
                },
            ],
            Table::Jobs => &[
                Column {
                    name: "job_id",
                    cast: "u.job_id::uuid",
                },
                Column {
                    name: "instance_id",
                    cast: "u.instance_id::uuid",
                },
                Column {
                    name: "app",
                    cast: "u.app",
                },
                Column {
                    name: "element",
                    cast: "u.element",
                },
                Column {
                    name: "job_type",
                    cast: "u.job_type",
                },
                Column {
                    name: "kind",
                    cast: "u.kind",
                },
                Column {
                    name: "state",
                    cast: "u.state",
                },
                Column {
                    name: "due_at",
                    cast: "u.due_at::timestamptz",
                },
                Column {
                    name: "attempts",
                    cast: "u.attempts::integer",
                },
                Column {
                    name: "external",
                    cast: "u.external::boolean",
                },
                Column {
                    name: "lease_holder",
                    cast: "u.lease_holder",
                },
                Column {
                    name: "lease",
                    cast: "u.lease",
                },
            ],
            Table::Due => &[
                Column {
                    name: "class",
                    cast: "u.class::smallint",
                },
                Column {
                    name: "due_at",
                    cast: "to_timestamp(u.due_at::bigint / 1000.0)",
                },
                Column {
                    name: "job_id",
                    cast: "u.job_id::uuid",
                },
            ],
            Table::WorkQueue => &[
                Column {
                    name: "job_type",
                    cast: "u.job_type",
                },
                Column {
                    name: "app",
                    cast: "u.app",
                },
            ],
            Table::Tombstones => &[Column {
                name: "job_id",
                cast: "u.job_id::uuid",
            }],
            Table::Meta | Table::TombstoneExpiry | Table::Kv => &[],
        }
    }
}

/// The bytes keys in `start..end` can have at `at`, where `start` and `end` agree on every
/// byte before it and differ at it. A key ending before `at` (`start` itself) is in `flyt_kv`
/// or the table of its tag: `tables` gets `Kv`, the conservative choice for it.
fn byte_span(
    start: &[u8],
    end: &[u8],
    at: usize,
    tables: &mut BTreeSet<Table>,
) -> RangeInclusive<u8> {
    let low = match start.get(at) {
        Some(&b) => b,
        None => {
            tables.insert(Table::of(start));
            tables.insert(Table::Kv);
            0
        }
    };
    // `end` itself is excluded: a key with `end[at]` there is in the range only if longer.
    let high = end.get(at).copied().unwrap_or(0);
    if end.len() == at + 1 {
        match high.checked_sub(1) {
            Some(high) if high >= low => low..=high,
            #[allow(clippy::reversed_empty_ranges)]
            _ => 1..=0,
        }
    } else {
        low..=high
    }
}

/// One schema change. Migrations only add; none drops or rewrites data.
#[derive(Debug)]
pub struct Migration {
    pub version: i32,
    pub description: &'static str,
    pub sql: &'static str,
}

/// Every migration, oldest first. The schema version is the last one applied.
pub const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        description: "tables per key family with derived columns and indexes",
        sql: r#"
CREATE TABLE flyt_meta (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE flyt_kv (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE flyt_definition_heads (k bytea PRIMARY KEY, v bytea NOT NULL, app text);
CREATE TABLE flyt_definitions (k bytea PRIMARY KEY, v bytea NOT NULL, app text, version integer);
CREATE TABLE flyt_instances (
    k bytea PRIMARY KEY, v bytea NOT NULL,
    instance_id uuid, app text, revision bigint, elements jsonb, ended boolean,
    incident boolean, last_changed timestamptz);
CREATE INDEX flyt_instances_app ON flyt_instances (app, ended);
CREATE INDEX flyt_instances_elements ON flyt_instances USING gin (elements);
CREATE INDEX flyt_instances_incident ON flyt_instances (app) WHERE incident;
CREATE TABLE flyt_history (
    k bytea PRIMARY KEY, v bytea NOT NULL, instance_id uuid, seq integer, events jsonb);
CREATE INDEX flyt_history_instance ON flyt_history (instance_id, seq);
CREATE TABLE flyt_data (k bytea PRIMARY KEY, v bytea NOT NULL, instance_id uuid, data_type text);
CREATE TABLE flyt_owner_index (k bytea PRIMARY KEY, v bytea NOT NULL, app text);
CREATE TABLE flyt_jobs (
    k bytea PRIMARY KEY, v bytea NOT NULL,
    job_id uuid, instance_id uuid, app text, element text, job_type text, kind text,
    state text, due_at timestamptz, attempts integer, external boolean);
CREATE INDEX flyt_jobs_instance ON flyt_jobs (instance_id);
CREATE INDEX flyt_jobs_state ON flyt_jobs (state, due_at);
CREATE TABLE flyt_due (
    k bytea PRIMARY KEY, v bytea NOT NULL, class smallint, due_at timestamptz, job_id uuid);
CREATE TABLE flyt_work_queue (k bytea PRIMARY KEY, v bytea NOT NULL, job_type text, app text);
CREATE TABLE flyt_idempotency (k bytea PRIMARY KEY, v bytea NOT NULL, app text);
CREATE TABLE flyt_tombstones (k bytea PRIMARY KEY, v bytea NOT NULL, job_id uuid);
CREATE TABLE flyt_tombstone_expiry (k bytea PRIMARY KEY, v bytea NOT NULL);
CREATE TABLE flyt_schedules (k bytea PRIMARY KEY, v bytea NOT NULL, app text);
"#,
    },
    Migration {
        version: 2,
        description: "who holds a job's lease, and its token",
        sql: r#"
ALTER TABLE flyt_jobs ADD COLUMN lease_holder text, ADD COLUMN lease text;
CREATE INDEX flyt_jobs_lease_holder ON flyt_jobs (lease_holder) WHERE lease_holder IS NOT NULL;
"#,
    },
];

/// The schema version this build writes and reads.
pub fn current_version() -> i32 {
    MIGRATIONS.last().map_or(0, |m| m.version)
}

/// The table that records applied migrations (created by the first `migrate`).
pub const MIGRATIONS_TABLE: &str = "CREATE TABLE IF NOT EXISTS flyt_schema_migrations (
    version integer PRIMARY KEY,
    description text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now())";

/// Serialises migrations of several nodes starting at once (`pg_advisory_xact_lock` key).
pub const MIGRATION_LOCK: i64 = 0x0066_6c79_746d_6967; // "flytmig"

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_is_created_by_the_migrations() {
        for table in Table::ALL {
            let create = format!("CREATE TABLE {} (", table.name());
            assert!(
                MIGRATIONS.iter().any(|m| m.sql.contains(&create)),
                "{create}"
            );
            for column in table.columns() {
                assert!(
                    MIGRATIONS.iter().any(|m| m.sql.contains(column.name)),
                    "{}.{}",
                    table.name(),
                    column.name
                );
            }
        }
    }

    #[test]
    fn keys_route_to_their_family_and_unknown_keys_to_kv() {
        let id = crate::ids::InstanceId::new_random();
        assert_eq!(Table::of(&layout::instance(id)), Table::Instances);
        assert_eq!(Table::of(&layout::history(id, 3)), Table::History);
        assert_eq!(Table::of(b"k1"), Table::Kv);
        assert_eq!(Table::of(b"I"), Table::Kv);
        assert_eq!(Table::of(&[]), Table::Kv);
        assert!(Table::Instances.may_hold(b"I", b"J"));
        assert!(!Table::Instances.may_hold(b"J", b"K"));
        assert!(Table::Kv.may_hold(b"J", b"K"));
    }

    #[test]
    fn a_range_reads_only_the_tables_its_keys_can_be_in() {
        let id = crate::ids::InstanceId::new_random();
        let end = |k: &[u8]| {
            let mut e = k.to_vec();
            *e.last_mut().unwrap() += 1;
            e
        };
        let history = layout::history_of(id);
        assert_eq!(Table::for_range(&history, &end(&history)), [Table::History]);
        let one = layout::history(id, 3);
        assert_eq!(Table::for_range(&one, &end(&one)), [Table::History]);
        let data = layout::data_of(id);
        assert_eq!(Table::for_range(&data, &end(&data)), [Table::Data]);
        // The whole instance: its record, history, data, and other sub-keys in flyt_kv.
        let whole = &history[..17];
        assert_eq!(
            Table::for_range(whole, &[whole, &[u8::MAX]].concat()),
            [Table::Instances, Table::History, Table::Data, Table::Kv]
        );
        let jobs = [layout::JOB];
        assert_eq!(Table::for_range(&jobs, &[layout::JOB + 1]), [Table::Jobs]);
        assert_eq!(
            Table::for_range(&[layout::JOB, 7], &[layout::JOB + 1, 0]),
            [Table::Jobs, Table::Idempotency]
        );
        // Every key a range can hold is in one of the tables it reads.
        let keys = [
            layout::instance(id),
            layout::history(id, 0),
            data.clone(),
            [whole, &[7u8][..]].concat(),
            whole.to_vec(),
            vec![layout::JOB, 1],
            vec![layout::JOB + 1],
            b"k1".to_vec(),
            Vec::new(),
        ];
        for a in &keys {
            for b in &keys {
                if a < b {
                    let tables = Table::for_range(a, b);
                    for k in keys.iter().filter(|k| a <= *k && *k < b) {
                        assert!(tables.contains(&Table::of(k)), "{a:?}..{b:?}: {k:?}");
                    }
                }
            }
        }
        // A tag of no table (messages, say) is only in flyt_kv; no common prefix: all.
        assert_eq!(Table::for_range(b"k1", b"k2"), [Table::Kv]);
        assert_eq!(Table::for_range(&[0], &[u8::MAX]).len(), Table::ALL.len());
    }
}
