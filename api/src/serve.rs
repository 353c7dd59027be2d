//! Running a built server: the accept loop, connection limits, graceful shutdown.

use crate::state::AppState;
use axum::Router;
use flyt_engine::runtime::Runtime;
use flyt_engine::runtime::worker::Worker;
use std::future::Future;
use std::time::Duration;
use tokio::net::TcpListener;

/// A built server, ready to serve.
pub struct Flyt {
    pub state: AppState,
    pub(crate) router: Router,
    pub(crate) worker: Option<Worker>,
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
        // hyper's own limits are outer bounds, above flyt's (`middleware::problems`), so that a
        // request over flyt's limits gets a problem+json refusal rather than hyper's bare one.
        http.timer(TokioTimer::new())
            .header_read_timeout(header_timeout)
            .max_headers(limits.hyper_max_headers())
            .max_buf_size(limits.hyper_max_buf_size());
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
