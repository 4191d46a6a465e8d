//! The web app: files built from `web/` (npm run build) and embedded in the binary.

use axum::http::{StatusCode, Uri, header};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../web/dist"]
#[allow_missing = true]
struct Assets;

pub async fn asset(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    let path = if path.is_empty() { "index.html" } else { path };
    match Assets::get(path) {
        Some(file) => (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_owned()),
                (header::CACHE_CONTROL, cache_control(path).to_owned()),
            ],
            file.data,
        )
            .into_response(),
        None if path == "index.html" => Html(NOT_BUILT).into_response(),
        None => (StatusCode::NOT_FOUND, "not found\n").into_response(),
    }
}

/// Vite names the files under `assets/` by their content's hash: they never change. The page,
/// the manifest and the icons keep their names, so the browser asks again each time.
fn cache_control(path: &str) -> &'static str {
    if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    }
}

const NOT_BUILT: &str = "<!doctype html><title>manofwar</title><h1>manofwar</h1>\
<p>The web app was not built into this binary. Run <code>make build</code> (it runs \
<code>npm ci &amp;&amp; npm run build</code> in <code>web/</code> first), or use the API at \
<a href=\"/api/v1/items\">/api/v1/items</a>.</p>";

#[cfg(test)]
mod tests {
    #[test]
    fn hashed_assets_are_kept_and_the_page_is_asked_again() {
        assert_eq!(
            super::cache_control("assets/index-tvU0ow0I.js"),
            "public, max-age=31536000, immutable"
        );
        for path in ["index.html", "manifest.webmanifest", "icon.svg"] {
            assert_eq!(super::cache_control(path), "no-cache", "{path}");
        }
    }
}
