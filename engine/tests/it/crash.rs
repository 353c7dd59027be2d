//! The crash test: a child process moves instances and prints each transition after its commit
//! returns; it is killed with SIGKILL at random moments; the store is reopened and checked: every
//! printed transition is there, every instance is exactly before or after a transition, history
//! and state agree, and no job is lost. At least 50 kills per backend.

use flyt_engine::model::EventType;
use flyt_engine::store::Store;
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::open::BackendKind;
use flyt_engine::testing::consistency;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KILLS: usize = 50;

fn crash_cycles(kind: BackendKind) {
    let dir = tempfile::tempdir().unwrap();
    let seed: u64 = std::env::var("FLYT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(20261124);
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut acked: HashMap<String, (u64, u32)> = HashMap::new();
    let started = Instant::now();
    let mut total_acks = 0usize;
    for cycle in 0..KILLS {
        let mut child = Command::new(env!("CARGO_BIN_EXE_flyt-crash-driver"))
            .args([
                kind.as_str(),
                &dir.path().display().to_string(),
                &(seed + cycle as u64).to_string(),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        // Kill after a random number of acknowledged transitions (so kills land mid-work).
        let kill_after = rng.usize(1..120);
        let mut lines = BufReader::new(stdout).lines();
        let mut seen = 0;
        let deadline = Instant::now() + Duration::from_secs(60);
        while seen < kill_after {
            assert!(
                Instant::now() < deadline,
                "{kind:?} cycle {cycle}: the driver stalled"
            );
            match lines.next() {
                Some(Ok(line)) => {
                    let parts: Vec<&str> = line.split(' ').collect();
                    if parts.len() == 4 && parts[0] == "ACK" {
                        let (v, h) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
                        let entry = acked.entry(parts[1].to_string()).or_insert((0, 0));
                        *entry = (entry.0.max(v), entry.1.max(h));
                        seen += 1;
                    }
                }
                _ => panic!(
                    "{kind:?} cycle {cycle}: the driver exited early: {:?}",
                    child.wait()
                ),
            }
        }
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // Lines printed after our last read but before the kill were acknowledged too.
        for line in lines.map_while(Result::ok) {
            let parts: Vec<&str> = line.split(' ').collect();
            if parts.len() == 4 && parts[0] == "ACK" {
                let (v, h) = (parts[2].parse().unwrap(), parts[3].parse().unwrap());
                let entry = acked.entry(parts[1].to_string()).or_insert((0, 0));
                *entry = (entry.0.max(v), entry.1.max(h));
            }
        }
        total_acks += seen;
        verify(kind, dir.path(), &acked, cycle);
    }
    multi_instance_ran(kind, dir.path(), &acked);
    eprintln!(
        "{kind:?}: {KILLS} kills, {} instances, {total_acks}+ acknowledged transitions, {:?}",
        acked.len(),
        started.elapsed()
    );
}

fn verify(
    kind: BackendKind,
    dir: &std::path::Path,
    acked: &HashMap<String, (u64, u32)>,
    cycle: usize,
) {
    let store = Store::open(kind, dir, 16 << 20, GroupConfig::default())
        .unwrap_or_else(|e| panic!("{kind:?} cycle {cycle}: reopen failed: {e}"));
    for (id, (version, history_len)) in acked {
        let instance = store
            .instance(id.parse().unwrap())
            .unwrap()
            .unwrap_or_else(|| {
                panic!("{kind:?} cycle {cycle}: acknowledged instance {id} is missing")
            });
        assert!(
            instance.version >= *version,
            "{kind:?} cycle {cycle}: {id} at version {} but version {version} was acknowledged",
            instance.version
        );
        assert!(
            instance.history_len >= *history_len,
            "{kind:?} cycle {cycle}: {id} lost history"
        );
    }
    let problems = consistency::check(&store).unwrap();
    assert!(
        problems.is_empty(),
        "{kind:?} cycle {cycle}: inconsistent store:\n{}",
        problems.join("\n")
    );
    store.shutdown();
}

/// The driver's process has a sequential multi-instance service task (`stamp`, twice) and a
/// parallel multi-instance user task (`p2`, three inner instances): the kills landed among
/// them, and every instance shows their inner instances started as one step (all three of `p2`
/// in one commit, never some of them).
fn multi_instance_ran(
    kind: BackendKind,
    dir: &std::path::Path,
    acked: &HashMap<String, (u64, u32)>,
) {
    let store = Store::open(kind, dir, 16 << 20, GroupConfig::default()).unwrap();
    let (mut all_three, mut stamped_twice) = (0, 0);
    for id in acked.keys() {
        let history = store.history(id.parse().unwrap(), 0, usize::MAX).unwrap();
        let starts = |element: &str| {
            history
                .iter()
                .filter(|e| {
                    e.event_type == EventType::StartTask
                        && e.element_id
                            .as_ref()
                            .is_some_and(|el| el.as_str() == element)
                })
                .count()
        };
        let p2 = starts("p2");
        assert!(
            p2 == 0 || p2 == 3,
            "{kind:?}: {id} started {p2} inner instances of p2, not 0 or 3"
        );
        all_three += usize::from(p2 == 3);
        stamped_twice += usize::from(starts("stamp") >= 2);
    }
    assert!(
        all_three > 0 && stamped_twice > 0,
        "{kind:?}: no instance reached the multi-instance tasks ({all_three} at p2, {stamped_twice} stamped twice)"
    );
    store.shutdown();
}

#[test]
fn crash_test_redb() {
    crash_cycles(BackendKind::Redb);
}

#[test]
fn crash_test_sled() {
    crash_cycles(BackendKind::Sled);
}
