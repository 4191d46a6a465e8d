//! `/internal/v1`: the token-protected work queue that stateless transcode workers (Jobs in a
//! cluster) use, and the stats the operator reads.
//!
//! A worker claims an item with a lease, reads its source with Range requests, renews the
//! lease with heartbeats, and uploads the finished package as a tar, which is published
//! atomically. A worker that stops heartbeating loses its lease and the item is queued again.

use super::AppState;
use super::api::ApiError;
use crate::catalog::Claim;
use crate::profiles::{Made, is_folder_name};
use crate::publish::Staging;
use crate::worker::{Retry, now_ms};
use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio::io::AsyncWriteExt as _;
use tower::ServiceExt as _;

/// Settings of the internal API (present only when the server was given a token).
#[derive(Clone, Debug)]
pub struct Internal {
    pub token: String,
    /// Every route but `/healthz` and `/metrics` wants the token (behind a front door).
    pub private: bool,
    pub lease: Duration,
    pub retry: Retry,
}

/// The routes below `/internal/v1`, for the route inventory.
pub const ROUTES: [(&str, &str); 6] = [
    ("POST", "/internal/v1/claim"),
    ("GET", "/internal/v1/stats"),
    ("POST", "/internal/v1/items/{id}/heartbeat"),
    ("GET", "/internal/v1/items/{id}/source"),
    ("PUT", "/internal/v1/items/{id}/package"),
    ("POST", "/internal/v1/items/{id}/fail"),
];

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/claim", post(claim))
        .route("/stats", get(stats))
        .route("/items/{id}/heartbeat", post(heartbeat))
        .route("/items/{id}/source", get(source))
        .route("/items/{id}/package", put(upload))
        .route("/items/{id}/fail", post(fail))
        .layer(DefaultBodyLimit::disable())
        .layer(middleware::from_fn_with_state(state, authorize))
}

impl Internal {
    /// Does the request carry the token?
    pub fn authorized(&self, headers: &axum::http::HeaderMap) -> bool {
        crate::auth::has_bearer(headers, &self.token)
    }
}

/// The answer to a request without the token.
pub fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Json(serde_json::json!({"error": "a valid token is required (Authorization: Bearer): this server answers its front door and its workers"})),
    )
        .into_response()
}

async fn authorize(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match &state.internal {
        Some(internal) if internal.authorized(req.headers()) => next.run(req).await,
        _ => unauthorized(),
    }
}

fn settings(state: &AppState) -> &Internal {
    state
        .internal
        .as_ref()
        .expect("routes exist only with settings")
}

/// A claim as the worker sees it: it sends `profile`, `version` and `attempt` back with every
/// call.
#[derive(Debug, Serialize, Deserialize, Clone)]
pub struct WorkItem {
    pub id: i64,
    pub profile: String,
    pub path: String,
    pub version: i64,
    pub attempt: u32,
    /// Path of the source on this server, for Range reads.
    pub source: String,
    /// How long the claim lasts without a heartbeat, in milliseconds.
    pub lease_ms: u64,
}

/// Identifies the claim a request is about (a query string on uploads, JSON elsewhere).
#[derive(Debug, Deserialize, Serialize)]
pub struct ClaimRef {
    pub profile: String,
    pub version: i64,
    pub attempt: u32,
}

/// A worker asks for a package to make with its profile (`made`: name and fingerprint). It
/// gets none when its profile is not one of the library's, or an older version of it.
async fn claim(
    State(state): State<AppState>,
    Json(made): Json<Made>,
) -> Result<Response, ApiError> {
    if !is_folder_name(&made.profile) {
        return Err(ApiError::BadRequest(format!(
            "{:?} is not a profile name (lowercase letters, digits and -)",
            made.profile
        )));
    }
    let lease = settings(&state).lease.as_millis() as i64;
    let now = now_ms();
    match state.catalog.claim(&made, now, now + lease)? {
        Some(c) => {
            tracing::info!(
                item = c.id,
                profile = c.profile,
                attempt = c.attempts,
                "claimed by a remote worker"
            );
            Ok(Json(WorkItem {
                source: format!("/internal/v1/items/{}/source", c.id),
                id: c.id,
                profile: c.profile,
                path: c.path,
                version: c.version,
                attempt: c.attempts,
                lease_ms: lease as u64,
            })
            .into_response())
        }
        None => {
            if !state.catalog.profiles()?.contains(&made.profile) {
                tracing::info!(
                    profile = made.profile,
                    "a worker asked for work with a profile this library does not use"
                );
            }
            Ok(StatusCode::NO_CONTENT.into_response())
        }
    }
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Heartbeat {
    #[serde(flatten)]
    pub claim: ClaimRef,
    pub progress: f64,
}

/// The claim the worker names, if it still holds it.
fn held(state: &AppState, id: i64, r: &ClaimRef) -> Result<Claim, ApiError> {
    match state.catalog.current_claim(id, &r.profile)? {
        Some(c) if c.version == r.version && c.attempts == r.attempt => Ok(c),
        _ => Err(ApiError::Conflict(format!(
            "item {id} is no longer claimed by this worker (lease expired or the file changed)"
        ))),
    }
}

async fn heartbeat(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(beat): Json<Heartbeat>,
) -> Result<StatusCode, ApiError> {
    let claim = held(&state, id, &beat.claim)?;
    let until = now_ms() + settings(&state).lease.as_millis() as i64;
    if state
        .catalog
        .renew_lease(&claim, until, beat.progress.clamp(0.0, 1.0))?
    {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::Conflict(format!("item {id} lost its lease")))
    }
}

async fn source(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    req: Request,
) -> Result<Response, ApiError> {
    let item = state
        .catalog
        .item(id)?
        .ok_or_else(|| ApiError::NotFound(format!("no item with id {id}")))?;
    let served = tower_http::services::ServeFile::new(&item.path)
        .oneshot(req)
        .await;
    match served {
        Ok(response) => Ok(response.into_response()),
        Err(never) => match never {},
    }
}

/// Receive the package as a tar, unpack it beside the published packages and publish it in
/// its profile's folder of the item.
async fn upload(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Query(r): Query<ClaimRef>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let claim = held(&state, id, &r)?;
    let staging = Staging::at(
        state
            .tmp_root
            .join(format!("{id}.{}.upload", claim.profile)),
    )
    .map_err(|e| internal(format!("cannot stage the upload: {e}")))?;
    let tar_path = staging.path().with_extension("tar");
    save(body, &tar_path).await?;
    let (catalog, hls_root, job) = (state.catalog.clone(), state.hls_root.clone(), claim.clone());
    let published = tokio::task::spawn_blocking(move || -> Result<(), String> {
        let file = std::fs::File::open(&tar_path).map_err(|e| e.to_string())?;
        let unpacked = tar::Archive::new(file).unpack(staging.path());
        let _ = std::fs::remove_file(&tar_path);
        unpacked.map_err(|e| format!("the package is not a valid tar: {e}"))?;
        for required in [crate::hls::MASTER, crate::hls::MANIFEST] {
            if !staging.path().join(required).is_file() {
                return Err(format!("the package has no {required}"));
            }
        }
        crate::worker::publish(&catalog, &hls_root, &job, staging)
            .map_err(|e| format!("cannot publish: {e}"))
    })
    .await
    .map_err(|e| internal(e.to_string()))?;
    published.map_err(ApiError::BadRequest)?;
    if !state.catalog.finish_ready(&claim)? {
        return Err(ApiError::Conflict(format!(
            "item {id} changed while it was transcoded"
        )));
    }
    tracing::info!(
        item = id,
        profile = claim.profile,
        "package uploaded by a remote worker is published"
    );
    Ok(StatusCode::NO_CONTENT)
}

async fn save(body: Body, path: &std::path::Path) -> Result<(), ApiError> {
    use futures_util::StreamExt as _;
    let mut file = tokio::fs::File::create(path)
        .await
        .map_err(|e| internal(format!("cannot store the upload: {e}")))?;
    let mut stream = body.into_data_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| ApiError::BadRequest(format!("upload interrupted: {e}")))?;
        file.write_all(&chunk)
            .await
            .map_err(|e| internal(format!("cannot store the upload: {e}")))?;
    }
    file.flush().await.map_err(|e| internal(e.to_string()))
}

fn internal(message: String) -> ApiError {
    tracing::error!(error = %message, "upload failed");
    ApiError::Internal(message)
}

#[derive(Debug, Deserialize, Serialize)]
pub struct Failure {
    #[serde(flatten)]
    pub claim: ClaimRef,
    pub error: String,
    /// Retrying the same file cannot help (damaged or unsupported media).
    pub permanent: bool,
}

async fn fail(
    State(state): State<AppState>,
    Path(id): Path<i64>,
    Json(f): Json<Failure>,
) -> Result<StatusCode, ApiError> {
    let claim = held(&state, id, &f.claim)?;
    let outcome =
        settings(&state)
            .retry
            .record_failure(&state.catalog, &claim, &f.error, !f.permanent);
    state.metrics.transcode_finished(outcome, 0.0);
    Ok(StatusCode::NO_CONTENT)
}

/// Item counts by state, for the operator's MediaLibrary status.
async fn stats(State(state): State<AppState>) -> Result<Json<serde_json::Value>, ApiError> {
    let counts = state.catalog.count_by_state()?;
    let claimable = state.catalog.claimable(now_ms())?;
    let total: i64 = counts.values().sum();
    Ok(Json(serde_json::json!({
        "total": total,
        "ready": counts["ready"],
        "pending": counts["pending"],
        // Packages a worker can make now, in all and by profile (the operator starts a Job per
        // profile with work); the others wait for a retry backoff.
        "claimable": claimable.values().sum::<i64>(),
        "claimableByProfile": claimable,
        "transcoding": counts["transcoding"],
        "failed": counts["failed"],
    })))
}
