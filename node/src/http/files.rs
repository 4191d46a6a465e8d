//! `/hls/{id}/…`: published packages, with HLS MIME types, Range, gzip for playlists and
//! immutable caching for segments. ServeDir refuses any path that leaves the root.

use axum::Router;
use axum::extract::Request;
use axum::http::HeaderValue;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::middleware::{self, Next};
use axum::response::Response;
use std::path::PathBuf;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::Predicate;
use tower_http::services::ServeDir;

pub fn service(root: PathBuf) -> Router {
    Router::new()
        .fallback_service(ServeDir::new(root).append_index_html_on_directories(false))
        .layer(middleware::from_fn(headers))
        .layer(CompressionLayer::new().compress_when(OnlyPlaylists))
}

/// (content type, cache policy) by file extension.
fn kind(path: &str) -> Option<(&'static str, &'static str)> {
    const IMMUTABLE: &str = "public, max-age=31536000, immutable";
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "m3u8" => ("application/vnd.apple.mpegurl", "no-cache"),
        "m4s" => ("video/iso.segment", IMMUTABLE),
        "mp4" => ("video/mp4", IMMUTABLE),
        "vtt" => ("text/vtt; charset=utf-8", IMMUTABLE),
        "jpg" => ("image/jpeg", "no-cache"),
        "json" => ("application/json", "no-cache"),
        _ => return None,
    })
}

async fn headers(req: Request, next: Next) -> Response {
    let kind = kind(req.uri().path());
    let mut response = next.run(req).await;
    if let (Some((mime, cache)), true) = (kind, response.status().is_success()) {
        let h = response.headers_mut();
        h.insert(CONTENT_TYPE, HeaderValue::from_static(mime));
        h.insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    }
    response
}

#[derive(Clone, Copy)]
struct OnlyPlaylists;

impl Predicate for OnlyPlaylists {
    fn should_compress<B>(&self, response: &axum::http::Response<B>) -> bool
    where
        B: axum::body::HttpBody,
    {
        response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.as_bytes().starts_with(b"application/vnd.apple.mpegurl"))
    }
}
