//! The HTTP server: JSON API, HLS files, metrics, health and the web app, in one `router()`,
//! behind one access check (`guard`) that every request passes before it is routed.

mod account;
mod api;
mod files;
pub mod guard;
mod hub;
mod hub_friends;
pub mod internal;
mod live;
pub mod openapi;
mod sso;
pub mod tls;
mod web;

use crate::auth::Auth;
use crate::catalog::Catalog;
use crate::libraries::Libraries;
use crate::metrics::Metrics;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_LENGTH;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, delete, get, patch, post, put};
pub use guard::Cidr;
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
    /// Accounts: with them every route checks who asks (`up`); without, the server answers
    /// anyone who reaches it (a cluster's library server, behind its NetworkPolicy).
    pub auth: Option<Arc<Auth>>,
    pub libraries: Arc<Libraries>,
    /// Proxies whose `X-Forwarded-For` is believed (`--trusted-proxy`).
    pub trusted_proxies: Arc<[Cidr]>,
    /// How browsers reach this server (`--public-url`), for single sign-on's redirect URI.
    pub public_url: Option<String>,
    /// Sharing with friends (`--identity`): their libraries under `/peers/…`.
    pub p2p: Option<crate::p2p::gateway::Gateway>,
    /// The front door of a cluster (`manofwar hub`): the items are its library servers'.
    pub hub: Option<crate::hub::Hub>,
}

impl AppState {
    /// The names of the libraries, as grants name them.
    pub fn library_names(&self) -> Vec<String> {
        match &self.hub {
            Some(hub) => hub.libraries().iter().map(|l| l.shown.clone()).collect(),
            None => self
                .libraries
                .list()
                .iter()
                .map(|l| l.name.clone())
                .collect(),
        }
    }

    /// Whether friends' libraries can be offered: this server's own gateway (`up --identity`),
    /// or on a cluster's front door a PeerGroup gateway whose HTTP the directory names.
    pub fn shares_friends(&self) -> bool {
        self.p2p.is_some()
            || self
                .hub
                .as_ref()
                .is_some_and(|h| !h.friend_gateways().is_empty())
    }

    /// The library of item `id`; `None` when there is no such item.
    pub fn library_of(&self, id: i64) -> Result<Option<String>, String> {
        match &self.hub {
            Some(hub) => hub.library_of(id).map_err(|e| e.to_string()),
            None => self
                .libraries
                .of_item(&self.catalog, id)
                .map_err(|e| e.to_string()),
        }
    }
}

/// JSON bodies are small: a login, a user, a token label.
const BODY_LIMIT: usize = 64 * 1024;

/// The server: `routes` behind `guard::check`, which runs before routing (it maps a signed
/// URL onto the route it signs).
pub fn router(state: AppState) -> Router {
    let (routes, _) = routes(state.clone());
    Router::new()
        .fallback_service(routes)
        .layer(middleware::from_fn_with_state(state, guard::check))
}

/// A router that remembers which routes it has, so a test can try every one of them.
struct Routes {
    router: Router<AppState>,
    list: Vec<(&'static str, &'static str)>,
}

impl Routes {
    fn add(mut self, method: &'static str, path: &'static str, to: MethodRouter<AppState>) -> Self {
        self.list.push((method, path));
        self.router = self.router.route(path, to);
        self
    }
}

/// The routes, and the (method, path) of every one of them (`/hls/{id}/{*path}` and
/// `/internal/v1/…` included).
pub fn routes(state: AppState) -> (Router, Vec<(&'static str, &'static str)>) {
    let front_door = state.hub.is_some();
    let pick = |local: MethodRouter<AppState>, hub: MethodRouter<AppState>| {
        if front_door { hub } else { local }
    };
    let mut routes = Routes {
        router: Router::new(),
        list: Vec::new(),
    }
    .add("GET", "/healthz", get(|| async { "ok\n" }))
    .add("GET", "/metrics", get(metrics))
    .add("GET", "/api/v1/items", pick(get(api::list), get(hub::list)))
    .add(
        "GET",
        "/api/v1/libraries",
        pick(get(api::libraries), get(hub::libraries)),
    )
    .add(
        "POST",
        "/api/v1/libraries/{name}/scan",
        pick(post(api::scan), post(hub::scan)),
    )
    .add(
        "GET",
        "/api/v1/items/{id}",
        pick(get(api::detail), get(hub::detail)),
    )
    .add(
        "POST",
        "/api/v1/items/{id}/transcode",
        pick(post(api::transcode), post(hub::transcode)),
    )
    .add(
        "GET",
        "/api/v1/items/{id}/poster",
        pick(get(api::poster), get(hub::poster)),
    )
    .add("GET", "/api/openapi.json", get(openapi::document));
    if state.auth.is_some() {
        routes = routes
            .add("PUT", "/api/v1/items/{id}/position", put(api::position))
            .add("POST", "/api/v1/auth/login", post(account::login))
            .add("POST", "/api/v1/auth/logout", post(account::logout))
            .add("GET", "/api/v1/auth/me", get(account::me))
            .add("GET", "/api/v1/auth/setup", get(account::setup_state))
            .add("POST", "/api/v1/auth/setup", post(account::setup))
            .add("GET", "/api/v1/auth/oidc", get(sso::state))
            .add("GET", "/api/v1/auth/oidc/start", get(sso::start))
            .add("GET", "/api/v1/auth/oidc/callback", get(sso::callback))
            .add("GET", "/api/v1/users", get(account::users))
            .add("POST", "/api/v1/users", post(account::add_user))
            .add("PATCH", "/api/v1/users/{name}", patch(account::update_user))
            .add(
                "DELETE",
                "/api/v1/users/{name}",
                delete(account::delete_user),
            )
            .add("GET", "/api/v1/tokens", get(account::tokens))
            .add("POST", "/api/v1/tokens", post(account::create_token))
            .add(
                "DELETE",
                "/api/v1/tokens/{id}",
                delete(account::revoke_token),
            )
            .add("GET", "/api/v1/audit", get(account::audit))
            .add("GET", "/api/v1/admin/stats", get(live::stats))
            .add("GET", "/api/v1/admin/live", get(live::events))
            .add("GET", "/api/v1/sessions", get(account::sessions))
            .add(
                "DELETE",
                "/api/v1/sessions/{id}",
                delete(account::end_session_by_id),
            );
    }
    let Routes {
        mut router,
        mut list,
    } = routes;
    router = router.layer(DefaultBodyLimit::max(BODY_LIMIT));
    if state.internal.is_some() {
        router = router.nest("/internal/v1", internal::router(state.clone()));
        list.extend(internal::ROUTES);
    }
    list.push(("GET", "/hls/{id}/{*path}"));
    let p2p = state.p2p.clone();
    router = if front_door {
        router.route("/hls/{id}/{*path}", get(hub::media))
    } else {
        router.nest_service(
            "/hls",
            files::service(state.hls_root.clone(), state.tmp_root.clone()),
        )
    };
    let state_for_friends = state.clone();
    let mut router = router
        .fallback(web::asset)
        .layer(middleware::from_fn_with_state(state.clone(), track))
        .with_state(state);
    if let Some(gateway) = p2p {
        router = router.merge(crate::p2p::http::router(gateway));
        list.extend(crate::p2p::http::ROUTES);
    } else if front_door {
        router = router.merge(hub_friends::router(state_for_friends));
        list.extend(crate::p2p::http::ROUTES);
    }
    (router, list)
}

/// `/metrics` alone, with no access check, for a separate address (`--metrics-listen`).
pub fn metrics_router(state: AppState) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
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
    // A media segment: part of someone's stream (the live view's "who watches what").
    let segment = crate::live::segment_of(req.uri().path()).map(|(item, rendition)| {
        let user = req.extensions().get::<crate::auth::Principal>();
        let user = user.map_or_else(|| "-".to_owned(), |p| p.user.name.clone());
        (user, item, rendition.to_owned())
    });
    let response = next.run(req).await;
    let bytes = response
        .headers()
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok())
        .unwrap_or(0);
    state.metrics.bytes_served.inc_by(bytes);
    if let Some((user, item, rendition)) = segment
        && response.status().is_success()
    {
        state.metrics.streams.record(&user, item, &rendition, bytes);
    }
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

#[cfg(test)]
mod tests;
