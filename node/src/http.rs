//! The HTTP server: JSON API, HLS files, metrics, health and the web app, in one `router()`.

mod api;
mod files;
pub mod internal;
mod web;

use crate::catalog::Catalog;
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub catalog: Catalog,
    /// Published packages, one folder per item id.
    pub hls_root: PathBuf,
    /// Packages being written, one folder per item id (served until published).
    pub tmp_root: PathBuf,
    pub metrics: Arc<Metrics>,
    /// Wakes the transcode workers when the queue changes.
    pub queue: Arc<tokio::sync::Notify>,
    /// The remote workers' API, when the server has a worker token.
    pub internal: Option<internal::Internal>,
}

pub fn router(state: AppState) -> Router {
    let mut router = Router::new();
    if state.internal.is_some() {
        router = router.nest("/internal/v1", internal::router(state.clone()));
    }
    router
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/api/v1/items", get(api::list))
        .route("/api/v1/items/{id}", get(api::detail))
        .route("/api/v1/items/{id}/transcode", post(api::transcode))
        .route("/api/v1/items/{id}/poster", get(api::poster))
        .nest_service(
            "/hls",
            files::service(state.hls_root.clone(), state.tmp_root.clone()),
        )
        .fallback(web::asset)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state)
}

async fn metrics(State(state): State<AppState>) -> Result<Response, api::ApiError> {
    let counts = state.catalog.count_by_state()?;
    let body = state.metrics.render(&counts);
    Ok((
        [(
            "content-type",
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        body,
    )
        .into_response())
}

/// Record latency per route and bytes served.
async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = match req.extensions().get::<MatchedPath>() {
        Some(p) => p.as_str().to_owned(),
        None if req.uri().path().starts_with("/hls/") => "/hls".to_owned(),
        None => "other".to_owned(),
    };
    let method = req.method().to_string();
    let response = next.run(req).await;
    let bytes = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    state.metrics.bytes_served.inc_by(bytes);
    state
        .metrics
        .http_seconds
        .get_or_create(&crate::metrics::HttpLabels {
            route,
            method,
            status: response.status().as_u16().to_string(),
        })
        .observe(started.elapsed().as_secs_f64());
    response
}
