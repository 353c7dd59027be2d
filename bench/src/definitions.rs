//! Parse and validate a generated 10,000-element definition.

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
    times.sort_unstable();
    let mean = times.iter().sum::<Duration>() / times.len() as u32;
    let variant = format!("{nodes} elements, {} KiB", text.len() / 1024);
    Ok(vec![
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
    ])
}
