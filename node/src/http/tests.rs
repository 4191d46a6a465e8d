//! The route inventory: every route the router has is tried without credentials, as a
//! guest and as an admin, so a route that is not covered by the access check fails here.

use super::*;
use crate::auth::{Role, Scope, Store};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use tower::ServiceExt as _;
use utoipa::OpenApi as _;

/// The only routes that answer without a login.
const PUBLIC: &[&str] = &[
    "/healthz",
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    "/api/v1/auth/me",
    "/api/v1/auth/setup",
    "/api/v1/auth/oidc",
    "/api/v1/auth/oidc/start",
    "/api/v1/auth/oidc/callback",
];

const ADMIN_ONLY: &[&str] = &[
    "/metrics",
    "/api/v1/users",
    "/api/v1/users/{name}",
    "/api/v1/audit",
    "/api/v1/sessions",
    "/api/v1/sessions/{id}",
    "/api/v1/admin/stats",
    "/api/v1/admin/live",
];

fn state(tmp: &std::path::Path) -> AppState {
    let auth = Auth::with_store(Store::in_memory().unwrap()).unwrap();
    AppState {
        p2p: None,
        hub: None,
        catalog: Catalog::in_memory().unwrap(),
        hls_root: tmp.join("hls"),
        tmp_root: tmp.join("tmp"),
        metrics: Arc::default(),
        queue: Arc::default(),
        internal: Some(internal::Internal {
            token: "worker-token".into(),
            private: false,
            lease: std::time::Duration::from_secs(30),
            retry: crate::worker::Retry {
                max_attempts: 1,
                backoff: std::time::Duration::ZERO,
            },
        }),
        auth: Some(Arc::new(auth)),
        libraries: Arc::default(),
        trusted_proxies: Arc::from(Vec::new()),
        public_url: None,
    }
}

fn concrete(path: &str) -> String {
    path.replace("{id}", "1")
        .replace("{name}", "someone")
        .replace("{*path}", "master.m3u8")
}

async fn status(app: &Router, method: &str, path: &str, token: Option<&str>) -> StatusCode {
    let mut req = Request::builder().method(method).uri(concrete(path));
    if let Some(token) = token {
        req = req.header("authorization", format!("Bearer {token}"));
    }
    let body = if method == "GET" {
        Body::empty()
    } else {
        Body::from("{}")
    };
    let req = req
        .header("content-type", "application/json")
        .body(body)
        .unwrap();
    app.clone().oneshot(req).await.unwrap().status()
}

#[tokio::test]
async fn every_route_but_the_public_ones_needs_a_login_and_admin_routes_an_admin() {
    let tmp = tempfile::tempdir().unwrap();
    every_route_is_checked(state(tmp.path())).await;
}

#[tokio::test]
async fn the_hubs_routes_are_checked_alike() {
    let tmp = tempfile::tempdir().unwrap();
    let hub = crate::hub::Hub::open(tmp.path(), &tmp.path().join("libraries.json")).unwrap();
    let state = AppState {
        hub: Some(hub),
        internal: None,
        ..state(tmp.path())
    };
    every_route_is_checked(state).await;
}

async fn every_route_is_checked(state: AppState) {
    let auth = Arc::clone(state.auth.as_ref().unwrap());
    let password = "correct horse battery";
    let guest = auth
        .add_user("guest", Role::Guest, &["*".into()], password)
        .unwrap();
    let admin = auth.add_user("root", Role::Admin, &[], password).unwrap();
    // Token 1 is the one `DELETE /api/v1/tokens/{id}` revokes below.
    auth.create_token(&guest, "spare", &[Scope::Read]).unwrap();
    let (guest_token, _) = auth
        .create_token(&guest, "t", &Role::Guest.scopes())
        .unwrap();
    let (admin_token, _) = auth
        .create_token(&admin, "t", &Role::Admin.scopes())
        .unwrap();
    let (_, list) = routes(state.clone());
    let app = router(state);
    assert!(
        list.len() >= 25,
        "the inventory lists every route: {list:?}"
    );

    for &(method, path) in &list {
        let public = PUBLIC.contains(&path);
        let method_ = Method::from_bytes(method.as_bytes()).unwrap();
        assert_eq!(
            guard::need(&method_, &concrete(path)) == guard::Need::Public,
            public,
            "{method} {path}: only the allow-listed routes are public"
        );
        let anonymous = status(&app, method, path, None).await;
        if !public {
            assert_eq!(
                anonymous,
                StatusCode::UNAUTHORIZED,
                "{method} {path} without a login"
            );
        }
        let as_guest = status(&app, method, path, Some(&guest_token)).await;
        let as_admin = status(&app, method, path, Some(&admin_token)).await;
        if ADMIN_ONLY.contains(&path) {
            assert_eq!(
                as_guest,
                StatusCode::FORBIDDEN,
                "{method} {path} as a guest"
            );
            assert_ne!(
                as_admin,
                StatusCode::FORBIDDEN,
                "{method} {path} as an admin"
            );
        }
        // The workers' API wants the worker token on top (`serve`, which has no accounts).
        if !path.starts_with("/internal/") {
            assert_ne!(
                as_admin,
                StatusCode::UNAUTHORIZED,
                "{method} {path} as an admin"
            );
        }
    }
    for path in ADMIN_ONLY {
        assert!(list.iter().any(|(_, p)| p == path), "{path} is a route");
    }
}

#[tokio::test]
async fn a_bad_token_in_the_header_is_refused_and_one_in_the_query_is_ignored() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state(tmp.path());
    let auth = Arc::clone(state.auth.as_ref().unwrap());
    let user = auth
        .add_user("ann", Role::Member, &["*".into()], "correct horse battery")
        .unwrap();
    let (token, _) = auth
        .create_token(&user, "t", &Role::Member.scopes())
        .unwrap();
    let app = router(state);
    assert_eq!(
        status(&app, "GET", "/api/v1/items", Some(&token)).await,
        StatusCode::OK
    );
    let forged = format!("{token}x");
    assert_eq!(
        status(&app, "GET", "/api/v1/items", Some(&forged)).await,
        StatusCode::UNAUTHORIZED
    );
    let in_query = format!("/api/v1/items?api_key={token}&token={token}");
    assert_eq!(
        status(&app, "GET", &in_query, None).await,
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn a_signed_url_opens_its_item_s_media_and_nothing_else() {
    let tmp = tempfile::tempdir().unwrap();
    let state = state(tmp.path());
    let auth = Arc::clone(state.auth.as_ref().unwrap());
    let admin = auth
        .add_user("root", Role::Admin, &[], "correct horse battery")
        .unwrap();
    let signed = auth.sign(&admin, 1, "hls/1/master.m3u8");
    let signature = signed.split('/').nth(2).unwrap().to_owned();
    let app = router(state);
    for path in [
        "api/v1/users",
        "api/v1/items",
        "metrics",
        "api/v1/items/1",
        "hls/2/master.m3u8",
    ] {
        let code = status(&app, "GET", &format!("/s/{signature}/{path}"), None).await;
        assert!(
            code == StatusCode::NOT_FOUND || code == StatusCode::FORBIDDEN,
            "/s/…/{path}: {code}"
        );
    }
    // Its own item passes the check (and is not found: this catalog is empty).
    let own = status(&app, "GET", &signed, None).await;
    assert_eq!(own, StatusCode::NOT_FOUND);
    let tampered = signed.replacen("/s/1.", "/s/2.", 1);
    assert_eq!(
        status(&app, "GET", &tampered, None).await,
        StatusCode::FORBIDDEN
    );
}

#[test]
fn the_openapi_document_describes_exactly_the_api_routes() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, list) = routes(state(tmp.path()));
    let doc = serde_json::to_value(openapi::Doc::openapi()).unwrap();
    let documented: std::collections::BTreeSet<(String, String)> = doc["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, ops)| {
            ops.as_object()
                .unwrap()
                .keys()
                .map(move |m| (m.to_uppercase(), path.clone()))
        })
        .collect();
    let routed: std::collections::BTreeSet<(String, String)> = list
        .iter()
        .filter(|(_, p)| p.starts_with("/api/v1/"))
        .map(|(m, p)| (m.to_string(), p.to_string()))
        .collect();
    assert_eq!(documented, routed);
}
