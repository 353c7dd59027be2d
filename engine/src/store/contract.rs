//! The backend contract as executable properties, shared by every backend.
//!
//! Three implementations of one contract only agree if the same tests hold them to it. Each
//! property here is a plain function `fn(BackendKind, &Path)` that opens the backend of that
//! kind in the given (fresh, empty) directory and panics on a violation; the integration tests
//! (`engine/tests/it/store_contract.rs`) run every property against memory, sled and redb, each in
//! its own temporary directory. [`COMMON`] holds the properties for every backend, [`DISK`] those
//! that only mean something for a store on disk (reopen, locking, damaged files).
//!
//! Everything is deterministic: no sleeps, no timing assumptions. The group-commit properties
//! control batching with [`Instrumented`], a wrapper backend whose `apply` can be held at a gate
//! until the test has queued what it wants in the next batch.
//!
//! Test support code: failures are reported by panicking, so `unwrap` is fine here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;

use parking_lot::Mutex;
use tokio::sync::oneshot;

use super::group::{GroupCommitter, GroupConfig};
use super::open::{BackendKind, open_backend, store_path};
use super::{Backend, BackendError, Check, CheckFailed, Entry, Unit, Write, prefix_end};

/// Cache size the properties open backends with.
pub const CACHE_BYTES: usize = 8 * 1024 * 1024;

/// A contract property: panics if the backend of this kind, opened in this empty directory,
/// breaks the contract.
pub type Property = fn(BackendKind, &Path);

/// Properties every backend must have.
pub const COMMON: &[(&str, Property)] = &[
    ("put_get_delete", put_get_delete),
    ("empty_values_are_present", empty_values_are_present),
    ("absent_check", absent_check),
    ("prefix_check", prefix_check),
    (
        "failed_check_reports_its_index",
        failed_check_reports_its_index,
    ),
    ("failed_unit_is_skipped", failed_unit_is_skipped),
    (
        "later_units_see_earlier_writes",
        later_units_see_earlier_writes,
    ),
    ("unit_is_atomic", unit_is_atomic),
    ("range_bounds_order_and_limit", range_bounds_order_and_limit),
    ("prefix_ranges", prefix_ranges),
    ("empty_batch", empty_batch),
    ("large_values", large_values),
    (
        "ten_thousand_units_in_one_batch",
        ten_thousand_units_in_one_batch,
    ),
    ("close_is_idempotent", close_is_idempotent),
    ("compact_keeps_everything", compact_keeps_everything),
    ("group_commits_are_grouped", group_commits_are_grouped),
    ("group_race_has_one_winner", group_race_has_one_winner),
    (
        "group_shutdown_drains_then_refuses",
        group_shutdown_drains_then_refuses,
    ),
    ("group_respects_batch_limits", group_respects_batch_limits),
    (
        "group_error_fails_the_whole_batch",
        group_error_fails_the_whole_batch,
    ),
    (
        "group_backend_panic_fails_cleanly",
        group_backend_panic_fails_cleanly,
    ),
    (
        "group_backend_panic_inside_apply_stops_the_committer",
        group_backend_panic_inside_apply_stops_the_committer,
    ),
];

/// Properties of disk backends only.
pub const DISK: &[(&str, Property)] = &[
    ("survives_close_and_reopen", survives_close_and_reopen),
    ("second_open_is_locked", second_open_is_locked),
    ("garbage_is_not_a_store", garbage_is_not_a_store),
    (
        "damaged_store_does_not_open_empty",
        damaged_store_does_not_open_empty,
    ),
];

/// Runs every property for `kind`, each in a directory from `fresh_dir` (which must be new and
/// empty each time).
pub fn run_all(kind: BackendKind, fresh_dir: &mut dyn FnMut() -> PathBuf) {
    let disk = match kind {
        BackendKind::Memory => &[],
        // A database, not files: only the reopen property applies.
        BackendKind::Postgres => &DISK[..1],
        BackendKind::Sled | BackendKind::Redb => DISK,
    };
    for (name, property) in COMMON.iter().chain(disk) {
        let dir = fresh_dir();
        eprintln!("store contract: {kind} {name}");
        property(kind, &dir);
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

/// Where a PostgreSQL property finds its (fresh) database's connection string: the test writes
/// it into the property's directory, since a database is not a directory.
pub const POSTGRES_URL_FILE: &str = "postgres.url";

/// Opens the backend of `kind` in `dir` (panics on failure).
pub fn open(kind: BackendKind, dir: &Path) -> Arc<dyn Backend> {
    if kind == BackendKind::Postgres {
        let url = std::fs::read_to_string(dir.join(POSTGRES_URL_FILE))
            .unwrap_or_else(|e| panic!("{POSTGRES_URL_FILE} in {}: {e}", dir.display()));
        return super::open::open_postgres(url.trim(), true)
            .unwrap_or_else(|e| panic!("opening the postgres store: {e}"));
    }
    open_backend(kind, dir, CACHE_BYTES)
        .unwrap_or_else(|e| panic!("opening the {kind} store in {}: {e}", dir.display()))
}

fn put(key: &[u8], value: &[u8]) -> Unit {
    let mut unit = Unit::new();
    unit.put(key.to_vec(), value.to_vec());
    unit
}

fn apply(backend: &dyn Backend, units: &[Unit]) -> Vec<Result<(), CheckFailed>> {
    let outcomes = backend.apply(units).unwrap();
    assert_eq!(outcomes.len(), units.len(), "one outcome per unit");
    outcomes
}

fn apply_one(backend: &dyn Backend, unit: Unit) -> Result<(), CheckFailed> {
    apply(backend, &[unit]).remove(0)
}

fn get(backend: &dyn Backend, key: &[u8]) -> Option<Vec<u8>> {
    backend.get(key).unwrap()
}

/// Every entry (keys in these tests are shorter than 64 bytes).
fn everything(backend: &dyn Backend) -> Vec<Entry> {
    backend.range(&[], &[0xFF; 64], usize::MAX).unwrap()
}

fn failed(check: usize) -> Result<(), CheckFailed> {
    Err(CheckFailed { check })
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_all()
        .build()
        .unwrap()
}

fn random_bytes(seed: u64, len: usize) -> Vec<u8> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..len).map(|_| rng.u8(..)).collect()
}

// ---------------------------------------------------------------------------------------------
// Every backend

pub fn put_get_delete(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    assert_eq!(get(&*b, b"k"), None);
    assert_eq!(apply_one(&*b, put(b"k", b"v1")), Ok(()));
    assert_eq!(get(&*b, b"k").as_deref(), Some(&b"v1"[..]));
    assert_eq!(apply_one(&*b, put(b"k", b"v2")), Ok(()), "overwrite");
    assert_eq!(get(&*b, b"k").as_deref(), Some(&b"v2"[..]));
    let mut delete = Unit::new();
    delete.delete(b"k".to_vec());
    assert_eq!(apply_one(&*b, delete.clone()), Ok(()));
    assert_eq!(get(&*b, b"k"), None);
    assert_eq!(
        apply_one(&*b, delete),
        Ok(()),
        "deleting a missing key is fine"
    );
    // Keys are compared whole: neither a prefix nor an extension of a key is that key.
    apply_one(&*b, put(b"ab", b"x")).unwrap();
    assert_eq!(get(&*b, b"a"), None);
    assert_eq!(get(&*b, b"abc"), None);
    assert_eq!(everything(&*b), vec![(b"ab".to_vec(), b"x".to_vec())]);
}

/// flyt's index entries have empty values: they must exist like any other.
pub fn empty_values_are_present(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    apply_one(&*b, put(b"index", b"")).unwrap();
    assert_eq!(get(&*b, b"index"), Some(Vec::new()));
    assert_eq!(everything(&*b), vec![(b"index".to_vec(), Vec::new())]);
    let mut unit = Unit::new();
    unit.check(Check::Absent(b"index".to_vec()));
    assert_eq!(apply_one(&*b, unit), failed(0), "an empty value is present");
    let mut unit = Unit::new();
    unit.check(Check::Prefix {
        key: b"index".to_vec(),
        prefix: Vec::new(),
    });
    assert_eq!(apply_one(&*b, unit), Ok(()));
}

pub fn absent_check(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    let mut create = Unit::new();
    create
        .check(Check::Absent(b"k".to_vec()))
        .put(b"k".to_vec(), b"first".to_vec());
    assert_eq!(apply_one(&*b, create.clone()), Ok(()), "absent: passes");
    let mut again = Unit::new();
    again
        .check(Check::Absent(b"k".to_vec()))
        .put(b"k".to_vec(), b"second".to_vec());
    assert_eq!(apply_one(&*b, again), failed(0), "present: fails");
    assert_eq!(get(&*b, b"k").as_deref(), Some(&b"first"[..]));
}

pub fn prefix_check(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    apply_one(&*b, put(b"k", b"\x01rev7 body")).unwrap();
    let check = |prefix: &[u8], key: &[u8]| {
        let mut unit = Unit::new();
        unit.check(Check::Prefix {
            key: key.to_vec(),
            prefix: prefix.to_vec(),
        })
        .put(b"touched".to_vec(), prefix.to_vec());
        apply_one(&*b, unit)
    };
    for prefix in [&b""[..], b"\x01", b"\x01rev7", b"\x01rev7 body"] {
        assert_eq!(
            check(prefix, b"k"),
            Ok(()),
            "prefix {prefix:?} should match"
        );
        assert_eq!(get(&*b, b"touched").as_deref(), Some(prefix));
    }
    for prefix in [&b"\x01rev8"[..], b"\x01rev7 body!", b"rev7", b"\x02"] {
        assert_eq!(
            check(prefix, b"k"),
            failed(0),
            "prefix {prefix:?} must not match"
        );
    }
    assert_eq!(
        check(b"", b"missing"),
        failed(0),
        "a missing key fails even the empty prefix"
    );
    assert_eq!(get(&*b, b"touched").as_deref(), Some(&b"\x01rev7 body"[..]));
}

pub fn failed_check_reports_its_index(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    apply_one(&*b, put(b"a", b"1")).unwrap();
    let mut unit = Unit::new();
    unit.check(Check::Absent(b"x".to_vec()))
        .check(Check::Prefix {
            key: b"a".to_vec(),
            prefix: b"1".to_vec(),
        })
        .check(Check::Absent(b"a".to_vec()))
        .check(Check::Absent(b"y".to_vec()));
    assert_eq!(apply_one(&*b, unit), failed(2));
}

pub fn failed_unit_is_skipped(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    let mut doomed = Unit::new();
    doomed
        .check(Check::Prefix {
            key: b"missing".to_vec(),
            prefix: Vec::new(),
        })
        .put(b"b".to_vec(), b"2".to_vec());
    let outcomes = apply(&*b, &[put(b"a", b"1"), doomed, put(b"c", b"3")]);
    assert_eq!(outcomes, vec![Ok(()), failed(0), Ok(())]);
    assert_eq!(
        everything(&*b),
        vec![
            (b"a".to_vec(), b"1".to_vec()),
            (b"c".to_vec(), b"3".to_vec())
        ]
    );
}

pub fn later_units_see_earlier_writes(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    let k = || b"k".to_vec();
    let prefix = |p: &[u8]| Check::Prefix {
        key: k(),
        prefix: p.to_vec(),
    };
    let mut u1 = Unit::new();
    u1.check(Check::Absent(k())).put(k(), b"v1".to_vec());
    let mut u2 = Unit::new();
    u2.check(prefix(b"v1")).put(k(), b"v2".to_vec());
    let mut u3 = Unit::new();
    u3.check(Check::Absent(k())).put(b"no".to_vec(), Vec::new());
    let mut u4 = Unit::new();
    u4.check(prefix(b"v1")).put(b"no".to_vec(), Vec::new());
    let mut u5 = Unit::new();
    u5.check(prefix(b"v2")).delete(k());
    let mut u6 = Unit::new();
    u6.check(Check::Absent(k()))
        .put(b"after".to_vec(), b"x".to_vec());
    let outcomes = apply(&*b, &[u1, u2, u3, u4, u5, u6]);
    assert_eq!(
        outcomes,
        vec![Ok(()), Ok(()), failed(0), failed(0), Ok(()), Ok(())]
    );
    assert_eq!(get(&*b, b"k"), None);
    assert_eq!(get(&*b, b"no"), None);
    assert_eq!(get(&*b, b"after").as_deref(), Some(&b"x"[..]));
}

pub fn unit_is_atomic(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    apply_one(&*b, put(b"k", b"v")).unwrap();
    let mut unit = Unit::new();
    unit.check(Check::Absent(b"new1".to_vec()))
        .check(Check::Prefix {
            key: b"k".to_vec(),
            prefix: b"other".to_vec(),
        })
        .put(b"new1".to_vec(), b"1".to_vec())
        .put(b"new2".to_vec(), b"2".to_vec())
        .delete(b"k".to_vec());
    // The next unit of the same batch must not see anything of the failed one either.
    let mut next = Unit::new();
    next.check(Check::Absent(b"new1".to_vec()))
        .check(Check::Prefix {
            key: b"k".to_vec(),
            prefix: b"v".to_vec(),
        })
        .put(b"next".to_vec(), b"ok".to_vec());
    assert_eq!(apply(&*b, &[unit, next]), vec![failed(1), Ok(())]);
    assert_eq!(
        everything(&*b),
        vec![
            (b"k".to_vec(), b"v".to_vec()),
            (b"next".to_vec(), b"ok".to_vec())
        ]
    );
}

/// `range` against a model, over every pair of interesting bounds and several limits.
pub fn range_bounds_order_and_limit(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    let keys: Vec<Vec<u8>> = vec![
        vec![0],
        vec![0, 0],
        vec![0, 1],
        vec![1],
        vec![1, 0xFF],
        vec![1, 0xFF, 0xFF],
        vec![2],
        vec![0x7F],
        vec![0x80],
        vec![0xFE, 0xFF],
        vec![0xFF],
        vec![0xFF, 0x00],
        b"a".to_vec(),
        b"ab".to_vec(),
        b"abc".to_vec(),
        b"b".to_vec(),
    ];
    let mut model = BTreeMap::new();
    let mut shuffled = keys.clone();
    fastrand::Rng::with_seed(42).shuffle(&mut shuffled);
    // Written in several batches, in no particular order.
    for chunk in shuffled.chunks(5) {
        let units: Vec<Unit> = chunk
            .iter()
            .map(|k| {
                let value = [b"v:".as_slice(), k].concat();
                model.insert(k.clone(), value.clone());
                put(k, &value)
            })
            .collect();
        assert!(apply(&*b, &units).iter().all(Result::is_ok));
    }
    let mut bounds = keys.clone();
    bounds.extend([
        vec![],
        vec![0, 0, 0],
        vec![1, 0],
        b"aa".to_vec(),
        vec![0xFF; 3],
    ]);
    for start in &bounds {
        for end in &bounds {
            for limit in [0, 1, 3, usize::MAX] {
                let got = b.range(start, end, limit).unwrap();
                let want: Vec<Entry> = model
                    .iter()
                    .filter(|(k, _)| {
                        k.as_slice() >= start.as_slice() && k.as_slice() < end.as_slice()
                    })
                    .take(limit)
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                assert_eq!(got, want, "range({start:?}, {end:?}, {limit})");
            }
        }
    }
}

pub fn prefix_ranges(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    let keys: [&[u8]; 9] = [
        b"I\x00",
        b"I\x01a",
        b"I\x01b",
        b"I\x01\xFF",
        b"I\x01\xFF\xFF",
        b"I\x02",
        b"J",
        b"H\xFF",
        b"I",
    ];
    let units: Vec<Unit> = keys.iter().map(|k| put(k, b"")).collect();
    apply(&*b, &units);
    assert_eq!(prefix_end(b"I\x01"), b"I\x02".to_vec());
    assert_eq!(prefix_end(b"I\x01\xFF"), b"I\x02".to_vec());
    assert_eq!(prefix_end(b"H\xFF"), b"I".to_vec());
    for prefix in [&b"I"[..], b"I\x01", b"I\x01\xFF", b"H", b"J", b"K"] {
        let got: Vec<Vec<u8>> = b
            .range(prefix, &prefix_end(prefix), usize::MAX)
            .unwrap()
            .into_iter()
            .map(|(k, _)| k)
            .collect();
        let mut want: Vec<Vec<u8>> = keys
            .iter()
            .filter(|k| k.starts_with(prefix))
            .map(|k| k.to_vec())
            .collect();
        want.sort();
        assert_eq!(got, want, "prefix {prefix:?}");
    }
}

pub fn empty_batch(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    assert_eq!(b.apply(&[]).unwrap(), Vec::new());
    assert_eq!(apply(&*b, &[Unit::new()]), vec![Ok(())], "an empty unit");
    assert!(everything(&*b).is_empty());
}

pub fn large_values(kind: BackendKind, dir: &Path) {
    const MIB: usize = 1024 * 1024;
    let b = open(kind, dir);
    let values: Vec<Vec<u8>> = (0..3).map(|i| random_bytes(i, MIB)).collect();
    let units: Vec<Unit> = values
        .iter()
        .enumerate()
        .map(|(i, v)| put(format!("big/{i}").as_bytes(), v))
        .collect();
    assert!(apply(&*b, &units).iter().all(Result::is_ok));
    for (i, v) in values.iter().enumerate() {
        assert!(
            get(&*b, format!("big/{i}").as_bytes()).as_ref() == Some(v),
            "big/{i}"
        );
    }
    let all = b.range(b"big/", &prefix_end(b"big/"), usize::MAX).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().zip(&values).all(|((_, got), want)| got == want));
    // Overwrite with another 1 MiB, check its prefix, delete another.
    let replacement = random_bytes(9, MIB);
    let mut unit = Unit::new();
    unit.check(Check::Prefix {
        key: b"big/0".to_vec(),
        prefix: values[0][..1000].to_vec(),
    })
    .put(b"big/0".to_vec(), replacement.clone())
    .delete(b"big/1".to_vec());
    assert_eq!(apply_one(&*b, unit), Ok(()));
    assert!(get(&*b, b"big/0") == Some(replacement));
    assert_eq!(get(&*b, b"big/1"), None);
    assert!(get(&*b, b"big/2").as_ref() == Some(&values[2]));
}

pub fn ten_thousand_units_in_one_batch(kind: BackendKind, dir: &Path) {
    const N: usize = 10_000;
    let b = open(kind, dir);
    let key = |i: usize| format!("unit/{i:05}").into_bytes();
    let units: Vec<Unit> = (0..N)
        .map(|i| {
            let mut unit = Unit::new();
            unit.check(Check::Absent(key(i)))
                .put(key(i), format!("value {i} {}", "x".repeat(64)).into_bytes());
            unit
        })
        .collect();
    let outcomes = apply(&*b, &units);
    assert!(outcomes.iter().all(Result::is_ok));
    let all = b
        .range(b"unit/", &prefix_end(b"unit/"), usize::MAX)
        .unwrap();
    assert_eq!(all.len(), N);
    assert!(
        all.iter().enumerate().all(|(i, (k, _))| *k == key(i)),
        "in key order"
    );
    assert_eq!(
        b.range(b"unit/", &prefix_end(b"unit/"), 10).unwrap().len(),
        10
    );
    // A second batch of 10,000 checked deletes, every odd one with a stale expectation.
    let units: Vec<Unit> = (0..N)
        .map(|i| {
            let expected = if i % 2 == 0 {
                format!("value {i} ")
            } else {
                "stale".to_string()
            };
            let mut unit = Unit::new();
            unit.check(Check::Prefix {
                key: key(i),
                prefix: expected.into_bytes(),
            })
            .delete(key(i));
            unit
        })
        .collect();
    let outcomes = apply(&*b, &units);
    for (i, outcome) in outcomes.iter().enumerate() {
        assert_eq!(
            *outcome,
            if i % 2 == 0 { Ok(()) } else { failed(0) },
            "unit {i}"
        );
    }
    let left = b
        .range(b"unit/", &prefix_end(b"unit/"), usize::MAX)
        .unwrap();
    assert_eq!(left.len(), N / 2);
    assert!(
        left.iter()
            .enumerate()
            .all(|(j, (k, _))| *k == key(2 * j + 1))
    );
}

pub fn close_is_idempotent(kind: BackendKind, dir: &Path) {
    let b = open(kind, dir);
    apply_one(&*b, put(b"k", b"v")).unwrap();
    b.close().unwrap();
    b.close().unwrap();
    if kind.is_persistent() {
        // A closed disk store answers with errors, not panics.
        assert!(b.get(b"k").is_err());
        assert!(b.range(b"", b"z", 10).is_err());
        assert!(b.apply(&[put(b"k", b"w")]).is_err());
    }
}

// ---------------------------------------------------------------------------------------------
// Disk backends

/// Compaction changes the file, never the contents: every entry survives it (and a reopen
/// after it), and the store takes writes afterwards.
pub fn compact_keeps_everything(kind: BackendKind, dir: &Path) {
    let expected: Vec<Entry> = {
        let b = open(kind, dir);
        let units: Vec<Unit> = (0..2_000u32)
            .map(|i| put(&i.to_be_bytes(), &random_bytes(u64::from(i), 1_000)))
            .collect();
        apply(&*b, &units);
        // Delete nine in ten, leaving space behind.
        let mut unit = Unit::new();
        for i in (0..2_000u32).filter(|i| i % 10 != 0) {
            unit.delete(i.to_be_bytes().to_vec());
        }
        apply_one(&*b, unit).unwrap();
        let before = everything(&*b);
        assert_eq!(before.len(), 200);
        b.compact().unwrap();
        assert_eq!(everything(&*b), before, "compaction changed the contents");
        apply_one(&*b, put(b"after", b"compaction")).unwrap();
        b.close().unwrap();
        let mut expected = before;
        expected.push((b"after".to_vec(), b"compaction".to_vec()));
        expected.sort();
        expected
    };
    if kind.is_persistent() {
        assert_eq!(everything(&*open(kind, dir)), expected);
    }
}

pub fn survives_close_and_reopen(kind: BackendKind, dir: &Path) {
    {
        let b = open(kind, dir);
        let units: Vec<Unit> = (0..100u32)
            .map(|i| put(&i.to_be_bytes(), &[7; 100]))
            .collect();
        apply(&*b, &units);
        b.close().unwrap();
    }
    {
        let b = open(kind, dir);
        let all = everything(&*b);
        assert_eq!(all.len(), 100);
        assert!(
            all.iter()
                .enumerate()
                .all(|(i, (k, v))| *k == (i as u32).to_be_bytes() && *v == [7; 100])
        );
        let mut unit = Unit::new();
        unit.delete(0u32.to_be_bytes().to_vec())
            .put(b"second".to_vec(), b"life".to_vec());
        apply_one(&*b, unit).unwrap();
        // No close this time: a returned commit is durable, and dropping releases the store.
    }
    let b = open(kind, dir);
    assert_eq!(everything(&*b).len(), 100);
    assert_eq!(get(&*b, &0u32.to_be_bytes()), None);
    assert_eq!(get(&*b, b"second").as_deref(), Some(&b"life"[..]));
}

pub fn second_open_is_locked(kind: BackendKind, dir: &Path) {
    let first = open(kind, dir);
    apply_one(&*first, put(b"k", b"v")).unwrap();
    match open_backend(kind, dir, CACHE_BYTES) {
        Err(BackendError::Locked { path }) => {
            let expected = store_path(kind, dir).unwrap();
            assert!(
                Path::new(&path) == expected,
                "Locked names the store: {path}"
            );
        }
        Err(e) => panic!("expected Locked, got {e}"),
        Ok(_) => panic!("the same {kind} store opened twice"),
    }
    // The failed open did not disturb the first handle.
    assert_eq!(get(&*first, b"k").as_deref(), Some(&b"v"[..]));
    // close() releases the store even while the handle is still alive.
    first.close().unwrap();
    let second = open(kind, dir);
    assert_eq!(get(&*second, b"k").as_deref(), Some(&b"v"[..]));
    drop(first);
}

/// Random bytes where the store lives must not open as a (new, empty) store, and must be left
/// as they were.
pub fn garbage_is_not_a_store(kind: BackendKind, dir: &Path) {
    let garbage = random_bytes(0xBAD, 4096);
    let path = store_path(kind, dir).unwrap();
    // The store's own path holds garbage (for sled a file where its directory should be).
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(&path, &garbage).unwrap();
    expect_refused(kind, dir, &path, &garbage);
    if kind == BackendKind::Sled {
        // sled's data file holds garbage, with no `conf` beside it, then with a valid one.
        std::fs::remove_file(&path).unwrap();
        std::fs::create_dir_all(&path).unwrap();
        let data = path.join("db");
        std::fs::write(&data, &garbage).unwrap();
        expect_refused(kind, dir, &data, &garbage);

        let donor = dir.join("donor");
        open(kind, &donor).close().unwrap();
        let donor_conf = store_path(kind, &donor).unwrap().join("conf");
        std::fs::copy(donor_conf, path.join("conf")).unwrap();
        expect_refused(kind, dir, &data, &garbage);
        // A garbage `conf` beside it.
        std::fs::write(path.join("conf"), &garbage[..100]).unwrap();
        expect_refused(kind, dir, &data, &garbage);
        // A real store whose `conf` is garbage.
        let real = store_path(kind, &donor).unwrap();
        std::fs::write(real.join("conf"), &garbage[..100]).unwrap();
        expect_refused(kind, &donor, &real.join("conf"), &garbage[..100]);
    }
}

fn expect_refused(kind: BackendKind, dir: &Path, garbage_path: &Path, garbage: &[u8]) {
    match open_backend(kind, dir, CACHE_BYTES) {
        Ok(b) => panic!(
            "{kind} opened garbage as a store with {} entries",
            everything(&*b).len()
        ),
        Err(BackendError::Corrupt { backend, .. }) => assert_eq!(backend, kind.as_str()),
        Err(other) => panic!("expected Corrupt for garbage, got {other}"),
    }
    assert!(
        std::fs::read(garbage_path).unwrap() == garbage,
        "the garbage at {} was modified",
        garbage_path.display()
    );
}

/// A real store with a damaged region must not open as a store that silently lost data.
///
/// For redb this means an error (`Corrupt`). sled 0.34 recovers a damaged log by truncating it
/// at the first bad message, so it may legitimately open with a *prefix* of the data; what it
/// must not do is open empty.
pub fn damaged_store_does_not_open_empty(kind: BackendKind, dir: &Path) {
    const N: u32 = 2000;
    {
        let b = open(kind, dir);
        for chunk in (0..N).collect::<Vec<_>>().chunks(500) {
            let units: Vec<Unit> = chunk
                .iter()
                .map(|i| put(&i.to_be_bytes(), &[1; 200]))
                .collect();
            apply(&*b, &units);
        }
        b.close().unwrap();
    }
    let file = match kind {
        BackendKind::Sled => store_path(kind, dir).unwrap().join("db"),
        _ => store_path(kind, dir).unwrap(),
    };
    let mut bytes = std::fs::read(&file).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle..middle + 4096].copy_from_slice(&random_bytes(3, 4096));
    std::fs::write(&file, &bytes).unwrap();
    match (kind, open_backend(kind, dir, CACHE_BYTES)) {
        (BackendKind::Redb, Err(BackendError::Corrupt { .. })) => {}
        (BackendKind::Redb, Err(e)) => panic!("expected Corrupt, got {e}"),
        (BackendKind::Redb, Ok(b)) => panic!(
            "redb opened a damaged file ({} of {N} entries)",
            everything(&*b).len()
        ),
        (_, Ok(b)) => {
            let n = everything(&*b).len();
            eprintln!("{kind} opened the damaged store with {n} of {N} entries");
            assert!(n > 0, "{kind} opened a damaged store empty");
        }
        (_, Err(BackendError::Corrupt { detail, .. })) => {
            eprintln!("{kind} refused the damaged store: {detail}");
        }
        (_, Err(e)) => panic!("expected Corrupt or a readable store, got {e}"),
    }
}

// ---------------------------------------------------------------------------------------------
// Group commit

/// A backend wrapper for group-commit tests: records every batch, can hold the next `apply` at a
/// gate, and fails or panics on batches that write a key starting with [`FAULT_ERROR`] or
/// [`FAULT_PANIC`].
pub struct Instrumented {
    pub inner: Arc<dyn Backend>,
    gate: Mutex<Option<(oneshot::Sender<()>, mpsc::Receiver<()>)>>,
    /// The keys written by each batch, in order.
    batches: Mutex<Vec<Vec<Vec<u8>>>>,
}

pub const FAULT_ERROR: &[u8] = b"fault/error";
pub const FAULT_PANIC: &[u8] = b"fault/panic";

/// A closed gate: the next `apply` signals `entered` and then waits for `release`.
pub struct Gate {
    pub entered: oneshot::Receiver<()>,
    pub release: mpsc::Sender<()>,
}

impl fmt::Debug for Instrumented {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Instrumented")
            .field("inner", &self.inner.name())
            .finish()
    }
}

impl fmt::Debug for Gate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Gate")
    }
}

impl Instrumented {
    pub fn new(inner: Arc<dyn Backend>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            gate: Mutex::new(None),
            batches: Mutex::new(Vec::new()),
        })
    }

    /// Holds the next `apply` until the returned gate is released.
    pub fn arm(&self) -> Gate {
        let (entered_tx, entered) = oneshot::channel();
        let (release, release_rx) = mpsc::channel();
        *self.gate.lock() = Some((entered_tx, release_rx));
        Gate { entered, release }
    }

    /// Keys written by each batch so far.
    pub fn batches(&self) -> Vec<Vec<Vec<u8>>> {
        self.batches.lock().clone()
    }
}

impl Backend for Instrumented {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        self.inner.get(key)
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        self.inner.range(start, end, limit)
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        let gate = self.gate.lock().take();
        if let Some((entered, release)) = gate {
            let _ = entered.send(());
            let _ = release.recv();
        }
        let keys: Vec<Vec<u8>> = units
            .iter()
            .flat_map(|u| &u.writes)
            .map(|w| match w {
                Write::Put(k, _) | Write::Delete(k) => k.clone(),
            })
            .collect();
        self.batches.lock().push(keys.clone());
        if keys.iter().any(|k| k.starts_with(FAULT_PANIC)) {
            panic!("injected backend panic");
        }
        if keys.iter().any(|k| k.starts_with(FAULT_ERROR)) {
            return Err(BackendError::Unavailable("injected failure".into()));
        }
        self.inner.apply(units)
    }

    fn close(&self) -> Result<(), BackendError> {
        self.inner.close()
    }
}

/// Reads back what a shut-down committer wrote: disk stores are reopened (shutdown closed
/// them, which must have released them); memory is read in place.
fn reopen_after_shutdown(kind: BackendKind, dir: &Path, probe: &Instrumented) -> Arc<dyn Backend> {
    if kind.is_persistent() {
        open(kind, dir)
    } else {
        Arc::clone(&probe.inner)
    }
}

/// 64 tasks commit 50 units each; every unit lands, and they were grouped into fewer batches.
pub fn group_commits_are_grouped(kind: BackendKind, dir: &Path) {
    const TASKS: usize = 64;
    const PER_TASK: usize = 50;
    let probe = Instrumented::new(open(kind, dir));
    let committer = GroupCommitter::start(probe.clone(), GroupConfig::default());
    fn key(t: usize, i: usize) -> Vec<u8> {
        format!("task/{t:02}/{i:02}").into_bytes()
    }
    fn unit(t: usize, i: usize) -> Unit {
        let mut unit = Unit::new();
        unit.check(Check::Absent(key(t, i)))
            .put(key(t, i), format!("{t}:{i}").into_bytes());
        unit
    }
    runtime().block_on(async {
        // Hold the first batch at the gate while every task's first unit queues behind it:
        // whatever the scheduling, the next batch then holds several units.
        let gate = probe.arm();
        let mut first = Vec::new();
        first.push(committer.commit(unit(0, 0)));
        gate.entered.await.unwrap();
        for t in 1..TASKS {
            first.push(committer.commit(unit(t, 0)));
        }
        gate.release.send(()).unwrap();
        let tasks: Vec<_> = first
            .into_iter()
            .enumerate()
            .map(|(t, first)| {
                let committer = committer.clone();
                tokio::spawn(async move {
                    assert_eq!(first.await, Ok(Ok(())));
                    for i in 1..PER_TASK {
                        assert_eq!(committer.commit(unit(t, i)).await, Ok(Ok(())));
                    }
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap();
        }
    });
    let stats = committer.stats();
    let total = (TASKS * PER_TASK) as u64;
    assert_eq!(stats.units, total);
    assert!(stats.batches < total, "no grouping: {stats:?}");
    assert!(stats.largest_batch >= (TASKS - 1) as u64, "{stats:?}");
    let b = committer.backend();
    let all = b
        .range(b"task/", &prefix_end(b"task/"), usize::MAX)
        .unwrap();
    assert_eq!(all.len(), TASKS * PER_TASK);
    for (n, (k, v)) in all.iter().enumerate() {
        let (t, i) = (n / PER_TASK, n % PER_TASK);
        assert_eq!(*k, key(t, i));
        assert_eq!(*v, format!("{t}:{i}").into_bytes());
    }
    committer.shutdown();
}

/// 50 tasks race to create the same key: exactly one wins.
pub fn group_race_has_one_winner(kind: BackendKind, dir: &Path) {
    const RACERS: usize = 50;
    let committer = GroupCommitter::start(open(kind, dir), GroupConfig::default());
    let outcomes: Vec<_> = runtime().block_on(async {
        let tasks: Vec<_> = (0..RACERS)
            .map(|t| {
                let committer = committer.clone();
                tokio::spawn(async move {
                    let mut unit = Unit::new();
                    unit.check(Check::Absent(b"the-key".to_vec()))
                        .put(b"the-key".to_vec(), t.to_string().into_bytes());
                    committer.commit(unit).await
                })
            })
            .collect();
        let mut outcomes = Vec::new();
        for task in tasks {
            outcomes.push(task.await.unwrap());
        }
        outcomes
    });
    let winners: Vec<usize> = (0..RACERS).filter(|&t| outcomes[t] == Ok(Ok(()))).collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    let losers = outcomes.iter().filter(|o| **o == Ok(failed(0))).count();
    assert_eq!(losers, RACERS - 1, "{outcomes:?}");
    assert_eq!(
        committer.backend().get(b"the-key").unwrap(),
        Some(winners[0].to_string().into_bytes())
    );
    committer.shutdown();
}

/// Shutdown finishes what is queued, closes the backend, and refuses later commits (async and
/// blocking) with `Unavailable`; it is idempotent and also happens on drop.
pub fn group_shutdown_drains_then_refuses(kind: BackendKind, dir: &Path) {
    let probe = Instrumented::new(open(kind, dir));
    let committer = GroupCommitter::start(probe.clone(), GroupConfig::default());
    assert_eq!(
        committer.commit_blocking(put(b"q/blocking", b"1")),
        Ok(Ok(()))
    );
    let rt = runtime();
    let gate = probe.arm();
    let queued: Vec<_> = (0..10u8)
        .map(|i| committer.commit(put(&[b"q/".as_slice(), &[i]].concat(), b"v")))
        .collect();
    rt.block_on(async { gate.entered.await.unwrap() });
    // Shut down while a batch is held at the gate and others are queued behind it.
    let shutting = std::thread::spawn({
        let committer = committer.clone();
        move || committer.shutdown()
    });
    while committer.is_accepting() {
        std::thread::yield_now();
    }
    let refused = rt.block_on(committer.commit(put(b"q/late", b"v")));
    assert!(
        matches!(&refused, Err(BackendError::Unavailable(m)) if m == "store is shut down"),
        "{refused:?}"
    );
    gate.release.send(()).unwrap();
    shutting.join().unwrap();
    for outcome in rt.block_on(futures_all(queued)) {
        assert_eq!(outcome, Ok(Ok(())));
    }
    assert!(matches!(
        committer.commit_blocking(put(b"q/late", b"v")),
        Err(BackendError::Unavailable(_))
    ));
    committer.shutdown();
    drop(committer);
    let b = reopen_after_shutdown(kind, dir, &probe);
    assert_eq!(get(&*b, b"q/late"), None);
    assert_eq!(
        b.range(b"q/", &prefix_end(b"q/"), usize::MAX)
            .unwrap()
            .len(),
        11
    );

    // Dropping the last clone shuts down (and closes) too.
    b.close().unwrap();
    drop(b);
    let probe = Instrumented::new(open(kind, dir));
    let committer = GroupCommitter::start(probe.clone(), GroupConfig::default());
    let pending = committer.commit(put(b"q/on-drop", b"v"));
    drop(committer);
    assert_eq!(rt.block_on(pending), Ok(Ok(())));
    let b = reopen_after_shutdown(kind, dir, &probe);
    assert_eq!(get(&*b, b"q/on-drop").as_deref(), Some(&b"v"[..]));
}

async fn futures_all<F: std::future::Future>(futures: Vec<F>) -> Vec<F::Output> {
    let mut out = Vec::with_capacity(futures.len());
    for f in futures {
        out.push(f.await);
    }
    out
}

pub fn group_respects_batch_limits(kind: BackendKind, dir: &Path) {
    let probe = Instrumented::new(open(kind, dir));
    let config = GroupConfig {
        max_batch_units: 4,
        max_batch_bytes: 1000,
    };
    let committer = GroupCommitter::start(probe.clone(), config);
    let rt = runtime();
    let run_round = |units: Vec<Unit>| -> Vec<usize> {
        let before = probe.batches().len();
        let gate = probe.arm();
        let warmup = committer.commit(put(b"warmup", b""));
        rt.block_on(async { gate.entered.await.unwrap() });
        let pending: Vec<_> = units.into_iter().map(|u| committer.commit(u)).collect();
        gate.release.send(()).unwrap();
        assert_eq!(rt.block_on(warmup), Ok(Ok(())));
        for outcome in rt.block_on(futures_all(pending)) {
            assert_eq!(outcome, Ok(Ok(())));
        }
        probe.batches()[before + 1..].iter().map(Vec::len).collect()
    };
    // Ten small units: at most four per batch.
    let small = (0..10u8).map(|i| put(&[b's', i], b"v")).collect();
    assert_eq!(run_round(small), vec![4, 4, 2]);
    // Five units of 400 bytes: at most 1000 bytes per batch.
    let sized = (0..5u8).map(|i| put(&[b'b', i], &[0; 398])).collect();
    assert_eq!(run_round(sized), vec![2, 2, 1]);
    // A unit larger than the byte limit still goes, alone.
    let huge = vec![put(b"s-huge", &[0; 5000]), put(b"s-after", b"")];
    assert_eq!(run_round(huge), vec![1, 1]);
    assert_eq!(committer.stats().largest_batch, 4);
    committer.shutdown();
}

/// A batch whose `apply` fails gives that error to each of its units, applies none of them, and
/// the committer carries on.
pub fn group_error_fails_the_whole_batch(kind: BackendKind, dir: &Path) {
    let probe = Instrumented::new(open(kind, dir));
    let committer = GroupCommitter::start(probe.clone(), GroupConfig::default());
    let rt = runtime();
    let gate = probe.arm();
    let alone = committer.commit(put(b"e/alone", b"1"));
    rt.block_on(async { gate.entered.await.unwrap() });
    let mut faulty = put(b"e/with-fault", b"2");
    faulty.put(FAULT_ERROR.to_vec(), Vec::new());
    let doomed = vec![
        committer.commit(put(b"e/before", b"3")),
        committer.commit(faulty),
        committer.commit(put(b"e/after", b"4")),
    ];
    gate.release.send(()).unwrap();
    assert_eq!(rt.block_on(alone), Ok(Ok(())));
    for outcome in rt.block_on(futures_all(doomed)) {
        assert_eq!(
            outcome,
            Err(BackendError::Unavailable("injected failure".into()))
        );
    }
    let b = committer.backend();
    for key in [&b"e/before"[..], b"e/with-fault", b"e/after", FAULT_ERROR] {
        assert_eq!(
            b.get(key).unwrap(),
            None,
            "{key:?} applied from a failed batch"
        );
    }
    assert_eq!(
        rt.block_on(committer.commit(put(b"e/later", b"5"))),
        Ok(Ok(()))
    );
    assert_eq!(b.get(b"e/later").unwrap().as_deref(), Some(&b"5"[..]));
    let batches = probe.batches();
    assert_eq!(batches.len(), 3, "{batches:?}");
    committer.shutdown();
}

/// A panicking backend stops the committer: the batch and every later commit get an error, and
/// nothing hangs.
pub fn group_backend_panic_fails_cleanly(kind: BackendKind, dir: &Path) {
    let probe = Instrumented::new(open(kind, dir));
    let committer = GroupCommitter::start(probe.clone(), GroupConfig::default());
    let rt = runtime();
    let gate = probe.arm();
    let fine = committer.commit(put(b"p/fine", b"1"));
    rt.block_on(async { gate.entered.await.unwrap() });
    let doomed = vec![
        committer.commit(put(FAULT_PANIC, b"")),
        committer.commit(put(b"p/same-batch", b"2")),
    ];
    gate.release.send(()).unwrap();
    assert_eq!(rt.block_on(fine), Ok(Ok(())));
    for outcome in rt.block_on(futures_all(doomed)) {
        assert!(
            matches!(outcome, Err(BackendError::Unavailable(_))),
            "{outcome:?}"
        );
    }
    for _ in 0..3 {
        let later = rt.block_on(committer.commit(put(b"p/later", b"3")));
        assert!(
            matches!(later, Err(BackendError::Unavailable(_))),
            "{later:?}"
        );
        assert!(matches!(
            committer.commit_blocking(put(b"p/later", b"3")),
            Err(BackendError::Unavailable(_))
        ));
    }
    committer.shutdown();
    let b = reopen_after_shutdown(kind, dir, &probe);
    assert_eq!(get(&*b, b"p/fine").as_deref(), Some(&b"1"[..]));
    assert_eq!(get(&*b, b"p/same-batch"), None);
    assert_eq!(get(&*b, b"p/later"), None);
}

/// The one panic policy, checked where a real panic happens: inside the backend's own `apply`,
/// half way through a batch (after an earlier unit of the same batch was written). The
/// committer stops; the batch and every later commit get `Unavailable`; on disk, nothing of the
/// batch is there after a reopen.
pub fn group_backend_panic_inside_apply_stops_the_committer(kind: BackendKind, dir: &Path) {
    let backend = open(kind, dir);
    let committer = GroupCommitter::start(backend.clone(), GroupConfig::default());
    let rt = runtime();
    assert_eq!(
        rt.block_on(committer.commit(put(b"q/before", b"1"))),
        Ok(Ok(()))
    );
    let mut batch = Unit::new();
    batch.put(b"q/first-half".to_vec(), b"2".to_vec());
    batch.put(super::backend::PANIC_INSIDE_APPLY.to_vec(), Vec::new());
    let outcome = rt.block_on(committer.commit(batch));
    assert!(
        matches!(outcome, Err(BackendError::Unavailable(_))),
        "{outcome:?}"
    );
    for _ in 0..3 {
        let later = rt.block_on(committer.commit(put(b"q/later", b"3")));
        assert!(
            matches!(later, Err(BackendError::Unavailable(_))),
            "{later:?}"
        );
    }
    committer.shutdown();
    if kind.is_persistent() {
        drop(backend);
        let b = open(kind, dir);
        assert_eq!(get(&*b, b"q/before").as_deref(), Some(&b"1"[..]));
        assert_eq!(
            get(&*b, b"q/first-half"),
            None,
            "nothing of the panicking batch"
        );
        assert_eq!(get(&*b, b"q/later"), None);
    }
}
