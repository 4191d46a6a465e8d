//! The P2P subcommands: identity, gateway, coordinator, pin.

use super::{CoordinatorArgs, GatewayArgs, IdentityArgs, P2pArgs, PinArgs};
use crate::p2p::{self, identity, net, origin::Origin};
use anyhow::Context as _;
use axum::response::IntoResponse as _;
use libp2p::Multiaddr;
use std::io::Write as _;
use std::path::Path;

pub fn identity(args: IdentityArgs) -> anyhow::Result<()> {
    let key = identity::load_or_create(&args.key)?;
    let peer = key.public().to_peer_id();
    let meet: Vec<Multiaddr> = args
        .coordinators
        .into_iter()
        .map(|c| c.with(libp2p::multiaddr::Protocol::P2pCircuit))
        .collect();
    // The PeerId alone on the first line, for scripts (`| head -n1` may close the pipe early).
    let code = identity::friend_code(&peer, &meet);
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{peer}").and_then(|()| writeln!(out, "friend code: {code}"));
    Ok(())
}

/// Default libp2p addresses: TCP and QUIC on `port`, on every interface.
pub fn listen_on_port(port: u16) -> Vec<Multiaddr> {
    [
        format!("/ip4/0.0.0.0/udp/{port}/quic-v1"),
        format!("/ip4/0.0.0.0/tcp/{port}"),
    ]
    .iter()
    .map(|a| a.parse().expect("a valid multiaddr"))
    .collect()
}

/// Start a gateway from the shared flags.
pub fn start(
    p2p: &P2pArgs,
    listen: Vec<Multiaddr>,
    origin: Origin,
    cache_dir: &Path,
) -> anyhow::Result<p2p::gateway::Gateway> {
    let (Some(identity), Some(peers)) = (&p2p.identity, &p2p.peers) else {
        anyhow::bail!("sharing needs --identity FILE and --peers FILE");
    };
    let key = identity::load_or_create(identity)?;
    let gateway = p2p::start(p2p::Config {
        key,
        peers_file: peers.clone(),
        settings: net::Settings {
            listen,
            coordinators: p2p.coordinators.clone(),
            peer_addresses: p2p.peer_addresses.clone(),
            lan: !p2p.no_lan,
            memory: false,
        },
        origin,
        cache_dir: cache_dir.to_owned(),
        cache_bytes: p2p.cache_mb.saturating_mul(1 << 20),
        bandwidth: p2p.bandwidth(),
    })?;
    tracing::info!(peer = %gateway.peer_id(), friend_code = gateway.friend_code(), "sharing with friends");
    Ok(gateway)
}

pub fn gateway(args: GatewayArgs) -> anyhow::Result<()> {
    let mut listen = args.listen.clone();
    if let Some(port) = args.port {
        listen.extend(listen_on_port(port));
    }
    if listen.is_empty() {
        anyhow::bail!("give --listen MULTIADDR (e.g. /ip4/0.0.0.0/udp/4001/quic-v1) or --port N");
    }
    if args.http_token.is_none() && !args.http.ip().is_loopback() {
        anyhow::bail!(
            "--http {} is reachable from other machines: give --http-token TOKEN (players then send \
             Authorization: Bearer TOKEN), or listen on 127.0.0.1",
            args.http
        );
    }
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        let origin = match (&args.server, &args.token) {
            (Some(server), Some(token)) => Origin::http(server, token),
            (Some(server), None) => Origin::http(server, ""),
            _ => Origin::None,
        };
        let gateway = start(&args.p2p, listen, origin, &args.cache_dir)?;
        let app = p2p::http::router(gateway);
        let app = match args.http_token {
            Some(token) => app.layer(axum::middleware::from_fn(move |req, next| {
                require_token(token.clone(), req, next)
            })),
            None => app,
        };
        let app = app.route("/healthz", axum::routing::get(|| async { "ok\n" }));
        let listener = tokio::net::TcpListener::bind(args.http)
            .await
            .with_context(|| format!("cannot listen on {} (try --http)", args.http))?;
        tracing::info!(http = %args.http, "friends' libraries are served at http://{}/api/v1/peers", args.http);
        axum::serve(listener, app)
            .with_graceful_shutdown(crate::up::shutdown_signal())
            .await?;
        Ok(())
    })
}

/// `--http-token`: the gateway's routes answer only requests that send `expected`.
async fn require_token(
    token: String,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if crate::auth::has_bearer(req.headers(), &token) {
        return next.run(req).await;
    }
    let error = serde_json::json!({"error": "this gateway wants its token: send Authorization: Bearer <the --http-token>"});
    (axum::http::StatusCode::UNAUTHORIZED, axum::Json(error)).into_response()
}

pub fn coordinator(args: CoordinatorArgs) -> anyhow::Result<()> {
    let key = identity::load_or_create(&args.identity)?;
    let runtime = tokio::runtime::Runtime::new().context("cannot start the async runtime")?;
    runtime.block_on(async {
        tokio::select! {
            result = p2p::coordinator::run(key, args.listen, args.external, args.members) => result,
            () = crate::up::shutdown_signal() => Ok(()),
        }
    })
}

pub fn pin(args: PinArgs) -> anyhow::Result<()> {
    let url = format!(
        "{}/api/v1/peers/{}/items/{}/pin",
        args.gateway.trim_end_matches('/'),
        args.peer,
        args.item
    );
    let body = serde_json::json!({ "rendition": args.rendition }).to_string();
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into();
    let mut request = agent.post(&url).header("content-type", "application/json");
    if let Some(token) = &args.token {
        request = request.header("authorization", &format!("Bearer {token}"));
    }
    eprintln!("fetching the item whole; this takes as long as downloading it…");
    let mut response = request
        .send(body.as_bytes())
        .with_context(|| format!("cannot reach the gateway at {}", args.gateway))?;
    let text = response.body_mut().read_to_string()?;
    if response.status() != 200 {
        anyhow::bail!("the gateway answered {}: {text}", response.status());
    }
    println!("{text}");
    Ok(())
}
