//! `flyt demo` keeps working: it runs the multi-app round trip on two servers and exits 0
//! (the round trip needs the CATCH side of issue 16: A's receive task and message endpoint).

#[test]
fn the_demo_runs_the_whole_flow() {
    let out = std::process::Command::new(flyt_tests::flyt_bin())
        .arg("demo")
        .current_dir(flyt_tests::repo())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "Carol, DAGL of the owner: 200",
        "Alice, A's end user: 403",
        "Dave, DAGL of another organisation: 403",
        "\"source\": \"acme/grant-application\"",
        "B's instance ended at \"Decided\"",
        "\"comment\": \"a good use of the fund\"",
        "A's instance ended at \"End\"",
    ] {
        assert!(
            stdout.contains(expected),
            "missing `{expected}` in:\n{stdout}"
        );
    }
}
