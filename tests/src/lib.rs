//! Support for end-to-end tests: start the real `flyt` binary as a child process on a loopback
//! port, wait until it listens, talk HTTP to it, stop it with SIGTERM or SIGKILL.
#![allow(clippy::unwrap_used, clippy::expect_used)]

pub mod pg_cluster;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// The repository root.
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `flyt` binary: `$FLYT_BIN`, or `target/<profile>/flyt`, brought up to date by cargo once
/// per test process (cargo builds a binary only for its own package's tests, and `flyt` is the
/// `flyt` package's, so a test run of this crate alone could otherwise start a stale binary).
pub fn flyt_bin() -> PathBuf {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Some(bin) = std::env::var_os("FLYT_BIN") {
            return PathBuf::from(bin);
        }
        let exe = std::env::current_exe().unwrap();
        let profile_dir = exe.parent().and_then(Path::parent).unwrap().to_path_buf();
        let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cmd.args(["build", "--quiet", "-p", "flyt", "--bin", "flyt"])
            .current_dir(repo());
        if profile_dir.file_name().is_some_and(|n| n == "release") {
            cmd.arg("--release");
        }
        let status = cmd.status().unwrap();
        assert!(status.success(), "building the flyt binary failed");
        profile_dir.join("flyt")
    })
    .clone()
}

/// A running `flyt serve`.
#[derive(Debug)]
pub struct Flyt {
    pub url: String,
    child: Option<Child>,
    pub log: PathBuf,
}

impl Flyt {
    /// Starts `flyt serve --config <config>` in `dir` and waits (at most 60 s) for it to listen.
    pub fn start(dir: &Path, config: &Path) -> Flyt {
        Self::start_with(dir, config, &[])
    }

    pub fn start_with(dir: &Path, config: &Path, env: &[(&str, &str)]) -> Flyt {
        let log = dir.join(format!(
            "flyt-{}.log",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos()
        ));
        let stderr = std::fs::File::create(&log).unwrap();
        let mut cmd = Command::new(flyt_bin());
        cmd.arg("serve")
            .arg("--config")
            .arg(config)
            .current_dir(dir)
            .stdout(Stdio::piped())
            .stderr(stderr);
        cmd.env("FLYT_LOG", "info,flyt_engine=debug");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd.spawn().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("flyt listening on ") {
                    let _ = tx.send(url.to_string());
                }
            }
        });
        let url = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "flyt did not start; its log:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
        };
        Flyt {
            url,
            child: Some(child),
            log,
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().unwrap().id()
    }

    /// SIGSTOP: the process freezes where it is (as in a long pause, a frozen VM); its sockets
    /// stay open. [`Flyt::resume`] continues it.
    pub fn pause(&self) {
        self.signal(libc::SIGSTOP);
    }

    /// SIGCONT: a paused process continues.
    pub fn resume(&self) {
        self.signal(libc::SIGCONT);
    }

    fn signal(&self, signal: libc::c_int) {
        let child = self.child.as_ref().expect("a running server");
        #[allow(unsafe_code)]
        // SAFETY: kill(2) with a pid we own (not yet reaped: `child` is not waited for) and a
        // valid signal number has no memory effects.
        let done = unsafe { libc::kill(child.id() as libc::pid_t, signal) };
        assert_eq!(done, 0, "kill({signal}) failed");
    }

    /// SIGKILL: no chance to flush or clean up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM, then waits (at most `within`) for a clean exit; returns the exit code.
    pub fn terminate(&mut self, within: Duration) -> Option<i32> {
        let child = self.child.take()?;
        #[allow(unsafe_code)]
        // SAFETY: kill(2) with a pid we own and a valid signal number has no memory effects.
        unsafe {
            libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
        }
        match wait_for_exit(child, within) {
            (status, true) => status.code(),
            (_, false) => None,
        }
    }
}

/// Waits for `child` to exit, at most `within`, blocked in `wait(2)` on a helper thread (no
/// polling); past the deadline it is SIGKILLed and reaped. Returns its exit status and whether it
/// exited by itself.
pub fn wait_for_exit(child: Child, within: Duration) -> (std::process::ExitStatus, bool) {
    let pid = child.id();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut child = child;
        let _ = tx.send(child.wait());
    });
    match rx.recv_timeout(within) {
        Ok(status) => (status.expect("wait for the child"), true),
        Err(_) => {
            #[allow(unsafe_code)]
            // SAFETY: kill(2) with a pid we own (not yet reaped: the waiter has not returned)
            // and a valid signal number has no memory effects.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
            let status = rx
                .recv()
                .expect("the waiter thread")
                .expect("wait for the child");
            (status, false)
        }
    }
}

impl Drop for Flyt {
    fn drop(&mut self) {
        self.kill();
    }
}

/// An HTTP client for tests (short timeouts, no redirects).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// A user token from a server's development authority.
pub async fn user_token(base: &str, pid: &str, roles: &[&str]) -> String {
    let r = http()
        .post(format!("{base}/authority/user-token"))
        .json(&serde_json::json!({ "pid": pid, "roles": roles }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "user-token: {}", r.status());
    let body: serde_json::Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Polls `check` until it returns `Some`, at most `within` (real time); yields between tries.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::task::yield_now().await;
        // Each check is an HTTP round trip, so this loop does not spin a core.
    }
}

/// `../shared` (or `FLYT_SHARED_DIR`) when it holds `conformance/`. Without it a test says plainly
/// that it was skipped, unless `FLYT_REQUIRE_SHARED=1` (as in `.ci/run`) makes that a failure.
pub fn shared_dir(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("FLYT_SHARED_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| repo().join("../shared"));
    if dir.join("conformance").is_dir() {
        return Some(dir);
    }
    if std::env::var("FLYT_REQUIRE_SHARED").as_deref() == Ok("1") {
        panic!(
            "{test}: {} has no conformance/ folder, and FLYT_REQUIRE_SHARED=1",
            dir.display()
        );
    }
    eprintln!(
        "SKIPPED {test}: {} not found (set FLYT_SHARED_DIR)",
        dir.display()
    );
    None
}

/// An organisation token from a server's development authority.
pub async fn org_token(base: &str, orgno: &str, org_code: Option<&str>, scope: &str) -> String {
    let r = http()
        .post(format!("{base}/authority/org-token"))
        .json(&serde_json::json!({ "organisationNumber": orgno, "orgCode": org_code, "scope": scope }))
        .send()
        .await
        .unwrap();
    assert!(r.status().is_success(), "org-token: {}", r.status());
    let body: serde_json::Value = r.json().await.unwrap();
    body["access_token"].as_str().unwrap().to_string()
}

/// Whether PostgreSQL tests must fail rather than skip when they cannot run
/// (`FLYT_REQUIRE_POSTGRES=1`, as in `.ci/run`).
pub fn postgres_required() -> bool {
    std::env::var("FLYT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}
