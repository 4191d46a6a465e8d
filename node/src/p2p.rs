//! Sharing with friends, peer to peer: a gateway per homelab (libp2p), the coordinator that
//! helps gateways meet, and the segment swarm between them. See `docs/p2p.md`.

pub mod cache;
pub mod coordinator;
pub mod gateway;
pub mod http;
pub mod identity;
pub mod limiter;
pub mod manifest;
pub mod net;
pub mod origin;
pub mod peers;
pub mod wire;

use gateway::{Bandwidth, Gateway};
use libp2p::identity::Keypair;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How often the peers file is checked for changes.
const PEERS_POLL: Duration = Duration::from_secs(2);

/// Everything a gateway is started with.
pub struct Config {
    pub key: Keypair,
    pub peers_file: PathBuf,
    pub settings: net::Settings,
    pub origin: origin::Origin,
    pub cache_dir: PathBuf,
    pub cache_bytes: u64,
    pub bandwidth: Bandwidth,
}

/// Start a gateway: its network task and the peers-file watcher. Errors here (a bad key, a
/// peers file that does not parse, an address that cannot be listened on) stop the start.
pub fn start(config: Config) -> anyhow::Result<Gateway> {
    let (mut file, initial) = peers::File::open(&config.peers_file)?;
    let trusted = peers::Trusted::new(initial);
    let swarm = net::build(&config.key, &config.settings)?;
    let (net, commands) = net::channel();
    let cache = cache::Cache::open(&config.cache_dir, config.cache_bytes).map_err(|e| {
        anyhow::anyhow!(
            "cannot use {} for the segment cache: {e}",
            config.cache_dir.display()
        )
    })?;
    let meet = config
        .settings
        .coordinators
        .iter()
        .map(|c| c.clone().with(libp2p::multiaddr::Protocol::P2pCircuit))
        .collect();
    let gateway = Gateway::new(gateway::Parts {
        meet,
        key: config.key,
        trusted: trusted.clone(),
        net: net.clone(),
        origin: config.origin,
        cache,
        bandwidth: config.bandwidth,
        peers_file: config.peers_file.clone(),
    });
    tokio::spawn(net::Task::new(swarm, gateway.clone(), commands, config.settings).run());
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(PEERS_POLL);
        loop {
            tick.tick().await;
            let Some(peers) = file.changed() else {
                continue;
            };
            let (added, removed) = trusted.replace(peers);
            tracing::info!(
                added = added.len(),
                removed = removed.len(),
                "the peers file changed"
            );
            for peer in added {
                net.send(net::Command::Allow(peer)).await;
            }
            for peer in removed {
                net.send(net::Command::Disallow(peer)).await;
            }
        }
    });
    Ok(gateway)
}

#[cfg(test)]
mod tests;

/// The default cache folder and size for a data folder.
pub fn cache_dir(data: &Path) -> PathBuf {
    data.join("p2p-cache")
}
