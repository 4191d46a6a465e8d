//! The libp2p side of a gateway: transports, behaviours and the one task that owns the Swarm.
//! Everything else talks to it through `Net` (a bounded channel, oneshot replies).

use super::gateway::Gateway;
use super::wire::{self, Request, Response};
use libp2p::futures::StreamExt as _;
use libp2p::identity::Keypair;
use libp2p::multiaddr::Protocol;
use libp2p::request_response::{self, OutboundRequestId, ProtocolSupport, ResponseChannel};
use libp2p::swarm::behaviour::toggle::Toggle;
use libp2p::swarm::dial_opts::{DialOpts, PeerCondition};
use libp2p::swarm::{ConnectionId, NetworkBehaviour, SwarmEvent};
use libp2p::{
    Multiaddr, PeerId, Swarm, allow_block_list, autonat, connection_limits, dcutr, identify, mdns,
    memory_connection_limits, noise, ping, relay, rendezvous, upnp, yamux,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// What the gateway's peers speak, besides `/manofwar/swarm/1`.
pub const AGENT: &str = concat!("manofwar/", env!("CARGO_PKG_VERSION"));
const IDLE: Duration = Duration::from_secs(300);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
/// A relayed connection lives this long after a direct one to the same peer appears, so that
/// requests in flight on it finish; new requests go direct.
const RELAY_GRACE: Duration = Duration::from_secs(10);
const REDIAL: Duration = Duration::from_secs(5);
/// How often a friend reached only through a relay is dialed at its direct addresses.
const DIRECT_RETRY: Duration = Duration::from_secs(30);
const DISCOVER: Duration = Duration::from_secs(30);
/// Liveness: a ping this often, and a connection that misses one for this long is closed.
const PING: Duration = Duration::from_secs(5);
/// Direct addresses remembered per friend.
const MAX_ADDRESSES: usize = 16;

#[derive(NetworkBehaviour)]
pub struct Behaviour {
    /// First: a peer not on the list is refused as soon as its PeerId is known.
    allow: allow_block_list::Behaviour<allow_block_list::AllowedPeers>,
    limits: connection_limits::Behaviour,
    memory: memory_connection_limits::Behaviour,
    identify: identify::Behaviour,
    ping: ping::Behaviour,
    relay: relay::client::Behaviour,
    dcutr: dcutr::Behaviour,
    autonat: autonat::Behaviour,
    rendezvous: rendezvous::client::Behaviour,
    mdns: Toggle<mdns::tokio::Behaviour>,
    upnp: Toggle<upnp::tokio::Behaviour>,
    swarm: request_response::Behaviour<wire::Codec>,
}

/// Where and how the gateway meets peers.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub listen: Vec<Multiaddr>,
    pub coordinators: Vec<Multiaddr>,
    /// Friends' addresses known up front (`--peer-address`), each ending in `/p2p/ID`.
    pub peer_addresses: Vec<Multiaddr>,
    /// Discovery on the LAN and port mapping on the home router (off in tests).
    pub lan: bool,
    /// Use libp2p's in-memory transport (component tests).
    pub memory: bool,
}

pub enum Command {
    Request {
        peer: PeerId,
        request: Request,
        reply: oneshot::Sender<Result<Response, String>>,
    },
    Respond {
        channel: ResponseChannel<Response>,
        response: Response,
    },
    Allow(PeerId),
    Disallow(PeerId),
    Listeners(oneshot::Sender<Vec<Multiaddr>>),
    Close(ConnectionId),
    /// Dial an address (ending in `/p2p/ID`): a friend's code, or a test.
    Dial(Multiaddr),
    /// Stop: every connection closes at once (a gateway killed, in tests).
    Stop,
}

/// The handle to the network task.
#[derive(Clone)]
pub struct Net(mpsc::Sender<Command>);

impl Net {
    pub async fn request(&self, peer: PeerId, request: Request) -> Result<Response, String> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Request {
            peer,
            request,
            reply,
        })
        .await;
        answer
            .await
            .unwrap_or_else(|_| Err("the gateway is shutting down".into()))
    }

    pub async fn send(&self, command: Command) {
        let _ = self.0.send(command).await;
    }

    pub async fn listeners(&self) -> Vec<Multiaddr> {
        let (reply, answer) = oneshot::channel();
        self.send(Command::Listeners(reply)).await;
        answer.await.unwrap_or_default()
    }
}

pub fn channel() -> (Net, mpsc::Receiver<Command>) {
    let (tx, rx) = mpsc::channel(256);
    (Net(tx), rx)
}

fn behaviour(key: &Keypair, relay: relay::client::Behaviour, lan: bool) -> Behaviour {
    let me = key.public().to_peer_id();
    let limits = connection_limits::ConnectionLimits::default()
        .with_max_pending_incoming(Some(64))
        .with_max_established_incoming(Some(256))
        .with_max_established_per_peer(Some(4));
    Behaviour {
        allow: allow_block_list::Behaviour::default(),
        limits: connection_limits::Behaviour::new(limits),
        memory: memory_connection_limits::Behaviour::with_max_percentage(0.9),
        identify: identify::Behaviour::new(
            identify::Config::new("/manofwar/1".into(), key.public())
                .with_agent_version(AGENT.into()),
        ),
        ping: ping::Behaviour::new(ping::Config::new().with_interval(PING).with_timeout(PING)),
        relay,
        dcutr: dcutr::Behaviour::new(me),
        autonat: autonat::Behaviour::new(me, autonat::Config::default()),
        rendezvous: rendezvous::client::Behaviour::new(key.clone()),
        mdns: lan
            .then(|| mdns::tokio::Behaviour::new(mdns::Config::default(), me).ok())
            .flatten()
            .into(),
        upnp: lan.then(upnp::tokio::Behaviour::default).into(),
        swarm: request_response::Behaviour::new(
            [(wire::PROTOCOL, ProtocolSupport::Full)],
            request_response::Config::default()
                .with_request_timeout(REQUEST_TIMEOUT)
                .with_max_concurrent_streams(256),
        ),
    }
}

pub fn build(key: &Keypair, settings: &Settings) -> anyhow::Result<Swarm<Behaviour>> {
    let lan = settings.lan;
    let idle = |c: libp2p::swarm::Config| c.with_idle_connection_timeout(IDLE);
    let builder = libp2p::SwarmBuilder::with_existing_identity(key.clone()).with_tokio();
    let swarm = if settings.memory {
        use libp2p::core::{Transport as _, transport::MemoryTransport, upgrade};
        builder
            .with_other_transport(|key| {
                let noise = noise::Config::new(key)?;
                Ok::<_, Box<dyn std::error::Error + Send + Sync>>(
                    MemoryTransport::default()
                        .upgrade(upgrade::Version::V1)
                        .authenticate(noise)
                        .multiplex(yamux::Config::default()),
                )
            })?
            .with_relay_client(noise::Config::new, yamux::Config::default)?
            .with_behaviour(|key, relay| behaviour(key, relay, lan))?
            .with_swarm_config(idle)
            .build()
    } else {
        builder
            .with_tcp(
                libp2p::tcp::Config::default().nodelay(true),
                noise::Config::new,
                yamux::Config::default,
            )?
            .with_quic()
            .with_dns()?
            .with_relay_client(noise::Config::new, yamux::Config::default)?
            .with_behaviour(|key, relay| behaviour(key, relay, lan))?
            .with_swarm_config(idle)
            .build()
    };
    Ok(swarm)
}

/// Is this connection through a relay?
pub fn relayed(address: &Multiaddr) -> bool {
    address.iter().any(|p| p == Protocol::P2pCircuit)
}

fn peer_of(address: &Multiaddr) -> Option<PeerId> {
    address.iter().find_map(|p| match p {
        Protocol::P2p(id) => Some(id),
        _ => None,
    })
}

/// The event loop: owns the Swarm, answers commands, hands requests to the gateway.
pub struct Task {
    swarm: Swarm<Behaviour>,
    gateway: Gateway,
    commands: mpsc::Receiver<Command>,
    settings: Settings,
    pending: HashMap<OutboundRequestId, oneshot::Sender<Result<Response, String>>>,
    /// Addresses learnt for friends (mDNS, rendezvous, identify), tried before the relay.
    addresses: HashMap<PeerId, Vec<Multiaddr>>,
    coordinators: Vec<PeerId>,
    /// The relay each relayed connection goes through.
    via: HashMap<ConnectionId, PeerId>,
    /// When a friend reached only through a relay was last dialed directly.
    direct_tried: HashMap<PeerId, Instant>,
}

impl Task {
    pub fn new(
        swarm: Swarm<Behaviour>,
        gateway: Gateway,
        commands: mpsc::Receiver<Command>,
        settings: Settings,
    ) -> Self {
        let coordinators = settings.coordinators.iter().filter_map(peer_of).collect();
        let mut addresses: HashMap<PeerId, Vec<Multiaddr>> = HashMap::new();
        for address in &settings.peer_addresses {
            match peer_of(address) {
                Some(peer) => addresses.entry(peer).or_default().push(address.clone()),
                None => {
                    tracing::warn!(%address, "a --peer-address needs /p2p/PEER_ID at its end: ignored")
                }
            }
        }
        Self {
            swarm,
            gateway,
            commands,
            settings,
            pending: HashMap::new(),
            addresses,
            coordinators,
            via: HashMap::new(),
            direct_tried: HashMap::new(),
        }
    }

    pub async fn run(mut self) {
        for address in self.settings.listen.clone() {
            if let Err(error) = self.swarm.listen_on(address.clone()) {
                tracing::error!(%address, %error, "cannot listen");
            }
        }
        for id in self.coordinators.clone() {
            self.swarm.behaviour_mut().allow.allow_peer(id);
        }
        for (id, _) in self.gateway.trusted().all() {
            self.swarm.behaviour_mut().allow.allow_peer(id);
        }
        self.reserve();
        let mut redial = tokio::time::interval(REDIAL);
        let mut discover = tokio::time::interval(DISCOVER);
        loop {
            tokio::select! {
                event = self.swarm.select_next_some() => self.on_event(event),
                command = self.commands.recv() => match command {
                    Some(Command::Stop) | None => return,
                    Some(command) => self.on_command(command),
                },
                _ = redial.tick() => self.redial(),
                _ = discover.tick() => self.discover(),
            }
        }
    }

    /// Listen through every coordinator's relay (a reservation), so friends can reach us
    /// behind any NAT.
    fn reserve(&mut self) {
        let listening: Vec<String> = self
            .swarm
            .listeners()
            .filter(|a| relayed(a))
            .map(ToString::to_string)
            .collect();
        for address in self.settings.coordinators.clone() {
            let circuit = address.clone().with(Protocol::P2pCircuit);
            // Listening through it already, or on the way to (connected: reserving).
            let prefix = circuit.to_string();
            if listening.iter().any(|l| l.starts_with(&prefix))
                || peer_of(&address).is_some_and(|c| self.swarm.is_connected(&c))
            {
                continue;
            }
            if let Err(error) = self.swarm.listen_on(circuit.clone()) {
                tracing::warn!(%circuit, %error, "cannot listen through the coordinator");
            }
        }
    }

    /// Reserve again where a coordinator restarted or was unreachable, and dial the friends we
    /// are not connected to: their known direct addresses, and through every coordinator.
    fn redial(&mut self) {
        self.reserve();
        for (id, _) in self.gateway.trusted().all() {
            self.dial_friend(id);
        }
    }

    /// Dial a friend we are not connected to (or reach only through a relay: see
    /// [`Self::go_direct`]).
    fn dial_friend(&mut self, id: PeerId) {
        if self.gateway.is_banned(&id) {
            return;
        }
        if self.swarm.is_connected(&id) {
            self.go_direct(id);
            return;
        }
        let mut addresses = self.addresses.get(&id).cloned().unwrap_or_default();
        for coordinator in &self.settings.coordinators {
            addresses.push(
                coordinator
                    .clone()
                    .with(Protocol::P2pCircuit)
                    .with(Protocol::P2p(id)),
            );
        }
        if addresses.is_empty() {
            return;
        }
        let dial = DialOpts::peer_id(id)
            .addresses(addresses)
            .condition(PeerCondition::DisconnectedAndNotDialing)
            .build();
        if let Err(error) = self.swarm.dial(dial) {
            tracing::debug!(peer = %id, %error, "dial");
        }
    }

    /// A friend connected only through a relay: dial the direct addresses it told us (its
    /// identify), every [`DIRECT_RETRY`] at most. Hole punching misses a friend whose router
    /// mapped its port by UPnP (libp2p offers no candidate that is already a confirmed external
    /// address), and a friend with a public address needs no punching at all.
    fn go_direct(&mut self, id: PeerId) {
        if self.gateway.connections().kind(&id) != "relayed" {
            return;
        }
        let Some(addresses) = self.addresses.get(&id).filter(|a| !a.is_empty()).cloned() else {
            return;
        };
        let now = Instant::now();
        if self
            .direct_tried
            .get(&id)
            .is_some_and(|t| now.duration_since(*t) < DIRECT_RETRY)
        {
            return;
        }
        self.direct_tried.insert(id, now);
        tracing::info!(peer = %id, ?addresses, "reached through a relay only: dialing it directly");
        let dial = DialOpts::peer_id(id)
            .addresses(addresses)
            .condition(PeerCondition::Always)
            .build();
        if let Err(error) = self.swarm.dial(dial) {
            tracing::debug!(peer = %id, %error, "direct dial");
        }
    }

    /// Meet friends' direct addresses at the coordinators: one rendezvous namespace per pair of
    /// friends, a hash the coordinator cannot read the pair from.
    fn discover(&mut self) {
        let me = *self.swarm.local_peer_id();
        let friends = self.gateway.trusted().all();
        for coordinator in self.coordinators.clone() {
            if !self.swarm.is_connected(&coordinator) {
                continue;
            }
            for (friend, _) in &friends {
                let Ok(namespace) = rendezvous::Namespace::new(pair_namespace(&me, friend)) else {
                    continue;
                };
                let rendezvous = &mut self.swarm.behaviour_mut().rendezvous;
                let _ = rendezvous.register(namespace.clone(), coordinator, None);
                rendezvous.discover(Some(namespace), None, None, coordinator);
            }
        }
    }

    fn on_command(&mut self, command: Command) {
        match command {
            Command::Request {
                peer,
                request,
                reply,
            } => {
                let id = self
                    .swarm
                    .behaviour_mut()
                    .swarm
                    .send_request(&peer, request);
                self.pending.insert(id, reply);
            }
            Command::Respond { channel, response } => {
                let _ = self
                    .swarm
                    .behaviour_mut()
                    .swarm
                    .send_response(channel, response);
            }
            Command::Allow(peer) => {
                self.swarm.behaviour_mut().allow.allow_peer(peer);
            }
            Command::Disallow(peer) => {
                self.swarm.behaviour_mut().allow.disallow_peer(peer);
            }
            Command::Dial(address) => {
                if let Some(peer) = peer_of(&address) {
                    self.learn(peer, [address.clone()]);
                }
                if let Err(error) = self.swarm.dial(address.clone()) {
                    tracing::warn!(%address, %error, "cannot dial");
                }
            }
            Command::Close(id) => {
                self.swarm.close_connection(id);
            }
            Command::Listeners(reply) => {
                let _ = reply.send(self.swarm.listeners().cloned().collect());
            }
            Command::Stop => {}
        }
    }

    fn on_event(&mut self, event: SwarmEvent<BehaviourEvent>) {
        match event {
            SwarmEvent::Behaviour(event) => self.on_behaviour(event),
            SwarmEvent::ConnectionEstablished {
                peer_id,
                connection_id,
                endpoint,
                ..
            } => {
                // A relayed connection we accepted has the circuit in its local address.
                let is_relayed = endpoint.is_relayed();
                if is_relayed {
                    let circuit = match &endpoint {
                        libp2p::core::ConnectedPoint::Dialer { address, .. } => address,
                        libp2p::core::ConnectedPoint::Listener { local_addr, .. } => local_addr,
                    };
                    if let Some(relay) = peer_of(circuit) {
                        self.via.insert(connection_id, relay);
                    }
                }
                tracing::info!(peer = %peer_id, relayed = is_relayed, address = %endpoint.get_remote_address(), "connected");
                self.gateway
                    .connections()
                    .opened(peer_id, connection_id, is_relayed);
                if !is_relayed {
                    self.retire_relayed(peer_id);
                }
            }
            SwarmEvent::ConnectionClosed {
                peer_id,
                connection_id,
                ..
            } => {
                self.gateway.connections().closed(peer_id, connection_id);
                self.via.remove(&connection_id);
                if !self.swarm.is_connected(&peer_id) {
                    self.close_circuits_through(peer_id);
                }
            }
            SwarmEvent::NewListenAddr { address, .. } => {
                tracing::info!(%address, "listening");
            }
            SwarmEvent::ListenerClosed {
                addresses, reason, ..
            } => {
                tracing::warn!(?addresses, ?reason, "listener closed");
            }
            SwarmEvent::IncomingConnectionError {
                error,
                send_back_addr,
                ..
            } => {
                tracing::debug!(%error, %send_back_addr, "incoming connection refused");
            }
            SwarmEvent::ExternalAddrConfirmed { address } => {
                tracing::info!(%address, "external address confirmed");
            }
            _ => {}
        }
    }

    /// Remember direct addresses of a friend (the newest first, a few at most).
    fn learn(&mut self, peer: PeerId, found: impl IntoIterator<Item = Multiaddr>) {
        let known = self.addresses.entry(peer).or_default();
        for address in found {
            known.retain(|a| *a != address);
            known.insert(0, address);
        }
        known.truncate(MAX_ADDRESSES);
    }

    /// The relay is gone: so are the connections it carried (they would otherwise linger,
    /// silent, until their idle timeout).
    fn close_circuits_through(&mut self, relay: PeerId) {
        let gone: Vec<ConnectionId> = self
            .via
            .iter()
            .filter(|(_, r)| **r == relay)
            .map(|(c, _)| *c)
            .collect();
        for connection in gone {
            tracing::info!(%relay, "the relay is gone: closing a connection it carried");
            self.swarm.close_connection(connection);
        }
    }

    /// Close a peer's relayed connections a little after a direct one appeared.
    fn retire_relayed(&mut self, peer: PeerId) {
        let relayed: Vec<ConnectionId> = self.gateway.connections().relayed_of(&peer);
        if relayed.is_empty() {
            return;
        }
        tracing::info!(%peer, "direct connection: the relayed one closes in {RELAY_GRACE:?}");
        let net = self.gateway.net();
        tokio::spawn(async move {
            tokio::time::sleep(RELAY_GRACE).await;
            for id in relayed {
                net.send(Command::Close(id)).await;
            }
        });
    }

    fn on_behaviour(&mut self, event: BehaviourEvent) {
        match event {
            BehaviourEvent::Swarm(event) => self.on_swarm(event),
            // What the coordinator sees of us (identify reports it as a candidate, which DCUtR
            // sends a friend to punch at) is not confirmed here: a confirmed address is no
            // longer offered as a candidate. A friend's own addresses are remembered.
            BehaviourEvent::Identify(identify::Event::Received { peer_id, info, .. })
                if self.gateway.trusted().get(&peer_id).is_some() =>
            {
                let direct: Vec<Multiaddr> = info
                    .listen_addrs
                    .into_iter()
                    .filter(|a| !relayed(a))
                    .collect();
                self.learn(peer_id, direct);
                self.go_direct(peer_id);
            }
            BehaviourEvent::Mdns(mdns::Event::Discovered(found)) => {
                for (peer, address) in found {
                    if self.gateway.trusted().get(&peer).is_some() {
                        self.learn(peer, [address]);
                        // On the LAN: at once, not at the next redial.
                        self.dial_friend(peer);
                    }
                }
            }
            BehaviourEvent::Rendezvous(rendezvous::client::Event::Discovered {
                registrations,
                ..
            }) => {
                for registration in registrations {
                    let peer = registration.record.peer_id();
                    if self.gateway.trusted().get(&peer).is_some() {
                        let direct = registration
                            .record
                            .addresses()
                            .iter()
                            .filter(|a| !relayed(a))
                            .cloned();
                        self.learn(peer, direct);
                    }
                }
            }
            BehaviourEvent::Relay(relay::client::Event::ReservationReqAccepted {
                relay_peer_id,
                renewal: false,
                ..
            }) => {
                // Reachable through this coordinator now: friends can be dialed through it too.
                tracing::info!(coordinator = %relay_peer_id, "reservation accepted");
                self.redial();
            }
            BehaviourEvent::Ping(ping::Event {
                peer,
                connection,
                result: Err(error),
            }) => {
                // A connection that stops answering pings is dead (a relayed one outlives its
                // relay otherwise): close it, so that the peer is dialed again.
                tracing::info!(%peer, %error, "ping failed: closing the connection");
                self.swarm.close_connection(connection);
            }
            BehaviourEvent::Dcutr(event) => {
                tracing::info!(peer = %event.remote_peer_id, result = ?event.result, "hole punch");
            }
            _ => {}
        }
    }

    fn on_swarm(&mut self, event: request_response::Event<Request, Response>) {
        use request_response::{Event, Message};
        match event {
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request: Request::Malformed { reason },
                        ..
                    },
                ..
            } => {
                tracing::warn!(%peer, reason, "malformed request: disconnecting the peer");
                let _ = self.swarm.disconnect_peer_id(peer);
                self.gateway.strike(peer, "sent a malformed request");
            }
            Event::Message {
                peer,
                message:
                    Message::Request {
                        request, channel, ..
                    },
                ..
            } => {
                let gateway = self.gateway.clone();
                tokio::spawn(async move {
                    let response = gateway.answer(peer, request).await;
                    gateway
                        .net()
                        .send(Command::Respond { channel, response })
                        .await;
                });
            }
            Event::Message {
                message:
                    Message::Response {
                        request_id,
                        response,
                    },
                ..
            } => {
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Ok(response));
                }
            }
            Event::OutboundFailure {
                peer,
                request_id,
                error,
                ..
            } => {
                if matches!(error, request_response::OutboundFailure::Io(_)) {
                    self.gateway.strike(peer, "sent a malformed answer");
                }
                if let Some(reply) = self.pending.remove(&request_id) {
                    let _ = reply.send(Err(error.to_string()));
                }
            }
            _ => {}
        }
    }
}

/// The rendezvous namespace of a pair of friends: the same on both sides, unreadable to the
/// coordinator.
pub fn pair_namespace(a: &PeerId, b: &PeerId) -> String {
    let (a, b) = if a.to_bytes() < b.to_bytes() {
        (a, b)
    } else {
        (b, a)
    };
    let mut both = a.to_bytes();
    both.extend(b.to_bytes());
    format!("mow-{}", &super::manifest::sha256_hex(&both)[..32])
}
