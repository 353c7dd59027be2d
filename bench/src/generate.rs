//! Generated definitions for benchmarks and tests: a valid process of about `n` flow elements
//! mixing user tasks, service tasks, exclusive splits with conditions and defaults, and parallel
//! fork/join blocks, with BPMN-DI-free XML as modelers write it (incoming/outgoing listed).

use std::fmt::Write;

#[derive(Default)]
struct Builder {
    nodes: String,
    flows: String,
    next_flow: usize,
}

impl Builder {
    fn flow(&mut self, from: &str, to: &str, cond: Option<&str>) -> String {
        self.next_flow += 1;
        let id = format!("f{}", self.next_flow);
        let _ = match cond {
            Some(c) => writeln!(
                self.flows,
                r#"    <bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"><bpmn:conditionExpression>{c}</bpmn:conditionExpression></bpmn:sequenceFlow>"#
            ),
            None => writeln!(
                self.flows,
                r#"    <bpmn:sequenceFlow id="{id}" sourceRef="{from}" targetRef="{to}"/>"#
            ),
        };
        id
    }

    fn task(&mut self, id: &str, ty: &str) {
        let _ = writeln!(
            self.nodes,
            r#"    <bpmn:task id="{id}" name="Task {id}"><bpmn:extensionElements><altinn:taskExtension><altinn:taskType>{ty}</altinn:taskType></altinn:taskExtension></bpmn:extensionElements></bpmn:task>"#
        );
    }

    fn node(&mut self, xml: &str) {
        let _ = writeln!(self.nodes, "    {xml}");
    }
}

/// A valid definition with at least `n` flow nodes (events, tasks and gateways).
pub fn definition(n: usize) -> String {
    let mut b = Builder::default();
    b.node(r#"<bpmn:startEvent id="start"/>"#);
    let mut count = 1usize;
    let mut prev = "start".to_string();
    let mut block = 0usize;
    while count + 8 < n {
        block += 1;
        match block % 3 {
            // A chain of tasks.
            0 => {
                for i in 0..4 {
                    let id = format!("t{block}_{i}");
                    b.task(&id, if i % 2 == 0 { "data" } else { "confirmation" });
                    b.flow(&prev, &id, None);
                    prev = id;
                    count += 1;
                }
            }
            // An exclusive split on data with a default, merged again.
            1 => {
                let (split, merge, a, c) = (
                    format!("x{block}"),
                    format!("m{block}"),
                    format!("a{block}"),
                    format!("b{block}"),
                );
                b.task(&a, "data");
                b.task(&c, "signing");
                b.flow(&prev, &split, None);
                b.flow(
                    &split,
                    &a,
                    Some(r#"["greaterThan", ["dataModel", "amount", "model"], 1000]"#),
                );
                let default = b.flow(&split, &c, None);
                b.flow(&a, &merge, None);
                b.flow(&c, &merge, None);
                b.node(&format!(
                    r#"<bpmn:exclusiveGateway id="{split}" default="{default}"/>"#
                ));
                b.node(&format!(r#"<bpmn:exclusiveGateway id="{merge}"/>"#));
                prev = merge;
                count += 4;
            }
            // A parallel fork and join.
            _ => {
                let (fork, join, a, c) = (
                    format!("p{block}"),
                    format!("j{block}"),
                    format!("pa{block}"),
                    format!("pb{block}"),
                );
                b.node(&format!(r#"<bpmn:parallelGateway id="{fork}"/>"#));
                b.node(&format!(r#"<bpmn:parallelGateway id="{join}"/>"#));
                b.task(&a, "data");
                b.task(&c, "feedback");
                b.flow(&prev, &fork, None);
                b.flow(&fork, &a, None);
                b.flow(&fork, &c, None);
                b.flow(&a, &join, None);
                b.flow(&c, &join, None);
                prev = join;
                count += 4;
            }
        }
    }
    b.node(r#"<bpmn:endEvent id="end"/>"#);
    b.flow(&prev, "end", None);
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" xmlns:altinn="http://altinn.no/process" id="generated">
  <bpmn:process id="generated" isExecutable="true">
{}{}  </bpmn:process>
</bpmn:definitions>
"#,
        b.nodes, b.flows
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_generated_definition_is_valid_and_as_large_as_asked() {
        let text = super::definition(10_000);
        let compiled =
            flyt_engine::bpmn::compile(text.as_bytes(), &flyt_engine::bpmn::Options::default())
                .expect("valid");
        assert!(
            compiled.definition.node_count() >= 9_990,
            "{}",
            compiled.definition.node_count()
        );
        assert!(
            compiled.warnings.is_empty(),
            "{:?}",
            &compiled.warnings[..compiled.warnings.len().min(3)]
        );
    }
}
