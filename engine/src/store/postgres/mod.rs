//! The PostgreSQL backend: several flyt nodes on one database.
//!
//! **Bridging.** [`Backend`] is synchronous (the group committer is a thread; reads come from
//! request handlers). This backend owns a small tokio runtime of its own (`flyt-pg` threads) on
//! which the connection pool (deadpool-postgres over tokio-postgres) lives; the caller waits for
//! each call inside `block_in_place` when it is a worker of a
//! multi-threaded tokio runtime, so a server's workers are never blocked unannounced. The call's
//! future is polled in the caller's thread inside that runtime's context (its threads drive the
//! sockets and timers), not spawned there: one hand-over between threads less per call.
//!
//! **One batch, one transaction.** `apply` runs a whole group-commit batch in ONE transaction
//! and two round trips, whatever the number of units:
//! 1. `BEGIN` and the current values of every key any unit checks, pipelined: one
//!    `SELECT … WHERE k = ANY($1) ORDER BY k FOR UPDATE` per table (`FOR SHARE` for keys the
//!    batch only checks, such as the definition head every create checks);
//! 2. the units are evaluated in order in memory against those values and the writes of
//!    earlier units (exactly [`Check::holds`], as every backend), which gives each unit's outcome
//!    and the final state of every written key;
//! 3. one `INSERT … SELECT FROM unnest(…) ON CONFLICT DO UPDATE` and one `DELETE … = ANY($1)` per
//!    table, pipelined with the `COMMIT` behind them ([`attempt`] says why that is safe); a
//!    checked key that was absent is inserted without `ON CONFLICT`.
//!
//! Reads outside a batch are one statement each; a range reads only the tables its keys can be
//! in ([`Table::for_range`]).
//!
//! **Why that is the optimistic version check across nodes.** The rows of every checked key are
//! locked from the read to the commit, so no other node can change them in between: one that
//! tries waits, then reads the committed value and its check fails (the caller's 409). A key
//! that must be absent has no row to lock; the unit that checks it also inserts it, and that
//! insert fails (SQLSTATE 23505) if another transaction committed the key meanwhile, rolling the
//! whole batch back. So the batch runs at the database's default isolation (`READ COMMITTED`
//! on a stock PostgreSQL) and its outcomes are those of a serial order. Two batches lock shared
//! rows in the same order (tables in a fixed order, keys sorted); a deadlock (40P01), a
//! serialization failure (40001: a database whose default is `SERIALIZABLE`, as CockroachDB
//! always is) and that unique violation retry the batch from step 1, for up to
//! [`RETRY_FOR`] with jittered pauses. A unit that checks a key absent without inserting it
//! (the engine writes none; [`locks_cover`]) makes its batch `SERIALIZABLE`, whose predicate
//! locks cover it. Before, every batch ran `SERIALIZABLE`: its predicate locks on index pages
//! made batches of different nodes that touched neighbouring keys (instance ids are
//! time-ordered, so new instances share the last page) fail each other with 40001.
//!
//! **Failure.** A database that cannot be reached gives [`BackendError::Unavailable`] within the
//! pool's timeouts (the API answers 503); connections the server closed are dropped by the pool
//! and replaced on the next call, so the node recovers by itself. A connection lost *during*
//! `COMMIT` leaves the outcome unknown to this node (as for any client of any database): the
//! batch is reported failed; the units' optimistic checks make a retry by the caller safe.
//!
//! **Hints.** Commits that make work due `NOTIFY` the other nodes, whose workers `LISTEN` on a
//! dedicated connection ([`hints`]); polling stays the truth.
//!
//! The schema is in [`schema`]; values are stored byte-exact, with derived columns beside them
//! ([`derive`]).

pub mod derive;
mod hints;
pub mod schema;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod tls;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::Poll;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Timeouts};
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;

use super::backend::{Backend, BackendError, Check, CheckFailed, Entry, Unit, Write};
use schema::{MIGRATION_LOCK, MIGRATIONS, MIGRATIONS_TABLE, Table};

const NAME: &str = "postgres";

/// How long a batch is retried after serialization failures or deadlocks before it is reported
/// failed (503). A time, not a count: under load (several nodes, a busy machine) a transaction
/// stays open longer and collides more often, and twenty quick retries (about 0.6 s) were seen
/// running out while every other node went on; each retry waits a jittered, doubling pause up
/// to [`MAX_RETRY_PAUSE_MS`], so that colliding nodes fall out of step.
const RETRY_FOR: Duration = Duration::from_secs(10);
/// The longest pause between two attempts of a batch.
const MAX_RETRY_PAUSE_MS: u64 = 256;

/// How to reach the database.
#[derive(Clone)]
#[non_exhaustive]
pub struct PostgresOptions {
    /// `postgres://user:password@host:port/db` or `host=… user=… dbname=…`.
    pub url: String,
    /// Connections in the pool. Default 16.
    pub pool_size: usize,
    /// Longest wait for a connection (connecting or from the pool) before the call fails as
    /// unavailable. Default 2 s.
    pub connect_timeout: Duration,
    /// Apply pending migrations when opening. Default true; with false, a database whose
    /// schema is behind is refused (run `flyt store migrate`).
    pub migrate: bool,
}

impl PostgresOptions {
    pub fn new(url: impl Into<String>) -> Self {
        PostgresOptions {
            url: url.into(),
            pool_size: 16,
            connect_timeout: Duration::from_secs(2),
            migrate: true,
        }
    }

    pub fn with_migrate(mut self, migrate: bool) -> Self {
        self.migrate = migrate;
        self
    }

    pub fn with_pool_size(mut self, pool_size: usize) -> Self {
        self.pool_size = pool_size.max(1);
        self
    }
}

/// Never prints the password.
impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &redact(&self.url))
            .field("pool_size", &self.pool_size)
            .field("migrate", &self.migrate)
            .finish()
    }
}

/// The connection string with any password replaced by `***`, for logs and errors.
pub fn redact(url: &str) -> String {
    let plain = tls::split(url).map(|(rest, _)| rest);
    match plain
        .as_deref()
        .unwrap_or(url)
        .parse::<tokio_postgres::Config>()
    {
        Ok(config) => {
            let hosts: Vec<String> = config
                .get_hosts()
                .iter()
                .map(|h| match h {
                    tokio_postgres::config::Host::Tcp(host) => host.clone(),
                    tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
                })
                .collect();
            let port = config.get_ports().first().copied().unwrap_or(5432);
            format!(
                "postgres://{}{}@{}:{port}/{}",
                config.get_user().unwrap_or(""),
                if config.get_password().is_some() {
                    ":***"
                } else {
                    ""
                },
                hosts.join(","),
                config.get_dbname().unwrap_or("")
            )
        }
        Err(_) => "(an unparsable PostgreSQL connection string)".to_string(),
    }
}

/// The PostgreSQL backend.
pub struct PostgresBackend {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    pool: Pool,
    shown: Arc<str>,
    hints: hints::Hints,
    /// Batches sent again ([`Backend::batch_retries`]).
    retries: std::sync::atomic::AtomicU64,
}

impl fmt::Debug for PostgresBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresBackend")
            .field("database", &self.shown)
            .finish()
    }
}

impl Drop for PostgresBackend {
    fn drop(&mut self) {
        self.hints.close();
        self.pool.close();
        // Allowed from inside another runtime, unlike dropping a runtime.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl PostgresBackend {
    /// Connects, checks the schema version (applying migrations when `options.migrate`), and
    /// returns the backend. A database that cannot be reached is `Unavailable`; a schema newer
    /// than this build, or behind it without `migrate`, is `WrongFormat`.
    pub fn open(options: &PostgresOptions) -> Result<Self, BackendError> {
        let shown: Arc<str> = redact(&options.url).into();
        let (url, tls) = tls::split(&options.url).map_err(BackendError::Io)?;
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| {
            BackendError::Io(format!(
                "storage.url is not a PostgreSQL connection string: {e}"
            ))
        })?;
        config.ssl_mode(tls.driver_mode());
        let connector = tls::connector(&tls).map_err(BackendError::Io)?;
        config.connect_timeout(options.connect_timeout);
        if config.get_application_name().is_none() {
            config.application_name("flyt");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("flyt-pg")
            .enable_all()
            .build()
            .map_err(|e| BackendError::Io(format!("starting the PostgreSQL runtime: {e}")))?;
        let (hint_config, hint_connector) = (config.clone(), connector.clone());
        let manager = Manager::from_config(
            config,
            connector,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let timeouts = Timeouts {
            wait: Some(options.connect_timeout),
            create: Some(options.connect_timeout),
            recycle: Some(options.connect_timeout),
        };
        let pool = {
            let _guard = runtime.enter();
            Pool::builder(manager)
                .max_size(options.pool_size.max(1))
                .timeouts(timeouts)
                .post_create(deadpool_postgres::Hook::async_fn(|client, _| {
                    Box::pin(async move {
                        // Not where the setting does not exist (a database that only speaks
                        // the protocol): its planner is its own.
                        if let Err(e) = client.simple_query(SESSION_SETUP).await {
                            tracing::debug!(error = %e, "PostgreSQL session setting refused");
                        }
                        Ok(())
                    })
                }))
                .runtime(deadpool_postgres::Runtime::Tokio1)
                .build()
                .map_err(|e| BackendError::Io(format!("building the PostgreSQL pool: {e}")))?
        };
        let hints = hints::Hints::new(
            runtime.handle().clone(),
            pool.clone(),
            hint_config,
            hint_connector,
            shown.clone(),
        );
        let backend = PostgresBackend {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
            pool,
            shown,
            hints,
            retries: std::sync::atomic::AtomicU64::new(0),
        };
        let found = backend.schema_version()?;
        let expected = schema::current_version();
        if found > expected || (found < expected && !options.migrate) {
            return Err(BackendError::WrongFormat {
                path: format!(
                    "{} (schema; {})",
                    backend.shown,
                    if found > expected {
                        "written by a newer flyt"
                    } else {
                        "run `flyt store migrate`"
                    }
                ),
                found: u32::try_from(found).unwrap_or(0),
                expected: u32::try_from(expected).unwrap_or(0),
            });
        }
        if found < expected {
            backend.migrate()?;
        }
        Ok(backend)
    }

    /// The connection string with the password hidden.
    pub fn shown(&self) -> &str {
        &self.shown
    }

    /// The schema version the database has (0: none yet).
    pub fn schema_version(&self) -> Result<i32, BackendError> {
        let (pool, shown) = (self.pool.clone(), self.shown.clone());
        self.run(async move {
            let client = pool.get().await.map_err(|e| pool_error(&shown, e))?;
            let exists: bool = client
                .query_one(
                    "SELECT to_regclass('flyt_schema_migrations') IS NOT NULL",
                    &[],
                )
                .await
                .map_err(|e| db_error(&shown, e))?
                .get(0);
            if !exists {
                return Ok(0);
            }
            let version: Option<i32> = client
                .query_one("SELECT max(version) FROM flyt_schema_migrations", &[])
                .await
                .map_err(|e| db_error(&shown, e))?
                .get(0);
            Ok(version.unwrap_or(0))
        })
    }

    /// Applies every migration the database lacks, each in its own transaction, under an
    /// advisory lock so that nodes starting together apply each once. Returns those applied.
    pub fn migrate(&self) -> Result<Vec<i32>, BackendError> {
        let (pool, shown) = (self.pool.clone(), self.shown.clone());
        self.run(async move {
            let mut client = pool.get().await.map_err(|e| pool_error(&shown, e))?;
            let err = |e| db_error(&shown, e);
            let mut applied = Vec::new();
            for migration in MIGRATIONS {
                let tx = client.transaction().await.map_err(err)?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
                    .await
                    .map_err(err)?;
                tx.batch_execute(MIGRATIONS_TABLE).await.map_err(err)?;
                let done = tx
                    .query_opt(
                        "SELECT 1 FROM flyt_schema_migrations WHERE version = $1",
                        &[&migration.version],
                    )
                    .await
                    .map_err(err)?
                    .is_some();
                if !done {
                    tx.batch_execute(migration.sql).await.map_err(err)?;
                    tx.execute(
                        "INSERT INTO flyt_schema_migrations (version, description) VALUES ($1, $2)",
                        &[&migration.version, &migration.description],
                    )
                    .await
                    .map_err(err)?;
                    applied.push(migration.version);
                }
                tx.commit().await.map_err(err)?;
            }
            if !applied.is_empty() {
                tracing::info!(database = %shown, ?applied, "PostgreSQL schema migrated");
            }
            Ok(applied)
        })
    }

    /// Whether the database answers now (for `/health/ready`).
    pub fn ping(&self) -> Result<(), BackendError> {
        let (pool, shown) = (self.pool.clone(), self.shown.clone());
        self.run(async move {
            let client = pool.get().await.map_err(|e| pool_error(&shown, e))?;
            client
                .simple_query("SELECT 1")
                .await
                .map_err(|e| db_error(&shown, e))?;
            Ok(())
        })
    }

    /// A range, reading locked rows as `locked` says.
    fn range_as(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
        locked: Locked,
    ) -> Result<Vec<Entry>, BackendError> {
        if start >= end || limit == 0 {
            return Ok(Vec::new());
        }
        let (pool, shown) = (self.pool.clone(), self.shown.clone());
        let (start, end) = (start.to_vec(), end.to_vec());
        self.run(async move {
            for _ in 0..2 {
                match range_once(&pool, &shown, &start, &end, limit, locked).await? {
                    Ok(entries) => return Ok(entries),
                    Err(e) if closed(&e) => continue,
                    Err(e) => return Err(db_error(&shown, e)),
                }
            }
            Err(BackendError::Unavailable(format!(
                "PostgreSQL at {shown} closed the connection twice"
            )))
        })
    }

    /// Runs `future` in the calling thread, in the context of the backend's runtime (whose
    /// threads drive the connections, their sockets and the pool's timers), and waits for it;
    /// a panic inside unwinds here (the group committer's panic policy depends on seeing it).
    /// Polling it here rather than spawning it there saves a hand-over between threads per
    /// call, and lets it borrow (a batch is not copied).
    fn run<T>(
        &self,
        future: impl Future<Output = Result<T, BackendError>>,
    ) -> Result<T, BackendError> {
        // Decided before entering the backend's own context, which would answer for itself.
        let worker = matches!(
            tokio::runtime::Handle::try_current(),
            Ok(h) if h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread
        );
        let wait = || {
            let _context = self.handle.enter();
            futures::executor::block_on(future)
        };
        if worker {
            tokio::task::block_in_place(wait)
        } else {
            wait()
        }
    }
}

/// A pool error: the database could not be reached in time.
fn pool_error(shown: &str, e: deadpool_postgres::PoolError) -> BackendError {
    BackendError::Unavailable(format!(
        "cannot reach PostgreSQL at {shown}: {}",
        causes(&e)
    ))
}

/// An error with its causes (the driver's own message leaves out why, e.g. why a TLS handshake
/// failed: "server does not support TLS", "certificate not valid for name …").
fn causes(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(cause) = source {
        let more = cause.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = cause.source();
    }
    text
}

/// A database error: connection trouble is `Unavailable`, the rest `Io`.
fn db_error(shown: &str, e: tokio_postgres::Error) -> BackendError {
    match e.code() {
        None => BackendError::Unavailable(format!("PostgreSQL at {shown}: {}", causes(&e))),
        // The driver's own text is "db error"; the server's message is its source.
        Some(code) if code.code().starts_with("08") || code.code().starts_with("57P") => {
            BackendError::Unavailable(format!("PostgreSQL at {shown}: {}", causes(&e)))
        }
        Some(code) => BackendError::Io(format!(
            "PostgreSQL at {shown}: {} (SQLSTATE {})",
            causes(&e),
            code.code()
        )),
    }
}

fn retryable(e: &tokio_postgres::Error) -> bool {
    matches!(
        e.code(),
        Some(code) if *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
            // A row inserted by another transaction after this one found the key absent.
            || *code == SqlState::UNIQUE_VIOLATION
    )
}

/// Whether a read may be tried again on a fresh connection (the one it had was closed).
fn closed(e: &tokio_postgres::Error) -> bool {
    e.is_closed() || e.code().is_some_and(|c| c.code().starts_with("57P"))
}

async fn get_once(
    pool: &Pool,
    shown: &str,
    key: &[u8],
) -> Result<Result<Option<Vec<u8>>, tokio_postgres::Error>, BackendError> {
    let client = pool.get().await.map_err(|e| pool_error(shown, e))?;
    let sql = format!("SELECT v FROM {} WHERE k = $1", Table::of(key).name());
    let statement = match client.prepare_cached(&sql).await {
        Ok(s) => s,
        Err(e) => return Ok(Err(e)),
    };
    Ok(client
        .query_opt(&statement, &[&key])
        .await
        .map(|row| row.map(|r| r.get(0))))
}

/// How a range reads rows another transaction holds locked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Locked {
    /// Reads them as last committed (a plain `SELECT`).
    Read,
    /// Leaves them out (`FOR UPDATE SKIP LOCKED`, in a statement of its own, so the locks end
    /// with it): [`Backend::range_unclaimed`].
    Skip,
}

async fn range_once(
    pool: &Pool,
    shown: &str,
    start: &[u8],
    end: &[u8],
    limit: usize,
    locked: Locked,
) -> Result<Result<Vec<Entry>, tokio_postgres::Error>, BackendError> {
    let client = pool.get().await.map_err(|e| pool_error(shown, e))?;
    let limit_sql = i64::try_from(limit).unwrap_or(i64::MAX);
    let queries = Table::for_range(start, end).into_iter().map(|table| {
        let client = &client;
        async move {
            let sql = format!(
                "SELECT k, v FROM {} WHERE k >= $1 AND k < $2 ORDER BY k LIMIT $3{}",
                table.name(),
                match locked {
                    Locked::Read => "",
                    Locked::Skip => " FOR UPDATE SKIP LOCKED",
                }
            );
            let statement = client.prepare_cached(&sql).await?;
            client.query(&statement, &[&start, &end, &limit_sql]).await
        }
    });
    let mut entries: Vec<Entry> = match futures::future::try_join_all(queries).await {
        Ok(rows) => rows
            .into_iter()
            .flatten()
            .map(|row| (row.get(0), row.get(1)))
            .collect(),
        Err(e) => return Ok(Err(e)),
    };
    entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    entries.truncate(limit);
    Ok(Ok(entries))
}

/// A key and its value.
type Row<'a> = (&'a [u8], &'a [u8]);

/// Run on every pooled connection when it is made. Every statement flyt sends reads by primary
/// key (`k = ANY($1)`, `k >= $1 AND k < $2`); statements are prepared once per connection, and
/// after five runs PostgreSQL may keep a generic plan for good. A connection whose first
/// batches ran while a table still had a page or two (a new database, or one never analysed:
/// `autovacuum = off`) then kept a sequential scan, and read the whole table at every batch as
/// it grew: `bench rest` ran at 1,300 or 2,700 instances/s depending on which connections
/// the batches happened to get (BENCHMARKS.md). Without sequential scans the generic plan is
/// the index, at every size.
const SESSION_SETUP: &str = "SET enable_seqscan = off";

/// A batch whose checks its row locks cover: the database's default isolation (`READ
/// COMMITTED` unless the operator chose otherwise; [`attempt`] says why that is enough).
const BEGIN: &str = "BEGIN";
/// A batch with a check row locks cannot cover (a key that must be absent and that the unit
/// does not then insert): predicate locks do.
const BEGIN_SERIALIZABLE: &str = "BEGIN ISOLATION LEVEL SERIALIZABLE";

/// How a checked key is locked until the commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Lock {
    /// The batch may write it.
    Update,
    /// The batch only checks it (every create checks its app's definition head: creates on
    /// several nodes share that lock, a deploy waits for them).
    Share,
}

impl Lock {
    fn sql(self) -> &'static str {
        match self {
            Lock::Update => "FOR UPDATE",
            Lock::Share => "FOR SHARE",
        }
    }
}

/// Whether row locks cover every check of `units`: each key a unit needs absent, it puts
/// itself (a plain `INSERT`, which fails on a row another transaction committed meanwhile), and
/// no unit deletes it. The engine's units always do; a unit that checks a key absent without
/// writing it runs `SERIALIZABLE`.
fn locks_cover(units: &[Unit]) -> bool {
    let deleted: HashSet<&[u8]> = units
        .iter()
        .flat_map(|u| &u.writes)
        .filter_map(|w| match w {
            Write::Delete(key) => Some(key.as_slice()),
            Write::Put(..) => None,
        })
        .collect();
    units.iter().all(|unit| {
        unit.checks.iter().all(|check| match check {
            Check::Prefix { .. } => true,
            Check::Absent(key) => {
                !deleted.contains(key.as_slice())
                    && unit
                        .writes
                        .iter()
                        .any(|w| matches!(w, Write::Put(k, _) if k == key))
            }
        })
    })
}

/// A statement in flight.
type Pending<'a> = Pin<Box<dyn Future<Output = Result<u64, tokio_postgres::Error>> + Send + 'a>>;

/// One attempt at a batch (module docs, steps 1 to 3) on `client`, in two round trips: `BEGIN`
/// travels with the reads, the writes with `COMMIT`. On an error the transaction may still be
/// open: the caller rolls it back.
///
/// Statements are prepared first (cached after a connection's first batch), so that every
/// statement of a round trip is sent the moment its future is first polled, in order. A write
/// that fails before it is sent (ready at its first poll) stops the attempt before `COMMIT`
/// goes out; one that fails at the server aborts the transaction, and the `COMMIT` behind it
/// then rolls back. Either way nothing of the batch is applied.
async fn attempt(
    client: &deadpool_postgres::Client,
    units: &[Unit],
) -> Result<Vec<Result<(), CheckFailed>>, tokio_postgres::Error> {
    // 1. Current values of every checked key, each read once (every create of a batch checks
    // its app's definition head) and locked until the commit.
    let begin = if locks_cover(units) {
        BEGIN
    } else {
        BEGIN_SERIALIZABLE
    };
    let may_write: HashSet<&[u8]> = units
        .iter()
        .flat_map(|u| &u.writes)
        .map(|w| match w {
            Write::Put(key, _) | Write::Delete(key) => key.as_slice(),
        })
        .collect();
    let mut checked: BTreeMap<(Table, Lock), Vec<&[u8]>> = BTreeMap::new();
    let mut seen: HashSet<&[u8]> = HashSet::new();
    for check in units.iter().flat_map(|u| &u.checks) {
        let key = check.key();
        if seen.insert(key) {
            let lock = if may_write.contains(key) {
                Lock::Update
            } else {
                Lock::Share
            };
            checked.entry((Table::of(key), lock)).or_default().push(key);
        }
    }
    for keys in checked.values_mut() {
        keys.sort_unstable();
    }
    let mut reads = Vec::with_capacity(checked.len());
    for ((table, lock), keys) in &checked {
        // In key order, tables in a fixed order: two batches lock the rows they share in the
        // same order (a deadlock between them is still retried, as 40P01).
        let sql = format!(
            "SELECT k, v FROM {} WHERE k = ANY($1) ORDER BY k {}",
            table.name(),
            lock.sql()
        );
        reads.push((client.prepare_cached(&sql).await?, keys));
    }
    let mut current: HashMap<Vec<u8>, Vec<u8>> = HashMap::new();
    let begun = !reads.is_empty();
    if begun {
        let queries = reads
            .iter()
            .map(|(statement, keys)| async move { client.query(statement, &[*keys]).await });
        let (begin, rows) = futures::future::join(
            client.batch_execute(begin),
            futures::future::join_all(queries),
        )
        .await;
        begin?;
        for rows in rows {
            for row in rows? {
                current.insert(row.get(0), row.get(1));
            }
        }
    }

    // 2. The units in order, in memory.
    let mut written: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    let mut outcomes = Vec::with_capacity(units.len());
    for unit in units {
        let value_of = |key: &[u8]| match written.get(key) {
            Some(value) => *value,
            None => current.get(key).map(Vec::as_slice),
        };
        let failed = unit
            .checks
            .iter()
            .position(|c: &Check| !c.holds(value_of(c.key())));
        if let Some(check) = failed {
            outcomes.push(Err(CheckFailed { check }));
            continue;
        }
        for write in &unit.writes {
            match write {
                Write::Put(key, value) => {
                    super::backend::before_write(key);
                    written.insert(key, Some(value));
                }
                Write::Delete(key) => {
                    written.insert(key, None);
                }
            }
        }
        outcomes.push(Ok(()));
    }

    // 3. The final state of every written key, per table, then COMMIT. A checked key that was
    // absent is inserted plainly: if another transaction committed it meanwhile (no row lock
    // can cover a row that does not exist yet), the insert fails (23505), the transaction
    // rolls back, and the batch is retried against the row now there.
    let mut puts: BTreeMap<(Table, Insert), Vec<Row<'_>>> = BTreeMap::new();
    let mut deletes: BTreeMap<Table, Vec<&[u8]>> = BTreeMap::new();
    for (key, value) in written {
        match value {
            Some(value) => {
                let insert = if seen.contains(key) && !current.contains_key(key) {
                    Insert::New
                } else {
                    Insert::Upsert
                };
                puts.entry((Table::of(key), insert))
                    .or_default()
                    .push((key, value));
            }
            None => deletes.entry(Table::of(key)).or_default().push(key),
        }
    }
    let mut upserts = Vec::with_capacity(puts.len());
    for ((table, insert), rows) in puts {
        let statement = client.prepare_cached(&insert_sql(table, insert)).await?;
        let keys: Vec<&[u8]> = rows.iter().map(|(k, _)| *k).collect();
        let values: Vec<&[u8]> = rows.iter().map(|(_, v)| *v).collect();
        let mut derived: Vec<Vec<Option<String>>> = vec![Vec::new(); table.columns().len()];
        for (key, value) in &rows {
            for (i, column) in derive::columns(table, key, value).into_iter().enumerate() {
                derived[i].push(column);
            }
        }
        upserts.push((statement, keys, values, derived));
    }
    let mut removals = Vec::with_capacity(deletes.len());
    for (table, keys) in deletes {
        let sql = format!("DELETE FROM {} WHERE k = ANY($1)", table.name());
        removals.push((client.prepare_cached(&sql).await?, keys));
    }
    let mut writes: Vec<Pending<'_>> = Vec::new();
    if !begun {
        writes.push(Box::pin(async move {
            client.batch_execute(begin).await.map(|()| 0)
        }));
    }
    for (statement, keys, values, derived) in &upserts {
        writes.push(Box::pin(async move {
            let mut params: Vec<&(dyn ToSql + Sync)> = vec![keys, values];
            params.extend(derived.iter().map(|c| c as &(dyn ToSql + Sync)));
            client.execute(statement, &params).await
        }));
    }
    for (statement, keys) in &removals {
        writes.push(Box::pin(
            async move { client.execute(statement, &[keys]).await },
        ));
    }
    let mut sent = Vec::with_capacity(writes.len());
    for mut write in writes {
        match futures::poll!(&mut write) {
            Poll::Ready(Err(e)) => return Err(e),
            Poll::Ready(Ok(_)) => {}
            Poll::Pending => sent.push(write),
        }
    }
    let (written, committed) = futures::future::join(
        futures::future::try_join_all(sent),
        client.batch_execute("COMMIT"),
    )
    .await;
    written?;
    committed?;
    Ok(outcomes)
}

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Insert {
    /// Keys checked absent: a row that exists fails the statement.
    New,
    /// Every other key: inserted or overwritten.
    Upsert,
}

/// `INSERT … SELECT FROM unnest(…)` for one table, with `ON CONFLICT (k) DO UPDATE` for
/// [`Insert::Upsert`].
fn insert_sql(table: Table, insert: Insert) -> String {
    let columns = table.columns();
    let names: Vec<&str> = columns.iter().map(|c| c.name).collect();
    let mut sql = format!("INSERT INTO {} (k, v", table.name());
    for name in &names {
        sql.push_str(", ");
        sql.push_str(name);
    }
    sql.push_str(") SELECT u.k, u.v");
    for column in columns {
        sql.push_str(", ");
        sql.push_str(column.cast);
    }
    sql.push_str(" FROM unnest($1::bytea[], $2::bytea[]");
    for i in 0..columns.len() {
        sql.push_str(&format!(", ${}::text[]", i + 3));
    }
    sql.push_str(") AS u(k, v");
    for name in &names {
        sql.push_str(", ");
        sql.push_str(name);
    }
    sql.push(')');
    if insert == Insert::Upsert {
        sql.push_str(" ON CONFLICT (k) DO UPDATE SET v = excluded.v");
        for name in &names {
            sql.push_str(&format!(", {name} = excluded.{name}"));
        }
    }
    sql
}

impl Backend for PostgresBackend {
    fn name(&self) -> &'static str {
        NAME
    }

    fn get(&self, key: &[u8]) -> Result<Option<Vec<u8>>, BackendError> {
        let (pool, shown, key) = (self.pool.clone(), self.shown.clone(), key.to_vec());
        self.run(async move {
            for _ in 0..2 {
                match get_once(&pool, &shown, &key).await? {
                    Ok(value) => return Ok(value),
                    Err(e) if closed(&e) => continue,
                    Err(e) => return Err(db_error(&shown, e)),
                }
            }
            Err(BackendError::Unavailable(format!(
                "PostgreSQL at {shown} closed the connection twice"
            )))
        })
    }

    fn range(&self, start: &[u8], end: &[u8], limit: usize) -> Result<Vec<Entry>, BackendError> {
        self.range_as(start, end, limit, Locked::Read)
    }

    fn range_unclaimed(
        &self,
        start: &[u8],
        end: &[u8],
        limit: usize,
    ) -> Result<Vec<Entry>, BackendError> {
        self.range_as(start, end, limit, Locked::Skip)
    }

    fn apply(&self, units: &[Unit]) -> Result<Vec<Result<(), CheckFailed>>, BackendError> {
        if units.is_empty() {
            return Ok(Vec::new());
        }
        let (pool, shown) = (&self.pool, &self.shown);
        self.run(async move {
            let mut tries = 0u32;
            let started = std::time::Instant::now();
            loop {
                tries += 1;
                let client = pool.get().await.map_err(|e| pool_error(shown, e))?;
                let result = attempt(&client, units).await;
                if result.is_err() && !client.is_closed() {
                    // Ends a transaction the error left open; a no-op after COMMIT.
                    let _ = client.batch_execute("ROLLBACK").await;
                }
                match result {
                    Ok(outcomes) => return Ok(outcomes),
                    Err(e) if retryable(&e) && started.elapsed() < RETRY_FOR => {
                        tracing::debug!(attempt = tries, error = %e, "PostgreSQL batch retried");
                        self.retries
                            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        // Back to the pool while it waits.
                        drop(client);
                        // Jitter, so that two nodes do not collide again in step.
                        let cap = (1u64 << tries.min(8)).min(MAX_RETRY_PAUSE_MS);
                        let pause = fastrand::u64(0..=cap);
                        tokio::time::sleep(Duration::from_millis(pause)).await;
                    }
                    Err(e) => return Err(db_error(shown, e)),
                }
            }
        })
    }

    fn shared(&self) -> bool {
        true
    }

    fn ping(&self) -> Result<(), BackendError> {
        PostgresBackend::ping(self)
    }

    fn hint_work(&self) {
        self.hints.send();
    }

    fn listen_for_work(&self, wake: Arc<tokio::sync::Notify>) {
        self.hints.listen(wake);
    }

    fn hint_stats(&self) -> Option<super::backend::HintStats> {
        Some(self.hints.stats())
    }

    fn batch_retries(&self) -> Option<u64> {
        Some(self.retries.load(std::sync::atomic::Ordering::Relaxed))
    }

    fn close(&self) -> Result<(), BackendError> {
        self.hints.close();
        self.pool.close();
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(checks: Vec<Check>, writes: Vec<Write>) -> Unit {
        Unit { checks, writes }
    }

    #[test]
    fn row_locks_cover_the_units_the_engine_writes() {
        let key = || b"Ik".to_vec();
        let create = unit(vec![Check::Absent(key())], vec![Write::Put(key(), vec![1])]);
        let update = unit(
            vec![Check::Prefix {
                key: key(),
                prefix: vec![1],
            }],
            vec![Write::Put(key(), vec![2])],
        );
        assert!(locks_cover(&[create.clone(), update]));
        // Absent without inserting it: nothing to lock, so the batch runs SERIALIZABLE.
        let guard = unit(vec![Check::Absent(key())], vec![]);
        assert!(!locks_cover(&[guard]));
        // Absent in one unit, put by another: the checking unit's insert is not its own.
        let other = unit(vec![], vec![Write::Put(key(), vec![1])]);
        let guard = unit(
            vec![Check::Absent(key())],
            vec![Write::Put(b"Io".to_vec(), vec![])],
        );
        assert!(!locks_cover(&[guard, other]));
        // Created and deleted in one batch: the delete could remove another's row.
        let delete = unit(vec![], vec![Write::Delete(key())]);
        assert!(!locks_cover(&[create, delete]));
    }

    #[test]
    fn absent_keys_are_inserted_plainly_the_rest_upserted() {
        let new = insert_sql(Table::Kv, Insert::New);
        assert!(new.starts_with("INSERT INTO flyt_kv (k, v)"), "{new}");
        assert!(!new.contains("ON CONFLICT"), "{new}");
        let upsert = insert_sql(Table::Instances, Insert::Upsert);
        assert!(
            upsert.contains("ON CONFLICT (k) DO UPDATE SET v = excluded.v"),
            "{upsert}"
        );
    }
}
