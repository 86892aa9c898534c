//! Operations: health, the OpenAPI document, Prometheus metrics.

use actix_web::{HttpResponse, get, http::header, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
use crate::metrics::Gauges;
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    #[schema(example = "ok")]
    pub status: String,
    #[schema(example = "ok")]
    pub database: String,
    #[schema(example = "0.1.0")]
    pub version: String,
}

/// Liveness and database reachability.
#[utoipa::path(
    tag = "operations",
    responses(
        (status = 200, description = "Up, and the database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/api/health")]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.accounts.database_ping().await.map_err(|e| match e {
        ApiError::Unavailable(cause) => ApiError::Unavailable(cause),
        other => ApiError::Unavailable(other.into()),
    })?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".into(),
        database: "ok".into(),
        version: env!("CARGO_PKG_VERSION").into(),
    }))
}

/// The OpenAPI document, serialised once at start-up.
#[derive(Debug, Clone)]
pub struct OpenApiJson(pub String);

/// This document (OpenAPI 3.1, the same content as `openapi.yaml`).
#[utoipa::path(
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
#[get("/api/openapi.json")]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(doc.0.clone())
}

/// Prometheus metrics (text exposition format). Unauthenticated: expose it to your monitoring
/// network only.
#[utoipa::path(
    tag = "operations",
    operation_id = "metrics",
    responses(
        (status = 200, description = "Metrics in the Prometheus text exposition format", content_type = "text/plain", body = String),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let pool = state.accounts.passwords().pool();
    let gauges = Gauges {
        hash_queue_depth: pool.queue_depth(),
        hash_threads_busy: pool.busy_threads(),
        active_sessions: state.accounts.count_live_sessions().await?,
        open_connections: state.connections.open(),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(state.metrics.render(gauges)))
}
