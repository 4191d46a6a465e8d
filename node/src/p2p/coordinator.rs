//! `manofwar coordinator`: where gateways meet. A relay (v2) for gateways behind NAT, a
//! rendezvous point for their direct addresses, identify (so a gateway learns its public
//! address) and AutoNAT. With a members file only its PeerIds are served: anyone else is
//! refused at connection level, and members get relay circuits sized for streaming.

use super::peers;
use libp2p::futures::StreamExt as _;
use libp2p::identity::Keypair;
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::{NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, allow_block_list, autonat, identify, noise, ping, relay, rendezvous, yamux,
};
use std::path::PathBuf;
use std::time::Duration;

#[derive(NetworkBehaviour)]
struct Behaviour {
    allow: Toggle<allow_block_list::Behaviour<allow_block_list::AllowedPeers>>,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    relay: relay::Behaviour,
    rendezvous: rendezvous::server::Behaviour,
    autonat: autonat::Behaviour,
}

/// Relay limits for members: a circuit carries a film (the defaults, 2 minutes and 128 KiB,
/// cut a video off after a few seconds).
pub fn member_relay_config() -> relay::Config {
    relay::Config {
        max_circuit_duration: Duration::from_secs(12 * 3600),
        max_circuit_bytes: 0,
        max_circuits: 256,
        max_circuits_per_peer: 16,
        ..relay::Config::default()
    }
}

pub async fn run(
    key: Keypair,
    listen: Vec<Multiaddr>,
    external: Vec<Multiaddr>,
    members: Option<PathBuf>,
) -> anyhow::Result<()> {
    let (mut members, initial) = match members {
        Some(path) => {
            let (file, peers) = peers::File::open(&path)?;
            (Some(file), peers.into_keys().collect())
        }
        None => (None, Vec::new()),
    };
    let me = key.public().to_peer_id();
    let mut swarm = libp2p::SwarmBuilder::with_existing_identity(key)
        .with_tokio()
        .with_tcp(
            libp2p::tcp::Config::default().nodelay(true),
            noise::Config::new,
            yamux::Config::default,
        )?
        .with_quic()
        .with_behaviour(|key| {
            let relay = if members.is_some() {
                member_relay_config()
            } else {
                relay::Config::default()
            };
            Behaviour {
                allow: members
                    .as_ref()
                    .map(|_| allow_block_list::Behaviour::default())
                    .into(),
                identify: identify::Behaviour::new(
                    identify::Config::new("/manofwar/1".into(), key.public()).with_agent_version(
                        format!("manofwar-coordinator/{}", env!("CARGO_PKG_VERSION")),
                    ),
                ),
                ping: ping::Behaviour::default(),
                relay: relay::Behaviour::new(me, relay),
                rendezvous: rendezvous::server::Behaviour::new(
                    rendezvous::server::Config::default(),
                ),
                autonat: autonat::Behaviour::new(
                    me,
                    autonat::Config {
                        only_global_ips: false,
                        ..Default::default()
                    },
                ),
            }
        })?
        .with_swarm_config(|c| c.with_idle_connection_timeout(Duration::from_secs(300)))
        .build();
    if let Some(allow) = swarm.behaviour_mut().allow.as_mut() {
        for peer in initial {
            allow.allow_peer(peer);
        }
    }
    for address in external {
        swarm.add_external_address(address);
    }
    for address in listen {
        swarm
            .listen_on(address.clone())
            .map_err(|e| anyhow::anyhow!("cannot listen on {address}: {e}"))?;
    }
    println!("{me}");
    let mut reload = tokio::time::interval(Duration::from_secs(2));
    loop {
        tokio::select! {
            event = swarm.select_next_some() => {
                // The relay serves only once it knows an address of its own that others reach
                // (libp2p's relay advertises no reservations before): a coordinator runs on a
                // public address, so what it listens on is that.
                if let SwarmEvent::NewListenAddr { address, .. } = &event
                    && !is_loopback(address)
                {
                    swarm.add_external_address(address.clone());
                }
                log(event);
            }
            _ = reload.tick() => {
                let Some(file) = members.as_mut() else { continue };
                let Some(now) = file.changed() else { continue };
                let now: Vec<_> = now.into_keys().collect();
                let allow = swarm.behaviour_mut().allow.as_mut().expect("members given");
                let old: Vec<_> = allow.allowed_peers().iter().copied().collect();
                for peer in old.iter().filter(|p| !now.contains(p)) {
                    allow.disallow_peer(*peer);
                }
                for peer in now {
                    allow.allow_peer(peer);
                }
                tracing::info!("the members file changed");
            }
        }
    }
}

fn is_loopback(address: &Multiaddr) -> bool {
    address.iter().any(|p| match p {
        libp2p::multiaddr::Protocol::Ip4(ip) => ip.is_loopback() || ip.is_unspecified(),
        libp2p::multiaddr::Protocol::Ip6(ip) => ip.is_loopback() || ip.is_unspecified(),
        _ => false,
    })
}

fn log(event: SwarmEvent<BehaviourEvent>) {
    match event {
        SwarmEvent::NewListenAddr { address, .. } => tracing::info!(%address, "listening"),
        SwarmEvent::ConnectionEstablished {
            peer_id, endpoint, ..
        } => {
            tracing::info!(peer = %peer_id, address = %endpoint.get_remote_address(), "connected");
        }
        SwarmEvent::Behaviour(BehaviourEvent::Relay(event)) => tracing::info!(?event, "relay"),
        SwarmEvent::Behaviour(BehaviourEvent::Rendezvous(event)) => {
            tracing::debug!(?event, "rendezvous")
        }
        SwarmEvent::IncomingConnectionError {
            error,
            send_back_addr,
            ..
        } => {
            tracing::info!(%error, %send_back_addr, "refused a connection");
        }
        _ => {}
    }
}
