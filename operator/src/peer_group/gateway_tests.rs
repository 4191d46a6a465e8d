//! The gateway's children, as the API server will get them.

use super::*;
use crate::testing;
use serde_json::{Value, json};

const PEER: &str = "12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA";

fn group() -> PeerGroup {
    testing::peer_group(&format!(
        "{{coordinators: [/dns4/coord.example.org/udp/4001/quic-v1/p2p/{PEER}], \
         peers: [{{peerId: {PEER}, name: alice, libraries: [movies], uploadKbps: 8000}}], \
         bandwidth: {{uploadKbps: 40000}}, \
         service: {{type: LoadBalancer, port: 4002, nodePort: 30402, annotations: {{metallb.universe.tf/allow-shared-ip: media}}}}}}"
    ))
}

fn to_json<T: serde::Serialize>(obj: &T) -> Value {
    serde_json::to_value(obj).unwrap()
}

#[test]
fn the_identity_secret_holds_the_key_and_the_peer_id() {
    let identity = Identity::from_seed([0; 32]);
    let secret = identity_secret(&group(), &identity);
    assert_eq!(secret.metadata.name.as_deref(), Some("friends-identity"));
    let data = secret.data.unwrap();
    assert_eq!(data[KEY_FILE].0, identity.to_protobuf());
    assert_eq!(
        data[PEER_ID_KEY].0,
        b"12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN"
    );
    assert_eq!(
        secret.metadata.owner_references.unwrap()[0].kind,
        "PeerGroup"
    );
}

#[test]
fn the_config_map_lists_the_trusted_peers() {
    let cm = peers_config_map(&group()).unwrap();
    assert_eq!(cm.metadata.name.as_deref(), Some("friends-peers"));
    let yaml = &cm.data.unwrap()[PEERS_FILE];
    let peers: Vec<manofwar_crds::TrustedPeer> = serde_yaml::from_str(yaml).unwrap();
    assert_eq!(peers, group().spec.peers);
    assert!(yaml.contains("peerId:"), "camelCase like the spec: {yaml}");
    assert!(
        yaml.contains("uploadKbps: 8000"),
        "a friend's own limit: {yaml}"
    );
}

#[test]
fn the_gateway_deployment_runs_manofwar_gateway() {
    let d = to_json(&deployment(&group(), &Settings::for_tests()).unwrap());
    assert_eq!(d["metadata"]["name"], "friends-gateway");
    assert_eq!(d["metadata"]["labels"]["manofwar.io/peer-group"], "friends");
    assert_eq!(d["spec"]["strategy"]["type"], "Recreate");
    let template = &d["spec"]["template"];
    assert_eq!(
        template["metadata"]["annotations"]["manofwar.io/peers-hash"]
            .as_str()
            .unwrap()
            .len(),
        8
    );
    let c = &template["spec"]["containers"][0];
    assert_eq!(c["command"], json!(["manofwar"]));
    assert_eq!(
        c["args"],
        json!([
            "gateway",
            "--identity",
            "/etc/manofwar/identity/identity.key",
            "--peers",
            "/etc/manofwar/peers/peers.yaml",
            "--port",
            "4002",
            "--http",
            "0.0.0.0:8097",
            "--coordinator",
            format!("/dns4/coord.example.org/udp/4001/quic-v1/p2p/{PEER}"),
            "--upload-kbps",
            "40000"
        ])
    );
    assert_eq!(
        c["ports"],
        json!([
            {"name": "p2p-tcp", "containerPort": 4002, "protocol": "TCP"},
            {"name": "p2p-udp", "containerPort": 4002, "protocol": "UDP"},
            {"name": "http", "containerPort": 8097, "protocol": "TCP"}
        ])
    );
    assert_eq!(c["readinessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(
        c["env"][1],
        json!({"name": "MANOFWAR_HTTP_TOKEN", "valueFrom": {"secretKeyRef": {"name": "friends-http-token", "key": "token", "optional": false}}}),
        "its HTTP answers only with the token (the operator reads the peers with it)"
    );
    let volumes = &template["spec"]["volumes"];
    assert_eq!(
        volumes[0],
        json!({"name": "identity", "secret": {"secretName": "friends-identity", "defaultMode": 0o440, "items": [{"key": "identity.key", "path": "identity.key"}]}})
    );
    assert_eq!(volumes[1]["configMap"]["name"], "friends-peers");
}

#[test]
fn a_peer_list_change_restarts_the_gateway() {
    let hash = |g: &PeerGroup| {
        deployment(g, &Settings::for_tests())
            .unwrap()
            .spec
            .unwrap()
            .template
            .metadata
            .unwrap()
            .annotations
            .unwrap()["manofwar.io/peers-hash"]
            .clone()
    };
    let mut changed = group();
    changed.spec.peers[0].libraries = vec!["*".into()];
    assert_ne!(hash(&group()), hash(&changed));
}

#[test]
fn the_service_has_tcp_and_udp_on_one_port() {
    let s = to_json(&service(&group()));
    assert_eq!(s["metadata"]["name"], "friends-gateway");
    assert_eq!(
        s["metadata"]["annotations"],
        json!({"metallb.universe.tf/allow-shared-ip": "media"})
    );
    assert_eq!(s["spec"]["type"], "LoadBalancer");
    assert_eq!(
        s["spec"]["ports"],
        json!([
            {"name": "p2p-tcp", "port": 4002, "targetPort": "p2p-tcp", "protocol": "TCP", "nodePort": 30402},
            {"name": "p2p-udp", "port": 4002, "targetPort": "p2p-udp", "protocol": "UDP", "nodePort": 30402}
        ])
    );
    let default = to_json(&service(&testing::peer_group("{}")));
    assert_eq!(default["spec"]["type"], "ClusterIP");
    assert_eq!(default["spec"]["ports"][0]["port"], 4001);
}

#[test]
fn the_http_has_its_own_cluster_ip_service_whatever_the_p2p_one_is() {
    // The P2P Service faces the internet (LoadBalancer); the HTTP never does.
    let s = to_json(&http_service(&group()));
    assert_eq!(s["metadata"]["name"], "friends-gateway-http");
    assert_eq!(s["spec"]["type"], "ClusterIP");
    assert!(s["metadata"].get("annotations").is_none());
    assert_eq!(
        s["spec"]["ports"],
        json!([{"name": "http", "port": 8097, "targetPort": "http", "protocol": "TCP"}])
    );
    assert_eq!(
        s["spec"]["selector"],
        to_json(&service(&group()))["spec"]["selector"]
    );
    assert_eq!(
        http_url(&group(), "media"),
        "http://friends-gateway-http.media.svc:8097"
    );
}

#[test]
fn outside_hub_mode_the_gateway_shares_nothing() {
    for settings in [Settings::for_tests(), {
        let mut no_url = Settings::for_hub_tests();
        no_url.hub.as_mut().unwrap().url = None;
        no_url
    }] {
        let d = to_json(&deployment(&group(), &settings).unwrap());
        let c = &d["spec"]["template"]["spec"]["containers"][0];
        assert!(!c["args"].as_array().unwrap().contains(&json!("--server")));
        let env: Vec<&Value> = c["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| &e["name"])
            .collect();
        assert_eq!(
            env,
            [&json!("MANOFWAR_LOG_JSON"), &json!("MANOFWAR_HTTP_TOKEN")]
        );
    }
}

#[test]
fn in_hub_mode_the_gateway_shares_what_the_hub_serves() {
    let d = to_json(&deployment(&group(), &Settings::for_hub_tests()).unwrap());
    let c = &d["spec"]["template"]["spec"]["containers"][0];
    let args = c["args"].as_array().unwrap();
    assert_eq!(
        args[args.len() - 2..],
        [
            json!("--server"),
            json!("http://manofwar-hub.manofwar-system.svc:80")
        ]
    );
    assert_eq!(
        c["env"],
        json!([
            {"name": "MANOFWAR_LOG_JSON", "value": "true"},
            {"name": "MANOFWAR_TOKEN", "valueFrom": {"secretKeyRef": {"name": "friends-hub-token", "key": "token", "optional": false}}},
            {"name": "MANOFWAR_HTTP_TOKEN", "valueFrom": {"secretKeyRef": {"name": "friends-http-token", "key": "token", "optional": false}}}
        ])
    );
}

#[test]
fn the_token_secrets_are_owned_by_the_group() {
    let http = http_token_secret(&group(), "def456");
    assert_eq!(http.metadata.name.as_deref(), Some("friends-http-token"));
    assert_eq!(token::read(&http).as_deref(), Some("def456"));
    let secret = hub_token_secret(&group(), "abc123");
    assert_eq!(http.metadata.labels, secret.metadata.labels);
    assert_eq!(secret.metadata.name.as_deref(), Some("friends-hub-token"));
    assert_eq!(secret.metadata.namespace.as_deref(), Some("media"));
    assert_eq!(token::read(&secret).as_deref(), Some("abc123"));
    assert!(crate::reconcile::apply::is_controlled_by(
        &secret.metadata,
        testing::GROUP_UID
    ));
    let identity = identity_secret(&group(), &Identity::from_seed([0; 32]));
    assert_eq!(secret.metadata.labels, identity.metadata.labels);
    assert_eq!(
        to_json(&secret.metadata.labels),
        json!({
            "app.kubernetes.io/name": "manofwar",
            "app.kubernetes.io/instance": "friends",
            "app.kubernetes.io/component": "gateway",
            "app.kubernetes.io/managed-by": "manofwar-operator",
            "manofwar.io/peer-group": "friends",
        })
    );
}
