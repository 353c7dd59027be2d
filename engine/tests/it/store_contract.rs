//! The storage contract (`flyt_engine::store::contract`) run against every backend: memory, sled
//! and redb, each property as its own test in a fresh temporary directory.

use std::path::Path;

use flyt_engine::store::open::BackendKind;

use flyt_engine::store::contract;

fn run_postgres(name: &str, property: fn(BackendKind, &Path)) {
    use flyt_engine::store::postgres::testing::TempDatabase;
    let Some(db) = TempDatabase::create(&format!("store contract postgres {name}")) else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join(contract::POSTGRES_URL_FILE), db.url()).unwrap();
    property(BackendKind::Postgres, dir.path());
}

fn run(kind: BackendKind, property: fn(BackendKind, &Path)) {
    let dir = tempfile::tempdir().unwrap();
    property(kind, dir.path());
}

/// Calls `$m! { $args.. <every common property> }`.
macro_rules! with_common {
    ($m:ident! { $($args:tt)* }) => {
        $m! { $($args)*
            put_get_delete,
            empty_values_are_present,
            absent_check,
            prefix_check,
            failed_check_reports_its_index,
            failed_unit_is_skipped,
            later_units_see_earlier_writes,
            unit_is_atomic,
            range_bounds_order_and_limit,
            prefix_ranges,
            empty_batch,
            large_values,
            ten_thousand_units_in_one_batch,
            close_is_idempotent,
            compact_keeps_everything,
            group_commits_are_grouped,
            group_race_has_one_winner,
            group_shutdown_drains_then_refuses,
            group_respects_batch_limits,
            group_error_fails_the_whole_batch,
            group_backend_panic_fails_cleanly,
            group_backend_panic_inside_apply_stops_the_committer,
        }
    };
}

/// Calls `$m! { $args.. <every disk-only property> }`.
macro_rules! with_disk {
    ($m:ident! { $($args:tt)* }) => {
        $m! { $($args)*
            survives_close_and_reopen,
            second_open_is_locked,
            garbage_is_not_a_store,
            damaged_store_does_not_open_empty,
        }
    };
}

macro_rules! tests {
    ($kind:ident; $($property:ident),* $(,)?) => {
        $(
            #[test]
            fn $property() {
                super::run(super::BackendKind::$kind, super::contract::$property);
            }
        )*
    };
}

/// Like `tests!`, each property on a database of its own (skipped, said plainly, without a
/// server unless `FLYT_REQUIRE_POSTGRES=1`).
macro_rules! postgres_tests {
    ($($property:ident),* $(,)?) => {
        $(
            #[test]
            fn $property() {
                super::run_postgres(stringify!($property), super::contract::$property);
            }
        )*
    };
}

macro_rules! names {
    ($($property:ident),* $(,)?) => {
        &[$(stringify!($property)),*]
    };
}

mod memory {
    with_common! { tests! { Memory; } }
}

mod sled {
    with_common! { tests! { Sled; } }
    with_disk! { tests! { Sled; } }
}

mod redb {
    with_common! { tests! { Redb; } }
    with_disk! { tests! { Redb; } }
}

/// On the machine's PostgreSQL (`FLYT_TEST_POSTGRES_URL`), each property in a database of its
/// own; a database is not files, so of the disk properties only the reopen one applies.
mod postgres {
    with_common! { postgres_tests! {} }
    postgres_tests! { survives_close_and_reopen }
}

/// The lists above and the suite's own lists agree, so no property is silently skipped.
#[test]
fn store_contract_runs_every_property() {
    let common: &[&str] = with_common! { names! {} };
    let disk: &[&str] = with_disk! { names! {} };
    fn suite(list: &[(&'static str, contract::Property)]) -> Vec<&'static str> {
        list.iter().map(|(name, _)| *name).collect()
    }
    assert_eq!(suite(contract::COMMON), common);
    assert_eq!(suite(contract::DISK), disk);
}

/// redb never shrinks its file by itself (copy-on-write leaves freed pages behind); compaction
/// gives the space back, which is what `flyt store compact` is for.
#[test]
fn redb_compaction_shrinks_the_file() {
    use flyt_engine::store::backend::Unit;
    let dir = tempfile::tempdir().unwrap();
    let b = contract::open(BackendKind::Redb, dir.path());
    let file = dir.path().join("flyt.redb");
    let size = || std::fs::metadata(&file).unwrap().len();
    for batch in 0..20u32 {
        let mut unit = Unit::new();
        for i in 0..500u32 {
            unit.put(
                (batch * 500 + i).to_be_bytes().to_vec(),
                vec![batch as u8; 1_000],
            );
        }
        assert_eq!(b.apply(&[unit]).unwrap(), vec![Ok(())]);
    }
    let mut unit = Unit::new();
    for i in 0..10_000u32 {
        unit.delete(i.to_be_bytes().to_vec());
    }
    assert_eq!(b.apply(&[unit]).unwrap(), vec![Ok(())]);
    let before = size();
    b.compact().unwrap();
    let after = size();
    assert!(
        after * 2 < before,
        "10 MB written then deleted: {before} bytes before compaction, {after} after"
    );
}
