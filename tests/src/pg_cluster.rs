//! A private PostgreSQL cluster for one test: `initdb` in a temporary directory, `pg_ctl` on a
//! free loopback port with its socket in that directory, so a test may stop and restart it
//! without touching the machine's shared server. Removed (stopped at once) when dropped.
//!
//! The binaries come from `FLYT_PG_BINDIR`, else `pg_config --bindir`, else the newest
//! `/usr/lib/postgresql/*/bin`. Without them [`PrivateCluster::start`] returns `None` after
//! saying plainly that the test was skipped, unless `FLYT_REQUIRE_POSTGRES=1` (then it panics).
//! PostgreSQL refuses to run as root: as root, the cluster runs as the `postgres` user
//! (`runuser`), which owns the directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

#[derive(Debug)]
pub struct PrivateCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// `runuser -u postgres --` when running as root.
    as_user: Option<String>,
    running: bool,
}

/// Where `initdb` and `pg_ctl` are, if anywhere.
fn bindir() -> Option<PathBuf> {
    let has_tools = |d: &Path| d.join("initdb").is_file() && d.join("pg_ctl").is_file();
    if let Some(dir) = std::env::var_os("FLYT_PG_BINDIR") {
        return Some(PathBuf::from(dir)).filter(|d| has_tools(d));
    }
    let from_pg_config = Command::new("pg_config")
        .arg("--bindir")
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if let Some(dir) = from_pg_config.filter(|d| has_tools(d)) {
        return Some(dir);
    }
    let mut versions: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| {
            let e = e.ok()?;
            let version = e.file_name().to_str()?.parse().ok()?;
            Some((version, e.path().join("bin")))
        })
        .filter(|(_, d)| has_tools(d))
        .collect();
    versions.sort();
    versions.pop().map(|(_, d)| d)
}

fn is_root() -> bool {
    #[allow(unsafe_code)]
    // SAFETY: geteuid(2) has no preconditions and no memory effects.
    unsafe {
        libc::geteuid() == 0
    }
}

impl PrivateCluster {
    /// Creates and starts a cluster (trust authentication, user `postgres`, fsync off: a test's
    /// data need not survive the machine). `None`: skipped, said on stderr.
    pub fn start(test: &str) -> Option<PrivateCluster> {
        let Some(bin) = bindir() else {
            let why = "no PostgreSQL server binaries (initdb, pg_ctl): set FLYT_PG_BINDIR";
            if crate::postgres_required() {
                panic!("{test}: {why}, and FLYT_REQUIRE_POSTGRES=1");
            }
            eprintln!("SKIPPED {test}: {why}");
            return None;
        };
        let dir = tempfile::tempdir().unwrap();
        let as_user = is_root().then(|| "postgres".to_string());
        if let Some(user) = &as_user {
            let chown = Command::new("chown")
                .arg(format!("{user}:"))
                .arg(dir.path())
                .status()
                .unwrap();
            assert!(chown.success(), "chown {} to {user}", dir.path().display());
        }
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let mut cluster = PrivateCluster {
            dir,
            bin,
            port,
            as_user,
            running: false,
        };
        let data = cluster.data();
        cluster.run(
            "initdb",
            &[
                "-D",
                &data,
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            ],
        );
        cluster.start_again();
        Some(cluster)
    }

    fn data(&self) -> String {
        self.dir.path().join("data").display().to_string()
    }

    /// Runs one of the cluster's tools (as `postgres` when we are root); panics with its output
    /// on failure.
    fn run(&self, tool: &str, args: &[&str]) {
        let program = self.bin.join(tool);
        let mut cmd = match &self.as_user {
            Some(user) => {
                let mut c = Command::new("runuser");
                c.args(["-u", user, "--"]).arg(&program);
                c
            }
            None => Command::new(&program),
        };
        let out = cmd
            .args(args)
            .current_dir(self.dir.path())
            .stdin(Stdio::null())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{tool} {args:?} failed: {}{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
        );
    }

    /// The connection string of its `postgres` database.
    pub fn url(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }

    /// Stops the server (`pg_ctl stop -m fast`: sessions are ended, as in a restart or a
    /// failover) and waits until it is down.
    pub fn stop(&mut self) {
        self.run("pg_ctl", &["-D", &self.data(), "-m", "fast", "-w", "stop"]);
        self.running = false;
    }

    /// Starts the stopped server again on the same port and waits until it accepts connections.
    pub fn start_again(&mut self) {
        let options = format!(
            "-p {} -h 127.0.0.1 -k {} -c fsync=off -c max_connections=100",
            self.port,
            self.dir.path().display()
        );
        let log = self.dir.path().join("server.log").display().to_string();
        self.run(
            "pg_ctl",
            &[
                "-D",
                &self.data(),
                "-o",
                &options,
                "-l",
                &log,
                "-w",
                "-t",
                "60",
                "start",
            ],
        );
        self.running = true;
    }
}

impl Drop for PrivateCluster {
    fn drop(&mut self) {
        if self.running {
            let data = self.data();
            let program = self.bin.join("pg_ctl");
            let mut cmd = match &self.as_user {
                Some(user) => {
                    let mut c = Command::new("runuser");
                    c.args(["-u", user, "--"]).arg(&program);
                    c
                }
                None => Command::new(&program),
            };
            let _ = cmd
                .args(["-D", &data, "-m", "immediate", "-w", "stop"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}
