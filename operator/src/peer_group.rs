//! The PeerGroup controller: the gateway's identity (generated once when absent, then kept),
//! the ConfigMap of trusted peers, in hub mode the gateway's hub token (likewise), the token of
//! the gateway's HTTP, the gateway Deployment and Service, and a status with the gateway's
//! PeerId and, from the running gateway, its connected peers.

pub mod gateway;
mod identity;

use crate::reconcile::apply::{self, FIELD_MANAGER, MANAGED_BY, apply};
use crate::reconcile::health::{self, Health};
use crate::reconcile::{Context, Error, identity as object_identity};
use crate::token;
use identity::Identity;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Pod, Secret};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, ListParams, PostParams};
use kube::runtime::controller::Action;
use kube::runtime::events::EventType;
use kube::runtime::{Controller, watcher};
use kube::{Client, ResourceExt};
use manofwar_crds::condition::Time;
use manofwar_crds::{PeerGroup, PeerGroupStatus};
use std::sync::Arc;
use std::time::Duration;
use tracing::instrument;

/// The controller's name in metrics and logs.
pub const CONTROLLER: &str = "peergroup";

/// The controller, watching peer groups and their gateway Deployments.
pub fn controller(client: &Client) -> Controller<PeerGroup> {
    Controller::new(
        Api::<PeerGroup>::all(client.clone()),
        watcher::Config::default(),
    )
    .owns(
        Api::<Deployment>::all(client.clone()),
        watcher::Config::default().labels(MANAGED_BY),
    )
}

#[instrument(skip_all, fields(peer_group = %group.name_any(), namespace = group.namespace().unwrap_or_default()))]
pub async fn reconcile(group: Arc<PeerGroup>, ctx: Arc<Context>) -> Result<Action, Error> {
    if group.metadata.deletion_timestamp.is_some() {
        return Ok(Action::await_change());
    }
    sync(&group, &ctx).await
}

async fn sync(group: &PeerGroup, ctx: &Context) -> Result<Action, Error> {
    let (_, namespace) = object_identity(group)?;
    let identity = match ensure_identity(group, ctx, &namespace).await? {
        Ok(identity) => identity,
        Err(message) => {
            let health = Health::stalled("IdentityInvalid", message);
            update_status(group, ctx, &health, None, None).await?;
            return Ok(Action::requeue(Duration::from_secs(60)));
        }
    };
    apply(&ctx.client, &gateway::peers_config_map(group)?).await?;
    if ctx.settings.hub_url().is_some() {
        // Before the Deployment, whose pod reads it (and the directory lists it for the hub).
        let name = gateway::hub_token_secret_name(group);
        token::ensure(&ctx.client, &namespace, &name, |t| {
            gateway::hub_token_secret(group, t)
        })
        .await?;
    }
    let http_token = token::ensure(
        &ctx.client,
        &namespace,
        &gateway::http_token_secret_name(group),
        |t| gateway::http_token_secret(group, t),
    )
    .await?;
    let deployment = apply(&ctx.client, &gateway::deployment(group, &ctx.settings)?).await?;
    apply(&ctx.client, &gateway::service(group)).await?;
    apply(&ctx.client, &gateway::http_service(group)).await?;
    if !health::deployment_available(&deployment) {
        let health = Health::progressing(
            "GatewayStarting",
            "waiting for the gateway Deployment to have an available pod",
        );
        update_status(group, ctx, &health, Some(identity.peer_id()), None).await?;
        // The Deployment watch brings the group back when the gateway's state changes.
        return Ok(Action::requeue(Duration::from_secs(300)));
    }
    let (message, connected) = match gateway_peers(group, ctx, &namespace, &http_token).await {
        Ok(peers) => {
            let (connected, summary) = summarize(&peers);
            (
                format!("gateway up as {}; {summary}", identity.peer_id()),
                Some(connected),
            )
        }
        Err(why) => (
            format!(
                "gateway up as {}; its peers are not known: {why}",
                identity.peer_id()
            ),
            None,
        ),
    };
    let health = Health::Ready { message };
    update_status(group, ctx, &health, Some(identity.peer_id()), connected).await?;
    // Friends come and go without any object changing: ask the gateway again soon.
    Ok(Action::requeue(PEERS_POLL))
}

/// How often a running gateway is asked who is connected.
const PEERS_POLL: Duration = Duration::from_secs(20);

/// A trusted peer as the gateway's `GET /api/v1/peers` reports it.
#[derive(Debug, serde::Deserialize)]
struct PeerState {
    name: String,
    connected: bool,
    connection: String,
}

#[derive(serde::Deserialize)]
struct PeersAnswer {
    peers: Vec<PeerState>,
}

/// The trusted peers, from a Ready gateway pod's HTTP (on the pod's address, with the token).
async fn gateway_peers(
    group: &PeerGroup,
    ctx: &Context,
    namespace: &str,
    token: &str,
) -> Result<Vec<PeerState>, String> {
    let api = Api::<Pod>::namespaced(ctx.client.clone(), namespace);
    let selector = format!("{}={}", gateway::GROUP_LABEL, gateway::name(group));
    let pods = api
        .list(&ListParams::default().labels(&selector))
        .await
        .map_err(|e| format!("cannot list the gateway's pods: {e}"))?;
    let ip = pods
        .items
        .iter()
        .filter(|pod| pod_ready(pod))
        .find_map(|pod| pod.status.as_ref()?.pod_ip.clone())
        .ok_or("no Ready gateway pod")?;
    let url = peers_url(&ip);
    let answer: PeersAnswer = ctx
        .stats
        .get_json(&url, token)
        .await
        .map_err(|e| format!("GET {url}: {e}"))?;
    Ok(answer.peers)
}

fn pod_ready(pod: &Pod) -> bool {
    let conditions = pod.status.as_ref().and_then(|s| s.conditions.as_ref());
    conditions.is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

fn peers_url(ip: &str) -> String {
    let host = if ip.contains(':') {
        format!("[{ip}]")
    } else {
        ip.to_owned()
    };
    format!("http://{host}:{}/api/v1/peers", gateway::HTTP_PORT)
}

/// How many peers are connected, and a line naming each with its connection.
fn summarize(peers: &[PeerState]) -> (u32, String) {
    let connected = peers.iter().filter(|p| p.connected).count();
    if peers.is_empty() {
        return (0, "no trusted peers yet (spec.peers)".into());
    }
    let each: Vec<String> = peers
        .iter()
        .map(|p| format!("{} {}", p.name, p.connection))
        .collect();
    let summary = format!(
        "{connected} of {} trusted peers connected ({})",
        peers.len(),
        each.join(", ")
    );
    (u32::try_from(connected).unwrap_or(u32::MAX), summary)
}

/// The gateway's identity: read from its Secret, or generated into a new Secret when there is
/// none. `Ok(Err(message))` when the Secret exists but holds no usable key (left alone: it may
/// be the key the group's friends trust).
async fn ensure_identity(
    group: &PeerGroup,
    ctx: &Context,
    namespace: &str,
) -> Result<Result<Identity, String>, Error> {
    let api: Api<Secret> = Api::namespaced(ctx.client.clone(), namespace);
    let name = group.identity_secret_name();
    if let Some(secret) = api.get_opt(&name).await? {
        return Ok(read_identity(&secret, &name));
    }
    let identity = Identity::generate().map_err(|_| Error::Random)?;
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api
        .create(&params, &gateway::identity_secret(group, &identity))
        .await
    {
        Ok(_) => {
            let note = format!(
                "generated the gateway identity {} in Secret {name}",
                identity.peer_id()
            );
            ctx.event(group, EventType::Normal, "IdentityGenerated", note)
                .await;
            Ok(Ok(identity))
        }
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            Ok(read_identity(&api.get(&name).await?, &name))
        }
        Err(e) => Err(e.into()),
    }
}

fn read_identity(secret: &Secret, name: &str) -> Result<Identity, String> {
    let key = secret
        .data
        .as_ref()
        .and_then(|d| d.get(gateway::KEY_FILE))
        .ok_or_else(|| format!("Secret {name:?} has no key {:?}", gateway::KEY_FILE))?;
    Identity::from_protobuf(&key.0).map_err(|e| {
        format!(
            "Secret {name:?} key {:?} is not a libp2p Ed25519 private key: {e}",
            gateway::KEY_FILE
        )
    })
}

async fn update_status(
    group: &PeerGroup,
    ctx: &Context,
    health: &Health,
    peer_id: Option<String>,
    connected_peers: Option<u32>,
) -> Result<(), Error> {
    let old = group.status.clone().unwrap_or_default();
    let generation = group.metadata.generation;
    let status = PeerGroupStatus {
        observed_generation: generation,
        conditions: health.conditions(&old.conditions, generation, Time(Timestamp::now())),
        peer_id,
        connected_peers,
    };
    if status != old {
        apply::apply_status(&ctx.client, group, &status).await?;
    }
    for event in health::transitions(&old.conditions, &status.conditions) {
        ctx.event(group, event.type_, &event.reason, event.note)
            .await;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use k8s_openapi::ByteString;
    use std::collections::BTreeMap;

    fn secret(key: &[u8]) -> Secret {
        Secret {
            data: Some(BTreeMap::from([(
                gateway::KEY_FILE.into(),
                ByteString(key.to_vec()),
            )])),
            ..Secret::default()
        }
    }

    #[test]
    fn identities_are_read_back_from_the_generated_secret() {
        let group = testing::peer_group("{}");
        let identity = Identity::generate().unwrap();
        let generated = gateway::identity_secret(&group, &identity);
        assert_eq!(read_identity(&generated, "friends-identity"), Ok(identity));
    }

    #[test]
    fn the_status_counts_connected_peers_and_names_each() {
        let peers: PeersAnswer = serde_json::from_str(
            r#"{"peerId":"12D3KooWx","peers":[
                {"peerId":"a","name":"bea","connected":true,"connection":"direct","bytesUp":1},
                {"peerId":"b","name":"cal","connected":false,"connection":"none"}]}"#,
        )
        .unwrap();
        assert_eq!(
            summarize(&peers.peers),
            (
                1,
                "1 of 2 trusted peers connected (bea direct, cal none)".into()
            )
        );
        assert_eq!(summarize(&[]).0, 0);
    }

    #[test]
    fn the_gateway_is_asked_on_its_pod_address() {
        assert_eq!(peers_url("10.1.2.3"), "http://10.1.2.3:8097/api/v1/peers");
        assert_eq!(peers_url("fd00::5"), "http://[fd00::5]:8097/api/v1/peers");
    }

    #[test]
    fn unusable_secrets_say_what_is_wrong() {
        let missing = read_identity(&Secret::default(), "mine").unwrap_err();
        assert_eq!(missing, "Secret \"mine\" has no key \"identity.key\"");
        let garbage = read_identity(&secret(b"nope"), "mine").unwrap_err();
        assert!(
            garbage.contains("is not a libp2p Ed25519 private key"),
            "{garbage}"
        );
    }
}
