//! The gateway's HTTP routes, for local players and the web app: friends, their items, and
//! their items as HLS (`/peers/{peerId}/hls/{id}/…`) that any player plays.

use super::gateway::{self, Bandwidth, Gateway};
use super::identity;
use super::peers::{self, Peer};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use libp2p::PeerId;
use serde_json::json;

/// What a bandwidth limit may be, kbit/s.
const LIMITS: std::ops::RangeInclusive<u32> = 64..=10_000_000;

/// The routes, and the (method, path) of each (for the front door's route inventory).
pub const ROUTES: [(&str, &str); 9] = [
    ("GET", "/api/v1/p2p"),
    ("PUT", "/api/v1/p2p/bandwidth"),
    ("GET", "/api/v1/peers"),
    ("POST", "/api/v1/peers"),
    ("DELETE", "/api/v1/peers/{peer}"),
    ("GET", "/api/v1/peers/{peer}/items"),
    ("GET", "/api/v1/peers/{peer}/items/{id}/poster"),
    ("POST", "/api/v1/peers/{peer}/items/{id}/pin"),
    ("GET", "/peers/{peer}/hls/{id}/{*path}"),
];

pub fn router(gateway: Gateway) -> Router {
    Router::new()
        .route("/api/v1/p2p", get(me))
        .route("/api/v1/p2p/bandwidth", axum::routing::put(set_bandwidth))
        .route("/api/v1/peers", get(peers).post(add_friend))
        .route("/api/v1/peers/{peer}", axum::routing::delete(remove_friend))
        .route("/api/v1/peers/{peer}/items", get(items))
        .route("/api/v1/peers/{peer}/items/{id}/poster", get(poster))
        .route("/api/v1/peers/{peer}/items/{id}/pin", post(pin))
        .route("/peers/{peer}/hls/{id}/{*path}", get(file))
        .with_state(gateway)
}

struct Failure(StatusCode, String);

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        (self.0, Json(json!({ "error": self.1 }))).into_response()
    }
}

impl From<gateway::Error> for Failure {
    fn from(error: gateway::Error) -> Self {
        let status = match error {
            gateway::Error::NotFound(_) => StatusCode::NOT_FOUND,
            gateway::Error::Refused(_) => StatusCode::FORBIDDEN,
            gateway::Error::Unreachable(_) => StatusCode::BAD_GATEWAY,
        };
        Failure(status, error.to_string())
    }
}

fn peer_id(text: &str) -> Result<PeerId, Failure> {
    text.parse()
        .map_err(|_| Failure(StatusCode::NOT_FOUND, format!("{text:?} is not a PeerId")))
}

async fn me(State(gateway): State<Gateway>) -> Json<serde_json::Value> {
    let listening = gateway.net().listeners().await;
    Json(json!({
        "peerId": gateway.peer_id().to_string(),
        "friendCode": gateway.friend_code(),
        "listening": listening.iter().map(ToString::to_string).collect::<Vec<_>>(),
        "bandwidth": gateway.bandwidth(),
        // False where the list is a PeerGroup's (edit its spec.peers, not through this API).
        "peersEditable": gateway.peers_editable(),
    }))
}

async fn set_bandwidth(
    State(gateway): State<Gateway>,
    Json(limits): Json<Bandwidth>,
) -> Result<Json<Bandwidth>, Failure> {
    let values = [
        limits.upload_kbps,
        limits.download_kbps,
        limits.per_peer_upload_kbps,
    ];
    if values.into_iter().flatten().any(|k| !LIMITS.contains(&k)) {
        return Err(Failure(
            StatusCode::UNPROCESSABLE_ENTITY,
            "limits are kbit/s between 64 and 10000000, or null for none".into(),
        ));
    }
    gateway.set_bandwidth(limits);
    Ok(Json(gateway.bandwidth()))
}

async fn peers(State(gateway): State<Gateway>) -> Json<serde_json::Value> {
    Json(json!({ "peerId": gateway.peer_id().to_string(), "peers": gateway.peers() }))
}

/// `POST /api/v1/peers`: trust a friend, from the code it sent (`mow1:…`, or its bare PeerId).
#[derive(serde::Deserialize)]
struct AddFriend {
    code: String,
    name: String,
    /// The libraries it may see (`["*"]` for all); none by default.
    #[serde(default)]
    libraries: Vec<String>,
    /// How fast to send to this friend, kbit/s; none: the gateway's per-friend limit.
    #[serde(default, rename = "uploadKbps")]
    upload_kbps: Option<u32>,
}

async fn add_friend(
    State(gateway): State<Gateway>,
    Json(request): Json<AddFriend>,
) -> Result<(StatusCode, Json<serde_json::Value>), Failure> {
    let bad = |message: String| Failure(StatusCode::UNPROCESSABLE_ENTITY, message);
    let code = request.code.trim();
    let (peer, meet) = if code.starts_with("mow1:") {
        identity::parse_friend_code(code).map_err(|e| bad(format!("{e:#}")))?
    } else {
        let peer = code.parse().map_err(|_| {
            bad("code: paste your friend's code (mow1:…) or PeerId (12D3KooW…)".into())
        })?;
        (peer, Vec::new())
    };
    if peer == gateway.peer_id() {
        return Err(bad(
            "that is this gateway's own code: paste your friend's".into()
        ));
    }
    let name = request.name.trim();
    if name.is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
        return Err(bad(
            "name: 1 to 64 characters, what you call this friend".into()
        ));
    }
    if request
        .libraries
        .iter()
        .any(|l| l.is_empty() || l.len() > 128)
    {
        return Err(bad(
            "libraries: names of your libraries, or \"*\" for all".into()
        ));
    }
    if request.upload_kbps.is_some_and(|k| !LIMITS.contains(&k)) {
        return Err(bad(format!(
            "uploadKbps: kbit/s between {} and {}, or null for the gateway's per-friend limit",
            LIMITS.start(),
            LIMITS.end()
        )));
    }
    let entry = Peer {
        peer_id: peer.to_string(),
        name: name.to_owned(),
        libraries: request.libraries,
        upload_kbps: request.upload_kbps,
    };
    let new = peers::upsert(gateway.peers_file(), entry.clone())
        .map_err(|e| Failure(StatusCode::CONFLICT, format!("{e:#}")))?;
    let ours: Vec<PeerId> = gateway.meet().iter().filter_map(coordinator_of).collect();
    let elsewhere: Vec<String> = meet
        .iter()
        .filter(|a| coordinator_of(a).is_some_and(|c| !ours.contains(&c)))
        .map(ToString::to_string)
        .collect();
    let mut answer = json!({
        "peerId": entry.peer_id,
        "name": entry.name,
        "libraries": entry.libraries,
        "uploadKbps": entry.upload_kbps,
    });
    if !elsewhere.is_empty() {
        answer["hint"] = format!(
            "your friend meets at a coordinator this gateway does not use ({}): start it with that --coordinator too, or ask them to use yours",
            elsewhere.join(", ")
        )
        .into();
    }
    let status = if new {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(answer)))
}

/// The coordinator's PeerId in a meeting address (`…/p2p/COORDINATOR/p2p-circuit`).
fn coordinator_of(address: &libp2p::Multiaddr) -> Option<PeerId> {
    address.iter().find_map(|p| match p {
        libp2p::multiaddr::Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// `DELETE /api/v1/peers/{peer}`: trust that friend no more (its connections close).
async fn remove_friend(
    State(gateway): State<Gateway>,
    Path(peer): Path<String>,
) -> Result<StatusCode, Failure> {
    let peer = peer_id(&peer)?;
    match peers::remove(gateway.peers_file(), &peer.to_string()) {
        Ok(true) => Ok(StatusCode::NO_CONTENT),
        Ok(false) => Err(Failure(
            StatusCode::NOT_FOUND,
            format!("{peer} is not a trusted peer"),
        )),
        Err(e) => Err(Failure(StatusCode::CONFLICT, format!("{e:#}"))),
    }
}

async fn items(
    State(gateway): State<Gateway>,
    Path(peer): Path<String>,
) -> Result<Json<serde_json::Value>, Failure> {
    let items = gateway.items(peer_id(&peer)?).await?;
    Ok(Json(json!({ "items": items })))
}

async fn poster(
    State(gateway): State<Gateway>,
    Path((peer, id)): Path<(String, i64)>,
) -> Result<Response, Failure> {
    let jpeg = gateway.poster(peer_id(&peer)?, id).await?;
    Ok((
        [
            ("content-type", "image/jpeg"),
            ("cache-control", "private, max-age=300"),
        ],
        jpeg,
    )
        .into_response())
}

#[derive(serde::Deserialize, Default)]
struct PinRequest {
    rendition: Option<String>,
}

async fn pin(
    State(gateway): State<Gateway>,
    Path((peer, id)): Path<(String, i64)>,
    body: Option<Json<PinRequest>>,
) -> Result<Json<gateway::Pinned>, Failure> {
    let request = body.map(|b| b.0).unwrap_or_default();
    Ok(Json(
        gateway
            .pin(peer_id(&peer)?, id, request.rendition.as_deref())
            .await?,
    ))
}

async fn file(
    State(gateway): State<Gateway>,
    Path((peer, id, path)): Path<(String, i64, String)>,
) -> Result<Response, Failure> {
    let bytes = gateway.file(peer_id(&peer)?, id, &path).await?;
    let immutable = !path.ends_with(".m3u8");
    let cache = if immutable {
        "private, max-age=31536000, immutable"
    } else {
        "private, no-cache"
    };
    Ok((
        [
            ("content-type", content_type(&path)),
            ("cache-control", cache),
        ],
        bytes,
    )
        .into_response())
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("m3u8") => "application/vnd.apple.mpegurl",
        Some("m4s") => "video/iso.segment",
        Some("mp4") => "video/mp4",
        Some("vtt") => "text/vtt; charset=utf-8",
        Some("jpg" | "jpeg") => "image/jpeg",
        _ => "application/octet-stream",
    }
}
