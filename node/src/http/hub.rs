//! The front door's answers to the library routes (`manofwar hub`): the same paths and shapes as
//! `up`'s, made from the library servers' answers. Ids are the hub's; URLs are signed for the
//! viewer; `/hls/…` and posters are streamed through from the server that has them.

use super::AppState;
use super::api::{ApiError, LibraryInfo, LibraryList, Viewer};
use crate::auth::Principal;
use crate::auth::store::Resume;
use crate::hub::{Hub, Upstream, UpstreamError};
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::header::{self, HeaderName};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Headers a player's request passes on to the library server, and the answer's passed back.
const ASKED: [HeaderName; 4] = [
    header::RANGE,
    header::IF_NONE_MATCH,
    header::IF_MODIFIED_SINCE,
    header::ACCEPT_ENCODING,
];
const ANSWERED: [HeaderName; 9] = [
    header::CONTENT_TYPE,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::CONTENT_ENCODING,
    header::ACCEPT_RANGES,
    header::CACHE_CONTROL,
    header::ETAG,
    header::LAST_MODIFIED,
    header::VARY,
];
/// A master playlist read whole (to take out variants above a user's bit-rate limit).
const MASTER_LIMIT: usize = 1024 * 1024;

pub(super) fn hub(state: &AppState) -> &Hub {
    state
        .hub
        .as_ref()
        .expect("hub routes exist only in the hub")
}

impl From<UpstreamError> for ApiError {
    fn from(e: UpstreamError) -> Self {
        tracing::warn!(error = %e, "library server request failed");
        ApiError::BadGateway(e.to_string())
    }
}

fn ids_error(e: rusqlite::Error) -> ApiError {
    tracing::error!(error = %e, "the hub's item ids are unavailable");
    ApiError::Internal("the hub's database is unavailable; see its log".into())
}

/// Make a server's item the hub's: its id, its library's name, and URLs signed for `viewer`.
fn adopt(
    hub: &Hub,
    viewer: &Viewer,
    positions: &HashMap<i64, Resume>,
    library: &Upstream,
    mut item: Value,
) -> Result<Value, ApiError> {
    let remote = item["id"]
        .as_i64()
        .ok_or_else(|| UpstreamError::Body(library.label(), "an item without id".into()))?;
    let id = hub.id(library, remote).map_err(ids_error)?;
    let object = item
        .as_object_mut()
        .ok_or_else(|| UpstreamError::Body(library.label(), "an item that is no object".into()))?;
    object.insert("id".into(), json!(id));
    object.insert("library".into(), json!(library.shown));
    object.insert("resume".into(), json!(positions.get(&id)));
    for field in ["hls_url", "thumbnails_url", "poster_url"] {
        if let Some(url) = object.get(field).and_then(Value::as_str) {
            let ours = local_path(url, remote, id).map(|path| viewer.url(id, &path));
            object.insert(field.into(), json!(ours));
        }
    }
    Ok(item)
}

/// A server's media URL of item `remote` as the hub's path (no leading `/`) for item `id`.
fn local_path(url: &str, remote: i64, id: i64) -> Option<String> {
    if let Some(rest) = url.strip_prefix(&format!("/hls/{remote}/")) {
        return Some(format!("hls/{id}/{rest}"));
    }
    (url == format!("/api/v1/items/{remote}/poster")).then(|| format!("api/v1/items/{id}/poster"))
}

/// Every library the viewer may see, each with its server's answer to `GET /api/v1/items`
/// (an error when it gave none).
async fn listings(
    state: &AppState,
    viewer: &Viewer<'_>,
) -> Vec<(Upstream, Result<Vec<Value>, UpstreamError>)> {
    let hub = hub(state);
    let visible: Vec<Upstream> = hub
        .libraries()
        .iter()
        .filter(|l| viewer.sees(Some(&l.shown)))
        .cloned()
        .collect();
    let asks = visible.iter().map(|library| async move {
        let answer = hub.json(library, Method::GET, "/api/v1/items").await;
        answer.map(|found| {
            found
                .and_then(|(_, mut v)| v.get_mut("items").map(Value::take))
                .and_then(|items| serde_json::from_value(items).ok())
                .unwrap_or_default()
        })
    });
    let answers = futures_util::future::join_all(asks).await;
    visible.into_iter().zip(answers).collect()
}

pub async fn list(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let positions = viewer.positions()?;
    let mut items = Vec::new();
    for (library, listing) in listings(&state, &viewer).await {
        match listing {
            Ok(listing) => {
                for item in listing {
                    items.push(adopt(hub(&state), &viewer, &positions, &library, item)?);
                }
            }
            // One server down does not hide the others' items.
            Err(error) => {
                tracing::warn!(library = %library.shown, %error, "a library is missing from the listing")
            }
        }
    }
    Ok(Json(json!({ "items": items })))
}

pub async fn libraries(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<LibraryList>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let admin = viewer.is_admin();
    let libraries = listings(&state, &viewer)
        .await
        .into_iter()
        .map(|(library, listing)| LibraryInfo {
            items: listing.as_ref().map_or(0, Vec::len),
            error: listing.err().map(|e| e.to_string()),
            // Its server's scans are not asked for: the hub shows what the operator saw.
            scanning: false,
            last_scan_ms: None,
            state: library.state.filter(|_| admin),
            name: library.shown,
        })
        .collect();
    let friends = state.shares_friends() && viewer.sees(Some(crate::auth::FRIENDS_GRANT));
    Ok(Json(LibraryList { libraries, friends }))
}

fn find(state: &AppState, id: i64) -> Result<(Upstream, i64), ApiError> {
    hub(state)
        .item(id)
        .map_err(ids_error)?
        .ok_or_else(|| ApiError::NotFound(format!("no item with id {id}")))
}

pub async fn detail(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> Result<Json<Value>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let (library, remote) = find(&state, id)?;
    let path = format!("/api/v1/items/{remote}");
    match hub(&state).json(&library, Method::GET, &path).await? {
        Some((_, item)) => {
            let positions = viewer.positions()?;
            Ok(Json(adopt(
                hub(&state),
                &viewer,
                &positions,
                &library,
                item,
            )?))
        }
        None => Err(ApiError::NotFound(format!("no item with id {id}"))),
    }
}

pub async fn transcode(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let (library, remote) = find(&state, id)?;
    let path = format!("/api/v1/items/{remote}/transcode");
    match hub(&state).json(&library, Method::POST, &path).await? {
        Some((status, item)) if status.is_success() => {
            let positions = viewer.positions()?;
            let item = adopt(hub(&state), &viewer, &positions, &library, item)?;
            Ok((status, Json(item)).into_response())
        }
        // The server's refusal (409: not transcodable) says why, in its words.
        Some((status, body)) => Ok((status, Json(body)).into_response()),
        None => Err(ApiError::NotFound(format!("no item with id {id}"))),
    }
}

/// Scan now, on the library server of library `name` (its one library, whatever it calls it).
pub async fn scan(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let hub = hub(&state);
    let libraries = hub.libraries();
    let not_found = || ApiError::NotFound(format!("no library named {name:?}"));
    let library = libraries
        .iter()
        .find(|l| l.shown == name && viewer.sees(Some(&l.shown)))
        .ok_or_else(not_found)?;
    let own: Vec<String> = match hub.json(library, Method::GET, "/api/v1/libraries").await? {
        Some((_, answer)) => answer["libraries"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| l["name"].as_str().map(str::to_owned))
            .collect(),
        None => Vec::new(),
    };
    for remote in &own {
        // Names may hold spaces; the rest of what a name may hold is safe in a path.
        let path = format!("/api/v1/libraries/{}/scan", remote.replace(' ', "%20"));
        match hub.json(library, Method::POST, &path).await? {
            Some((status, _)) if status.is_success() => {}
            Some((status, body)) => return Ok((status, Json(body)).into_response()),
            None => return Err(not_found()),
        }
    }
    if own.is_empty() {
        return Err(not_found());
    }
    Ok((StatusCode::ACCEPTED, Json(json!({ "library": name }))).into_response())
}

pub async fn poster(State(state): State<AppState>, Path(id): Path<i64>, req: Request) -> Response {
    let (library, remote) = match find(&state, id) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    pass(
        &state,
        &library,
        &format!("/api/v1/items/{remote}/poster"),
        req,
    )
    .await
}

/// `/hls/{id}/{*path}`: the package's files, from its library server.
pub async fn media(
    State(state): State<AppState>,
    Path((id, path)): Path<(i64, String)>,
    req: Request,
) -> Response {
    if !plain(&path) {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    let (library, remote) = match find(&state, id) {
        Ok(found) => found,
        Err(e) => return e.into_response(),
    };
    let mut target = format!("/hls/{remote}/{path}");
    if let Some(query) = req.uri().query() {
        target = format!("{target}?{query}");
    }
    let cap = req
        .extensions()
        .get::<Principal>()
        .and_then(|p| p.user.max_kbps)
        .filter(|_| path.ends_with(crate::hls::MASTER));
    match cap {
        Some(kbps) => capped_master(&state, &library, &target, kbps).await,
        None => pass(&state, &library, &target, req).await,
    }
}

/// A path inside a package: names of letters, digits, `.`, `_` and `-`, none hidden, nothing
/// that climbs out (`..`) or is encoded.
pub(super) fn plain(path: &str) -> bool {
    !path.is_empty()
        && path.split('/').all(|part| {
            !part.is_empty()
                && !part.starts_with('.')
                && part
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
        })
}

/// Stream the library server's answer to `path` back, with the headers a player needs.
async fn pass(state: &AppState, library: &Upstream, path: &str, req: Request) -> Response {
    match hub(state)
        .send(library, Method::GET, path, asked(&req, &[]))
        .await
    {
        Ok(answer) => answer_back(answer),
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// The headers of a player's request (`ASKED`, and `also`) that go on to the upstream: never
/// the caller's credentials.
pub(super) fn asked(req: &Request, also: &[HeaderName]) -> HeaderMap {
    ASKED
        .iter()
        .chain(also)
        .filter_map(|name| Some((name.clone(), req.headers().get(name)?.clone())))
        .collect()
}

/// An upstream's answer, streamed back with the headers a player needs.
pub(super) fn answer_back(answer: axum::http::Response<hyper::body::Incoming>) -> Response {
    let (parts, body) = answer.into_parts();
    let mut response = Response::new(Body::new(body));
    *response.status_mut() = parts.status;
    for name in ANSWERED {
        if let Some(value) = parts.headers.get(&name) {
            response.headers_mut().insert(name, value.clone());
        }
    }
    response
}

/// A master playlist without the variants above `kbps`.
async fn capped_master(state: &AppState, library: &Upstream, path: &str, kbps: u32) -> Response {
    use http_body_util::BodyExt as _;
    let answer = match hub(state)
        .send(library, Method::GET, path, HeaderMap::new())
        .await
    {
        Ok(answer) if answer.status().is_success() => answer,
        Ok(answer) => return (answer.status(), "not found\n").into_response(),
        Err(e) => return ApiError::from(e).into_response(),
    };
    let limited = http_body_util::Limited::new(answer.into_body(), MASTER_LIMIT);
    match limited.collect().await.map(|b| b.to_bytes()) {
        Ok(bytes) => {
            let master = String::from_utf8_lossy(&bytes);
            (
                [
                    (header::CONTENT_TYPE, "application/vnd.apple.mpegurl"),
                    (header::CACHE_CONTROL, "no-cache"),
                ],
                crate::hls::cap_master(&master, u64::from(kbps) * 1000),
            )
                .into_response()
        }
        Err(e) => {
            ApiError::Internal(format!("reading the master playlist failed: {e}")).into_response()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_urls_become_the_hubs() {
        assert_eq!(
            local_path("/hls/7/master.m3u8", 7, 31).as_deref(),
            Some("hls/31/master.m3u8")
        );
        assert_eq!(
            local_path("/hls/7/standard/thumbs/thumbnails.vtt", 7, 31).as_deref(),
            Some("hls/31/standard/thumbs/thumbnails.vtt")
        );
        assert_eq!(
            local_path("/api/v1/items/7/poster", 7, 31).as_deref(),
            Some("api/v1/items/31/poster")
        );
        assert_eq!(local_path("/hls/70/master.m3u8", 7, 31), None);
        assert_eq!(local_path("https://elsewhere/x", 7, 31), None);
    }
}
