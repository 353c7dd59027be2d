//! A short smoke run of every benchmark scenario, so the benchmark keeps working. It asserts only
//! that each scenario runs and reports numbers; speed is measured by `flyt bench` itself (see
//! BENCHMARKS.md), never asserted in tests.

#[test]
fn every_benchmark_scenario_runs() {
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .args(["bench", "all", "--smoke", "--clients", "8"])
        .current_dir(flyt_tests::repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json_start = stdout.find("\n{").expect("JSON after the table");
    let json: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
    let results = json["results"].as_array().unwrap();
    for scenario in [
        "fsync",
        "definitions",
        "in-process",
        "rest",
        "multi-app",
        "footprint",
        "timers-pending",
        "timers-fire",
        "messages",
        "round-trip",
    ] {
        let rows: Vec<_> = results
            .iter()
            .filter(|r| r["scenario"] == scenario)
            .collect();
        assert!(!rows.is_empty(), "{scenario} reported nothing");
        assert!(
            rows.iter().all(|r| r["value"]
                .as_f64()
                .is_some_and(|v| v.is_finite() && v >= 0.0)),
            "{scenario}: {rows:?}"
        );
    }
    for backend in ["memory", "redb", "sled"] {
        assert!(
            results.iter().any(|r| r["scenario"] == "in-process"
                && r["variant"].as_str().unwrap().starts_with(backend)),
            "{backend}"
        );
    }
}
