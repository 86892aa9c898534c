//! Health and the OpenAPI document.

use actix_web::{HttpResponse, http::header, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db;
use crate::error::{ApiError, Problem};
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
    get,
    path = "/api/health",
    tag = "operations",
    responses(
        (status = 200, description = "Up, and the database answers", body = Health),
        (status = 503, description = "The database does not answer", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn health(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db(|c| Ok(db::ping(c)?)).await.map_err(|e| match e {
        ApiError::Unavailable(why) => ApiError::Unavailable(why),
        other => ApiError::Unavailable(other.to_string()),
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
    get,
    path = "/api/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi_json(doc: web::Data<OpenApiJson>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .content_type("application/json")
        .body(doc.0.clone())
}
