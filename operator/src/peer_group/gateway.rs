//! A PeerGroup's children: the identity Secret, the ConfigMap of trusted peers, the gateway
//! Deployment (`manofwar gateway`) and its Service (TCP for TCP/Noise/Yamux, UDP for QUIC), the
//! token of the gateway's HTTP (friends' libraries, its peers: the operator reads them for the
//! status); in hub mode with the hub's URL, also the token the gateway presents to the hub.

use crate::crypto;
use crate::pod;
use crate::reconcile::Error;
use crate::reconcile::apply::{child_meta, labels, selector};
use crate::settings::Settings;
use crate::token;
use k8s_openapi::ByteString;
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    ConfigMap, Container, ContainerPort, PodSpec, PodTemplateSpec, Secret, Service, ServicePort,
    ServiceSpec,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manofwar_crds::{PeerGroup, ServiceType};
use std::collections::BTreeMap;

use super::identity::Identity;

/// Component label of the gateway's children.
pub const COMPONENT: &str = "gateway";
/// Label on every child of a peer group: the group's name.
pub const GROUP_LABEL: &str = "manofwar.io/peer-group";
/// Key of the protobuf-encoded private key in the identity Secret.
pub const KEY_FILE: &str = "identity.key";
/// Key of the PeerId (for humans) in the identity Secret.
pub const PEER_ID_KEY: &str = "peer-id";
/// Key of the trusted peers in the ConfigMap.
pub const PEERS_FILE: &str = "peers.yaml";
/// The gateway's HTTP port (`--http`), on the pod's address only (not in the Service).
pub const HTTP_PORT: i32 = 8097;
const IDENTITY_DIR: &str = "/etc/manofwar/identity";
const PEERS_DIR: &str = "/etc/manofwar/peers";

/// The group's name.
pub fn name(group: &PeerGroup) -> String {
    group.metadata.name.clone().unwrap_or_default()
}

/// Name of the gateway Deployment and Service.
pub fn gateway_name(group: &PeerGroup) -> String {
    format!("{}-gateway", name(group))
}

/// Name of the ClusterIP Service of the gateway's HTTP (never on the P2P Service, which may
/// face the internet).
pub fn http_service_name(group: &PeerGroup) -> String {
    format!("{}-http", gateway_name(group))
}

/// The gateway's HTTP, as the hub reaches it in the cluster.
pub fn http_url(group: &PeerGroup, namespace: &str) -> String {
    format!(
        "http://{}.{namespace}.svc:{HTTP_PORT}",
        http_service_name(group)
    )
}

/// Name of the Secret with the token the gateway presents to the hub (hub mode).
pub fn hub_token_secret_name(group: &PeerGroup) -> String {
    format!("{}-hub-token", name(group))
}

/// Name of the Secret with the token of the gateway's HTTP.
pub fn http_token_secret_name(group: &PeerGroup) -> String {
    format!("{}-http-token", name(group))
}

fn child_labels(group: &PeerGroup) -> BTreeMap<String, String> {
    let group_name = name(group);
    labels(&group_name, COMPONENT, (GROUP_LABEL, &group_name))
}

/// The identity Secret the operator generates when none exists.
pub fn identity_secret(group: &PeerGroup, identity: &Identity) -> Secret {
    Secret {
        metadata: child_meta(group, group.identity_secret_name(), child_labels(group)),
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([
            (KEY_FILE.into(), ByteString(identity.to_protobuf())),
            (
                PEER_ID_KEY.into(),
                ByteString(identity.peer_id().into_bytes()),
            ),
        ])),
        ..Secret::default()
    }
}

/// The Secret with the token the gateway presents to the hub, holding `token`.
pub fn hub_token_secret(group: &PeerGroup, token: &str) -> Secret {
    token_secret(group, hub_token_secret_name(group), token)
}

/// The Secret with the token of the gateway's HTTP, holding `token`.
pub fn http_token_secret(group: &PeerGroup, token: &str) -> Secret {
    token_secret(group, http_token_secret_name(group), token)
}

fn token_secret(group: &PeerGroup, name: String, token: &str) -> Secret {
    Secret {
        metadata: child_meta(group, name, child_labels(group)),
        type_: Some("Opaque".into()),
        data: Some(token::data(token)),
        ..Secret::default()
    }
}

/// The ConfigMap with the trusted peers, as YAML (the spec's `peers`, camelCase).
pub fn peers_config_map(group: &PeerGroup) -> Result<ConfigMap, Error> {
    let yaml = peers_yaml(group)?;
    Ok(ConfigMap {
        metadata: child_meta(group, format!("{}-peers", name(group)), child_labels(group)),
        data: Some(BTreeMap::from([(PEERS_FILE.into(), yaml)])),
        ..ConfigMap::default()
    })
}

fn peers_yaml(group: &PeerGroup) -> Result<String, Error> {
    serde_yaml::to_string(&group.spec.peers).map_err(|source| Error::Yaml {
        what: format!("the peers of PeerGroup {}", name(group)),
        source,
    })
}

/// The gateway: one replica (one identity), recreated rather than rolled. A change of the
/// trusted peers restarts it (the peers' hash is a pod annotation).
pub fn deployment(group: &PeerGroup, settings: &Settings) -> Result<Deployment, Error> {
    let gateway = gateway_name(group);
    let pod_labels = child_labels(group);
    let annotations = BTreeMap::from([(
        "manofwar.io/peers-hash".to_string(),
        crypto::short_hash(peers_yaml(group)?.as_bytes()),
    )]);
    let spec = &group.spec.gateway;
    let pod_spec = PodSpec {
        containers: vec![container(group, settings)],
        volumes: Some(vec![
            pod::secret_volume(
                "identity",
                &group.identity_secret_name(),
                &[KEY_FILE.into()],
            ),
            pod::config_map_volume(
                "peers",
                &format!("{}-peers", name(group)),
                &[PEERS_FILE.into()],
            ),
            pod::empty_dir("tmp"),
        ]),
        node_selector: pod::non_empty_map(&spec.node_selector),
        tolerations: pod::non_empty_vec(&spec.tolerations),
        ..pod::base_spec()
    };
    Ok(Deployment {
        metadata: child_meta(group, gateway, pod_labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector(&name(group), COMPONENT)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    annotations: Some(annotations),
                    ..ObjectMeta::default()
                }),
                spec: Some(pod_spec),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    })
}

fn container(group: &PeerGroup, settings: &Settings) -> Container {
    let port = i32::from(group.spec.service.port);
    let port_of = |name: &str, protocol: &str| ContainerPort {
        name: Some(name.into()),
        container_port: port,
        protocol: Some(protocol.into()),
        ..ContainerPort::default()
    };
    let hub_token = settings.hub_url().map(|_| hub_token_secret_name(group));
    let mut env = pod::env(settings, hub_token.as_deref());
    env.push(pod::secret_env(
        "MANOFWAR_HTTP_TOKEN",
        &http_token_secret_name(group),
    ));
    Container {
        name: "gateway".into(),
        args: Some(args(group, settings)),
        env: Some(env),
        ports: Some(vec![
            port_of("p2p-tcp", "TCP"),
            port_of("p2p-udp", "UDP"),
            ContainerPort {
                name: Some("http".into()),
                container_port: HTTP_PORT,
                protocol: Some("TCP".into()),
                ..ContainerPort::default()
            },
        ]),
        readiness_probe: Some(pod::http_probe(10, 3)),
        resources: group.spec.gateway.resources.clone(),
        volume_mounts: Some(vec![
            pod::mount("identity", IDENTITY_DIR, true),
            pod::mount("peers", PEERS_DIR, true),
            pod::mount("tmp", "/tmp", false),
        ]),
        ..pod::container(settings)
    }
}

/// `manofwar gateway` arguments; in hub mode with the hub's URL, `--server` shares what the hub
/// serves (the token comes from the environment).
fn args(group: &PeerGroup, settings: &Settings) -> Vec<String> {
    let spec = &group.spec;
    let mut args = vec![
        "gateway".to_string(),
        "--identity".into(),
        format!("{IDENTITY_DIR}/{KEY_FILE}"),
        "--peers".into(),
        format!("{PEERS_DIR}/{PEERS_FILE}"),
        "--port".into(),
        spec.service.port.to_string(),
        "--http".into(),
        format!("0.0.0.0:{HTTP_PORT}"),
    ];
    for coordinator in &spec.coordinators {
        args.extend(["--coordinator".into(), coordinator.clone()]);
    }
    let limits = [
        ("--upload-kbps", spec.bandwidth.upload_kbps),
        ("--download-kbps", spec.bandwidth.download_kbps),
        (
            "--per-peer-upload-kbps",
            spec.bandwidth.per_peer_upload_kbps,
        ),
    ];
    for (flag, value) in limits {
        if let Some(kbps) = value {
            args.extend([flag.to_string(), kbps.to_string()]);
        }
    }
    if let Some(url) = settings.hub_url() {
        args.extend(["--server".into(), url.into()]);
    }
    args
}

/// The Service: the same port over TCP and UDP.
pub fn service(group: &PeerGroup) -> Service {
    let spec = &group.spec.service;
    let mut metadata = child_meta(group, gateway_name(group), child_labels(group));
    metadata.annotations = pod::non_empty_map(&spec.annotations);
    let port_of = |name: &str, protocol: &str| ServicePort {
        name: Some(name.into()),
        port: i32::from(spec.port),
        target_port: Some(IntOrString::String(name.into())),
        protocol: Some(protocol.into()),
        node_port: spec.node_port.map(i32::from),
        ..ServicePort::default()
    };
    let type_ = match spec.type_ {
        ServiceType::ClusterIp => "ClusterIP",
        ServiceType::NodePort => "NodePort",
        ServiceType::LoadBalancer => "LoadBalancer",
    };
    Service {
        metadata,
        spec: Some(ServiceSpec {
            type_: Some(type_.into()),
            selector: Some(selector(&name(group), COMPONENT)),
            ports: Some(vec![port_of("p2p-tcp", "TCP"), port_of("p2p-udp", "UDP")]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The ClusterIP Service of the gateway's HTTP (token-protected): where the hub reads friends'
/// libraries.
pub fn http_service(group: &PeerGroup) -> Service {
    Service {
        metadata: child_meta(group, http_service_name(group), child_labels(group)),
        spec: Some(ServiceSpec {
            type_: Some("ClusterIP".into()),
            selector: Some(selector(&name(group), COMPONENT)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: HTTP_PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

#[cfg(test)]
#[path = "gateway_tests.rs"]
mod tests;
