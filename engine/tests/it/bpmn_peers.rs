//! The peer engines' test files (`../shared/conformance/peers/`: bpmn-engine and bpmn-elements)
//! against a table of what flyt says about each: accepted (`&[]`), or refused with exactly this
//! set of error codes. A mismatch fails with every wrong row at once, printed as the row it
//! should be, so updating the table after a change is copy-paste. No file may panic or hang.

use crate::support::shared_dir;
use flyt_engine::bpmn::{self, Options};
use std::collections::BTreeSet;
use std::path::Path;
use std::sync::mpsc;
use std::time::Duration;

/// Per file (relative to `peers/`): the error codes that refuse it, sorted; empty = accepted.
const PEERS: &[(&str, &[&str])] = &[
    (
        "bpmn-elements/activity-execution.bpmn",
        &[
            "invalid-message-throw",
            "missing-correlation-key",
            "uncaught-error",
            "unknown-message",
        ],
    ),
    (
        "bpmn-elements/activity-lifecycle.bpmn",
        &["invalid-message-throw", "unsupported-script"],
    ),
    (
        "bpmn-elements/ad-hoc-subprocess.bpmn",
        &["unsupported-element"],
    ),
    ("bpmn-elements/async-decision.bpmn", &["unsupported-script"]),
    (
        "bpmn-elements/bound-error-and-timer.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/bound-error.bpmn", &["unsupported-script"]),
    ("bpmn-elements/boundary-non-interupting-timer.bpmn", &[]),
    (
        "bpmn-elements/boundary-timeout.bpmn",
        &["parallel-join-deadlock"],
    ),
    ("bpmn-elements/bpmn-error.bpmn", &["unsupported-script"]),
    ("bpmn-elements/call-activity-signal.bpmn", &[]), // call activities run (was unsupported-element)
    ("bpmn-elements/call-activity.bpmn", &[]), // call activities run (was unsupported-element)
    (
        "bpmn-elements/conditional-bound-js-event.bpmn",
        &["unsupported-element"],
    ),
    (
        "bpmn-elements/conditional-flows.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/consumer_error.bpmn", &["unsupported-script"]),
    ("bpmn-elements/data-store-reference.bpmn", &[]),
    (
        "bpmn-elements/end-compensate.bpmn",
        &["invalid-multi-instance", "unsupported-element"],
    ),
    (
        "bpmn-elements/engine-issue-105_1.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/engine-issue-105_2.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/engine-issue-139.bpmn", &[]),
    (
        "bpmn-elements/engine-issue-180-message.bpmn",
        &["invalid-message-throw", "missing-correlation-key"],
    ),
    ("bpmn-elements/engine-issue-180-signal.bpmn", &[]),
    ("bpmn-elements/engine-issue-180.bpmn", &[]),
    (
        "bpmn-elements/engine-issue-73.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/engine-issue-73_2.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/escalation-start-event.bpmn",
        &["dead-end", "invalid-sub-process"],
    ),
    ("bpmn-elements/escalation.bpmn", &["unsupported-script"]),
    (
        "bpmn-elements/event-based-gateway-with-same-target.bpmn",
        &["invalid-event-gateway"],
    ),
    ("bpmn-elements/event-based-gateway.bpmn", &[]),
    (
        "bpmn-elements/exclusive-gateway-as-join.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/forms.bpmn", &[]),
    ("bpmn-elements/groups.bpmn", &[]),
    ("bpmn-elements/issue-19.bpmn", &["unsupported-script"]),
    ("bpmn-elements/issue-3.bpmn", &["unsupported-script"]),
    ("bpmn-elements/issue-31-cm.bpmn", &["unsupported-script"]),
    ("bpmn-elements/issue-31.bpmn", &["unsupported-script"]),
    ("bpmn-elements/issue-4.bpmn", &[]),
    (
        "bpmn-elements/issue-42-same-target-sequence-flows.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/join-inbound.bpmn",
        &["unsupported-element", "unsupported-script"],
    ),
    (
        "bpmn-elements/lanes.bpmn",
        &["missing-correlation-key", "unknown-message"],
    ),
    ("bpmn-elements/link-event.bpmn", &["unsupported-script"]),
    ("bpmn-elements/loop.bpmn", &["unsupported-script"]),
    ("bpmn-elements/messageflow-target-process.bpmn", &[]),
    ("bpmn-elements/messaging.bpmn", &["invalid-message-throw"]), // was unsupported-element
    ("bpmn-elements/misp-loopback.bpmn", &["unsupported-script"]),
    (
        "bpmn-elements/misp-parallel-loopback.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/mother-of-all.bpmn",
        &["invalid-sub-process", "unsupported-script"],
    ),
    (
        "bpmn-elements/multiple-endEvents.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/multiple-joins.bpmn", &["unsupported-script"]),
    (
        "bpmn-elements/multiple-multiple-inbound.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/nested-joins.bpmn", &["unsupported-script"]),
    (
        "bpmn-elements/parallel-join-edgecase.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-elements/process-message.bpmn", &["dead-end"]),
    ("bpmn-elements/resume_error.bpmn", &["unsupported-script"]),
    ("bpmn-elements/send-signal.bpmn", &[]),
    ("bpmn-elements/service-task-io.bpmn", &[]),
    ("bpmn-elements/service-task-operation.bpmn", &["not-bpmn"]),
    ("bpmn-elements/service-task.bpmn", &["uncaught-error"]),
    ("bpmn-elements/signal-after-signal.bpmn", &[]),
    ("bpmn-elements/signals.bpmn", &[]),
    (
        "bpmn-elements/simple-task.bpmn",
        &["dead-end", "no-start-event"],
    ),
    (
        "bpmn-elements/sub-process.bpmn",
        &["invalid-sub-process", "unsupported-script"],
    ),
    (
        "bpmn-elements/succeeding-joins.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/swimlanes.bpmn",
        &["invalid-sub-process", "unreachable"],
    ),
    (
        "bpmn-elements/task-multiple-inbound.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/task-with-multi-instance-loop.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-elements/throw-compensate.bpmn",
        &["unsupported-element"],
    ),
    ("bpmn-elements/timer-event.bpmn", &[]),
    ("bpmn-elements/timer-start-event.bpmn", &["unreachable"]),
    ("bpmn-elements/timers.bpmn", &["unsupported-script"]),
    ("bpmn-elements/transaction.bpmn", &["unsupported-element"]),
    ("bpmn-elements/two-executable-processes.bpmn", &[]),
    (
        "bpmn-elements/wait-activities.bpmn",
        &[
            "missing-correlation-key",
            "unknown-message",
            "unknown-signal",
            "unsupported-element",
        ],
    ),
    (
        "bpmn-engine/bound-error-and-timer.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-engine/bound-error.bpmn", &["unsupported-script"]),
    ("bpmn-engine/boundary-non-interupting-timer.bpmn", &[]),
    (
        "bpmn-engine/boundary-timeout.bpmn",
        &["parallel-join-deadlock"],
    ),
    ("bpmn-engine/call-activity.bpmn", &[]), // call activities run (was unsupported-element)
    (
        "bpmn-engine/conditional-bound-js-event.bpmn",
        &["unsupported-element"],
    ),
    ("bpmn-engine/diagram_1.bpmn", &[]),
    ("bpmn-engine/forms.bpmn", &[]),
    ("bpmn-engine/issue-139.bpmn", &[]),
    (
        "bpmn-engine/issue-163.bpmn",
        &["invalid-sub-process", "unreachable"],
    ),
    (
        "bpmn-engine/issue-187.bpmn",
        &["invalid-multi-instance", "unsupported-script"],
    ),
    ("bpmn-engine/issue-19.bpmn", &["unsupported-script"]),
    ("bpmn-engine/issue-4.bpmn", &[]),
    (
        "bpmn-engine/lanes.bpmn",
        &["missing-correlation-key", "unknown-message"],
    ),
    ("bpmn-engine/loop.bpmn", &["unsupported-script"]),
    ("bpmn-engine/messaging.bpmn", &["invalid-message-throw"]), // was unsupported-element
    (
        "bpmn-engine/mother-of-all.bpmn",
        &["invalid-sub-process", "unsupported-script"],
    ),
    (
        "bpmn-engine/multiple-endEvents.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-engine/multiple-joins.bpmn", &["unsupported-script"]),
    (
        "bpmn-engine/multiple-multiple-inbound.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-engine/one-or-the-other.bpmn", &["dead-end"]),
    ("bpmn-engine/send-signal.bpmn", &[]),
    ("bpmn-engine/service-task-io.bpmn", &[]),
    ("bpmn-engine/service-task-operation.bpmn", &["not-bpmn"]),
    ("bpmn-engine/service-task.bpmn", &["uncaught-error"]),
    ("bpmn-engine/signals.bpmn", &[]),
    (
        "bpmn-engine/simple-task.bpmn",
        &["dead-end", "no-start-event"],
    ),
    (
        "bpmn-engine/sub-process.bpmn",
        &["invalid-sub-process", "unsupported-script"],
    ),
    ("bpmn-engine/succeeding-joins.bpmn", &["unsupported-script"]),
    (
        "bpmn-engine/task-multiple-inbound.bpmn",
        &["unsupported-script"],
    ),
    (
        "bpmn-engine/task-with-multi-instance-loop.bpmn",
        &["unsupported-script"],
    ),
    ("bpmn-engine/timer-event.bpmn", &[]),
    ("bpmn-engine/timer-start-event.bpmn", &["unreachable"]),
    ("bpmn-engine/timers.bpmn", &["unsupported-script"]),
];

/// Far above any real compile (the parser's limits bound its work); only a hang reaches it.
const HANG: Duration = Duration::from_secs(60);

/// What flyt says about one file, as a table row; or why it could not say.
fn outcome(path: &Path) -> Result<Vec<String>, String> {
    let bytes = std::fs::read(path).map_err(|e| e.to_string())?;
    let (send, receive) = mpsc::channel();
    std::thread::spawn(move || {
        let codes: BTreeSet<String> = match bpmn::compile(&bytes, &Options::default()) {
            Ok(_) => BTreeSet::new(),
            Err(rejected) => rejected.errors().map(|e| e.code.to_string()).collect(),
        };
        let _ = send.send(codes.into_iter().collect::<Vec<_>>());
    });
    match receive.recv_timeout(HANG) {
        Ok(codes) => Ok(codes),
        Err(mpsc::RecvTimeoutError::Timeout) => Err(format!("still compiling after {HANG:?}")),
        Err(mpsc::RecvTimeoutError::Disconnected) => Err("panicked".into()),
    }
}

fn row(name: &str, codes: &[String]) -> String {
    let codes: Vec<String> = codes.iter().map(|c| format!("{c:?}")).collect();
    format!("    ({name:?}, &[{}]),", codes.join(", "))
}

#[test]
fn every_peer_file_is_accepted_or_refused_as_the_table_says() {
    let Some(shared) = shared_dir("every_peer_file_is_accepted_or_refused_as_the_table_says")
    else {
        return;
    };
    let root = shared.join("conformance/peers");
    let mut on_disk: BTreeSet<String> = BTreeSet::new();
    for engine in std::fs::read_dir(&root).unwrap() {
        let engine = engine.unwrap().path();
        let Some(engine_name) = engine.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !engine.is_dir() {
            continue;
        }
        for file in std::fs::read_dir(&engine).unwrap() {
            let file = file.unwrap().path();
            if file.extension().is_some_and(|x| x == "bpmn") {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                on_disk.insert(format!("{engine_name}/{name}"));
            }
        }
    }
    let in_table: BTreeSet<String> = PEERS.iter().map(|(n, _)| n.to_string()).collect();
    let mut wrong = Vec::new();
    for name in on_disk.difference(&in_table) {
        match outcome(&root.join(name)) {
            Ok(codes) => wrong.push(format!("{}  // not in the table", row(name, &codes))),
            Err(why) => wrong.push(format!("{name}: {why}")),
        }
    }
    for name in in_table.difference(&on_disk) {
        wrong.push(format!(
            "{name}: in the table, but not in {}",
            root.display()
        ));
    }
    for (name, expected) in PEERS {
        if !on_disk.contains(*name) {
            continue;
        }
        match outcome(&root.join(name)) {
            Ok(codes) if codes == *expected => {}
            Ok(codes) => wrong.push(format!("{}  // was {:?}", row(name, &codes), expected)),
            Err(why) => wrong.push(format!("{name}: {why}")),
        }
    }
    assert!(
        wrong.is_empty(),
        "{} peer file(s) differ from the table; the rows as they are now:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert_eq!(
        on_disk.len(),
        106,
        "bpmn-engine and bpmn-elements hold 106 files"
    );
}
