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

/// The PostgreSQL modes (`nodes`, `jobs`, `pg-footprint`), each a tiny run on real `flyt serve`
/// processes against the machine's PostgreSQL (skipped plainly without one, unless
/// `FLYT_REQUIRE_POSTGRES=1`). The benchmark creates and drops databases of its own on that
/// server; the test's own database only names the server.
#[test]
fn postgres_benchmark_modes_run() {
    let Some(db) =
        flyt_engine::store::postgres::testing::TempDatabase::create("postgres_benchmark_modes_run")
    else {
        return;
    };
    for (scenario, extra, metric) in [
        ("nodes", &["--nodes", "2"][..], "instances/s"),
        (
            "jobs",
            &["--nodes", "2"][..],
            "jobs claimed and completed/s",
        ),
        ("pg-footprint", &[][..], "bytes per instance, all tables"),
    ] {
        let out = std::process::Command::new(flyt_tests::flyt_bin())
            .args(["bench", scenario, "--smoke", "--clients", "4"])
            .args(extra)
            .env("FLYT_DATABASE_URL", db.url())
            .current_dir(flyt_tests::repo())
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{scenario}: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let json_start = stdout.find("\n{").expect("JSON after the table");
        let json: serde_json::Value = serde_json::from_str(&stdout[json_start..]).unwrap();
        let rows: Vec<_> = json["results"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["scenario"] == scenario)
            .cloned()
            .collect();
        assert!(
            rows.iter()
                .any(|r| r["metric"] == metric && r["value"].as_f64().is_some_and(|v| v > 0.0)),
            "{scenario}: no positive `{metric}` in {rows:?}"
        );
        assert!(
            rows.iter().all(|r| r["value"]
                .as_f64()
                .is_some_and(|v| v.is_finite() && v >= 0.0)),
            "{scenario}: {rows:?}"
        );
        if scenario == "nodes" {
            for k in ["1 node(s)", "2 node(s)"] {
                assert!(
                    rows.iter()
                        .any(|r| r["variant"].as_str().unwrap().contains(k)),
                    "nodes: no run on {k}"
                );
            }
        }
    }
}
