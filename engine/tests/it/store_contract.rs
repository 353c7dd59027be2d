//! The storage contract (`flyt_engine::store::contract`) run against every backend: memory, sled
//! and redb, each property as its own test in a fresh temporary directory.

use std::path::Path;

use flyt_engine::store::open::BackendKind;

use flyt_engine::store::contract;

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
            group_commits_are_grouped,
            group_race_has_one_winner,
            group_shutdown_drains_then_refuses,
            group_respects_batch_limits,
            group_error_fails_the_whole_batch,
            group_backend_panic_fails_cleanly,
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
