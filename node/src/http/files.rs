//! `/hls/{id}/…`: packages, with HLS MIME types, Range, gzip for playlists and immutable
//! caching for segments. An item's master playlist and each profile's package
//! (`hls/{id}/{profile}`) are served once published; while a profile's first package is
//! written (`tmp/{id}/{profile}`), it is served so playback starts early.
//! Only plain relative paths are accepted: nothing outside those folders is reachable.

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use std::path::{Component, PathBuf};
use std::sync::Arc;
use tower::ServiceExt as _;
use tower_http::compression::CompressionLayer;
use tower_http::compression::predicate::Predicate;
use tower_http::services::ServeFile;

const READ_CHUNK: usize = 512 * 1024;

#[derive(Clone)]
struct Roots {
    published: PathBuf,
    in_progress: PathBuf,
}

pub fn service(published: PathBuf, in_progress: PathBuf) -> Router {
    Router::new()
        .route("/{id}/{*path}", get(serve))
        .with_state(Arc::new(Roots {
            published,
            in_progress,
        }))
        .layer(middleware::from_fn(headers))
        .layer(CompressionLayer::new().compress_when(OnlyPlaylists))
}

async fn serve(
    State(roots): State<Arc<Roots>>,
    Path((id, path)): Path<(u64, String)>,
    req: Request,
) -> Response {
    let relative = PathBuf::from(&path);
    let plain = relative
        .components()
        .all(|c| matches!(c, Component::Normal(n) if !n.to_string_lossy().starts_with('.')));
    if !plain || path.contains('\\') {
        return (StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    // By the first folder (a profile's package) or file (the item's master): published, or
    // else still being written. A player that opened a package while it was written goes on
    // with the published one.
    let id = id.to_string();
    let published = roots.published.join(&id);
    let first = relative.components().next().map(|c| c.as_os_str());
    let dir = if first.is_some_and(|f| published.join(f).exists()) {
        published
    } else {
        roots.in_progress.join(&id)
    };
    let cap = req
        .extensions()
        .get::<crate::auth::Principal>()
        .and_then(|p| p.user.max_kbps);
    // `master.m3u8?rendition=720p`: that rendition alone (an offline copy's).
    let rendition = req.uri().query().and_then(|q| {
        q.split('&')
            .find_map(|p| p.strip_prefix("rendition="))
            .map(str::to_owned)
    });
    if (cap.is_some() || rendition.is_some()) && path.ends_with(crate::hls::MASTER) {
        let Ok(mut master) = tokio::fs::read_to_string(dir.join(relative)).await else {
            return (StatusCode::NOT_FOUND, "not found\n").into_response();
        };
        if let Some(name) = rendition {
            master = match crate::hls::one_rendition(&master, &name) {
                Ok(one) => one,
                Err(have) => {
                    let why = format!(
                        "no rendition {name:?}; this item has: {}\n",
                        have.join(", ")
                    );
                    return (StatusCode::NOT_FOUND, why).into_response();
                }
            };
        }
        // A user with a bit-rate limit gets a master playlist without the variants above it.
        if let Some(kbps) = cap {
            master = crate::hls::cap_master(&master, u64::from(kbps) * 1000);
        }
        return master.into_response();
    }
    // Segments are megabytes: large reads mean fewer hops to the blocking file threads.
    let file = ServeFile::new(dir.join(relative)).with_buf_chunk_size(READ_CHUNK);
    match file.oneshot(req).await {
        Ok(response) => response.into_response(),
        Err(never) => match never {},
    }
}

/// (content type, cache policy) by file extension. Media files are cached for good when their
/// URL is versioned (`?v=`, as published playlists name them: see `hls::stamp`); unversioned
/// ones (a package still being written) are revalidated.
fn kind(path: &str, versioned: bool) -> Option<(&'static str, &'static str)> {
    let media = if versioned {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let ext = path.rsplit_once('.')?.1;
    Some(match ext {
        "m3u8" => ("application/vnd.apple.mpegurl", "no-cache"),
        "m4s" => ("video/iso.segment", media),
        "mp4" => ("video/mp4", media),
        "vtt" => ("text/vtt; charset=utf-8", media),
        "jpg" => ("image/jpeg", "no-cache"),
        "json" => ("application/json", "no-cache"),
        _ => return None,
    })
}

async fn headers(req: Request, next: Next) -> Response {
    let versioned = req
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("v=")));
    let kind = kind(req.uri().path(), versioned);
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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use http_body_util::BodyExt as _;

    fn fixture() -> (tempfile::TempDir, Router) {
        let dir = tempfile::tempdir().unwrap();
        let published = dir.path().join("hls");
        let in_progress = dir.path().join("tmp");
        std::fs::create_dir_all(published.join("1/standard/720p")).unwrap();
        std::fs::create_dir_all(in_progress.join("1/mobile")).unwrap();
        std::fs::create_dir_all(in_progress.join("2/standard")).unwrap();
        let playlist = "#EXTM3U\n".repeat(100);
        std::fs::write(published.join("1/master.m3u8"), &playlist).unwrap();
        std::fs::write(
            published.join("1/standard/720p/seg_00000.m4s"),
            vec![7u8; 1000],
        )
        .unwrap();
        std::fs::write(
            in_progress.join("1/mobile/master.m3u8"),
            "#EXTM3U\n#mobile\n",
        )
        .unwrap();
        std::fs::write(
            in_progress.join("2/standard/master.m3u8"),
            "#EXTM3U\n#live\n",
        )
        .unwrap();
        std::fs::write(dir.path().join("catalog.sqlite"), "SQLite format 3").unwrap();
        (dir, service(published, in_progress))
    }

    async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
        let mut req = Request::get(uri);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        app.clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn playlists_are_gzipped_and_not_cached() {
        let (_dir, app) = fixture();
        let r = get(&app, "/1/master.m3u8", &[("accept-encoding", "gzip")]).await;
        assert_eq!(r.status(), 200);
        assert_eq!(r.headers()["content-type"], "application/vnd.apple.mpegurl");
        assert_eq!(r.headers()["content-encoding"], "gzip");
        assert_eq!(r.headers()["cache-control"], "no-cache");
    }

    #[tokio::test]
    async fn versioned_segments_support_ranges_and_are_immutable() {
        let (_dir, app) = fixture();
        let r = get(
            &app,
            "/1/standard/720p/seg_00000.m4s?v=18c",
            &[("range", "bytes=0-9"), ("accept-encoding", "gzip")],
        )
        .await;
        assert_eq!(r.status(), 206);
        assert!(r.headers().get("content-encoding").is_none());
        assert_eq!(r.headers()["content-type"], "video/iso.segment");
        assert!(
            r.headers()["cache-control"]
                .to_str()
                .unwrap()
                .contains("immutable")
        );
        assert_eq!(r.into_body().collect().await.unwrap().to_bytes().len(), 10);
        let unversioned = get(&app, "/1/standard/720p/seg_00000.m4s", &[]).await;
        assert_eq!(unversioned.status(), 200);
        assert_eq!(unversioned.headers()["cache-control"], "no-cache");
    }

    #[tokio::test]
    async fn a_package_in_progress_is_served_until_published() {
        let (_dir, app) = fixture();
        for (uri, ending) in [
            ("/2/standard/master.m3u8", &b"#live\n"[..]),
            ("/1/mobile/master.m3u8", b"#mobile\n"),
            ("/1/master.m3u8", b"#EXTM3U\n"),
        ] {
            let r = get(&app, uri, &[]).await;
            assert_eq!(r.status(), 200, "{uri}");
            let body = r.into_body().collect().await.unwrap().to_bytes();
            assert!(body.ends_with(ending), "{uri}");
        }
        assert_eq!(get(&app, "/2/master.m3u8", &[]).await.status(), 404);
    }

    #[tokio::test]
    async fn nothing_outside_the_packages_is_reachable() {
        let (_dir, app) = fixture();
        for uri in [
            "/1/../../catalog.sqlite",
            "/1/..%2F..%2Fcatalog.sqlite",
            "/1/%2e%2e/%2e%2e/catalog.sqlite",
            "/x/master.m3u8",
            "/1/.hidden",
            "/1//etc/passwd",
        ] {
            let r = get(&app, uri, &[]).await;
            assert!(
                r.status() == 404 || r.status() == 400,
                "{uri}: {}",
                r.status()
            );
        }
    }
}
