//! Parse and validate a generated 10,000-element definition, as written (one element per line)
//! and all on one line; and a 5 MB one-line file with 100,000 problems, where every diagnostic
//! needs a line and column (the case that used to take quadratic time).

use super::{Row, ms};
use flyt_engine::bpmn::{self, Options};
use std::time::{Duration, Instant};

pub fn run(iterations: usize) -> Result<Vec<Row>, String> {
    let text = crate::generate::definition(10_000);
    let mut times: Vec<Duration> = Vec::with_capacity(iterations);
    let mut nodes = 0;
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        let compiled = bpmn::compile(text.as_bytes(), &Options::default())
            .map_err(|r| format!("generated definition invalid: {:?}", r.diagnostics.first()))?;
        times.push(started.elapsed());
        nodes = compiled.definition.node_count();
    }
    let mut rows = summary(
        times,
        format!("{nodes} elements, {} KiB", text.len() / 1024),
    );
    // The same definition with every line break replaced by a space.
    let one_line = text.replace('\n', " ");
    let times = timed(iterations, || {
        bpmn::compile(one_line.as_bytes(), &Options::default())
            .map(|_| ())
            .map_err(|r| format!("one-line definition invalid: {:?}", r.diagnostics.first()))
    })?;
    rows.extend(summary(
        times,
        format!(
            "{nodes} elements on one line, {} KiB",
            one_line.len() / 1024
        ),
    ));
    // 100,000 unconnected tasks on one line: every one is an error with a line and column.
    let mut broken = String::from(
        r#"<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" id="d" targetNamespace="urn:x"><bpmn:process id="p" isExecutable="true"><bpmn:startEvent id="S"/>"#,
    );
    for i in 0..100_000 {
        broken.push_str(&format!(r#"<bpmn:task id="Task_{i:06}" name="task {i}"/>"#));
    }
    broken.push_str("</bpmn:process></bpmn:definitions>");
    let times = timed(iterations.div_ceil(5).max(3), || {
        match bpmn::compile(broken.as_bytes(), &Options::default()) {
            Err(r) if r.error_count() >= 100_000 => Ok(()),
            Err(r) => Err(format!("expected 100,000 errors, got {}", r.error_count())),
            Ok(_) => Err("the broken definition compiled".into()),
        }
    })?;
    rows.extend(summary(
        times,
        format!("100,000 problems on one line, {} KiB", broken.len() / 1024),
    ));
    Ok(rows)
}

fn timed(
    iterations: usize,
    mut f: impl FnMut() -> Result<(), String>,
) -> Result<Vec<Duration>, String> {
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations.max(1) {
        let started = Instant::now();
        f()?;
        times.push(started.elapsed());
    }
    Ok(times)
}

fn summary(mut times: Vec<Duration>, variant: String) -> Vec<Row> {
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    vec![
        Row::new(
            "definitions",
            variant.clone(),
            "parse+validate mean",
            ms(mean),
            "ms",
        ),
        Row::new(
            "definitions",
            variant.clone(),
            "parse+validate median",
            ms(times[times.len() / 2]),
            "ms",
        ),
        Row::new(
            "definitions",
            variant.clone(),
            "parse+validate min",
            ms(times[0]),
            "ms",
        ),
        Row::new(
            "definitions",
            variant,
            "parse+validate max",
            ms(times[times.len() - 1]),
            "ms",
        ),
    ]
}
