//! Test support: a database of its own per test, dropped afterwards, on the PostgreSQL named by
//! `FLYT_TEST_POSTGRES_URL` (default `postgres://postgres@127.0.0.1:5432/postgres`).
//!
//! Without a reachable server, [`TempDatabase::create`] returns `None` after printing plainly
//! that the test was skipped, unless `FLYT_REQUIRE_POSTGRES=1` (as in `.ci/run`): then it panics.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use tokio_postgres::NoTls;

/// The server tests create their databases on.
pub fn admin_url() -> String {
    std::env::var("FLYT_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// Whether PostgreSQL tests must fail rather than skip when there is no server.
pub fn required() -> bool {
    std::env::var("FLYT_REQUIRE_POSTGRES").is_ok_and(|v| v == "1")
}

/// A database created for one test; dropped (with its connections) when this is dropped.
#[derive(Debug)]
pub struct TempDatabase {
    name: String,
    url: String,
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Runs one statement on the admin database, on a runtime of its own (callable anywhere).
fn admin(sql: String) -> Result<(), String> {
    std::thread::spawn(move || {
        runtime().block_on(async move {
            let mut config: tokio_postgres::Config =
                admin_url().parse().map_err(|e| format!("{e}"))?;
            config.connect_timeout(Duration::from_secs(3));
            let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
            let task = tokio::spawn(connection);
            let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
            drop(client);
            let _ = task.await;
            result
        })
    })
    .join()
    .unwrap_or_else(|_| Err("the admin thread panicked".into()))
}

impl TempDatabase {
    /// Creates `flyt_test_<random>`; `None` (skipped, said on stderr) without a server, unless
    /// PostgreSQL is required.
    pub fn create(test: &str) -> Option<TempDatabase> {
        let name = format!("flyt_test_{}", uuid::Uuid::new_v4().simple());
        match admin(format!("CREATE DATABASE {name}")) {
            Ok(()) => {}
            Err(e) if required() => panic!(
                "{test}: PostgreSQL at {} is required (FLYT_REQUIRE_POSTGRES=1) but: {e}",
                super::redact(&admin_url())
            ),
            Err(e) => {
                eprintln!(
                    "SKIPPED {test}: no PostgreSQL at {} ({e}); set FLYT_REQUIRE_POSTGRES=1 to fail instead",
                    super::redact(&admin_url())
                );
                return None;
            }
        }
        let mut config: tokio_postgres::Config = admin_url().parse().unwrap();
        config.dbname(&name);
        let url = url_of(&config);
        Some(TempDatabase { name, url })
    }

    /// The connection string of this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs SQL on the admin database (the server's other database: this one may be refusing
    /// connections).
    pub fn execute_admin(&self, sql: &str) -> Result<(), String> {
        admin(sql.to_string())
    }

    /// How many client sessions are connected to this database now (asked on the admin
    /// database; autovacuum workers are not clients).
    pub fn sessions(&self) -> Result<u64, String> {
        let name = self.name.clone();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let mut config: tokio_postgres::Config =
                    admin_url().parse().map_err(|e| format!("{e}"))?;
                config.connect_timeout(Duration::from_secs(3));
                let (client, connection) =
                    config.connect(NoTls).await.map_err(|e| e.to_string())?;
                let task = tokio::spawn(connection);
                let row = client
                    .query_one(
                        "SELECT count(*) FROM pg_stat_activity \
                         WHERE datname = $1 AND backend_type = 'client backend'",
                        &[&name],
                    )
                    .await
                    .map_err(|e| e.to_string());
                drop(client);
                let _ = task.await;
                Ok(u64::try_from(row?.get::<_, i64>(0)).unwrap_or(0))
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the admin thread panicked".into()))
    }

    /// Runs SQL on this database (tests that look at the schema or kill connections).
    pub fn execute(&self, sql: &str) -> Result<(), String> {
        let mut config: tokio_postgres::Config = self.url.parse().map_err(|e| format!("{e}"))?;
        config.connect_timeout(Duration::from_secs(3));
        let sql = sql.to_string();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let (client, connection) =
                    config.connect(NoTls).await.map_err(|e| e.to_string())?;
                let task = tokio::spawn(connection);
                let result = client.batch_execute(&sql).await.map_err(|e| e.to_string());
                drop(client);
                let _ = task.await;
                result
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the SQL thread panicked".into()))
    }

    /// The first column of every row of a query, as text.
    pub fn query_strings(&self, sql: &str) -> Result<Vec<Option<String>>, String> {
        let config: tokio_postgres::Config = self.url.parse().map_err(|e| format!("{e}"))?;
        let sql = sql.to_string();
        std::thread::spawn(move || {
            runtime().block_on(async move {
                let (client, connection) =
                    config.connect(NoTls).await.map_err(|e| e.to_string())?;
                let task = tokio::spawn(connection);
                let rows = client.simple_query(&sql).await.map_err(|e| e.to_string());
                drop(client);
                let _ = task.await;
                Ok(rows?
                    .into_iter()
                    .filter_map(|m| match m {
                        tokio_postgres::SimpleQueryMessage::Row(row) => {
                            Some(row.get(0).map(str::to_string))
                        }
                        _ => None,
                    })
                    .collect())
            })
        })
        .join()
        .unwrap_or_else(|_| Err("the SQL thread panicked".into()))
    }
}

impl Drop for TempDatabase {
    fn drop(&mut self) {
        if let Err(e) = admin(format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            self.name
        )) {
            eprintln!("could not drop the test database {}: {e}", self.name);
        }
    }
}

/// A key=value connection string for `config` (passwords included: tests only).
fn url_of(config: &tokio_postgres::Config) -> String {
    let mut parts = Vec::new();
    for host in config.get_hosts() {
        if let tokio_postgres::config::Host::Tcp(h) = host {
            parts.push(format!("host={h}"));
        }
    }
    if let Some(port) = config.get_ports().first() {
        parts.push(format!("port={port}"));
    }
    if let Some(user) = config.get_user() {
        parts.push(format!("user={user}"));
    }
    if let Some(password) = config.get_password() {
        parts.push(format!("password={}", String::from_utf8_lossy(password)));
    }
    if let Some(db) = config.get_dbname() {
        parts.push(format!("dbname={db}"));
    }
    parts.join(" ")
}
