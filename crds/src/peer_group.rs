//! `PeerGroup`: a libp2p gateway that shares this namespace's libraries with trusted peers.

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::condition::Condition;
use crate::pod::PodSettings;

/// A gateway's identity, the coordinators it meets peers through, the peers it trusts and what
/// each of them may see.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "manofwar.io",
    version = "v1alpha1",
    kind = "PeerGroup",
    doc = "A libp2p gateway Deployment (`manofwar gateway`) that shares libraries with an \
           allow-list of trusted peers (friends' homelabs) and streams theirs locally. Unknown \
           peers are refused at connection level.",
    namespaced,
    shortname = "pg",
    category = "manofwar",
    status = "PeerGroupStatus",
    validation = Rule::new("self.metadata.name.matches('^[a-z]([-a-z0-9]*[a-z0-9])?$') && self.metadata.name.size() <= 40").message("metadata.name must be a DNS-1035 label of at most 40 characters: it names the gateway's Service"),
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Peer ID","type":"string","jsonPath":".status.peerId","description":"The gateway's libp2p PeerId"}"#,
    printcolumn = r#"{"name":"Connected","type":"integer","jsonPath":".status.connectedPeers","description":"Trusted peers connected now"}"#,
    printcolumn = r#"{"name":"Service","type":"string","jsonPath":".spec.service.type","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct PeerGroupSpec {
    /// Secret holding the gateway's Ed25519 identity. When unset, or when the named Secret does
    /// not exist, the operator generates one (`<name>-identity` when unset). Keep it: the PeerId
    /// your friends trust is derived from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 253))]
    pub identity_secret_name: Option<String>,
    /// Coordinators (relay + rendezvous) as multiaddrs ending in `/p2p/<PeerId>`, e.g.
    /// `/dns4/coord.example.org/udp/4001/quic-v1/p2p/12D3KooW…`. At most 8.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 8), inner(length(max = 512)))]
    #[x_kube(validation = Rule::new("self.all(a, a.startsWith('/') && a.contains('/p2p/'))").message("coordinators must be multiaddrs that end in /p2p/<PeerId>"))]
    pub coordinators: Vec<String>,
    /// The peers this gateway trusts (at most 64, PeerIds unique). Everyone else is refused.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64))]
    #[x_kube(
        merge_strategy = ListMerge::Map(vec!["peerId".into()]),
        validation = Rule::new("self.all(p, self.exists_one(q, q.peerId == p.peerId))").message("peers must not repeat a peerId")
    )]
    pub peers: Vec<TrustedPeer>,
    /// Bandwidth limits of the gateway; unlimited when unset.
    #[serde(default, skip_serializing_if = "Bandwidth::is_unlimited")]
    pub bandwidth: Bandwidth,
    /// The Service in front of the gateway (TCP and UDP on the same port, for TCP and QUIC).
    #[serde(default)]
    pub service: PeerService,
    /// Size and placement of the gateway pod.
    #[serde(default, skip_serializing_if = "PodSettings::is_empty")]
    pub gateway: PodSettings,
}

/// A friend's gateway and what it may see.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TrustedPeer {
    /// The peer's libp2p PeerId (base58, `12D3KooW…` for Ed25519 keys).
    #[schemars(length(max = 64))]
    #[x_kube(validation = Rule::new("self.matches('^(12D3KooW|Qm)[1-9A-HJ-NP-Za-km-z]{44}$')").message("peerId must be a base58 libp2p PeerId such as 12D3KooW…"))]
    pub peer_id: String,
    /// A name for humans, shown in logs and the web app.
    #[schemars(length(max = 63))]
    #[x_kube(validation = Rule::new("self.size() > 0").message("peer name must not be empty"))]
    pub name: String,
    /// Names of the MediaLibraries (shared through this group) this peer may see; `*` for all
    /// of them. None when empty.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 64), inner(length(max = 253)))]
    pub libraries: Vec<String>,
    /// Upload to this peer, kbit/s (64-10000000); unset: `bandwidth.perPeerUploadKbps`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 64 && self <= 10000000").message("peers[].uploadKbps must be 64..10000000"))]
    pub upload_kbps: Option<u32>,
}

/// Bandwidth limits in kbit/s (64-10000000); unset means unlimited.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Bandwidth {
    /// Total upload to all peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 64 && self <= 10000000").message("bandwidth.uploadKbps must be 64..10000000"))]
    pub upload_kbps: Option<u32>,
    /// Total download from all peers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 64 && self <= 10000000").message("bandwidth.downloadKbps must be 64..10000000"))]
    pub download_kbps: Option<u32>,
    /// Upload to any one peer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 64 && self <= 10000000").message("bandwidth.perPeerUploadKbps must be 64..10000000"))]
    pub per_peer_upload_kbps: Option<u32>,
}

impl Bandwidth {
    /// Whether no limit is set.
    pub fn is_unlimited(&self) -> bool {
        self == &Self::default()
    }
}

/// How the gateway is exposed. A LoadBalancer or NodePort lets peers dial in directly; with
/// ClusterIP the gateway is reached through the coordinators' relay and hole punching.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("self.type != 'ClusterIP' || !has(self.nodePort)").message("service.nodePort needs type NodePort or LoadBalancer"))]
pub struct PeerService {
    /// Service type.
    #[serde(rename = "type", default)]
    pub type_: ServiceType,
    /// Port for libp2p TCP and QUIC (UDP), 1-65535.
    #[serde(default = "default_p2p_port")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 65535").message("service.port must be 1..65535"))]
    pub port: u16,
    /// Node port for both protocols with type NodePort or LoadBalancer (30000-32767); chosen by
    /// the cluster when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self >= 30000 && self <= 32767").message("service.nodePort must be 30000..32767"))]
    pub node_port: Option<u16>,
    /// Extra annotations on the Service, e.g. for MetalLB.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub annotations: BTreeMap<String, String>,
}

impl Default for PeerService {
    fn default() -> Self {
        Self {
            type_: ServiceType::default(),
            port: default_p2p_port(),
            node_port: None,
            annotations: BTreeMap::new(),
        }
    }
}

/// Kubernetes Service type.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum ServiceType {
    #[default]
    #[serde(rename = "ClusterIP")]
    ClusterIp,
    NodePort,
    LoadBalancer,
}

/// What the operator last saw of a PeerGroup and its gateway.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct PeerGroupStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// The gateway's PeerId, derived from its identity: give it to the friends who trust you.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_id: Option<String>,
    /// Trusted peers connected now, as the gateway reports them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_peers: Option<u32>,
}

impl PeerGroup {
    /// Name of the Secret with the gateway's identity: the one the spec names, else
    /// `<name>-identity`.
    pub fn identity_secret_name(&self) -> String {
        match &self.spec.identity_secret_name {
            Some(name) => name.clone(),
            None => format!(
                "{}-identity",
                self.metadata.name.as_deref().unwrap_or("peergroup")
            ),
        }
    }
}

fn default_p2p_port() -> u16 {
    4001
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_refused, cel_errors};

    const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

    fn group(spec: &str) -> String {
        format!(
            "apiVersion: manofwar.io/v1alpha1\nkind: PeerGroup\nmetadata: {{name: friends}}\nspec:\n{spec}"
        )
    }

    fn errors(spec: &str) -> Vec<String> {
        cel_errors::<PeerGroup>(&group(spec))
    }

    #[test]
    fn an_empty_group_gets_a_cluster_ip_service_on_4001() {
        assert!(errors("  {}\n").is_empty());
        let pg: PeerGroup = serde_yaml::from_str(&group("  {}\n")).unwrap();
        assert_eq!(pg.spec.service.type_, ServiceType::ClusterIp);
        assert_eq!(pg.spec.service.port, 4001);
        assert_eq!(pg.identity_secret_name(), "friends-identity");
    }

    #[test]
    fn peers_need_real_unique_peer_ids() {
        let ok = format!("  peers:\n  - {{peerId: {PEER}, name: alice, libraries: ['*']}}\n");
        assert!(errors(&ok).is_empty());
        assert_refused(
            &errors("  peers:\n  - {peerId: not-a-peer, name: bob}\n"),
            "peerId must be",
        );
        let twice =
            format!("  peers:\n  - {{peerId: {PEER}, name: a}}\n  - {{peerId: {PEER}, name: b}}\n");
        assert_refused(&errors(&twice), "repeat a peerId");
    }

    #[test]
    fn coordinators_are_p2p_multiaddrs() {
        let ok = format!("  coordinators: [/dns4/coord.example.org/udp/4001/quic-v1/p2p/{PEER}]\n");
        assert!(errors(&ok).is_empty());
        assert_refused(
            &errors("  coordinators: [coord.example.org:4001]\n"),
            "multiaddrs",
        );
    }

    #[test]
    fn service_and_bandwidth_bounds() {
        assert_refused(
            &errors("  service: {type: ClusterIP, nodePort: 30401}\n"),
            "needs type NodePort",
        );
        assert!(errors("  service: {type: NodePort, nodePort: 30401}\n").is_empty());
        assert_refused(
            &errors("  service: {type: NodePort, nodePort: 8080}\n"),
            "30000..32767",
        );
        assert_refused(&errors("  service: {port: 0}\n"), "service.port");
        assert_refused(&errors("  bandwidth: {uploadKbps: 10}\n"), "uploadKbps");
        assert!(errors("  bandwidth: {uploadKbps: 20000, perPeerUploadKbps: 5000}\n").is_empty());
    }

    #[test]
    fn a_named_identity_secret_is_used() {
        let pg: PeerGroup = serde_yaml::from_str(&group("  identitySecretName: my-key\n")).unwrap();
        assert_eq!(pg.identity_secret_name(), "my-key");
    }
}
