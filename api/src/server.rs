//! Building and running a flyt server: load apps, open storage, set up authentication, deploy
//! the apps' definitions, start the job worker, serve HTTP until told to stop.
//!
//! A developer who adds hooks writes a small binary: `ServerBuilder::new(config)
//! .registry(|r| r.hook(MyHook))`, then [`Flyt::serve`].

use crate::apps::{self, App};
use crate::auth::{TrustedIssuer, Verifier};
use crate::authority::DevAuthority;
use crate::config::ServerConfig;
use crate::metrics::HttpMetrics;
use crate::middleware::{self, RateLimiter};
use crate::state::{AppState, Shared};
use axum::Router;
use flyt_engine::bpmn::Rejected;
use flyt_engine::hooks::{Registry, RegistryBuilder};
use flyt_engine::ids::AppId;
use flyt_engine::runtime::worker::Worker;
use flyt_engine::runtime::{Runtime, RuntimeConfig};
use flyt_engine::store::group::GroupConfig;
use flyt_engine::store::{Store, StoreError};
use flyt_engine::time::{Clock, SystemClock};
use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;
use tokio::net::TcpListener;

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
            provision_local_client(&mut config).map_err(StartError::Other)?;
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

        let mut registry = self.registry;
        let builtins = builtins(&config, self.clock.clone())?;
        let settings = |t: &str| {
            config
                .service_tasks
                .get(t)
                .cloned()
                .unwrap_or_default()
                .handler_config()
        };
        let task_type = flyt_hooks::create_instance::TASK_TYPE;
        if !registry.types().contains(task_type) {
            registry = registry.service_task_with(task_type, builtins, settings(task_type));
        }
        if config.log_hook_points {
            registry = registry.hook(flyt_hooks::logging::LoggingHook);
        }
        for app in &apps {
            for external in &app.file.jobs.external {
                if !registry.types().contains(external) {
                    registry = registry.external_service_task(external.clone(), settings(external));
                }
            }
        }
        let (registry, longest_veto) = webhooks(registry, &apps, &config)?;
        let registry = registry.build();
        if let Some(veto) = longest_veto
            && veto >= registry.hook_timeout()
        {
            return Err(StartError::Other(format!(
                "a webhook veto's timeout_ms ({} ms) must be below the hook timeout ({} ms)",
                veto.as_millis(),
                registry.hook_timeout().as_millis()
            )));
        }
        let runtime = Runtime::with(
            store,
            registry,
            self.clock.clone(),
            RuntimeConfig::default(),
        );
        let mut failed = Vec::new();
        let mut by_id: BTreeMap<AppId, Arc<App>> = BTreeMap::new();
        for app in apps {
            runtime.register_app(app.spec.clone());
            match runtime
                .deploy_from_source(&app.id, &app.bpmn, "startup")
                .await
            {
                Ok(deployed) => {
                    for w in &deployed.warnings {
                        tracing::warn!(
                            "{}",
                            w.render(&app.dir.join("process.bpmn").display().to_string())
                        );
                    }
                    tracing::info!(app = %app.id, version = deployed.version, unchanged = deployed.unchanged, "definition deployed");
                }
                Err(flyt_engine::runtime::Error::InvalidDefinition(r)) => {
                    failed.push((app.dir.join("process.bpmn").display().to_string(), r))
                }
                Err(flyt_engine::runtime::Error::Store(e)) => return Err(StartError::Store(e)),
                Err(e) => return Err(StartError::Other(format!("{}: {e}", app.id))),
            }
            by_id.insert(app.id.clone(), Arc::new(app));
        }
        if !failed.is_empty() {
            runtime.store().shutdown();
            return Err(StartError::Definitions(failed));
        }

        let limiter = RateLimiter::new(
            config.limits.rate_limit_per_second,
            config.limits.rate_limit_burst,
        );
        let concurrency = Arc::new(tokio::sync::Semaphore::new(config.limits.concurrency));
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
        let worker = self.start_worker.then(|| Worker::spawn(runtime.clone()));
        state.set_ready(true);
        Ok(Flyt {
            state,
            router,
            worker,
        })
    }
}

/// Development mode: when the server acts for an organisation (`outgoing.organisation_number`)
/// but has no client credentials, generate a client key (kept in the data directory) and register
/// it with this server's own development authority, so createInstance works with no setup.
fn provision_local_client(config: &mut ServerConfig) -> Result<(), String> {
    use rsa::pkcs8::{EncodePrivateKey, EncodePublicKey, LineEnding};
    let (Some(org), None) = (
        config.outgoing.organisation_number.clone(),
        config.outgoing.client_id.clone(),
    ) else {
        return Ok(());
    };
    let dir = config.storage.data_dir.join("authority");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let private = dir.join("local-client-key.pem");
    let public = dir.join("local-client-key.pub.pem");
    if !private.exists() || !public.exists() {
        let key =
            rsa::RsaPrivateKey::new(&mut rand::thread_rng(), 2048).map_err(|e| e.to_string())?;
        let pem = key
            .to_pkcs8_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        write_private(&private, pem.as_bytes())?;
        let pub_pem = key
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(|e| e.to_string())?;
        std::fs::write(&public, pub_pem).map_err(|e| format!("{}: {e}", public.display()))?;
    }
    let client_id = format!("flyt-local-{org}");
    config
        .dev_authority
        .clients
        .push(crate::authority::ClientConfig {
            client_id: client_id.clone(),
            organisation_number: org,
            org_code: config.outgoing.org_code.clone(),
            public_key_pem_file: public,
            scopes: vec![
                config
                    .outgoing
                    .scope
                    .clone()
                    .unwrap_or_else(|| config.instantiate_scope.clone()),
            ],
        });
    config.outgoing.client_id = Some(client_id);
    config.outgoing.private_key_file = Some(private);
    Ok(())
}

fn write_private(path: &std::path::Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    file.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

/// The built-in `createInstance` handler: the downstream allow-list, and the organisation token
/// client from `[outgoing]` (defaulting to this server's development authority).
fn builtins(
    config: &ServerConfig,
    clock: Arc<dyn Clock>,
) -> Result<flyt_hooks::create_instance::CreateInstance, StartError> {
    use flyt_hooks::token_client::{TokenClient, TokenClientConfig, token_http_client};
    let out = &config.outgoing;
    let timeout = Duration::from_millis(out.request_timeout_ms.unwrap_or(10_000));
    let tokens = match (&out.client_id, &out.private_key_file) {
        (Some(client_id), Some(key_file)) => {
            let pem = std::fs::read_to_string(key_file).map_err(|e| {
                StartError::Other(format!(
                    "outgoing.private_key_file {}: {e}",
                    key_file.display()
                ))
            })?;
            let issuer = config.authority_issuer();
            let mut token_config = TokenClientConfig::new(
                out.token_endpoint
                    .clone()
                    .unwrap_or_else(|| format!("{issuer}/token")),
                out.audience.clone().unwrap_or(issuer),
                client_id.clone(),
                pem,
                out.scope
                    .clone()
                    .unwrap_or_else(|| config.instantiate_scope.clone()),
            );
            token_config.kid = out.kid.clone();
            token_config.request_timeout = timeout;
            let http = token_http_client(timeout)
                .map_err(|e| StartError::Other(format!("outgoing: {e}")))?;
            Some(Arc::new(
                TokenClient::new(token_config, http, clock)
                    .map_err(|e| StartError::Other(format!("outgoing: {e}")))?,
            ))
        }
        (None, None) => None,
        _ => {
            return Err(StartError::Other(
                "outgoing: client_id and private_key_file go together".into(),
            ));
        }
    };
    let mut downstream = BTreeMap::new();
    for (app, url) in &config.downstream {
        let id: AppId = app
            .parse()
            .map_err(|e| StartError::Other(format!("downstream: {e}")))?;
        downstream.insert(id, url.clone());
    }
    flyt_hooks::create_instance::CreateInstance::new(downstream, tokens, timeout)
        .map_err(StartError::Other)
}

/// Registers every app's `[[webhooks]]`: a durable delivery (its own job type,
/// `webhook:<org>/<app>#<n>`, n counting from 1 in file order, subscribed to the listed events),
/// or with `veto = true` a synchronous task-end veto hook instead (no durable deliveries: add a
/// second entry for those). Each URL must be on `webhook_allow_list`; the secret is read from
/// the environment variable `secret_env`. Deliveries default to 50 attempts, a 10 s timeout per
/// attempt (or the webhook's `timeout_ms`) and backoff from 1 s doubling to 60 s; any of these
/// can be set with `[service_tasks."webhook:<org>/<app>#<n>"]`. Returns the longest veto timeout.
fn webhooks(
    mut registry: RegistryBuilder,
    apps: &[App],
    config: &ServerConfig,
) -> Result<(RegistryBuilder, Option<Duration>), StartError> {
    use flyt_engine::hooks::{EventKind, HandlerConfig};
    use flyt_hooks::webhooks::{WebhookDelivery, WebhookSecret, WebhookVeto};
    let mut longest_veto: Option<Duration> = None;
    for app in apps {
        for (i, hook) in app.file.webhooks.iter().enumerate() {
            let job_type = format!("webhook:{}#{}", app.id, i + 1);
            let fail = |what: String| {
                StartError::Other(format!(
                    "{}: app {}, webhook #{} ({}): {what}",
                    app.dir.join("app.toml").display(),
                    app.id,
                    i + 1,
                    hook.url
                ))
            };
            let url = config.allowed_webhook(&hook.url).ok_or_else(|| {
                fail(format!(
                    "the URL `{}` is not on webhook_allow_list (allowed prefixes: {})",
                    hook.url,
                    if config.webhook_allow_list.is_empty() {
                        "none".to_string()
                    } else {
                        config.webhook_allow_list.join(", ")
                    }
                ))
            })?;
            let valid = || {
                EventKind::ALL
                    .iter()
                    .map(|e| e.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            if hook.events.is_empty() {
                return Err(fail(format!(
                    "`events` is empty; valid events: {}",
                    valid()
                )));
            }
            let mut events = Vec::new();
            for name in &hook.events {
                let event = EventKind::parse(name).ok_or_else(|| {
                    fail(format!("unknown event `{name}`; valid events: {}", valid()))
                })?;
                if !events.contains(&event) {
                    events.push(event);
                }
            }
            let secret = match std::env::var(&hook.secret_env) {
                Ok(s) if !s.is_empty() => s,
                _ => {
                    return Err(fail(format!(
                        "the secret's environment variable `{}` is not set (or empty)",
                        hook.secret_env
                    )));
                }
            };
            let secret = WebhookSecret::new(&secret)
                .map_err(|e| fail(format!("`{}`: {e}", hook.secret_env)))?;
            if hook.veto {
                if events != [EventKind::TaskEnded] {
                    return Err(fail(
                        "a veto (`veto = true`) is asked before a task ends: its `events` must be [\"task.ended\"]"
                            .into(),
                    ));
                }
                let timeout = Duration::from_millis(hook.timeout_ms.unwrap_or(2_000));
                if timeout.is_zero() {
                    return Err(fail("`timeout_ms` must be positive".into()));
                }
                longest_veto = longest_veto.max(Some(timeout));
                let veto = WebhookVeto::new(url, secret, timeout, hook.fail_open).map_err(fail)?;
                registry = registry.app_hook(app.id.clone(), veto);
                continue;
            }
            if hook.fail_open {
                return Err(fail("`fail_open` applies only with `veto = true`".into()));
            }
            let s = config
                .service_tasks
                .get(&job_type)
                .cloned()
                .unwrap_or_default();
            let ms = Duration::from_millis;
            let handler_config = HandlerConfig::default()
                .with_max_attempts(s.max_attempts.unwrap_or(50))
                .with_timeout(ms(s.timeout_ms.or(hook.timeout_ms).unwrap_or(10_000)))
                .with_backoff(
                    ms(s.initial_backoff_ms.unwrap_or(1_000)),
                    ms(s.max_backoff_ms.unwrap_or(60_000)),
                );
            let delivery =
                WebhookDelivery::new(url, secret, handler_config.timeout).map_err(fail)?;
            registry = registry
                .subscribe(app.id.clone(), job_type.clone(), events)
                .service_task_with(job_type, delivery, handler_config);
        }
    }
    Ok((registry, longest_veto))
}

/// A built server, ready to serve.
pub struct Flyt {
    pub state: AppState,
    router: Router,
    worker: Option<Worker>,
}

impl std::fmt::Debug for Flyt {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Flyt").field("state", &self.state).finish()
    }
}

impl Flyt {
    /// The complete router (for in-process tests with `oneshot`).
    pub fn router(&self) -> Router {
        self.router.clone()
    }

    pub fn runtime(&self) -> &Runtime {
        self.state.runtime()
    }

    /// Serves until `shutdown` resolves; then stops accepting, lets in-flight requests and running
    /// jobs finish (both within the same `limits.shutdown_grace_ms`; a job cut off keeps its lease
    /// and runs again after a restart) and closes storage cleanly.
    ///
    /// Slow clients cannot hold connections: a request's head (its headers) must arrive within
    /// `limits.request_timeout_ms` of the connection opening or of the previous response, or
    /// hyper closes the connection (this also closes idle keep-alive connections after that
    /// long); the body is read within the same limit by `middleware::guard` (408).
    pub async fn serve(
        self,
        listener: TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        use hyper_util::rt::{TokioIo, TokioTimer};
        use tower::ServiceExt;
        let Flyt {
            state,
            router,
            worker,
        } = self;
        let limits = &state.config().limits;
        let grace = Duration::from_millis(limits.shutdown_grace_ms);
        let header_timeout = Duration::from_millis(limits.request_timeout_ms.max(1));
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout);
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signalled = state.clone();
        tokio::spawn(async move {
            shutdown.await;
            signalled.set_ready(false);
            let _ = stop_tx.send(true);
        });
        // Every connection task holds a clone of `open_rx`; `open_tx.closed()` resolves when the
        // last connection has ended.
        let (open_tx, open_rx) = tokio::sync::watch::channel(());
        let mut accept_stop = stop_rx.clone();
        let conn_stop = stop_rx.clone();
        let server = async move {
            loop {
                let (stream, remote) = tokio::select! {
                    accepted = listener.accept() => match accepted {
                        Ok(accepted) => accepted,
                        // A connection that failed before it was accepted is skipped; anything
                        // else (out of file descriptors, ...) pauses accepting for a second, as
                        // `axum::serve` does, rather than spinning.
                        Err(e) => {
                            use std::io::ErrorKind;
                            if !matches!(
                                e.kind(),
                                ErrorKind::ConnectionRefused
                                    | ErrorKind::ConnectionAborted
                                    | ErrorKind::ConnectionReset
                            ) {
                                tracing::error!("accept error: {e}");
                                tokio::time::sleep(Duration::from_secs(1)).await;
                            }
                            continue;
                        }
                    },
                    () = async { let _ = accept_stop.wait_for(|stop| *stop).await; } => break,
                };
                let router = router.clone();
                let http = http.clone();
                let mut stop = conn_stop.clone();
                let open = open_rx.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(
                        move |mut req: axum::http::Request<hyper::body::Incoming>| {
                            req.extensions_mut()
                                .insert(axum::extract::ConnectInfo(remote));
                            router.clone().oneshot(req.map(axum::body::Body::new))
                        },
                    );
                    let conn = http
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades();
                    tokio::pin!(conn);
                    let result = tokio::select! {
                        result = conn.as_mut() => result,
                        () = async { let _ = stop.wait_for(|stop| *stop).await; } => {
                            conn.as_mut().graceful_shutdown();
                            conn.await
                        }
                    };
                    if let Err(e) = result {
                        tracing::debug!(%remote, "connection closed: {e}");
                    }
                    drop(open);
                });
            }
            // Stop accepting, then wait for the open connections to finish.
            drop(listener);
            drop(open_rx);
            open_tx.closed().await;
        };
        let mut stopped = stop_rx;
        // The job worker stops taking jobs at the same moment and gets the same grace, so that the
        // whole shutdown takes at most `grace` (plus closing storage), not one grace after another.
        let mut worker_stopped = stopped.clone();
        let stop_worker = async move {
            if let Some(worker) = worker {
                let _ = worker_stopped.wait_for(|stop| *stop).await;
                worker.stop(grace).await;
            }
        };
        let bounded = async move {
            let _ = stopped.wait_for(|stop| *stop).await;
            tokio::time::sleep(grace).await;
        };
        let drain = async move {
            tokio::select! {
                () = server => {},
                () = bounded => tracing::warn!(grace_ms = grace.as_millis() as u64, "in-flight requests did not finish in time; closing"),
            }
        };
        tokio::join!(drain, stop_worker);
        state.runtime().store().shutdown();
        tracing::info!("stopped; storage closed");
        Ok(())
    }
}

/// Resolves on SIGTERM or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
    tracing::info!("shutdown requested");
}
