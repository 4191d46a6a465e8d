//! Gateways over libp2p's in-memory transport: who may see what, tampered pieces, malformed
//! messages.

use super::gateway::{Bandwidth, Error, Gateway};
use super::net::{self, Command};
use super::origin::Origin;
use super::wire::{self, Request};
use axum::extract::Path;
use axum::routing::get;
use libp2p::identity::Keypair;
use libp2p::{Multiaddr, PeerId};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// Item `item`'s package: one rendition with five segments, and where each file is.
fn package_of(item: u8) -> HashMap<String, Vec<u8>> {
    let mut files = HashMap::new();
    files.insert(
        "master.m3u8".into(),
        b"#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=1000\n360p/index.m3u8\n".to_vec(),
    );
    let mut playlist = String::from("#EXTM3U\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for n in 0..5 {
        playlist.push_str(&format!("#EXTINF:4,\nseg-{n}.m4s\n"));
        files.insert(
            format!("360p/seg-{n}.m4s"),
            vec![n as u8 + 10 * item; 4000 + n],
        );
    }
    files.insert("360p/index.m3u8".into(), playlist.into_bytes());
    files.insert("360p/init.mp4".into(), b"init".to_vec());
    files
}

fn package() -> HashMap<String, Vec<u8>> {
    package_of(1)
}

/// A library server with item 1 in `films` and item 2 in `home`.
fn library() -> Origin {
    let files = Arc::new([package_of(1), package_of(2)]);
    let items = serde_json::json!({"items": [
        {"id": 1, "title": "Film", "library": "films", "path": "/srv/film.mkv", "hls_url": "/hls/1/master.m3u8"},
        {"id": 2, "title": "Birthday", "library": "home", "path": "/srv/bday.mkv", "hls_url": "/hls/2/master.m3u8"},
    ]});
    let router = axum::Router::new()
        .route(
            "/api/v1/items",
            get(move || async move { axum::Json(items) }),
        )
        .route(
            "/hls/{id}/{*path}",
            get(move |Path((id, path)): Path<(usize, String)>| async move {
                match files.get(id.wrapping_sub(1)).and_then(|f| f.get(&path)) {
                    Some(bytes) => Ok(bytes.clone()),
                    None => Err(axum::http::StatusCode::NOT_FOUND),
                }
            }),
        );
    Origin::Local(router)
}

struct Node {
    gateway: Gateway,
    address: Multiaddr,
    _dir: tempfile::TempDir,
}

fn peers_yaml(friends: &[(&Keypair, &str, &[&str])]) -> String {
    friends
        .iter()
        .map(|(key, name, libraries)| {
            format!(
                "- peerId: {}\n  name: {name}\n  libraries: {libraries:?}\n",
                key.public().to_peer_id()
            )
        })
        .collect()
}

async fn node(key: &Keypair, friends: &[(&Keypair, &str, &[&str])], origin: Origin) -> Node {
    let dir = tempfile::tempdir().unwrap();
    let peers = dir.path().join("peers.yaml");
    std::fs::write(&peers, peers_yaml(friends)).unwrap();
    let port: u64 = rand_port();
    let address: Multiaddr = format!("/memory/{port}").parse().unwrap();
    let gateway = super::start(super::Config {
        key: key.clone(),
        peers_file: peers,
        settings: net::Settings {
            listen: vec![address.clone()],
            coordinators: vec![],
            peer_addresses: vec![],
            lan: false,
            memory: true,
        },
        origin,
        cache_dir: dir.path().join("cache"),
        cache_bytes: 1 << 30,
        bandwidth: Default::default(),
    })
    .unwrap();
    while gateway.net().listeners().await.is_empty() {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let address = address.with(libp2p::multiaddr::Protocol::P2p(key.public().to_peer_id()));
    Node {
        gateway,
        address,
        _dir: dir,
    }
}

fn rand_port() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    (u64::from(std::process::id()) << 20) + NEXT.fetch_add(1, Ordering::Relaxed) + 1
}

/// Dial `to` from `from` and wait until `from` sees the connection.
async fn connect(from: &Node, to: &Node) {
    let peer = to.gateway.peer_id();
    from.gateway
        .net()
        .send(Command::Dial(to.address.clone()))
        .await;
    wait_for(|| from.gateway.connections().kind(&peer) != "none").await;
}

async fn wait_for(mut ready: impl FnMut() -> bool) {
    for _ in 0..200 {
        if ready() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("timed out");
}

#[tokio::test]
async fn a_friend_sees_only_the_libraries_shared_with_it_and_plays_them() {
    let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let origin = node(&a, &[(&b, "bob", &["films"])], library()).await;
    let viewer = node(&b, &[(&a, "ann", &[])], Origin::None).await;
    connect(&viewer, &origin).await;
    let ann = a.public().to_peer_id();

    let items = viewer.gateway.items(ann).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");
    assert_eq!(items[0]["title"], "Film");
    assert_eq!(
        items[0]["hls_url"],
        format!("/peers/{ann}/hls/1/master.m3u8")
    );
    assert!(
        items[0].get("path").is_none(),
        "a friend learns no file paths"
    );

    let package = package();
    for path in [
        "master.m3u8",
        "360p/index.m3u8",
        "360p/init.mp4",
        "360p/seg-0.m4s",
        "360p/seg-4.m4s",
    ] {
        assert_eq!(
            viewer.gateway.file(ann, 1, path).await.unwrap(),
            package[path],
            "{path}"
        );
    }
    assert!(matches!(
        viewer.gateway.file(ann, 1, "360p/seg-9.m4s").await,
        Err(Error::NotFound(_))
    ));
    // Item 2 is in `home`, not shared with bob: the origin refuses its manifest.
    let refused = viewer
        .gateway
        .file(ann, 2, "master.m3u8")
        .await
        .unwrap_err();
    assert!(matches!(refused, Error::Refused(_)), "{refused:?}");
    let status = viewer.gateway.peers();
    assert_eq!(
        (status[0].name.as_str(), status[0].connection),
        ("ann", "direct")
    );
    assert!(status[0].traffic.bytes_down > 8_000, "{status:?}");
}

#[tokio::test]
async fn a_stranger_is_refused_at_connection_level() {
    let (a, stranger) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let origin = node(&a, &[], library()).await;
    let intruder = node(&stranger, &[(&a, "ann", &["*"])], Origin::None).await;
    intruder
        .gateway
        .net()
        .send(Command::Dial(origin.address.clone()))
        .await;
    let error = intruder
        .gateway
        .items(a.public().to_peer_id())
        .await
        .unwrap_err();
    assert!(matches!(error, Error::Unreachable(_)), "{error:?}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        origin
            .gateway
            .connections()
            .kind(&stranger.public().to_peer_id()),
        "none"
    );
}

#[tokio::test]
async fn a_tampered_piece_is_caught_the_sender_banned_and_playback_goes_on() {
    let keys: Vec<Keypair> = (0..3).map(|_| Keypair::generate_ed25519()).collect();
    let (a, evil, v) = (&keys[0], &keys[1], &keys[2]);
    let origin = node(a, &[(evil, "eve", &["*"]), (v, "vic", &["*"])], library()).await;
    let eve = node(evil, &[(a, "ann", &[]), (v, "vic", &[])], Origin::None).await;
    let vic = node(v, &[(a, "ann", &[]), (evil, "eve", &[])], Origin::None).await;
    connect(&eve, &origin).await;
    connect(&vic, &origin).await;
    connect(&vic, &eve).await;
    let ann = a.public().to_peer_id();

    // Eve fetches both items honestly, then corrupts what she holds.
    for item in [1, 2] {
        for n in 0..5 {
            let path = format!("360p/seg-{n}.m4s");
            eve.gateway.file(ann, item, &path).await.unwrap();
        }
        let manifest = eve.gateway.manifest(ann, item).await.unwrap();
        for file in manifest.files.iter().filter(|f| f.path.ends_with(".m4s")) {
            let piece = eve._dir.path().join("cache/pieces").join(&file.sha256);
            std::fs::write(piece, vec![0xEE; file.size as usize]).unwrap();
        }
    }
    let package = package();
    let eve_id = evil.public().to_peer_id();
    // Vic learns that Eve holds the pieces, and asks her first (sparing the origin's upload):
    // the bad piece is caught, Eve dropped from the item, and the piece comes from the origin.
    vic.gateway.file(ann, 1, "360p/index.m3u8").await.unwrap();
    let seg = |n: usize| format!("360p/seg-{n}.m4s");
    assert_eq!(
        vic.gateway.file(ann, 1, &seg(0)).await.unwrap(),
        package[&seg(0)]
    );
    assert!(
        !vic.gateway.is_banned(&eve_id),
        "one bad piece drops Eve from the item only"
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(
        vic.gateway.file(ann, 1, &seg(3)).await.unwrap(),
        package[&seg(3)]
    );
    assert!(
        !vic.gateway.is_banned(&eve_id),
        "Eve is not asked for item 1 again"
    );
    // A repeat, on another item: banned, disconnected, and playback goes on from the origin.
    let other = package_of(2);
    assert_eq!(
        vic.gateway.file(ann, 2, &seg(1)).await.unwrap(),
        other[&seg(1)]
    );
    assert!(
        vic.gateway.is_banned(&eve_id),
        "a second bad piece bans the sender"
    );
    wait_for(|| vic.gateway.connections().kind(&eve_id) == "none").await;
    assert_eq!(
        vic.gateway.file(ann, 2, &seg(4)).await.unwrap(),
        other[&seg(4)]
    );
}

#[tokio::test]
async fn a_viewer_goes_on_from_the_origin_when_the_friend_it_fetched_from_dies() {
    let keys: Vec<Keypair> = (0..3).map(|_| Keypair::generate_ed25519()).collect();
    let (a, b, c) = (&keys[0], &keys[1], &keys[2]);
    let origin = node(a, &[(b, "bob", &["*"]), (c, "cat", &["*"])], library()).await;
    let bob = node(b, &[(a, "ann", &[]), (c, "cat", &[])], Origin::None).await;
    let cat = node(c, &[(a, "ann", &[]), (b, "bob", &[])], Origin::None).await;
    connect(&bob, &origin).await;
    connect(&cat, &origin).await;
    connect(&cat, &bob).await;
    let (ann, bob_id) = (a.public().to_peer_id(), b.public().to_peer_id());
    let seg = |n: usize| format!("360p/seg-{n}.m4s");
    for n in 0..5 {
        bob.gateway.file(ann, 1, &seg(n)).await.unwrap();
    }
    // Cat starts watching: Bob holds every piece, and is asked first.
    let package = package();
    assert_eq!(
        cat.gateway.file(ann, 1, &seg(0)).await.unwrap(),
        package[&seg(0)]
    );
    let from_bob = cat
        .gateway
        .peers()
        .into_iter()
        .find(|p| p.peer_id == bob_id.to_string())
        .unwrap();
    assert!(
        from_bob.traffic.bytes_down > 0,
        "the first piece came from Bob"
    );
    // Bob's gateway dies mid-stream; Cat goes on, from the origin.
    let from_ann = |g: &Gateway| {
        let ann = g
            .peers()
            .into_iter()
            .find(|p| p.peer_id == ann.to_string())
            .unwrap();
        ann.traffic.bytes_down
    };
    let before = from_ann(&cat.gateway);
    bob.gateway.net().send(Command::Stop).await;
    for n in 1..5 {
        assert_eq!(
            cat.gateway.file(ann, 1, &seg(n)).await.unwrap(),
            package[&seg(n)],
            "{n}"
        );
    }
    assert_eq!(cat.gateway.connections().kind(&bob_id), "none");
    assert!(
        from_ann(&cat.gateway) > before,
        "the rest came from the origin"
    );
}

#[tokio::test]
async fn a_pinned_item_lists_and_plays_while_its_friend_is_away() {
    let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let origin = node(&a, &[(&b, "bob", &["*"])], library()).await;
    let viewer = node(&b, &[(&a, "ann", &[])], Origin::None).await;
    connect(&viewer, &origin).await;
    let ann = a.public().to_peer_id();
    let pinned = viewer.gateway.pin(ann, 1, None).await.unwrap();
    assert_eq!((pinned.rendition.as_str(), pinned.files), ("360p", 8));
    let error = viewer.gateway.pin(ann, 1, Some("4k")).await.unwrap_err();
    assert!(error.to_string().contains("no rendition \"4k\""), "{error}");

    origin.gateway.net().send(Command::Stop).await;
    wait_for(|| viewer.gateway.connections().kind(&ann) == "none").await;
    let items = viewer.gateway.items(ann).await.unwrap();
    assert_eq!(items.len(), 1, "only the kept item lists: {items:?}");
    assert_eq!(
        (items[0]["id"].as_i64(), items[0]["offline"].as_bool()),
        (Some(1), Some(true))
    );
    let package = package();
    for path in [
        "master.m3u8",
        "360p/index.m3u8",
        "360p/init.mp4",
        "360p/seg-4.m4s",
    ] {
        assert_eq!(
            viewer.gateway.file(ann, 1, path).await.unwrap(),
            package[path],
            "{path}"
        );
    }
}

#[tokio::test]
async fn a_malformed_request_drops_the_connection_and_the_gateway_keeps_serving() {
    let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let origin = node(&a, &[(&b, "bob", &["*"])], library()).await;
    let ann = a.public().to_peer_id();
    // A trusted peer that speaks the protocol badly.
    let mut junk = junk_swarm(&b);
    junk.dial(origin.address.clone()).unwrap();
    let mut sent = false;
    let closed = tokio::time::timeout(Duration::from_secs(5), async {
        use libp2p::futures::StreamExt as _;
        loop {
            match junk.select_next_some().await {
                libp2p::swarm::SwarmEvent::ConnectionEstablished { .. } if !sent => {
                    junk.behaviour_mut().send_request(&ann, Request::Items);
                    sent = true;
                }
                libp2p::swarm::SwarmEvent::ConnectionClosed { .. } => return,
                _ => {}
            }
        }
    })
    .await;
    assert!(
        closed.is_ok(),
        "the origin closes the connection of a peer that sends junk"
    );
    drop(junk);
    // The gateway still serves: bob, well-behaved this time, lists the items.
    let viewer = node(&b, &[(&a, "ann", &[])], Origin::None).await;
    connect(&viewer, &origin).await;
    assert_eq!(viewer.gateway.items(ann).await.unwrap().len(), 2);
}

/// A codec that writes a request no gateway can parse.
#[derive(Clone, Default)]
struct Junk;

impl libp2p::request_response::Codec for Junk {
    type Protocol = libp2p::StreamProtocol;
    type Request = Request;
    type Response = wire::Response;

    async fn read_request<T: libp2p::futures::AsyncRead + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
    ) -> std::io::Result<Request> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
    async fn read_response<T: libp2p::futures::AsyncRead + Unpin + Send>(
        &mut self,
        p: &Self::Protocol,
        io: &mut T,
    ) -> std::io::Result<wire::Response> {
        libp2p::request_response::Codec::read_response(&mut wire::Codec, p, io).await
    }
    async fn write_request<T: libp2p::futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        io: &mut T,
        _: Request,
    ) -> std::io::Result<()> {
        use libp2p::futures::AsyncWriteExt as _;
        io.write_all(&[0, 0, 0, 5, b'{', b'{', b'[', b'!', b'?'])
            .await?;
        io.close().await
    }
    async fn write_response<T: libp2p::futures::AsyncWrite + Unpin + Send>(
        &mut self,
        _: &Self::Protocol,
        _: &mut T,
        _: wire::Response,
    ) -> std::io::Result<()> {
        Err(std::io::ErrorKind::Unsupported.into())
    }
}

fn junk_swarm(key: &Keypair) -> libp2p::Swarm<libp2p::request_response::Behaviour<Junk>> {
    use libp2p::core::{Transport as _, transport::MemoryTransport, upgrade};
    libp2p::SwarmBuilder::with_existing_identity(key.clone())
        .with_tokio()
        .with_other_transport(|key| {
            let noise = libp2p::noise::Config::new(key)?;
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                MemoryTransport::default()
                    .upgrade(upgrade::Version::V1)
                    .authenticate(noise)
                    .multiplex(libp2p::yamux::Config::default()),
            )
        })
        .unwrap()
        .with_behaviour(|_| {
            libp2p::request_response::Behaviour::new(
                [(
                    wire::PROTOCOL,
                    libp2p::request_response::ProtocolSupport::Outbound,
                )],
                libp2p::request_response::Config::default(),
            )
        })
        .unwrap()
        .build()
}

#[test]
fn both_friends_derive_the_same_rendezvous_namespace() {
    let (a, b): (PeerId, PeerId) = (PeerId::random(), PeerId::random());
    assert_eq!(net::pair_namespace(&a, &b), net::pair_namespace(&b, &a));
    assert_ne!(
        net::pair_namespace(&a, &b),
        net::pair_namespace(&a, &PeerId::random())
    );
    assert!(net::pair_namespace(&a, &b).len() <= 255);
}

/// `POST` or `DELETE` on the gateway's HTTP routes: the status and the JSON answer.
async fn call(
    gateway: &Gateway,
    method: &str,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    use tower::ServiceExt as _;
    let request = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let response = super::http::router(gateway.clone())
        .oneshot(request)
        .await
        .unwrap();
    let status = response.status().as_u16();
    let bytes = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn a_friend_added_by_its_code_sees_what_it_was_given_until_removed() {
    let (a, b) = (Keypair::generate_ed25519(), Keypair::generate_ed25519());
    let origin = node(&a, &[], library()).await;
    let viewer = node(&b, &[(&a, "ann", &[])], Origin::None).await;
    let (ann, bob) = (a.public().to_peer_id(), b.public().to_peer_id());

    let add =
        |code: String| serde_json::json!({"code": code, "name": "bob", "libraries": ["films"]});
    let (status, answer) = call(
        &origin.gateway,
        "POST",
        "/api/v1/peers",
        add(viewer.gateway.friend_code()),
    )
    .await;
    assert_eq!(
        (status, answer["peerId"].as_str()),
        (201, Some(bob.to_string().as_str())),
        "{answer}"
    );
    let (status, _) = call(
        &origin.gateway,
        "POST",
        "/api/v1/peers",
        add(bob.to_string()),
    )
    .await;
    assert_eq!(
        status, 200,
        "the same friend again (by its bare PeerId): changed, not added"
    );
    for (code, why) in [
        ("mow1:!!", "damaged"),
        ("hello", "paste your friend's code"),
        (&origin.gateway.friend_code()[..], "own code"),
    ] {
        let (status, answer) =
            call(&origin.gateway, "POST", "/api/v1/peers", add(code.into())).await;
        assert_eq!(status, 422, "{code}");
        assert!(answer["error"].as_str().unwrap().contains(why), "{answer}");
    }

    // The watcher puts the file in force; the friend connects and sees `films` only.
    wait_for(|| origin.gateway.trusted().get(&bob).is_some()).await;
    connect(&viewer, &origin).await;
    let items = viewer.gateway.items(ann).await.unwrap();
    assert_eq!(items.len(), 1, "{items:?}");

    let path = format!("/api/v1/peers/{bob}");
    let remove = || call(&origin.gateway, "DELETE", &path, serde_json::Value::Null);
    assert_eq!(remove().await.0, 204);
    wait_for(|| origin.gateway.connections().kind(&bob) == "none").await;
    assert_eq!(remove().await.0, 404, "no longer a friend");
}

#[tokio::test]
async fn a_friend_with_its_own_upload_limit_is_held_to_it() {
    let origin = node(&Keypair::generate_ed25519(), &[], library()).await;
    let [bob, carl] = [0, 1].map(|_| Keypair::generate_ed25519().public().to_peer_id());
    let add = |peer: PeerId, name: &str, kbps: serde_json::Value| serde_json::json!({"code": peer.to_string(), "name": name, "libraries": ["*"], "uploadKbps": kbps});
    let gateway = &origin.gateway;
    let post = |body| call(gateway, "POST", "/api/v1/peers", body);
    assert_eq!(post(add(bob, "bob", 64.into())).await.0, 201);
    assert_eq!(
        post(add(carl, "carl", serde_json::Value::Null)).await.0,
        201
    );
    let (status, answer) = post(add(carl, "carl", 1.into())).await;
    assert_eq!(status, 422, "{answer}");
    assert!(answer["error"].as_str().unwrap().contains("uploadKbps"));

    wait_for(|| gateway.trusted().get(&bob).is_some() && gateway.trusted().get(&carl).is_some())
        .await;
    let (_, listed) = call(gateway, "GET", "/api/v1/peers", serde_json::Value::Null).await;
    let limit = |name: &str| {
        listed["peers"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == name)
            .unwrap()["uploadKbps"]
            .clone()
    };
    assert_eq!(
        (limit("bob"), limit("carl")),
        (64.into(), serde_json::Value::Null)
    );

    // 64 kbit/s is 8 KB a second: 64 KB for bob wait about 7 s; carl has no limit.
    let chunk = 64 * 1024;
    assert!(gateway.upload_wait(&bob, chunk) > Duration::from_secs(6));
    assert_eq!(gateway.upload_wait(&carl, chunk), Duration::ZERO);
    // The gateway's per-friend limit holds carl now; bob keeps his own.
    gateway.set_bandwidth(Bandwidth {
        per_peer_upload_kbps: Some(128),
        ..Bandwidth::default()
    });
    // 128 kbit/s is 16 KB a second: about 4 s.
    let carl_waits = gateway.upload_wait(&carl, chunk);
    assert!(
        carl_waits > Duration::from_secs(3) && carl_waits < Duration::from_secs(5),
        "{carl_waits:?}"
    );
    assert!(
        gateway.upload_wait(&bob, chunk) > Duration::from_secs(13),
        "bob's debt grows at his rate"
    );
}
