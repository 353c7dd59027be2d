//! The server's configuration: one TOML file, every key with a documented default, any key
//! overridable by an environment variable `FLYT_<SECTION>__<KEY>` (or `FLYT_<KEY>` for top-level
//! keys), e.g. `FLYT_STORAGE__BACKEND=sled`, `FLYT_LISTEN=0.0.0.0:8080`. The few `FLYT_*`
//! variables that are not configuration are listed in [`RESERVED_ENV`].
//!
//! With no file at all, `flyt serve` runs in **development mode**: the example apps from
//! `./processes`, redb storage in `./data`, and the development authority on (logged loudly).
//! With a file, the development authority is off unless the file turns it on.

use crate::auth::AuthConfig;
use crate::authority::DevAuthorityConfig;
use flyt_engine::runtime::RuntimeConfig;
use flyt_engine::store::open::BackendKind;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Where state is kept.
#[derive(Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct StorageConfig {
    /// `redb` (default: durable on every commit, passed the crash test, fastest here), `sled`,
    /// `memory` (nothing survives a restart), or `postgres` (several nodes on one database,
    /// at `url`).
    pub backend: BackendKind,
    /// Default `data`. With `postgres`, only files (binary data elements) and the development
    /// authority's keys live here.
    pub data_dir: PathBuf,
    /// Page cache of the storage engine, MiB. Default 64.
    pub cache_mb: usize,
    /// The PostgreSQL connection string (`postgres://user:password@host:5432/db` or
    /// `host=… user=… dbname=…`), for `backend = "postgres"`; also from `FLYT_DATABASE_URL`
    /// (or `FLYT_STORAGE__URL`). Never logged with its password.
    pub url: Option<String>,
    /// Apply pending PostgreSQL schema migrations at start-up. Default true; with false the
    /// server refuses a database whose schema is behind (run `flyt store migrate`).
    pub migrate: bool,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            backend: BackendKind::Redb,
            data_dir: PathBuf::from("data"),
            cache_mb: 64,
            url: None,
            migrate: true,
        }
    }
}

/// Never prints the database password.
impl std::fmt::Debug for StorageConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageConfig")
            .field("backend", &self.backend)
            .field("data_dir", &self.data_dir)
            .field("cache_mb", &self.cache_mb)
            .field("url", &self.url.as_deref().map(redact_url))
            .field("migrate", &self.migrate)
            .finish()
    }
}

impl StorageConfig {
    /// The PostgreSQL connection string, or an error naming the setting.
    pub fn postgres_url(&self) -> Result<&str, String> {
        self.url.as_deref().ok_or_else(|| {
            "storage.backend = \"postgres\" needs storage.url (or FLYT_DATABASE_URL)".to_string()
        })
    }
}

/// A connection string with its password replaced by `***` (both URL and key=value forms).
pub fn redact_url(url: &str) -> String {
    if let Some((scheme, rest)) = url.split_once("://") {
        if let Some((userinfo, host)) = rest.split_once('@') {
            let user = userinfo.split(':').next().unwrap_or("");
            let hidden = if userinfo.contains(':') { ":***" } else { "" };
            return format!("{scheme}://{user}{hidden}@{host}");
        }
        return url.to_string();
    }
    url.split_whitespace()
        .map(|part| {
            if part.starts_with("password=") {
                "password=***"
            } else {
                part
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Limits that keep the server responsive under pressure.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    /// Largest JSON request body, bytes. Default 1 MiB.
    pub json_body_bytes: usize,
    /// Largest BPMN upload, bytes. Default 5 MiB (the parser's own limit).
    pub bpmn_body_bytes: usize,
    /// Largest file upload (a binary data element), bytes, whatever its data type allows; a
    /// data type's `max_size_bytes` lowers it. Counted while the body streams to disk, never
    /// buffered. Default 100 MiB.
    pub max_upload_bytes: u64,
    /// Longest a request may take, including reading its body, ms. Default 30,000.
    pub request_timeout_ms: u64,
    /// Requests served at once; more get 503. Default 1,024.
    pub concurrency: usize,
    /// Requests per second per client (token subject or IP); 0 = off (default). Over it: 429.
    pub rate_limit_per_second: u32,
    /// Burst allowed above the rate. Default 100.
    pub rate_limit_burst: u32,
    /// Largest page of instances. Default 100.
    pub max_page_size: usize,
    /// How long in-flight requests may take to finish after SIGTERM, ms. Default 10,000.
    pub shutdown_grace_ms: u64,
    /// Most BPMN diagnostics in one answer (errors first); the rest are only counted
    /// (`issuesOmitted`, `omitted`). Default 200.
    pub max_diagnostics: usize,
    /// BPMN uploads (deploy, validate) parsed at once, each on the blocking thread pool so that
    /// other requests never wait behind one; more wait their turn. Default 2.
    pub concurrent_validations: usize,
    /// Longest request target (path and query, as sent), bytes; longer: 414 problem+json.
    /// Default 8,192; at most 65,534 ([`HYPER_MAX_URI_BYTES`]).
    pub max_uri_bytes: usize,
    /// Largest total size of the request's header fields, bytes (each field counts its name, its
    /// value and 4 bytes for `: ` and the line end); larger: 431 problem+json. Default 65,536.
    pub max_header_bytes: usize,
    /// Most header fields in a request (a repeated name counts each time); more: 431
    /// problem+json. Default 100.
    pub max_headers: usize,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            json_body_bytes: 1024 * 1024,
            bpmn_body_bytes: 5 * 1024 * 1024,
            max_upload_bytes: 100 * 1024 * 1024,
            request_timeout_ms: 30_000,
            concurrency: 1024,
            rate_limit_per_second: 0,
            rate_limit_burst: 100,
            max_page_size: 100,
            shutdown_grace_ms: 10_000,
            max_diagnostics: 200,
            concurrent_validations: 2,
            max_uri_bytes: 8 * 1024,
            max_header_bytes: 64 * 1024,
            max_headers: 100,
        }
    }
}

/// hyper's fixed limit on the request target, bytes: a longer one is answered `414` by hyper
/// itself, with no body, before flyt sees the request.
pub const HYPER_MAX_URI_BYTES: usize = 65_534;

impl LimitsConfig {
    /// The outer bound hyper enforces on the number of header fields (answered `431` with no
    /// body): four times `max_headers`, so that every request between flyt's limit and this one
    /// gets flyt's problem+json 431.
    pub fn hyper_max_headers(&self) -> usize {
        self.max_headers.saturating_mul(4)
    }

    /// The outer bound hyper enforces on a request's head (request line and headers), bytes
    /// (answered `431` with no body): four times `max_uri_bytes + max_header_bytes`, at least
    /// hyper's minimum of 8,192.
    pub fn hyper_max_buf_size(&self) -> usize {
        self.max_uri_bytes
            .saturating_add(self.max_header_bytes)
            .saturating_mul(4)
            .max(8192)
    }
}

/// This node's job worker: service tasks, timers, schedules and signal deliveries
/// (`[worker]`). The defaults suit one node; on several nodes sharing PostgreSQL see README,
/// "Running several nodes".
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WorkerConfig {
    /// Run the job worker on this node. Default true. `false` makes a node that only serves the
    /// API while the other nodes on the same PostgreSQL database run the jobs; refused with an
    /// embedded store, where nothing else would ever run them.
    pub enabled: bool,
    /// Longest wait before the worker looks for due work again when nothing woke it (this
    /// node's commits and, on PostgreSQL, other nodes' hints do), ms. Default 1,000; from 10 to
    /// 3,600,000.
    pub poll_ms: u64,
    /// How long a job's lease outlasts its handler's timeout, ms: a node stalled longer than
    /// the handler's timeout plus this (stopped, paused, cut off) has lost the job to another
    /// node, and what it records late is refused. Default 10,000; from 100 to 86,400,000.
    pub lease_margin_ms: u64,
    /// Lease on a timer whose firing the process refused while its incident is recorded, ms.
    /// Default 40,000; from 1,000 to 86,400,000.
    pub timer_lease_ms: u64,
    /// Jobs one node runs at once. Default 64; from 1 to 4,096.
    pub concurrency: usize,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        WorkerConfig {
            enabled: true,
            poll_ms: 1_000,
            lease_margin_ms: 10_000,
            timer_lease_ms: 40_000,
            concurrency: 64,
        }
    }
}

impl WorkerConfig {
    /// Each setting within its range, or an error naming the key, the value and the range.
    fn check(&self, backend: BackendKind) -> Result<(), String> {
        let within = |key: &str, value: u64, low: u64, high: u64, unit: &str| {
            if (low..=high).contains(&value) {
                Ok(())
            } else {
                Err(format!(
                    "worker.{key} = {value} is out of range: it must be from {low} to {high}{unit}"
                ))
            }
        };
        within("poll_ms", self.poll_ms, 10, 3_600_000, " ms")?;
        within(
            "lease_margin_ms",
            self.lease_margin_ms,
            100,
            86_400_000,
            " ms",
        )?;
        within(
            "timer_lease_ms",
            self.timer_lease_ms,
            1_000,
            86_400_000,
            " ms",
        )?;
        within(
            "concurrency",
            u64::try_from(self.concurrency).unwrap_or(u64::MAX),
            1,
            4_096,
            " jobs",
        )?;
        if !self.enabled && backend != BackendKind::Postgres {
            return Err(format!(
                "worker.enabled = false needs storage.backend = \"postgres\": with {} no other node would ever run this node's jobs",
                backend.as_str()
            ));
        }
        Ok(())
    }

    /// The runtime settings these make.
    pub fn apply(&self, config: RuntimeConfig) -> RuntimeConfig {
        use std::time::Duration;
        config
            .with_worker_poll(Duration::from_millis(self.poll_ms))
            .with_lease_margin(Duration::from_millis(self.lease_margin_ms))
            .with_timer_lease(Duration::from_millis(self.timer_lease_ms))
            .with_worker_concurrency(self.concurrency)
    }
}

/// The organisation credentials this server uses for outgoing calls (createInstance).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutgoingConfig {
    /// The authority's token endpoint. Default: this server's development authority.
    pub token_endpoint: Option<String>,
    /// The authority's issuer (the assertion's `aud`). Default: this server's authority.
    pub audience: Option<String>,
    /// The Maskinporten client id.
    pub client_id: Option<String>,
    /// The organisation the client belongs to (owner of outgoing calls).
    pub organisation_number: Option<String>,
    /// The key id registered with the authority.
    pub kid: Option<String>,
    /// PEM file with the client's RSA private key.
    pub private_key_file: Option<PathBuf>,
    /// Default `altinn:serviceowner/instances.write`.
    pub scope: Option<String>,
    /// The org code of the service owner (put in development tokens as `urn:altinn:org`).
    pub org_code: Option<String>,
    /// Timeout of one downstream call, ms. Default 10,000.
    pub request_timeout_ms: Option<u64>,
}

/// Retry settings of one service task type (`[service_tasks.<type>]`); unset keys keep the
/// defaults (5 attempts, 30 s timeout, backoff from 1 s doubling to 5 min).
#[derive(Debug, Clone, PartialEq, Default, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServiceTaskSettings {
    pub max_attempts: Option<u32>,
    pub timeout_ms: Option<u64>,
    pub initial_backoff_ms: Option<u64>,
    pub max_backoff_ms: Option<u64>,
}

impl ServiceTaskSettings {
    pub fn handler_config(&self) -> flyt_engine::hooks::HandlerConfig {
        use std::time::Duration;
        let mut c = flyt_engine::hooks::HandlerConfig::default();
        if let Some(n) = self.max_attempts {
            c = c.with_max_attempts(n);
        }
        if let Some(ms) = self.timeout_ms {
            c = c.with_timeout(Duration::from_millis(ms));
        }
        let initial = self
            .initial_backoff_ms
            .map_or(c.initial_backoff, Duration::from_millis);
        let max = self
            .max_backoff_ms
            .map_or(c.max_backoff, Duration::from_millis);
        c.with_backoff(initial, max)
    }
}

/// The whole server configuration.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ServerConfig {
    /// Default `127.0.0.1:8080`.
    pub listen: SocketAddr,
    /// The URL clients reach this server at; the development authority's issuer is
    /// `{public_url}/authority`. Default `http://{listen}`.
    pub public_url: Option<String>,
    /// Apps are loaded from `<processes_dir>/<org>/<app>/`. Default `processes`.
    pub processes_dir: PathBuf,
    pub storage: StorageConfig,
    pub auth: AuthConfig,
    pub dev_authority: DevAuthorityConfig,
    pub outgoing: OutgoingConfig,
    /// Downstream apps createInstance may call: `"org/app" = "http://host:port"`. Nothing else
    /// is reachable; a definition whose target is not here is refused at deploy.
    pub downstream: BTreeMap<String, String>,
    /// Also allow the apps this server hosts, at its own `public_url` (the token never leaves
    /// the host). Entries in `downstream` take precedence. Default true.
    pub downstream_local_apps: bool,
    /// Scope a token needs to deploy definitions (besides the app policy's `deploy`).
    /// Default `flyt:designer`.
    pub designer_scope: String,
    /// Scope a token needs to resume incidents (besides the policy's `resume`). Default
    /// `flyt:operator`.
    pub operator_scope: String,
    /// Scope an organisation token needs to create instances. Default
    /// `altinn:serviceowner/instances.write`.
    pub instantiate_scope: String,
    pub limits: LimitsConfig,
    pub worker: WorkerConfig,
    /// Retry settings per service task type, e.g. `[service_tasks.createInstance]`.
    pub service_tasks: BTreeMap<String, ServiceTaskSettings>,
    /// Register the built-in logging hook (every hook point at `info`). Default false.
    pub log_hook_points: bool,
    /// URL prefixes app webhooks (`[[webhooks]]` in an app file) may POST to, e.g.
    /// `"https://hooks.example.com/flyt/"`. Default empty: no webhook may be configured, and an
    /// app with one stops start-up naming the app and URL. A URL matches a prefix when, once
    /// normalised (`..` resolved, host lower-cased), it starts with the prefix and the prefix
    /// ends with `/` or the URL continues with `/`, `?`, `#` or nothing (so
    /// `https://hooks.example.com` does not allow `https://hooks.example.com.evil.net`).
    pub webhook_allow_list: Vec<String>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            processes_dir: PathBuf::from("processes"),
            storage: StorageConfig::default(),
            auth: AuthConfig::default(),
            dev_authority: DevAuthorityConfig::default(),
            outgoing: OutgoingConfig::default(),
            downstream: BTreeMap::new(),
            downstream_local_apps: true,
            designer_scope: "flyt:designer".into(),
            operator_scope: "flyt:operator".into(),
            instantiate_scope: "altinn:serviceowner/instances.write".into(),
            limits: LimitsConfig::default(),
            worker: WorkerConfig::default(),
            log_hook_points: false,
            service_tasks: BTreeMap::new(),
            webhook_allow_list: Vec::new(),
        }
    }
}

impl ServerConfig {
    /// The configuration for `flyt serve` with no file: development mode. The development
    /// authority is on, and this server acts for organisation 910000001 (org code `acme`, the
    /// service owner of the example apps) with a client key it generates and registers with its
    /// own authority, so the multi-app example runs without any setup.
    pub fn development() -> Self {
        let mut config = ServerConfig::default();
        config.dev_authority.enabled = true;
        config.outgoing.organisation_number = Some("910000001".into());
        config.outgoing.org_code = Some("acme".into());
        config
    }

    /// The configuration as the `flyt` command finds it: the file given (or `./flyt.toml` if it
    /// exists), then the process's `FLYT_*` environment overrides.
    pub fn for_command(explicit: Option<std::path::PathBuf>) -> Result<Self, String> {
        let path =
            explicit.or_else(|| Some(std::path::PathBuf::from("flyt.toml")).filter(|p| p.exists()));
        Self::load(path.as_deref(), std::env::vars())
    }

    /// Reads a file (if given) and applies `FLYT_*` environment overrides. With no file, the
    /// base is development mode.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, String> {
        let mut value = match path {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
                text.parse::<toml::Table>()
                    .map_err(|e| format!("{}: {e}", path.display()))?
            }
            None => {
                toml::Table::try_from(ServerConfig::development()).map_err(|e| e.to_string())?
            }
        };
        let mut database_url = None;
        for (key, raw) in env {
            let Some(rest) = key.strip_prefix("FLYT_") else {
                continue;
            };
            if rest == "DATABASE_URL" {
                database_url = Some(raw);
                continue;
            }
            if RESERVED_ENV.contains(&rest) {
                continue;
            }
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            set_path(&mut value, &path, scalar(&raw)).map_err(|e| format!("{key}: {e}"))?;
        }
        let mut config: ServerConfig =
            toml::Value::Table(value)
                .try_into()
                .map_err(|e: toml::de::Error| {
                    format!(
                        "{}configuration error: {e}",
                        path.map(|p| format!("{}: ", p.display()))
                            .unwrap_or_default()
                    )
                })?;
        if config.storage.url.is_none() {
            config.storage.url = database_url;
        }
        config.check()?;
        Ok(config)
    }

    fn check(&self) -> Result<(), String> {
        if self.storage.backend == BackendKind::Postgres {
            self.storage.postgres_url()?;
        }
        self.worker.check(self.storage.backend)?;
        for (app, url) in &self.downstream {
            app.parse::<flyt_engine::ids::AppId>()
                .map_err(|e| format!("downstream: {e}"))?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(format!("downstream `{app}`: `{url}` is not an http(s) URL"));
            }
        }
        for prefix in &self.webhook_allow_list {
            if !(prefix.starts_with("http://") || prefix.starts_with("https://")) {
                return Err(format!(
                    "webhook_allow_list: `{prefix}` is not an http(s) URL prefix"
                ));
            }
        }
        if self.limits.concurrency == 0 || self.limits.max_page_size == 0 {
            return Err("limits.concurrency and limits.max_page_size must be positive".into());
        }
        let l = &self.limits;
        if l.max_uri_bytes == 0 || l.max_header_bytes == 0 || l.max_headers == 0 {
            return Err(
                "limits.max_uri_bytes, limits.max_header_bytes and limits.max_headers must be positive"
                    .into(),
            );
        }
        if l.max_uri_bytes > HYPER_MAX_URI_BYTES {
            return Err(format!(
                "limits.max_uri_bytes ({}) must be at most {HYPER_MAX_URI_BYTES}, the HTTP parser's own limit",
                l.max_uri_bytes
            ));
        }
        Ok(())
    }

    /// The URL this server is reached at.
    pub fn public_url(&self) -> String {
        self.public_url
            .clone()
            .unwrap_or_else(|| format!("http://{}", self.listen))
            .trim_end_matches('/')
            .to_string()
    }

    /// The normalised webhook URL if `url` is an http(s) URL on `webhook_allow_list`.
    pub fn allowed_webhook(&self, url: &str) -> Option<String> {
        let parsed = reqwest::Url::parse(url).ok()?;
        if !matches!(parsed.scheme(), "http" | "https") || parsed.cannot_be_a_base() {
            return None;
        }
        let normal = parsed.as_str();
        self.webhook_allow_list
            .iter()
            .any(|prefix| {
                normal.strip_prefix(prefix.as_str()).is_some_and(|rest| {
                    prefix.ends_with('/') || rest.is_empty() || rest.starts_with(['/', '?', '#'])
                })
            })
            .then(|| normal.to_string())
    }

    /// The development authority's issuer.
    pub fn authority_issuer(&self) -> String {
        format!("{}/authority", self.public_url())
    }
}

/// `FLYT_*` variables that are not configuration overrides.
pub const RESERVED_ENV: &[&str] = &[
    "CONFIG",            // the config file
    "LOG",               // the log filter
    "BIN",               // tests: the binary under test
    "FAILPOINT",         // crash tests (debug builds)
    "SHARED_DIR",        // tests: where ../shared is
    "REQUIRE_SHARED",    // tests: fail instead of skip without ../shared
    "REQUIRE_BROWSER",   // tests: fail instead of skip without chromium and playwright-core
    "REQUIRE_PDFTOTEXT", // tests: fail instead of skip without poppler-utils
    "CRASH_SEED",        // the crash test's seed
    "DATABASE_URL",      // storage.url (read by name, so it may hold a password)
    "REQUIRE_POSTGRES",  // tests: fail instead of skip without PostgreSQL
    "TEST_POSTGRES_URL", // tests: the PostgreSQL they create their databases on
];

fn scalar(raw: &str) -> toml::Value {
    if let Ok(b) = raw.parse::<bool>() {
        return toml::Value::Boolean(b);
    }
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    toml::Value::String(raw.to_string())
}

fn set_path(table: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    match path {
        [] => Err("empty key".into()),
        [last] => {
            // Keep strings for keys that hold strings (e.g. an org number that looks numeric).
            let value = match (table.get(last), value) {
                (
                    Some(toml::Value::String(_)),
                    v @ (toml::Value::Integer(_) | toml::Value::Boolean(_)),
                ) => toml::Value::String(v.to_string()),
                (_, v) => v,
            };
            table.insert(last.clone(), value);
            Ok(())
        }
        [head, rest @ ..] => {
            let entry = table
                .entry(head.clone())
                .or_insert_with(|| toml::Value::Table(toml::Table::new()));
            match entry {
                toml::Value::Table(t) => set_path(t, rest, value),
                _ => Err(format!("`{head}` is not a section")),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_takes_its_url_from_the_environment_and_never_shows_the_password() {
        let env = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect::<Vec<_>>()
        };
        let missing = ServerConfig::load(None, env(&[("FLYT_STORAGE__BACKEND", "postgres")]));
        assert!(missing.unwrap_err().contains("storage.url"));
        let config = ServerConfig::load(
            None,
            env(&[
                ("FLYT_STORAGE__BACKEND", "postgres"),
                ("FLYT_DATABASE_URL", "postgres://flyt:s3cret@db:5432/flyt"),
            ]),
        )
        .unwrap();
        assert_eq!(
            config.storage.url.as_deref(),
            Some("postgres://flyt:s3cret@db:5432/flyt")
        );
        let shown = format!("{config:?}");
        assert!(
            !shown.contains("s3cret") && shown.contains("flyt:***@db"),
            "{shown}"
        );
        assert_eq!(
            redact_url("host=db user=flyt password=s3cret dbname=flyt"),
            "host=db user=flyt password=*** dbname=flyt"
        );
    }

    #[test]
    fn no_file_is_development_mode() {
        let config = ServerConfig::load(None, Vec::new()).unwrap();
        assert!(config.dev_authority.enabled);
        assert_eq!(config.storage.backend, BackendKind::Redb);
        assert_eq!(config.authority_issuer(), "http://127.0.0.1:8080/authority");
    }

    #[test]
    fn a_file_turns_the_authority_off_by_default_and_env_overrides_keys() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flyt.toml");
        std::fs::write(
            &path,
            "listen = \"127.0.0.1:9000\"\n[storage]\nbackend = \"sled\"\n",
        )
        .unwrap();
        let env = vec![
            ("FLYT_STORAGE__CACHE_MB".to_string(), "8".to_string()),
            ("FLYT_LIMITS__CONCURRENCY".to_string(), "3".to_string()),
            ("HOME".to_string(), "/x".to_string()),
        ];
        let config = ServerConfig::load(Some(&path), env).unwrap();
        assert!(!config.dev_authority.enabled);
        assert_eq!(config.storage.backend, BackendKind::Sled);
        assert_eq!(config.storage.cache_mb, 8);
        assert_eq!(config.limits.concurrency, 3);
        assert_eq!(config.listen.port(), 9000);
    }

    #[test]
    fn webhook_urls_must_match_an_allowed_prefix_at_a_boundary() {
        let config = ServerConfig {
            webhook_allow_list: vec![
                "https://hooks.example.com".into(),
                "http://127.0.0.1:8080/in/".into(),
            ],
            ..ServerConfig::default()
        };
        let allowed = |u: &str| config.allowed_webhook(u);
        assert_eq!(
            allowed("https://hooks.example.com/flyt").as_deref(),
            Some("https://hooks.example.com/flyt")
        );
        assert!(allowed("https://HOOKS.example.com/x?y=1").is_some());
        assert!(allowed("http://127.0.0.1:8080/in/events").is_some());
        for refused in [
            "https://hooks.example.com.evil.net/",
            "https://hooks.example.com@evil.net/",
            "http://hooks.example.com/",
            "http://127.0.0.1:8080/in/../admin",
            "http://127.0.0.1:80801/in/x",
            "ftp://hooks.example.com/",
            "not a url",
        ] {
            assert!(allowed(refused).is_none(), "{refused}");
        }
        assert!(
            ServerConfig::default()
                .allowed_webhook("https://x.example/")
                .is_none()
        );
    }

    #[test]
    fn worker_settings_reach_the_runtime_and_bad_values_name_key_value_and_range() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flyt.toml");
        let load = |text: &str| {
            std::fs::write(&path, text).unwrap();
            ServerConfig::load(Some(&path), Vec::new())
        };
        let config = load(
            "[storage]\nbackend = \"postgres\"\nurl = \"postgres://db/flyt\"\n[worker]\nenabled = false\npoll_ms = 30000\nlease_margin_ms = 500\ntimer_lease_ms = 2000\nconcurrency = 8\n",
        )
        .unwrap();
        assert!(!config.worker.enabled);
        let runtime = config.worker.apply(RuntimeConfig::default());
        assert_eq!(runtime.worker_poll, std::time::Duration::from_secs(30));
        assert_eq!(runtime.lease_margin, std::time::Duration::from_millis(500));
        assert_eq!(runtime.timer_lease, std::time::Duration::from_secs(2));
        assert_eq!(runtime.worker_concurrency, 8);
        let defaults = ServerConfig::default()
            .worker
            .apply(RuntimeConfig::default());
        let engine = RuntimeConfig::default();
        assert_eq!(
            (
                defaults.worker_poll,
                defaults.lease_margin,
                defaults.timer_lease
            ),
            (engine.worker_poll, engine.lease_margin, engine.timer_lease),
            "the documented defaults are the engine's"
        );

        for (text, expected) in [
            (
                "[worker]\npoll_ms = 0\n",
                "worker.poll_ms = 0 is out of range: it must be from 10 to 3600000 ms",
            ),
            (
                "[worker]\nlease_margin_ms = 99\n",
                "worker.lease_margin_ms = 99 is out of range: it must be from 100 to 86400000 ms",
            ),
            (
                "[worker]\ntimer_lease_ms = 86400001\n",
                "worker.timer_lease_ms = 86400001 is out of range",
            ),
            (
                "[worker]\nconcurrency = 0\n",
                "worker.concurrency = 0 is out of range: it must be from 1 to 4096 jobs",
            ),
            (
                "[worker]\nenabled = false\n",
                "worker.enabled = false needs storage.backend = \"postgres\": with redb",
            ),
        ] {
            let err = load(text).unwrap_err();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
        // A wrong type or an unknown key names the key too.
        let err = load("[worker]\npoll_ms = \"soon\"\n").unwrap_err();
        assert!(err.contains("poll_ms"), "{err}");
        let err = load("[worker]\npoll = 5\n").unwrap_err();
        assert!(err.contains("poll"), "{err}");
        let err = load("[worker]\nlease_margin_ms = -5\n").unwrap_err();
        assert!(err.contains("lease_margin_ms"), "{err}");
    }

    #[test]
    fn unknown_keys_are_refused_with_their_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("flyt.toml");
        std::fs::write(&path, "[storage]\nbakend = \"sled\"\n").unwrap();
        let err = ServerConfig::load(Some(&path), Vec::new()).unwrap_err();
        assert!(err.contains("bakend"), "{err}");
    }
}
