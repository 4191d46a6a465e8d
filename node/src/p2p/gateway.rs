//! The gateway: shares our items with friends (answering `/manofwar/swarm/1`) and fetches
//! theirs for local players, piece by piece from whoever has them, each piece checked against
//! the origin's signed manifest before it is served or cached.

use super::cache::Cache;
use super::limiter::Limiter;
use super::manifest::{self, Manifest};
use super::net::{Command, Net};
use super::origin::Origin;
use super::peers::Trusted;
use super::wire::{Header, Request, Response};
use libp2p::PeerId;
use libp2p::identity::Keypair;
use libp2p::swarm::ConnectionId;
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

mod offline;
pub use offline::Pinned;

/// A piece request stuck this long on a friend is re-issued elsewhere.
const PIECE_TIMEOUT: Duration = Duration::from_secs(8);
/// How long the origin may take (the network's own request timeout, `net::REQUEST_TIMEOUT`).
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A friend's manifest is asked for again after this long (the package may have changed).
const MANIFEST_TTL: Duration = Duration::from_secs(60);
/// How often, while an item is watched, we ask the group which pieces they hold.
const HAVE_EVERY: Duration = Duration::from_secs(1);
/// How long our own manifest answers `Have` and `Piece` requests before the library server is
/// asked again whether the package or the item's library changed.
const OWN_RECHECK: Duration = Duration::from_secs(10);
/// How long the playhead waits for those answers before it asks someone.
const HAVE_WAIT: Duration = Duration::from_millis(300);
/// How long a piece nobody holds yet waits for the viewer ahead before the origin is asked.
const AHEAD_WAIT: Duration = Duration::from_millis(500);
/// Segments fetched ahead of the one a player asked for.
const READ_AHEAD: usize = 3;
/// A peer whose upload would wait longer than this answers `Choked` (origins always serve).
const CHOKE_AFTER: Duration = Duration::from_secs(2);
/// For the playhead, the origin goes before the group when it is this many times faster.
const FASTER_ORIGIN: f64 = 4.0;
/// Bad pieces or malformed messages before a peer is banned (until restart).
const BAN_AFTER: u32 = 2;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Unreachable(String),
}

/// Bandwidth limits in kbit/s (`PeerGroup.spec.bandwidth`); `None` is unlimited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidth {
    pub upload_kbps: Option<u32>,
    pub download_kbps: Option<u32>,
    pub per_peer_upload_kbps: Option<u32>,
}

#[derive(Clone)]
pub struct Gateway(Arc<Inner>);

struct Inner {
    key: Keypair,
    me: PeerId,
    trusted: Trusted,
    net: Net,
    origin: Origin,
    cache: Cache,
    connections: Connections,
    /// Our own items' signed manifests, by item, with what they were made from.
    own: tokio::sync::Mutex<HashMap<i64, Own>>,
    /// Friends' manifests we verified, by (origin, item).
    manifests: Mutex<HashMap<(PeerId, i64), Fetched>>,
    /// Who holds which pieces of a friend's item, and when we last asked.
    holders: Mutex<HashMap<(PeerId, i64), Holders>>,
    /// One fetch per piece at a time (a player and the read-ahead may want the same one).
    fetching: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    strikes: Mutex<HashMap<PeerId, u32>>,
    banned: Mutex<HashSet<PeerId>>,
    bandwidth: Mutex<Bandwidth>,
    upload: Limiter,
    download: Limiter,
    per_peer: Mutex<HashMap<PeerId, Arc<Limiter>>>,
    traffic: Mutex<HashMap<PeerId, Traffic>>,
    meet: Vec<libp2p::Multiaddr>,
    /// The peers file (`POST /api/v1/peers` writes it; its watcher puts it in force).
    peers_file: std::path::PathBuf,
    /// Whether the API may write the peers file (not a PeerGroup's read-only mount).
    peers_editable: bool,
    /// Friends' items kept for offline viewing (`offline.rs`).
    kept: Mutex<HashMap<(PeerId, i64), offline::Kept>>,
}

/// A friend's manifest and when we verified it.
type Fetched = (Instant, Arc<Manifest>);

struct Own {
    key: String,
    signed: manifest::Signed,
    manifest: Arc<Manifest>,
    library: Option<String>,
    /// When the library server last confirmed it (the package and the item's library).
    checked: Instant,
}

#[derive(Default)]
struct Holders {
    asked: Option<Instant>,
    by_peer: HashMap<PeerId, HashSet<u32>>,
    /// Peers that sent a bad piece of this item: never asked for it again.
    dropped: HashSet<PeerId>,
}

/// Bytes exchanged with one peer, and its measured speed (bytes/s, moving average).
#[derive(Debug, Clone, Copy, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Traffic {
    pub bytes_up: u64,
    pub bytes_down: u64,
    #[serde(skip)]
    speed: f64,
}

/// Open connections per peer, and whether each goes through a relay.
#[derive(Default)]
pub struct Connections(Mutex<HashMap<PeerId, HashMap<ConnectionId, bool>>>);

impl Connections {
    pub fn opened(&self, peer: PeerId, id: ConnectionId, relayed: bool) {
        self.0
            .lock()
            .expect("connections lock")
            .entry(peer)
            .or_default()
            .insert(id, relayed);
    }

    pub fn closed(&self, peer: PeerId, id: ConnectionId) {
        let mut all = self.0.lock().expect("connections lock");
        if let Some(of_peer) = all.get_mut(&peer) {
            of_peer.remove(&id);
            if of_peer.is_empty() {
                all.remove(&peer);
            }
        }
    }

    /// `direct`, `relayed` or `none`.
    pub fn kind(&self, peer: &PeerId) -> &'static str {
        match self.0.lock().expect("connections lock").get(peer) {
            Some(c) if c.values().any(|relayed| !relayed) => "direct",
            Some(c) if !c.is_empty() => "relayed",
            _ => "none",
        }
    }

    pub fn relayed_of(&self, peer: &PeerId) -> Vec<ConnectionId> {
        let all = self.0.lock().expect("connections lock");
        all.get(peer)
            .map(|c| {
                c.iter()
                    .filter(|(_, relayed)| **relayed)
                    .map(|(id, _)| *id)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A friend as `GET /api/v1/peers` shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerStatus {
    pub peer_id: String,
    pub name: String,
    pub libraries: Vec<String>,
    pub connected: bool,
    pub connection: &'static str,
    /// This friend's own upload limit (kbit/s), if it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_kbps: Option<u32>,
    #[serde(flatten)]
    pub traffic: Traffic,
}

pub struct Parts {
    pub key: Keypair,
    pub trusted: Trusted,
    pub net: Net,
    pub origin: Origin,
    pub cache: Cache,
    pub bandwidth: Bandwidth,
    /// Where friends can meet us (coordinator circuits, public addresses): the friend code.
    pub meet: Vec<libp2p::Multiaddr>,
    pub peers_file: std::path::PathBuf,
}

impl Gateway {
    pub fn new(parts: Parts) -> Self {
        let me = parts.key.public().to_peer_id();
        let kept = offline::load(&parts.cache);
        Self(Arc::new(Inner {
            me,
            cache: parts.cache,
            key: parts.key,
            trusted: parts.trusted,
            net: parts.net,
            origin: parts.origin,
            connections: Connections::default(),
            own: Default::default(),
            manifests: Default::default(),
            holders: Default::default(),
            fetching: Default::default(),
            strikes: Default::default(),
            banned: Default::default(),
            upload: Limiter::new(parts.bandwidth.upload_kbps),
            download: Limiter::new(parts.bandwidth.download_kbps),
            bandwidth: Mutex::new(parts.bandwidth),
            per_peer: Default::default(),
            traffic: Default::default(),
            meet: parts.meet,
            peers_editable: super::peers::editable(&parts.peers_file),
            peers_file: parts.peers_file,
            kept: Mutex::new(kept),
        }))
    }

    pub fn peer_id(&self) -> PeerId {
        self.0.me
    }

    pub fn friend_code(&self) -> String {
        super::identity::friend_code(&self.0.me, &self.0.meet)
    }

    /// Where friends meet us (the friend code's addresses).
    pub fn meet(&self) -> &[libp2p::Multiaddr] {
        &self.0.meet
    }

    pub fn peers_file(&self) -> &std::path::Path {
        &self.0.peers_file
    }

    /// Whether friends can be added and removed through the API (see `peers::editable`).
    pub fn peers_editable(&self) -> bool {
        self.0.peers_editable
    }

    pub fn trusted(&self) -> &Trusted {
        &self.0.trusted
    }

    pub fn net(&self) -> Net {
        self.0.net.clone()
    }

    pub fn connections(&self) -> &Connections {
        &self.0.connections
    }

    pub fn is_banned(&self, peer: &PeerId) -> bool {
        self.0.banned.lock().expect("ban lock").contains(peer)
    }

    pub fn bandwidth(&self) -> Bandwidth {
        *self.0.bandwidth.lock().expect("bandwidth lock")
    }

    pub fn set_bandwidth(&self, bandwidth: Bandwidth) {
        self.0.upload.set(bandwidth.upload_kbps);
        self.0.download.set(bandwidth.download_kbps);
        // Each friend's bucket follows its limit at its next reservation (`upload_wait`).
        *self.0.bandwidth.lock().expect("bandwidth lock") = bandwidth;
    }

    pub fn peers(&self) -> Vec<PeerStatus> {
        let traffic = self.0.traffic.lock().expect("traffic lock").clone();
        self.0
            .trusted
            .all()
            .into_iter()
            .map(|(id, peer)| {
                let connection = self.0.connections.kind(&id);
                PeerStatus {
                    peer_id: id.to_string(),
                    name: peer.name,
                    libraries: peer.libraries,
                    connected: connection != "none",
                    connection,
                    upload_kbps: peer.upload_kbps,
                    traffic: traffic.get(&id).copied().unwrap_or_default(),
                }
            })
            .collect()
    }

    fn drop_from_item(&self, origin: PeerId, item: i64, peer: PeerId) {
        let mut all = self.0.holders.lock().expect("holders lock");
        let h = all.entry((origin, item)).or_default();
        h.by_peer.remove(&peer);
        h.dropped.insert(peer);
    }

    /// A peer misbehaved (a bad piece, a malformed message); banned after a repeat.
    pub fn strike(&self, peer: PeerId, why: &str) {
        let strikes = {
            let mut all = self.0.strikes.lock().expect("strikes lock");
            let n = all.entry(peer).or_default();
            *n += 1;
            *n
        };
        if strikes >= BAN_AFTER && self.0.banned.lock().expect("ban lock").insert(peer) {
            tracing::warn!(%peer, why, strikes, "peer banned until restart");
            let net = self.net();
            tokio::spawn(async move { net.send(Command::Disallow(peer)).await });
        } else {
            tracing::warn!(%peer, why, strikes, "peer struck");
        }
    }

    // ---- The origin side: what friends may ask of us. ----

    /// The answer to a friend's request. Whoever asks is on the list (the connection would
    /// not exist otherwise); what they may see is checked here.
    pub async fn answer(&self, peer: PeerId, request: Request) -> Response {
        let Some(friend) = self.0.trusted.get(&peer) else {
            return refused("you are not on this gateway's list of friends");
        };
        let result = match request {
            Request::Items => self
                .shared_items(&friend)
                .await
                .map(|items| Response::of(Header::Items { items })),
            Request::Manifest { item } => self.own_manifest(item).await.map(|own| match own {
                Some((signed, m)) if m.shared_with(&peer) => {
                    Response::of(Header::Manifest { manifest: signed })
                }
                Some(_) => refused("this item's library is not shared with you"),
                None => Response::of(Header::NotFound),
            }),
            Request::Poster { item } => self.own_poster(&friend, item).await,
            Request::Have { origin, item } => Ok(self.have(&peer, &origin, item).await),
            Request::Piece {
                origin,
                item,
                index,
            } => self.serve_piece(&peer, &origin, item, index).await,
            Request::Malformed { .. } => Ok(Response::of(Header::NotFound)),
        };
        result.unwrap_or_else(|error| {
            tracing::warn!(%peer, error = format!("{error:#}"), "cannot answer a friend");
            Response::of(Header::NotFound)
        })
    }

    async fn shared_items(
        &self,
        friend: &super::peers::Peer,
    ) -> anyhow::Result<Vec<serde_json::Value>> {
        let items = self.0.origin.items().await?;
        Ok(items
            .into_iter()
            .filter(|item| item["hls_url"].is_string() && friend.may_see(item["library"].as_str()))
            .map(|mut item| {
                // A friend needs no file paths of ours, nor our errors.
                if let Some(fields) = item.as_object_mut() {
                    fields.remove("path");
                    fields.remove("error");
                }
                item
            })
            .collect())
    }

    async fn own_poster(&self, friend: &super::peers::Peer, item: i64) -> anyhow::Result<Response> {
        let shared = self.shared_items(friend).await?;
        if !shared.iter().any(|i| i["id"].as_i64() == Some(item)) {
            return Ok(Response::of(Header::NotFound));
        }
        Ok(
            match self
                .0
                .origin
                .get(&format!("/api/v1/items/{item}/poster"))
                .await?
            {
                Some(body) => Response {
                    header: Header::Piece,
                    body,
                },
                None => Response::of(Header::NotFound),
            },
        )
    }

    /// Our signed manifest of `item`, made again when the package or the peers it is shared
    /// with changed; `None` when the item is not shared or not transcoded.
    async fn own_manifest(
        &self,
        item: i64,
    ) -> anyhow::Result<Option<(manifest::Signed, Arc<Manifest>)>> {
        let items = self.0.origin.items().await?;
        let Some(found) = items
            .iter()
            .find(|i| i["id"].as_i64() == Some(item) && i["hls_url"].is_string())
        else {
            return Ok(None);
        };
        let library = found["library"].as_str().map(str::to_owned);
        let audience = self.audience(library.as_deref());
        let Some(master) = self
            .0
            .origin
            .get(&format!("/hls/{item}/{}", crate::hls::MASTER))
            .await?
        else {
            return Ok(None);
        };
        let key = format!("{}:{}", manifest::sha256_hex(&master), audience.join(","));
        let mut own = self.0.own.lock().await;
        if let Some(o) = own.get_mut(&item).filter(|o| o.key == key) {
            o.checked = Instant::now();
            return Ok(Some((o.signed.clone(), o.manifest.clone())));
        }
        let files = self.package_files(item, master).await?;
        let made = Manifest {
            origin: self.0.me.to_string(),
            item,
            files,
            audience,
            created: SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_secs()),
        };
        let signed = made.sign(&self.0.key);
        let made = Arc::new(made);
        tracing::info!(item, files = made.files.len(), "signed a manifest");
        own.insert(
            item,
            Own {
                key,
                signed: signed.clone(),
                manifest: made.clone(),
                library,
                checked: Instant::now(),
            },
        );
        Ok(Some((signed, made)))
    }

    /// Every file the master playlist leads to, hashed.
    async fn package_files(
        &self,
        item: i64,
        master: Vec<u8>,
    ) -> anyhow::Result<Vec<manifest::File>> {
        let mut files = Vec::new();
        let mut seen = HashSet::from([crate::hls::MASTER.to_string()]);
        let mut queue =
            std::collections::VecDeque::from([(crate::hls::MASTER.to_string(), master)]);
        while let Some((path, bytes)) = queue.pop_front() {
            if path.ends_with(".m3u8") {
                let text = String::from_utf8_lossy(&bytes).into_owned();
                for child in manifest::referenced(&path, &text) {
                    if !seen.insert(child.clone()) {
                        continue;
                    }
                    let body = self.0.origin.get(&format!("/hls/{item}/{child}")).await?;
                    let body =
                        body.ok_or_else(|| anyhow::anyhow!("{child} of item {item} is missing"))?;
                    queue.push_back((child, body));
                }
            }
            files.push(manifest::File {
                size: bytes.len() as u64,
                sha256: manifest::sha256_hex(&bytes),
                path,
            });
        }
        Ok(files)
    }

    /// The verified manifest of (origin, item) that we know of, ours included.
    /// The PeerIds of the peers file in force that may see `library`.
    fn audience(&self, library: Option<&str>) -> Vec<String> {
        let trusted = self.0.trusted.all().into_iter();
        trusted
            .filter(|(_, p)| p.may_see(library))
            .map(|(id, _)| id.to_string())
            .collect()
    }

    /// Our manifest of `item` for `Have` and `Piece` answers (one per piece a friend plays): the
    /// one signed before while its audience is still the peers file's and the library server
    /// confirmed it less than `OWN_RECHECK` ago (a piece is checked against it as it is read
    /// anyway), else made again.
    async fn current_own(&self, item: i64) -> Option<Arc<Manifest>> {
        {
            let own = self.0.own.lock().await;
            if let Some(o) = own.get(&item)
                && o.checked.elapsed() < OWN_RECHECK
                && o.manifest.audience == self.audience(o.library.as_deref())
            {
                return Some(o.manifest.clone());
            }
        }
        self.own_manifest(item).await.ok().flatten().map(|(_, m)| m)
    }

    async fn known_manifest(&self, origin: &PeerId, item: i64) -> Option<Arc<Manifest>> {
        if *origin == self.0.me {
            return self.current_own(item).await;
        }
        let all = self.0.manifests.lock().expect("manifests lock");
        all.get(&(*origin, item)).map(|(_, m)| m.clone())
    }

    async fn have(&self, peer: &PeerId, origin: &str, item: i64) -> Response {
        let Ok(origin) = origin.parse::<PeerId>() else {
            return Response::of(Header::NotFound);
        };
        let Some(m) = self.known_manifest(&origin, item).await else {
            return Response::of(Header::Have { pieces: Vec::new() });
        };
        if !m.shared_with(peer) {
            return refused("this item is not shared with you");
        }
        let mine = origin == self.0.me;
        let pieces = (0..m.files.len() as u32)
            .filter(|i| mine || self.0.cache.has(&m.files[*i as usize].sha256))
            .collect();
        Response::of(Header::Have { pieces })
    }

    async fn serve_piece(
        &self,
        peer: &PeerId,
        origin: &str,
        item: i64,
        index: u32,
    ) -> anyhow::Result<Response> {
        let Ok(origin) = origin.parse::<PeerId>() else {
            return Ok(Response::of(Header::NotFound));
        };
        let Some(m) = self.known_manifest(&origin, item).await else {
            return Ok(Response::of(Header::NotFound));
        };
        if !m.shared_with(peer) {
            return Ok(refused("this item is not shared with you"));
        }
        let Some(file) = m.files.get(index as usize) else {
            return Ok(Response::of(Header::NotFound));
        };
        let mine = origin == self.0.me;
        tracing::debug!(%peer, item, index, mine, "piece asked");
        let body = if mine {
            // The package may have changed since the manifest: serve only what it promised.
            self.0
                .origin
                .get(&format!("/hls/{item}/{}", file.path))
                .await?
                .filter(|b| manifest::sha256_hex(b) == file.sha256)
        } else {
            self.0.cache.get(&file.sha256)
        };
        let Some(body) = body else {
            return Ok(Response::of(Header::NotFound));
        };
        let wait = self.upload_wait(peer, body.len());
        if !mine && wait > CHOKE_AFTER {
            return Ok(Response::of(Header::Choked));
        }
        tokio::time::sleep(wait).await;
        self.count(peer, body.len() as u64, 0, None);
        Ok(Response {
            header: Header::Piece,
            body,
        })
    }

    /// The wait before `bytes` may go to `peer`: the gateway's upload limit and the friend's
    /// (its own `uploadKbps` in the peers file, or the gateway's per-friend limit).
    pub(crate) fn upload_wait(&self, peer: &PeerId, bytes: usize) -> Duration {
        let kbps = self
            .0
            .trusted
            .get(peer)
            .and_then(|p| p.upload_kbps)
            .or(self.bandwidth().per_peer_upload_kbps);
        let per_peer = {
            let mut all = self.0.per_peer.lock().expect("limiter lock");
            all.entry(*peer)
                .or_insert_with(|| Arc::new(Limiter::new(kbps)))
                .clone()
        };
        if per_peer.kbps() != kbps {
            per_peer.set(kbps);
        }
        self.0.upload.reserve(bytes).max(per_peer.reserve(bytes))
    }

    fn count(&self, peer: &PeerId, up: u64, down: u64, speed: Option<f64>) {
        let mut all = self.0.traffic.lock().expect("traffic lock");
        let t = all.entry(*peer).or_default();
        t.bytes_up += up;
        t.bytes_down += down;
        if let Some(speed) = speed {
            t.speed = if t.speed == 0.0 {
                speed
            } else {
                0.7 * t.speed + 0.3 * speed
            };
        }
    }

    fn speed(&self, peer: &PeerId) -> f64 {
        self.0
            .traffic
            .lock()
            .expect("traffic lock")
            .get(peer)
            .map_or(0.0, |t| t.speed)
    }

    // ---- The viewer side: friends' items for local players. ----

    fn friend(&self, peer: &PeerId) -> Result<super::peers::Peer, Error> {
        self.0
            .trusted
            .get(peer)
            .ok_or_else(|| Error::NotFound(format!("{peer} is not one of this gateway's friends")))
    }

    async fn ask(&self, peer: PeerId, request: Request) -> Result<Response, Error> {
        let name = self.friend(&peer)?.name;
        self.0.net.request(peer, request).await.map_err(|error| {
            Error::Unreachable(format!(
                "cannot reach {name} ({peer}): {error}; they may be offline — try again later"
            ))
        })
    }

    /// A friend's items shared with us, with URLs on this gateway.
    pub async fn items(&self, peer: PeerId) -> Result<Vec<serde_json::Value>, Error> {
        let answer = match self.ask(peer, Request::Items).await {
            // Away: the items kept for offline viewing still list.
            Err(Error::Unreachable(why)) => {
                let kept = self.kept_items(peer);
                return if kept.is_empty() {
                    Err(Error::Unreachable(why))
                } else {
                    Ok(kept)
                };
            }
            answer => answer?,
        };
        match answer.header {
            Header::Items { items } => Ok(items
                .into_iter()
                .map(|mut item| {
                    let id = item["id"].as_i64().unwrap_or_default();
                    item["hls_url"] =
                        format!("/peers/{peer}/hls/{id}/{}", crate::hls::MASTER).into();
                    item["poster_url"] = format!("/api/v1/peers/{peer}/items/{id}/poster").into();
                    item["peer"] = peer.to_string().into();
                    item
                })
                .collect()),
            other => Err(answer_error(other)),
        }
    }

    pub async fn poster(&self, peer: PeerId, item: i64) -> Result<Vec<u8>, Error> {
        match self.ask(peer, Request::Poster { item }).await? {
            Response {
                header: Header::Piece,
                body,
            } => Ok(body),
            other => Err(answer_error(other.header)),
        }
    }

    /// The friend's manifest of `item`, verified (and asked for again after a while).
    pub async fn manifest(&self, origin: PeerId, item: i64) -> Result<Arc<Manifest>, Error> {
        let cached = self
            .0
            .manifests
            .lock()
            .expect("manifests lock")
            .get(&(origin, item))
            .cloned();
        if let Some((at, m)) = &cached
            && at.elapsed() < MANIFEST_TTL
        {
            return Ok(m.clone());
        }
        let signed = match self.ask(origin, Request::Manifest { item }).await {
            Ok(Response {
                header: Header::Manifest { manifest },
                ..
            }) => manifest,
            // The origin is away: what we verified before still holds (pinned items play).
            Err(Error::Unreachable(_)) if cached.is_some() => {
                return Ok(cached.expect("checked").1);
            }
            Err(Error::Unreachable(why)) => {
                return self
                    .kept_manifest(origin, item)
                    .ok_or(Error::Unreachable(why));
            }
            Ok(other) => return Err(answer_error(other.header)),
            Err(error) => return Err(error),
        };
        let m = signed.verify(&origin, item).map_err(|error| {
            self.strike(origin, "sent a manifest that does not verify");
            Error::Refused(format!("the friend's manifest was refused: {error}"))
        })?;
        let m = Arc::new(m);
        self.0
            .manifests
            .lock()
            .expect("manifests lock")
            .insert((origin, item), (Instant::now(), m.clone()));
        Ok(m)
    }

    /// One file of a friend's item, for a player: from the cache, or the swarm, or the origin.
    pub async fn file(&self, origin: PeerId, item: i64, path: &str) -> Result<Vec<u8>, Error> {
        self.friend(&origin)?;
        let m = self.manifest(origin, item).await?;
        let index = m
            .index_of(path)
            .ok_or_else(|| Error::NotFound(format!("item {item} has no file {path}")))?;
        self.refresh_holders(origin, item, &m, HAVE_WAIT).await;
        let bytes = self.piece(origin, item, &m, index, true).await?;
        if path == crate::hls::MASTER && self.0.connections.kind(&origin) == "none" {
            // Away: a kept item's master offers only the rendition that was kept.
            return Ok(self.offline_master(origin, item, bytes));
        }
        if path.ends_with(".m4s") {
            self.read_ahead(origin, item, &m, index);
        }
        Ok(bytes)
    }

    /// Fetch the segments after `index` in the background, rarest first, from the swarm.
    fn read_ahead(&self, origin: PeerId, item: i64, m: &Arc<Manifest>, index: usize) {
        let dir = m.files[index]
            .path
            .rsplit_once('/')
            .map_or("", |(d, _)| d)
            .to_owned();
        let mut ahead: Vec<usize> = (index + 1..m.files.len())
            .filter(|i| m.files[*i].path.starts_with(&dir) && m.files[*i].path.ends_with(".m4s"))
            .take(READ_AHEAD)
            .filter(|i| !self.0.cache.has(&m.files[*i].sha256))
            .collect();
        let count = |i: &usize| self.holders_of(origin, item, *i).len();
        ahead.sort_by_key(count);
        for i in ahead {
            let (gateway, m) = (self.clone(), m.clone());
            tokio::spawn(async move {
                let _ = gateway.piece(origin, item, &m, i, false).await;
            });
        }
    }

    fn holders_of(&self, origin: PeerId, item: i64, index: usize) -> Vec<PeerId> {
        let all = self.0.holders.lock().expect("holders lock");
        let Some(h) = all.get(&(origin, item)) else {
            return Vec::new();
        };
        h.by_peer
            .iter()
            .filter(|(peer, pieces)| **peer != origin && pieces.contains(&(index as u32)))
            .map(|(peer, _)| *peer)
            .collect()
    }

    /// Ask the group which pieces of the item they hold (at most every `HAVE_EVERY`), waiting
    /// up to `wait` for the answers.
    async fn refresh_holders(&self, origin: PeerId, item: i64, m: &Manifest, wait: Duration) {
        {
            let mut all = self.0.holders.lock().expect("holders lock");
            let h = all.entry((origin, item)).or_default();
            if h.asked.is_some_and(|at| at.elapsed() < HAVE_EVERY) {
                return;
            }
            h.asked = Some(Instant::now());
        }
        let askable = m
            .audience
            .iter()
            .filter_map(|p| p.parse().ok())
            .filter(|p: &PeerId| {
                *p != origin
                    && *p != self.0.me
                    && self.0.connections.kind(p) != "none"
                    && !self.is_banned(p)
            });
        let asks: Vec<_> = askable
            .map(|peer| {
                let gateway = self.clone();
                let request = Request::Have {
                    origin: origin.to_string(),
                    item,
                };
                tokio::spawn(async move {
                    if let Ok(Response {
                        header: Header::Have { pieces },
                        ..
                    }) = gateway.0.net.request(peer, request).await
                    {
                        let mut all = gateway.0.holders.lock().expect("holders lock");
                        let h = all.entry((origin, item)).or_default();
                        if !h.dropped.contains(&peer) {
                            h.by_peer.insert(peer, pieces.into_iter().collect());
                        }
                    }
                })
            })
            .collect();
        let _ = tokio::time::timeout(wait, libp2p::futures::future::join_all(asks)).await;
    }

    fn forget_have_poll(&self, origin: PeerId, item: i64) {
        let mut all = self.0.holders.lock().expect("holders lock");
        all.entry((origin, item)).or_default().asked = None;
    }

    /// Does any friend but the origin hold pieces of the item (are others watching it)?
    fn others_hold(&self, origin: PeerId, item: i64) -> bool {
        let all = self.0.holders.lock().expect("holders lock");
        all.get(&(origin, item)).is_some_and(|h| {
            h.by_peer
                .iter()
                .any(|(p, pieces)| *p != origin && !pieces.is_empty())
        })
    }

    /// Piece `index`: cached, or fetched from the fastest holder, then the origin; each answer
    /// checked against the manifest, a bad one struck and asked elsewhere.
    async fn piece(
        &self,
        origin: PeerId,
        item: i64,
        m: &Manifest,
        index: usize,
        urgent: bool,
    ) -> Result<Vec<u8>, Error> {
        let file = &m.files[index];
        let lock = {
            let mut all = self.0.fetching.lock().expect("fetching lock");
            all.entry(file.sha256.clone()).or_default().clone()
        };
        let fetched = {
            let _one_at_a_time = lock.lock().await;
            match self.0.cache.get(&file.sha256) {
                Some(bytes) => Ok(bytes),
                None => self.fetch(origin, item, m, index, urgent).await,
            }
        };
        let mut all = self.0.fetching.lock().expect("fetching lock");
        if Arc::strong_count(&lock) <= 2 {
            all.remove(&file.sha256);
        }
        fetched
    }

    async fn fetch(
        &self,
        origin: PeerId,
        item: i64,
        m: &Manifest,
        index: usize,
        urgent: bool,
    ) -> Result<Vec<u8>, Error> {
        let file = &m.files[index];
        let mut sources = self.sources(origin, item, index, urgent);
        if sources == [origin] && self.others_hold(origin, item) {
            // Others watch, but nobody has this piece yet: the one ahead is likely fetching it.
            // Wait a moment for it rather than have the origin send it twice.
            tokio::time::sleep(AHEAD_WAIT).await;
            self.forget_have_poll(origin, item);
            self.refresh_holders(origin, item, m, HAVE_WAIT).await;
            sources = self.sources(origin, item, index, urgent);
        }
        if sources.is_empty() {
            return Err(Error::Unreachable(format!(
                "no friend holds {} yet",
                file.path
            )));
        }
        let request = Request::Piece {
            origin: origin.to_string(),
            item,
            index: index as u32,
        };
        for source in sources {
            let started = Instant::now();
            // A friend stuck on a piece is left for the next source; the origin, the last resort,
            // is waited for (asking it again would only add to what its uplink carries).
            let limit = if source == origin {
                REQUEST_TIMEOUT
            } else {
                PIECE_TIMEOUT
            };
            let answer =
                tokio::time::timeout(limit, self.0.net.request(source, request.clone())).await;
            let Ok(Ok(Response {
                header: Header::Piece,
                body,
            })) = answer
            else {
                tracing::debug!(%source, index, "no piece from this source: asking the next");
                continue;
            };
            if body.len() as u64 != file.size || manifest::sha256_hex(&body) != file.sha256 {
                self.drop_from_item(origin, item, source);
                self.strike(
                    source,
                    "sent a piece that does not match the signed manifest",
                );
                continue;
            }
            tokio::time::sleep(self.0.download.reserve(body.len())).await;
            let speed = body.len() as f64 / started.elapsed().as_secs_f64().max(1e-3);
            self.count(&source, 0, body.len() as u64, Some(speed));
            if let Err(error) = self.0.cache.put(&file.sha256, &body) {
                tracing::warn!(%error, "cannot cache a piece");
            }
            return Ok(body);
        }
        Err(Error::Unreachable(format!(
            "no friend could send {} of item {item} (the origin may be offline and nobody else has it)",
            file.path
        )))
    }

    /// Whom to ask for a piece, best first. The group before the origin (sparing its upload),
    /// the fastest first; a friend not measured yet counts as fast as the origin. For the
    /// playhead (`urgent`), a much faster origin (`FASTER_ORIGIN`) goes first; reading ahead
    /// leaves the origin alone while others watch (their pieces will do).
    fn sources(&self, origin: PeerId, item: i64, index: usize, urgent: bool) -> Vec<PeerId> {
        let origin_speed = self.speed(&origin);
        let speed = |p: &PeerId| match self.speed(p) {
            0.0 => origin_speed,
            known => known,
        };
        let mut sources = self.holders_of(origin, item, index);
        sources.retain(|p| !self.is_banned(p));
        sources.sort_by(|a, b| speed(b).total_cmp(&speed(a)));
        let best = sources.first().map_or(0.0, speed);
        if urgent && origin_speed > best * FASTER_ORIGIN {
            sources.insert(0, origin);
        } else if urgent || sources.is_empty() && !self.others_hold(origin, item) {
            sources.push(origin);
        }
        sources
    }
}

fn refused(reason: &str) -> Response {
    Response::of(Header::Refused {
        reason: reason.into(),
    })
}

fn answer_error(header: Header) -> Error {
    match header {
        Header::Refused { reason } => Error::Refused(format!("the friend refused: {reason}")),
        Header::NotFound => {
            Error::NotFound("the friend has no such item (or it is not transcoded yet)".into())
        }
        other => Error::Unreachable(format!("unexpected answer from the friend: {other:?}")),
    }
}
