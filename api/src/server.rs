//! Composing a flyt server: load apps, open storage, set up authentication, assemble the hook
//! registry ([`crate::registry`]), deploy the apps' definitions, start the job worker. Serving
//! it is [`crate::serve`].
//!
//! A developer who adds hooks writes a small binary: `ServerBuilder::new(config)
//! .registry(|r| r.hook(MyHook))`, then [`Flyt::serve`].

use crate::apps;
use crate::auth::{TrustedIssuer, Verifier};
use crate::authority::DevAuthority;
use crate::config::ServerConfig;
use crate::metrics::HttpMetrics;
use crate::middleware::{self, RateLimiter};
use crate::state::{AppState, Shared};
use axum::Router;
use flyt_engine::bpmn::Rejected;
use flyt_engine::hooks::{Registry, RegistryBuilder};
use flyt_engine::runtime::worker::Worker;
use flyt_engine::runtime::{Runtime, RuntimeConfig};
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::{Store, StoreError};
use flyt_engine::time::{Clock, SystemClock};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

/// Why a server did not start. Each says what to fix.
#[derive(Debug)]
pub enum StartError {
    /// Apps under `processes/` could not be loaded.
    Apps(Vec<apps::LoadError>),
    /// A definition failed validation at deploy (path, diagnostics).
    Definitions(Vec<(String, Rejected)>),
    /// The store cannot be opened: corrupt, locked, or another format.
    Store(StoreError),
    Other(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Apps(errors) => {
                for e in errors {
                    writeln!(f, "{e}")?;
                }
                write!(f, "{} app(s) could not be loaded", errors.len())
            }
            StartError::Definitions(failed) => {
                for (path, rejected) in failed {
                    for d in &rejected.diagnostics {
                        writeln!(f, "{}", d.render(path))?;
                    }
                }
                write!(f, "{} definition(s) are invalid", failed.len())
            }
            StartError::Store(e) => write!(f, "cannot open the store: {e}"),
            StartError::Other(e) => f.write_str(e),
        }
    }
}

impl std::error::Error for StartError {}

/// Configures a server before it starts.
pub struct ServerBuilder {
    config: ServerConfig,
    registry: RegistryBuilder,
    clock: Arc<dyn Clock>,
    start_worker: bool,
    store: Option<Store>,
}

impl std::fmt::Debug for ServerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerBuilder")
            .field("config", &self.config)
            .field("registry", &self.registry)
            .finish()
    }
}

impl ServerBuilder {
    pub fn new(config: ServerConfig) -> Self {
        ServerBuilder {
            config,
            registry: Registry::builder(),
            clock: Arc::new(SystemClock),
            start_worker: true,
            store: None,
        }
    }

    /// Registers hooks, gateway deciders, service task handlers and server actions.
    pub fn registry(mut self, f: impl FnOnce(RegistryBuilder) -> RegistryBuilder) -> Self {
        self.registry = f(self.registry);
        self
    }

    pub fn clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    /// Uses this store instead of opening one from the configuration (`[storage]` is then
    /// ignored), for tests and embedding: e.g. a store over a backend that injects faults, or one
    /// the embedding program opened itself. The server shuts it down when it stops.
    pub fn store(mut self, store: Store) -> Self {
        self.store = Some(store);
        self
    }

    /// Do not run the in-process job worker (tests that drive jobs themselves).
    pub fn without_worker(mut self) -> Self {
        self.start_worker = false;
        self
    }

    /// Builds the server for a listener bound at `local_addr` (the development authority's
    /// issuer URL needs the real port).
    pub async fn build(mut self, local_addr: SocketAddr) -> Result<Flyt, StartError> {
        if self.config.public_url.is_none() {
            self.config.public_url = Some(format!("http://{local_addr}"));
        }
        let mut config = self.config;
        let apps = apps::load_all(&config.processes_dir).map_err(StartError::Apps)?;
        if config.dev_authority.enabled {
            crate::authority::local_client::provision(&mut config).map_err(StartError::Other)?;
        }
        if config.downstream_local_apps {
            for app in &apps {
                config
                    .downstream
                    .entry(app.id.to_string())
                    .or_insert_with(|| config.public_url.clone().unwrap_or_default());
            }
        }

        let store = match (self.store, config.storage.backend) {
            (Some(store), _) => store,
            (None, flyt_engine::store::open::BackendKind::Memory) => Store::memory(),
            (None, flyt_engine::store::open::BackendKind::Postgres) => {
                let url = config.storage.postgres_url().map_err(StartError::Other)?;
                tracing::info!(
                    database = %crate::config::redact_url(url),
                    "storage: PostgreSQL"
                );
                Store::open_postgres(
                    url,
                    config.storage.migrate,
                    &config.storage.data_dir.join("store"),
                    GroupConfig::default(),
                )
                .map_err(StartError::Store)?
            }
            (None, kind) => Store::open(
                kind,
                &config.storage.data_dir.join("store"),
                config.storage.cache_mb << 20,
                GroupConfig::default(),
            )
            .map_err(StartError::Store)?,
        };

        let http = reqwest::Client::builder()
            .timeout(Duration::from_millis(config.auth.jwks_timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| StartError::Other(format!("HTTP client: {e}")))?;
        let authority = if config.dev_authority.enabled {
            let dir = config.storage.data_dir.join("authority");
            let authority = DevAuthority::load_or_create(
                &dir,
                config.authority_issuer(),
                &config.dev_authority,
                self.clock.clone(),
            )
            .map_err(|e| StartError::Other(format!("development authority: {e}")))?;
            Some(Arc::new(authority))
        } else {
            None
        };
        let mut issuers: Vec<TrustedIssuer> = Vec::new();
        for issuer in &config.auth.issuers {
            issuers.push(
                TrustedIssuer::from_config(issuer)
                    .map_err(|e| StartError::Other(format!("auth.issuers: {e}")))?,
            );
        }
        if let Some(a) = &authority {
            issuers.push(a.trusted_issuer());
        }
        let verifier = Verifier::new(&config.auth, issuers, http, self.clock.clone())
            .map_err(|e| StartError::Other(format!("auth: {e}")))?;

        let registry =
            crate::registry::assemble(self.registry, &apps, &config, self.clock.clone())?;
        let runtime = Runtime::with(
            store,
            registry,
            self.clock.clone(),
            config
                .worker
                .apply(RuntimeConfig::default())
                .with_bpmn_limits(
                    flyt_engine::bpmn::Limits::default()
                        .with_max_diagnostics(config.limits.max_diagnostics),
                )
                .with_compile_concurrency(config.limits.concurrent_validations),
        );
        // Before any request: files left by an upload or a deletion a crash interrupted.
        let swept = runtime
            .sweep_files()
            .map_err(|e| StartError::Other(format!("sweeping unreferenced files: {e}")))?;
        if swept > 0 {
            tracing::info!(files = swept, "removed files no instance references");
        }
        let by_id = crate::apps::startup::deploy(&runtime, apps).await?;

        let limiter = RateLimiter::new(
            config.limits.rate_limit_per_second,
            config.limits.rate_limit_burst,
        );
        let concurrency = Arc::new(tokio::sync::Semaphore::new(config.limits.concurrency));
        // `[worker] enabled = false`: an API-only node; the other nodes run the jobs.
        let worker_enabled = config.worker.enabled;
        let state = AppState {
            inner: Arc::new(Shared {
                runtime: runtime.clone(),
                apps: by_id,
                verifier: Arc::new(verifier),
                authority: authority.clone(),
                config,
                metrics: HttpMetrics::default(),
                ready: AtomicBool::new(false),
                limiter,
            }),
        };
        let (api, openapi) = crate::routes::api().split_for_parts();
        let openapi_json = Arc::new(openapi.to_pretty_json().unwrap_or_default());
        let mut router: Router<AppState> = api.route(
            "/openapi.json",
            axum::routing::get(move || {
                let doc = openapi_json.clone();
                async move {
                    (
                        [(axum::http::header::CONTENT_TYPE, "application/json")],
                        (*doc).clone(),
                    )
                }
            }),
        );
        router = router.merge(crate::ui::router());
        router =
            router.fallback(|| async { crate::error::ApiError::NotFound("no such route".into()) });
        let mut router: Router = router
            .layer(axum::middleware::from_fn_with_state(
                state.clone(),
                middleware::guard,
            ))
            .layer(axum::Extension(concurrency))
            .layer(axum::extract::DefaultBodyLimit::disable())
            .with_state(state.clone());
        if let Some(authority) = &authority {
            router = router.nest_service(
                "/authority",
                DevAuthority::router().with_state(authority.clone()),
            );
        }
        // Outermost, so it also covers the authority and axum's own answers (405, rejections).
        let router = router
            .layer(axum::middleware::from_fn_with_state(
                middleware::problems::HeadLimits::from(&state.config().limits),
                middleware::problems::problems,
            ))
            // Outside everything: each request's span and id.
            .layer(axum::middleware::from_fn(middleware::request_id::layer));
        let worker = (self.start_worker && worker_enabled).then(|| Worker::spawn(runtime.clone()));
        state.set_ready(true);
        Ok(Flyt {
            state,
            router,
            worker,
        })
    }
}

pub use crate::serve::{Flyt, shutdown_signal};
