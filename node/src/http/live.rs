//! The admin's live view: who streams what, transcodes in progress, CPU, memory, bytes served
//! and P2P traffic, as one JSON (`GET /api/v1/admin/stats`) or every 2 s as server-sent events
//! (`GET /api/v1/admin/live`). `/metrics` carries the same figures.

use super::AppState;
use super::api::{ApiError, ErrorBody};
use crate::catalog::State as ItemState;
use crate::live::Active;
use axum::Json;
use axum::extract::State;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Serialize;
use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

/// How often the live view is sent.
const EVERY: Duration = Duration::from_secs(2);

/// The server now.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Snapshot {
    /// Milliseconds since the Unix epoch.
    time_ms: i64,
    /// Streams in progress: a media segment fetched in the last 30 s.
    streams: Vec<Stream_>,
    /// Items being transcoded, with their progress (0 to 1).
    transcoding: Vec<Transcoding>,
    /// Items by state.
    items: HashMap<&'static str, i64>,
    /// CPU use of this process since the last reading, % of one core.
    cpu_percent: f64,
    rss_bytes: u64,
    /// HTTP response bytes since start, and per second since the last reading.
    bytes_served: u64,
    bytes_per_second: f64,
    /// Bytes sent to and received from friends (with `--identity`).
    p2p: Option<P2p>,
}

/// A stream, with the item's title.
#[derive(Serialize, utoipa::ToSchema)]
struct Stream_ {
    #[serde(flatten)]
    active: Active,
    title: Option<String>,
}

#[derive(Serialize, utoipa::ToSchema)]
struct Transcoding {
    id: i64,
    title: String,
    progress: f64,
}

#[derive(Serialize, utoipa::ToSchema)]
struct P2p {
    bytes_up: u64,
    bytes_down: u64,
    peers_connected: usize,
}

fn snapshot(state: &AppState) -> Result<Snapshot, ApiError> {
    let unavailable = |e: crate::catalog::Error| {
        tracing::error!(error = %e, "cannot read the catalog for the live view");
        ApiError::Internal("the catalog is unavailable".into())
    };
    let items = state.catalog.items().map_err(unavailable)?;
    let titles: HashMap<i64, &str> = items.iter().map(|i| (i.id, i.title.as_str())).collect();
    let streams = state
        .metrics
        .streams
        .active()
        .into_iter()
        .map(|active| Stream_ {
            title: titles.get(&active.item).map(|t| (*t).to_owned()),
            active,
        })
        .collect();
    let transcoding = items
        .iter()
        .filter(|i| i.state == ItemState::Transcoding)
        .map(|i| Transcoding {
            id: i.id,
            title: i.title.clone(),
            progress: i.progress,
        })
        .collect();
    let process = crate::live::process();
    let bytes_served = state.metrics.bytes_served.get();
    let (cpu_percent, bytes_per_second) = state
        .metrics
        .rates
        .since_last(process.map_or(0.0, |p| p.cpu_seconds), bytes_served);
    let p2p = state.p2p.as_ref().map(|gateway| {
        let peers = gateway.peers();
        P2p {
            bytes_up: peers.iter().map(|p| p.traffic.bytes_up).sum(),
            bytes_down: peers.iter().map(|p| p.traffic.bytes_down).sum(),
            peers_connected: peers.iter().filter(|p| p.connected).count(),
        }
    });
    Ok(Snapshot {
        time_ms: std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        streams,
        transcoding,
        // By state, from the items read above (one catalog read per snapshot).
        items: ItemState::ALL
            .iter()
            .map(|s| {
                let n = items.iter().filter(|i| i.state == *s).count();
                (s.as_str(), i64::try_from(n).unwrap_or(i64::MAX))
            })
            .collect(),
        cpu_percent: (cpu_percent * 10.0).round() / 10.0,
        rss_bytes: process.map_or(0, |p| p.rss_bytes),
        bytes_served,
        bytes_per_second: bytes_per_second.round(),
        p2p,
    })
}

/// The server now, once.
#[utoipa::path(get, path = "/api/v1/admin/stats", tag = "admin", responses((status = 200, body = Snapshot), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn stats(State(state): State<AppState>) -> Result<Json<Snapshot>, ApiError> {
    Ok(Json(snapshot(&state)?))
}

/// The server now, every 2 s, as server-sent events (`event: stats`, the same JSON as
/// `/api/v1/admin/stats`).
#[utoipa::path(get, path = "/api/v1/admin/live", tag = "admin", responses((status = 200, description = "text/event-stream of `stats` events", content_type = "text/event-stream"), (status = 403, description = "not an admin", body = ErrorBody)))]
pub async fn events(
    State(state): State<AppState>,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = tokio_stream_interval(EVERY);
    let stream = futures_util::StreamExt::filter_map(ticks, move |()| {
        let state = state.clone();
        async move {
            match snapshot(&state).and_then(|s| {
                Event::default()
                    .event("stats")
                    .json_data(s)
                    .map_err(|e| ApiError::Internal(e.to_string()))
            }) {
                Ok(event) => Some(Ok(event)),
                Err(_) => None,
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

/// A tick at once, then every `period`.
fn tokio_stream_interval(period: Duration) -> impl Stream<Item = ()> {
    futures_util::stream::unfold(tokio::time::interval(period), |mut interval| async move {
        interval.tick().await;
        Some(((), interval))
    })
}
