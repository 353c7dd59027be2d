//! Property test: random and mutated files never panic the parser and are answered quickly.

use crate::support::*;
use flyt_engine::bpmn::{self, Options};
use proptest::prelude::*;
use std::time::{Duration, Instant};

/// A generous bound that only catches pathological (super-linear) behaviour, not slowness.
const BOUND: Duration = Duration::from_secs(5);

fn seed() -> String {
    doc(
        r#"<startEvent id="start"><outgoing>f1</outgoing></startEvent>
<task id="t" name="a &amp; b"><incoming>f1</incoming><outgoing>f2</outgoing><extensionElements><altinn:taskExtension><altinn:taskType>data</altinn:taskType><altinn:actions><altinn:action>write</altinn:action></altinn:actions></altinn:taskExtension></extensionElements></task>
<exclusiveGateway id="g" default="f3"/>
<parallelGateway id="fork"/>
<endEvent id="end"/>
<sequenceFlow id="f1" sourceRef="start" targetRef="t"/>
<sequenceFlow id="f2" sourceRef="t" targetRef="g"/>
<sequenceFlow id="f3" sourceRef="g" targetRef="end"/>
<sequenceFlow id="f4" sourceRef="g" targetRef="fork"><conditionExpression><![CDATA[["and", ["equals", ["dataModel", "a.b"], 1], ["not", false]]]]></conditionExpression></sequenceFlow>
<sequenceFlow id="f5" sourceRef="fork" targetRef="end"/>"#,
    )
}

fn check(bytes: &[u8]) {
    let started = Instant::now();
    let result = bpmn::compile(bytes, &Options::default());
    assert!(started.elapsed() < BOUND, "took {:?}", started.elapsed());
    if let Err(rejected) = result {
        for d in &rejected.diagnostics {
            assert!(d.line >= 1 && d.column >= 1, "{d:?}");
            assert!(!d.message.is_empty());
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip(usize, u8),
    Truncate(usize),
    Insert(usize, String),
    Delete(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    let snippet = prop_oneof![
        Just("<".to_string()),
        Just(">".to_string()),
        Just("</task>".to_string()),
        Just("<!DOCTYPE x>".to_string()),
        Just("&bogus;".to_string()),
        Just("&#xFFFFFF;".to_string()),
        Just("<![CDATA[".to_string()),
        Just("\"".to_string()),
        Just("<bpmn:task id=\"t\">".to_string()),
        Just("<sequenceFlow id=\"x\" sourceRef=\"g\" targetRef=\"g\"/>".to_string()),
        Just("xmlns:q=\"urn:x\"".to_string()),
        Just("<q:e/>".to_string()),
        "[a-z<>/=\" ]{0,12}",
    ];
    prop_oneof![
        (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Flip(i, b)),
        any::<usize>().prop_map(Mutation::Truncate),
        (any::<usize>(), snippet).prop_map(|(i, s)| Mutation::Insert(i, s)),
        (any::<usize>(), 0usize..64).prop_map(|(i, n)| Mutation::Delete(i, n)),
    ]
}

fn apply(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
    for m in mutations {
        let len = bytes.len().max(1);
        match m {
            Mutation::Flip(i, b) => {
                if !bytes.is_empty() {
                    bytes[i % len] ^= b | 1;
                }
            }
            Mutation::Truncate(i) => bytes.truncate(i % len),
            Mutation::Insert(i, s) => {
                let at = i % (bytes.len() + 1);
                bytes.splice(at..at, s.bytes());
            }
            Mutation::Delete(i, n) => {
                let at = i % len;
                let end = (at + n).min(bytes.len());
                if at < end {
                    bytes.drain(at..end);
                }
            }
        }
    }
    bytes
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        check(&bytes);
    }

    #[test]
    fn random_xml_like_text_never_panics(text in "[<>/=\"a-z:! \n&#;\\[\\]-]{0,2048}") {
        check(text.as_bytes());
    }

    #[test]
    fn mutated_valid_files_never_panic(mutations in proptest::collection::vec(mutation(), 1..8)) {
        check(&apply(seed().into_bytes(), &mutations));
    }
}

#[test]
fn the_seed_is_valid() {
    let compiled =
        compile(&seed()).expect("the seed must be valid so that mutations start from a real file");
    assert_eq!(compiled.definition.node_count(), 5);
}
