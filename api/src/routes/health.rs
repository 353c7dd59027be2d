//! Health, metrics and the OpenAPI document.

use crate::error::Problem;
use crate::state::AppState;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::IntoResponse;
use flyt_engine::runtime::Metrics;
use std::fmt::Write;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(metrics))
}

#[utoipa::path(get, path = "/health/live", tag = "health", responses((status = 200, description = "the process is up")))]
pub async fn live() -> &'static str {
    "ok"
}

#[utoipa::path(get, path = "/health/ready", tag = "health",
    responses((status = 200, description = "accepting requests"), (status = 503, body = Problem, description = "starting or shutting down, or the database cannot be reached")))]
pub async fn ready(State(state): State<AppState>) -> axum::response::Response {
    let detail = if !state.is_ready() {
        Some("the server is starting or shutting down".to_string())
    } else {
        // A shared store (PostgreSQL) may be unreachable while the process is fine; embedded
        // stores always answer.
        let store = state.runtime().store().clone();
        match tokio::task::spawn_blocking(move || store.ping()).await {
            Ok(Ok(())) => None,
            Ok(Err(e)) => {
                tracing::warn!(error = %e, "not ready: the store does not answer");
                Some("the database cannot be reached".to_string())
            }
            Err(_) => Some("the store check failed".to_string()),
        }
    };
    if let Some(detail) = detail {
        // problem+json, as documented (it was plain text).
        let body = serde_json::json!({
            "type": "https://flyt.invalid/problems/not-ready",
            "title": "Service Unavailable",
            "status": 503,
            "detail": detail,
            "code": "not-ready",
        });
        (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "application/problem+json")],
            body.to_string(),
        )
            .into_response()
    } else {
        (StatusCode::OK, "ready").into_response()
    }
}

#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    let rt = state.runtime();
    let m = rt.metrics();
    let store = rt.store().stats();
    let mut out = String::new();
    let mut counter = |name: &str, help: &str, value: u64| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {value}"
        );
    };
    counter(
        "flyt_transitions_total",
        "Committed instance transitions.",
        Metrics::get(&m.transitions),
    );
    counter(
        "flyt_instances_created_total",
        "Instances created.",
        Metrics::get(&m.instances_created),
    );
    counter(
        "flyt_conflicts_total",
        "Moves refused because another request changed the instance first.",
        Metrics::get(&m.conflicts),
    );
    counter(
        "flyt_jobs_completed_total",
        "Service task jobs completed.",
        Metrics::get(&m.jobs_completed),
    );
    counter(
        "flyt_jobs_failed_total",
        "Service task job attempts that failed.",
        Metrics::get(&m.jobs_failed),
    );
    counter(
        "flyt_incidents_total",
        "Incidents raised.",
        Metrics::get(&m.incidents),
    );
    counter(
        "flyt_job_outcomes_refused_total",
        "Late job outcomes refused by the lease fence: the worker stalled past its lease and the job was taken again or finished elsewhere; nothing changed.",
        Metrics::get(&m.job_outcomes_refused),
    );
    let hints = rt.store().hint_stats();
    if let Some(hints) = hints {
        counter(
            "flyt_work_hints_sent_total",
            "Wake-up hints (PostgreSQL NOTIFY) sent to the other nodes after commits that made work due.",
            hints.sent,
        );
        counter(
            "flyt_work_hints_received_total",
            "Wake-up hints received from other nodes.",
            hints.received,
        );
        counter(
            "flyt_work_hint_connects_total",
            "Times the hint connection (LISTEN) was established; above 1 it was lost and reconnected.",
            hints.connects,
        );
    }
    if let Some(retries) = rt.store().batch_retries() {
        counter(
            "flyt_store_batch_retries_total",
            "Batches sent to the database again because a concurrent transaction made it refuse them (serialization failure, deadlock, a key created meanwhile); each retry reads the checked keys afresh.",
            retries,
        );
    }
    counter(
        "flyt_commit_batches_total",
        "Durable writes (each one fsync).",
        store.batches,
    );
    counter(
        "flyt_commit_units_total",
        "Atomic units committed (grouped into batches).",
        store.units,
    );
    if let Some(hints) = hints {
        let _ = writeln!(
            out,
            "# HELP flyt_work_hints_listening Whether this node listens for other nodes' hints now (0: its worker relies on polling alone).\n# TYPE flyt_work_hints_listening gauge\nflyt_work_hints_listening {}",
            u8::from(hints.listening)
        );
    }
    state.inner.metrics.render(&mut out);
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4"),
        )],
        out,
    )
}
