//! Friends' libraries on a cluster's front door (`manofwar hub`): the P2P gateways of the
//! cluster's PeerGroups, whose HTTP the directory names (`gateways[].url`), answer the same
//! routes as `up`'s own gateway (`/api/v1/p2p`, `/api/v1/peers…`, `/peers/…`), asked with their
//! HTTP token. The guard has already checked the `@friends` grant (and the admin role for
//! changes). `GET /api/v1/peers` lists the friends of every gateway; a friend's routes go to the
//! gateway that lists that friend.

use super::AppState;
use super::api::ApiError;
use super::hub::{answer_back, asked, hub, plain};
use crate::hub::Upstream;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{Method, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get};
use serde_json::{Value, json};

/// The most a request body sent on to a gateway may hold (adding a friend is a few hundred bytes).
const BODY_LIMIT: usize = 64 * 1024;

pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/p2p", get(first))
        .route("/api/v1/p2p/{*rest}", any(first))
        .route("/api/v1/peers", get(peers).post(first))
        .route("/api/v1/peers/{peer}", any(friend))
        .route("/api/v1/peers/{peer}/{*rest}", any(friend))
        .route("/peers/{peer}/{*rest}", get(media))
        .with_state(state)
}

fn none_here() -> ApiError {
    ApiError::NotFound(
        "no P2P gateway shares friends' libraries with this cluster (create a PeerGroup, and \
         name it in a MediaLibrary's spec.sharing.peerGroup)"
            .into(),
    )
}

/// Every gateway's friends, in one list.
async fn peers(State(state): State<AppState>) -> Result<Response, ApiError> {
    let gateways = hub(&state).friend_gateways();
    if gateways.is_empty() {
        return Err(none_here());
    }
    let mut peers = Vec::new();
    let mut failures = Vec::new();
    for gateway in &gateways {
        match hub(&state)
            .json(gateway, Method::GET, "/api/v1/peers")
            .await
        {
            Ok(Some((_, mut answer))) => {
                if let Some(Value::Array(list)) = answer.get_mut("peers").map(Value::take) {
                    hub(&state).remember_friends(gateway, listed(&list));
                    peers.extend(list);
                }
            }
            Ok(None) => {}
            Err(e) => {
                tracing::warn!(gateway = %gateway.shown, error = %e, "a gateway's friends are missing");
                failures.push(e);
            }
        }
    }
    // One gateway down does not hide the others' friends; all of them down is an error.
    if failures.len() == gateways.len() {
        return Err(failures.remove(0).into());
    }
    Ok(axum::Json(json!({ "peers": peers })).into_response())
}

/// The first gateway answers what is about one gateway (our identity, adding a friend).
async fn first(State(state): State<AppState>, req: Request) -> Response {
    match hub(&state).friend_gateways().first() {
        Some(gateway) => forward(&state, gateway, req).await,
        None => none_here().into_response(),
    }
}

/// A friend's routes (`/api/v1/peers/{peer}…`): the gateway that lists that friend.
async fn friend(
    State(state): State<AppState>,
    Path(params): Path<Vec<(String, String)>>,
    req: Request,
) -> Response {
    let peer = params.first().map(|(_, v)| v.as_str()).unwrap_or_default();
    match owner(&state, peer).await {
        Ok(gateway) => forward(&state, &gateway, req).await,
        Err(e) => e.into_response(),
    }
}

/// A friend's media (`/peers/{peer}/…`), streamed from the gateway that lists that friend.
async fn media(
    State(state): State<AppState>,
    Path((peer, rest)): Path<(String, String)>,
    req: Request,
) -> Response {
    if !plain(&rest) {
        return (axum::http::StatusCode::NOT_FOUND, "not found\n").into_response();
    }
    match owner(&state, &peer).await {
        Ok(gateway) => forward(&state, &gateway, req).await,
        Err(e) => e.into_response(),
    }
}

/// The PeerIds of a gateway's `peers` list.
fn listed(peers: &[Value]) -> impl Iterator<Item = &str> {
    peers.iter().filter_map(|p| p["peerId"].as_str())
}

/// The gateway that lists `peer` among its friends. With one gateway (the usual cluster), that
/// one, without asking: it answers 404 for a friend it does not know. With several, the one
/// that listed them lately (`GET /api/v1/peers` notes it), else each is asked in turn.
async fn owner(state: &AppState, peer: &str) -> Result<Upstream, ApiError> {
    let hub = hub(state);
    let gateways = hub.friend_gateways();
    if gateways.len() <= 1 {
        return gateways.into_iter().next().ok_or_else(none_here);
    }
    if let Some(gateway) = hub.friend_gateway(peer, &gateways) {
        return Ok(gateway.clone());
    }
    for gateway in gateways {
        let answer = hub.json(&gateway, Method::GET, "/api/v1/peers").await;
        let Ok(Some((_, list))) = answer else {
            continue;
        };
        let friends = list["peers"].as_array().map_or(&[][..], Vec::as_slice);
        hub.remember_friends(&gateway, listed(friends));
        if listed(friends).any(|f| f == peer) {
            return Ok(gateway);
        }
    }
    Err(ApiError::NotFound(format!("no friend {peer}")))
}

/// Send the request on to `gateway` (its method, path, query, body and the headers a player
/// sends; never the caller's credentials), and stream its answer back.
async fn forward(state: &AppState, gateway: &Upstream, req: Request) -> Response {
    let path = req
        .uri()
        .path_and_query()
        .map_or_else(|| req.uri().path().to_owned(), |p| p.as_str().to_owned());
    let method = req.method().clone();
    let headers = asked(&req, &[header::CONTENT_TYPE]);
    let body = Body::new(http_body_util::Limited::new(req.into_body(), BODY_LIMIT));
    match hub(state)
        .send_body(gateway, method, &path, headers, body)
        .await
    {
        Ok(answer) => answer_back(answer),
        Err(e) => ApiError::from(e).into_response(),
    }
}
