//! `/api/v1/items`: the library and its queue.

use super::AppState;
use crate::auth::Principal;
use crate::auth::store::Resume;
use crate::catalog::{self, Item};
use crate::hls;
use crate::transcode::POSTER;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What every error answer holds.
#[derive(Serialize, utoipa::ToSchema)]
pub struct ErrorBody {
    /// What went wrong and what to do.
    pub error: String,
}

/// The one error type handlers return: a status and a message, never internals.
#[derive(Debug)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized(String),
    Forbidden(String),
    NotFound(String),
    TooMany(String),
    Conflict(String),
    Internal(String),
    /// A library server behind the front door gave no answer.
    BadGateway(String),
}

impl From<catalog::Error> for ApiError {
    fn from(e: catalog::Error) -> Self {
        tracing::error!(error = %e, "catalog request failed");
        ApiError::Internal("the catalog is unavailable; see the server log".into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::BadRequest(m) => (StatusCode::BAD_REQUEST, m),
            ApiError::Unauthorized(m) => (StatusCode::UNAUTHORIZED, m),
            ApiError::Forbidden(m) => (StatusCode::FORBIDDEN, m),
            ApiError::NotFound(m) => (StatusCode::NOT_FOUND, m),
            ApiError::TooMany(m) => (StatusCode::TOO_MANY_REQUESTS, m),
            ApiError::Conflict(m) => (StatusCode::CONFLICT, m),
            ApiError::Internal(m) => (StatusCode::INTERNAL_SERVER_ERROR, m),
            ApiError::BadGateway(m) => (StatusCode::BAD_GATEWAY, m),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// Whom an answer is for: with accounts, only the libraries they may see, and media URLs
/// signed for them; without (a cluster's library server), everything, with plain URLs.
pub struct Viewer<'a> {
    state: &'a AppState,
    principal: Option<&'a Principal>,
}

impl<'a> Viewer<'a> {
    pub fn new(state: &'a AppState, principal: Option<&'a Extension<Principal>>) -> Self {
        Self {
            state,
            principal: principal.map(|p| &p.0),
        }
    }

    pub fn sees(&self, library: Option<&str>) -> bool {
        match (self.principal, library) {
            (Some(p), Some(library)) => p.user.may_see(library),
            (Some(_), None) => false,
            (None, _) => self.state.auth.is_none(),
        }
    }

    /// An admin (who sees, on the hub, what the operator says of each library).
    pub fn is_admin(&self) -> bool {
        self.principal
            .is_some_and(|p| p.user.role == crate::auth::Role::Admin)
    }

    /// Where the viewer stopped in each item (nothing without accounts).
    pub fn positions(&self) -> Result<HashMap<i64, Resume>, ApiError> {
        match (self.principal, &self.state.auth) {
            (Some(p), Some(auth)) => auth.store().positions(p.user.id).map_err(|e| {
                tracing::error!(error = %e, "cannot read playback positions");
                ApiError::Internal("the account database is unavailable".into())
            }),
            _ => Ok(HashMap::new()),
        }
    }

    /// `path` (no leading `/`) of item `id`, signed for the viewer.
    pub fn url(&self, id: i64, path: &str) -> String {
        match (self.principal, &self.state.auth) {
            (Some(p), Some(auth)) => auth.sign(&p.user, id, path),
            _ => format!("/{path}"),
        }
    }
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct Listed {
    #[serde(flatten)]
    item: Item,
    library: Option<String>,
    /// The item's master playlist, once a package is published (signed with accounts).
    hls_url: Option<String>,
    poster_url: String,
    /// Where the viewer stopped watching (PUT /api/v1/items/{id}/position).
    resume: Option<Resume>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemList {
    items: Vec<Listed>,
}

#[utoipa::path(get, path = "/api/v1/items", tag = "library", responses((status = 200, body = ItemList), (status = 401, description = "not signed in", body = ErrorBody)))]
pub async fn list(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<ItemList>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let positions = viewer.positions()?;
    let items = state
        .catalog
        .items()?
        .into_iter()
        .filter_map(|item| {
            let library = state.libraries.of_path(&item.path).map(str::to_owned);
            if !viewer.sees(library.as_deref()) {
                return None;
            }
            let id = item.id;
            let master = state.hls_root.join(id.to_string()).join(hls::MASTER);
            Some(Listed {
                library,
                hls_url: master
                    .is_file()
                    .then(|| viewer.url(id, &format!("hls/{id}/{}", hls::MASTER))),
                poster_url: viewer.url(id, &format!("api/v1/items/{id}/poster")),
                resume: positions.get(&id).copied(),
                item,
            })
        })
        .collect();
    Ok(Json(ItemList { items }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LibraryInfo {
    pub(super) name: String,
    pub(super) items: usize,
    /// A scan of its folder is running now.
    pub(super) scanning: bool,
    /// When the last scan of its folder finished (ms since the Unix epoch).
    pub(super) last_scan_ms: Option<i64>,
    /// On the hub: why its library server gave no answer (its items are missing meanwhile).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) error: Option<String>,
    /// On the hub: the MediaLibrary's `Ready` condition, as the operator last saw it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub(super) state: Option<crate::hub::LibraryState>,
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct LibraryList {
    pub(super) libraries: Vec<LibraryInfo>,
    /// Friends share libraries with the viewer (P2P is on, and the viewer may see them): their
    /// items are at `GET /api/v1/peers/{peer}/items`.
    pub(super) friends: bool,
}

/// The libraries the viewer may see, with their item counts.
#[utoipa::path(get, path = "/api/v1/libraries", tag = "library", responses((status = 200, body = LibraryList), (status = 401, description = "not signed in", body = ErrorBody)))]
pub async fn libraries(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
) -> Result<Json<LibraryList>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let items = state.catalog.items()?;
    let libraries = state
        .libraries
        .list()
        .iter()
        .filter(|l| viewer.sees(Some(&l.name)))
        .map(|l| {
            let scan = state.libraries.scan_state(&l.name);
            LibraryInfo {
                name: l.name.clone(),
                items: items
                    .iter()
                    .filter(|i| state.libraries.of_path(&i.path) == Some(l.name.as_str()))
                    .count(),
                scanning: scan.scanning,
                last_scan_ms: scan.last_scan_ms,
                error: None,
                state: None,
            }
        })
        .collect();
    let friends = state.shares_friends() && viewer.sees(Some(crate::auth::FRIENDS_GRANT));
    Ok(Json(LibraryList { libraries, friends }))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ScanAsked {
    library: String,
}

/// Look for new, changed and removed files in a library's folder now (the folder is also
/// watched, and scanned every `--scan-interval`).
#[utoipa::path(post, path = "/api/v1/libraries/{name}/scan", tag = "library", params(("name" = String, Path, description = "library name")), responses((status = 202, description = "the scan starts now, or right after the one running", body = ScanAsked), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not an admin", body = ErrorBody), (status = 404, description = "no such library, or not yours to see", body = ErrorBody)))]
pub async fn scan(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(name): Path<String>,
) -> Result<(StatusCode, Json<ScanAsked>), ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    if !viewer.sees(Some(&name)) || !state.libraries.ask_scan(&name) {
        return Err(ApiError::NotFound(format!("no library named {name:?}")));
    }
    Ok((StatusCode::ACCEPTED, Json(ScanAsked { library: name })))
}

#[derive(Serialize, utoipa::ToSchema)]
pub struct ItemDetail {
    #[serde(flatten)]
    item: Item,
    streams: Vec<crate::probe::Stream>,
    container: Option<String>,
    /// Each profile's package of the item: its state, progress and error.
    packages: Vec<catalog::PackageState>,
    renditions: Vec<hls::Variant>,
    audio: Vec<hls::AudioRendition>,
    subtitles: Vec<SubtitleInfo>,
    warnings: Vec<String>,
    library: Option<String>,
    hls_url: Option<String>,
    /// WebVTT index of thumbnail sprites for scrubbing previews.
    thumbnails_url: Option<String>,
    poster_url: String,
    /// Where the viewer stopped watching.
    resume: Option<Resume>,
}

#[utoipa::path(get, path = "/api/v1/items/{id}", tag = "library", params(("id" = i64, Path, description = "item id")), responses((status = 200, body = ItemDetail), (status = 400, body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 404, description = "no such item, or not yours to see", body = ErrorBody)))]
pub async fn detail(
    State(state): State<AppState>,
    principal: Option<Extension<Principal>>,
    Path(id): Path<i64>,
) -> Result<Json<ItemDetail>, ApiError> {
    let viewer = Viewer::new(&state, principal.as_ref());
    let item = find(&state, id)?;
    let library = state.libraries.of_path(&item.path).map(str::to_owned);
    let probe: Option<crate::probe::MediaInfo> = item
        .probe
        .as_deref()
        .and_then(|p| serde_json::from_str(p).ok());
    let package = hls::Package::read(&state.hls_root.join(id.to_string())).ok();
    let shown = shown_package(&state, id, package.as_ref());
    Ok(Json(ItemDetail {
        streams: probe
            .as_ref()
            .map(|p| p.streams.clone())
            .unwrap_or_default(),
        container: probe.as_ref().map(|p| p.container.clone()),
        packages: state.catalog.packages_of(id)?,
        renditions: package
            .as_ref()
            .map(|p| p.variants.clone())
            .unwrap_or_default(),
        subtitles: subtitles(
            probe.as_ref().map_or(&[][..], |p| &p.streams),
            package.as_ref(),
        ),
        warnings: package
            .as_ref()
            .map(|p| p.warnings.clone())
            .unwrap_or_default(),
        audio: package.map(|p| p.audio).unwrap_or_default(),
        hls_url: shown
            .as_ref()
            .map(|s| viewer.url(id, s.master_url.trim_start_matches('/'))),
        thumbnails_url: shown.filter(|s| s.dir.join(THUMBNAILS).is_file()).map(|s| {
            viewer.url(
                id,
                &format!("{}/{THUMBNAILS}", s.url.trim_start_matches('/')),
            )
        }),
        poster_url: viewer.url(id, &format!("api/v1/items/{id}/poster")),
        resume: viewer.positions()?.get(&id).copied(),
        library,
        item,
    }))
}

/// A subtitle track of the source: converted to WebVTT, or why not.
#[derive(Serialize, utoipa::ToSchema)]
pub struct SubtitleInfo {
    source: String,
    codec: String,
    language: Option<String>,
    converted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<String>,
}

fn subtitles(
    streams: &[crate::probe::Stream],
    package: Option<&hls::Package>,
) -> Vec<SubtitleInfo> {
    const TEXT: &[&str] = &["subrip", "srt", "ass", "ssa", "mov_text", "webvtt", "text"];
    let embedded = streams.iter().filter(|s| s.kind == "subtitle").map(|s| {
        let converted = TEXT.contains(&s.codec.as_str());
        SubtitleInfo {
            source: format!("stream {}", s.index),
            codec: s.codec.clone(),
            language: s.language.clone(),
            converted,
            reason: (!converted).then(|| {
                format!(
                    "{} is an image-based subtitle format; only text subtitles can become WebVTT",
                    s.codec
                )
            }),
        }
    });
    let sidecars = package
        .into_iter()
        .flat_map(|p| &p.subtitles)
        .filter_map(|s| {
            let file = s.file.as_deref()?;
            Some(SubtitleInfo {
                source: file.to_owned(),
                codec: file.rsplit('.').next().unwrap_or_default().to_owned(),
                language: s.language.clone(),
                converted: true,
                reason: None,
            })
        });
    embedded.chain(sidecars).collect()
}

/// Move an item to the front of the queue (or queue it again if it failed or is ready).
#[utoipa::path(post, path = "/api/v1/items/{id}/transcode", tag = "library", params(("id" = i64, Path, description = "item id")), responses((status = 202, description = "queued first", body = crate::catalog::Item), (status = 401, description = "not signed in", body = ErrorBody), (status = 403, description = "not allowed", body = ErrorBody), (status = 404, description = "no such item, or not yours to see", body = ErrorBody), (status = 409, description = "the file cannot be transcoded", body = ErrorBody)))]
pub async fn transcode(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<(StatusCode, Json<Item>), ApiError> {
    let before = find(&state, id)?;
    if before.probe.is_none() {
        return Err(ApiError::Conflict(format!(
            "item {id} cannot be transcoded: {}",
            before
                .error
                .unwrap_or_else(|| "the file could not be read".into())
        )));
    }
    let item = state.catalog.prioritize(id)?.ok_or_else(|| not_found(id))?;
    state.queue.notify_waiters();
    Ok((StatusCode::ACCEPTED, Json(item)))
}

#[utoipa::path(get, path = "/api/v1/items/{id}/poster", tag = "library", params(("id" = i64, Path, description = "item id")), responses((status = 200, description = "JPEG", content_type = "image/jpeg"), (status = 401, description = "not signed in", body = ErrorBody), (status = 404, description = "no such item, or not yours to see", body = ErrorBody)))]
pub async fn poster(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    find(&state, id)?;
    let package = hls::Package::read(&state.hls_root.join(id.to_string())).ok();
    let published = shown_package(&state, id, package.as_ref()).filter(|s| !s.live);
    let Some(shown) = published else {
        return Err(ApiError::NotFound(format!(
            "item {id} has no poster until it is transcoded"
        )));
    };
    match tokio::fs::read(shown.dir.join(POSTER)).await {
        Ok(bytes) => Ok((
            [
                ("content-type", "image/jpeg"),
                ("cache-control", "no-cache"),
            ],
            bytes,
        )
            .into_response()),
        Err(_) => Err(ApiError::NotFound(format!(
            "item {id} has no poster until it is transcoded"
        ))),
    }
}

const THUMBNAILS: &str = "thumbs/thumbnails.vtt";

/// The package that stands for an item: the first profile's of its published ones, or else
/// the one its first transcode is writing (`tmp/{id}/{profile}`, playable from its first
/// segments).
struct Shown {
    /// Its folder, and its URL (`/hls/{id}/{profile}`).
    dir: std::path::PathBuf,
    url: String,
    /// What a player opens: the item's master over all packages, or the live package's own.
    master_url: String,
    live: bool,
}

fn shown_package(state: &AppState, id: i64, merged: Option<&hls::Package>) -> Option<Shown> {
    let item = id.to_string();
    if let Some(merged) = merged {
        // A package from before profiles had folders sits in the item's folder itself.
        let folder = merged
            .profiles
            .first()
            .map_or(String::new(), |p| format!("/{p}"));
        return Some(Shown {
            dir: state.hls_root.join(format!("{item}{folder}")),
            url: format!("/hls/{id}{folder}"),
            master_url: format!("/hls/{id}/{}", hls::MASTER),
            live: false,
        });
    }
    let profiles = state.catalog.profiles().ok()?;
    let profile = profiles.iter().find(|p| {
        state
            .tmp_root
            .join(&item)
            .join(p)
            .join(hls::MASTER)
            .is_file()
    })?;
    Some(Shown {
        dir: state.tmp_root.join(&item).join(profile),
        url: format!("/hls/{id}/{profile}"),
        master_url: format!("/hls/{id}/{profile}/{}", hls::MASTER),
        live: true,
    })
}

fn find(state: &AppState, id: i64) -> Result<Item, ApiError> {
    state.catalog.item(id)?.ok_or_else(|| not_found(id))
}

fn not_found(id: i64) -> ApiError {
    ApiError::NotFound(format!("no item with id {id}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(index: usize, codec: &str, language: &str) -> crate::probe::Stream {
        crate::probe::Stream {
            index,
            kind: "subtitle".into(),
            codec: codec.into(),
            profile: None,
            level: None,
            pixel_format: None,
            width: None,
            height: None,
            frame_rate: None,
            bit_rate: None,
            channels: None,
            sample_rate: None,
            language: Some(language.into()),
            title: None,
            default: false,
        }
    }

    #[test]
    fn image_subtitles_are_listed_with_the_reason_they_are_not_offered() {
        let streams = [
            stream(2, "subrip", "eng"),
            stream(3, "hdmv_pgs_subtitle", "fra"),
            stream(4, "dvd_subtitle", "deu"),
        ];
        let listed = subtitles(&streams, None);
        assert_eq!(listed.len(), 3);
        assert!(listed[0].converted && listed[0].reason.is_none());
        for s in &listed[1..] {
            assert!(!s.converted);
            assert!(
                s.reason.as_deref().unwrap().contains("image-based"),
                "{:?}",
                s.reason
            );
        }
        let json = serde_json::to_value(&listed[1]).unwrap();
        assert_eq!(json["source"], "stream 3");
        assert_eq!(json["language"], "fra");
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Seconds into the item; 0 forgets the position (watched to the end, or started over).
    position_s: f64,
}

/// Remember where the caller stopped watching an item, for "continue watching" and resume on
/// every device.
#[utoipa::path(put, path = "/api/v1/items/{id}/position", tag = "library", params(("id" = i64, Path, description = "item id")), request_body = Position, responses((status = 204), (status = 400, body = ErrorBody), (status = 401, description = "not signed in", body = ErrorBody), (status = 404, description = "no such item, or not yours to see", body = ErrorBody)))]
pub async fn position(
    State(state): State<AppState>,
    Extension(principal): Extension<Principal>,
    Path(id): Path<i64>,
    Json(body): Json<Position>,
) -> Result<StatusCode, ApiError> {
    // A week of video is more than any item; NaN and negatives are no position.
    if !(0.0..=7.0 * 86400.0).contains(&body.position_s) {
        return Err(ApiError::BadRequest(
            "position_s must be a number of seconds from 0 to 604800".into(),
        ));
    }
    let auth = state
        .auth
        .clone()
        .ok_or_else(|| ApiError::NotFound("this server has no accounts".into()))?;
    let user = principal.user.id;
    super::account::blocking("saving the position", move || {
        auth.store()
            .set_position(user, id, body.position_s, crate::auth::now_ms())
    })
    .await?
    .map_err(|e| {
        tracing::error!(error = %e, "cannot save a playback position");
        ApiError::Internal("the account database is unavailable".into())
    })?;
    Ok(StatusCode::NO_CONTENT)
}
