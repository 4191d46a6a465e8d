//! Hub mode: the library directory that the front door (`manofwar hub`) reads. One Secret in
//! the operator's namespace holds `libraries.json`: every library server's in-cluster URL and
//! the token it asks for and, with the hub's URL, every PeerGroup gateway's hub token (the hub
//! lets a gateway read and stream the libraries it shares) and its HTTP's URL and token (the hub
//! offers its users the friends' libraries the gateway reaches). The leader recomputes it from
//! caches (the libraries, the peer groups and their token Secrets) every few seconds and writes
//! it only when it changed.

use super::{config, names};
use crate::cache;
use crate::peer_group::gateway;
use crate::reconcile::apply::{FIELD_MANAGER, MANAGED_BY, apply};
use crate::reconcile::{Context, Error, error_chain};
use crate::settings::{Hub, Settings};
use crate::shutdown::Shutdown;
use crate::token;
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::ResourceExt as _;
use kube::api::Api;
use kube::runtime::reflector::Store;
use kube::runtime::watcher;
use manofwar_crds::{MediaLibrary, PeerGroup, condition};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::MissedTickBehavior;
use tracing::Instrument as _;

/// The directory's key in its Secret (the file name where the hub mounts it).
pub const KEY: &str = "libraries.json";
/// How often the directory is recomputed (from caches: no API request unless it changed).
const PERIOD: Duration = Duration::from_secs(5);

/// What `libraries.json` holds.
#[derive(Serialize, PartialEq, Eq)]
pub struct Directory {
    pub libraries: Vec<Entry>,
    pub gateways: Vec<Gateway>,
}

/// One library server, as the hub reaches it.
#[derive(Serialize, PartialEq, Eq)]
pub struct Entry {
    pub name: String,
    pub namespace: String,
    /// The Service's in-cluster URL (never the Ingress: the hub is in the cluster).
    pub url: String,
    /// The library's worker token, which its server asks for with `--private`.
    pub token: String,
    /// Its `Ready` condition, which only the operator knows (a missing profile, an
    /// unschedulable pod); absent before the first status.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub state: Option<State>,
}

/// A library's `Ready` condition as the hub shows it to admins.
#[derive(Serialize, PartialEq, Eq)]
pub struct State {
    pub ready: bool,
    /// Nothing moves until someone changes something (the `Stalled` condition).
    pub stalled: bool,
    pub reason: String,
    /// Absent where it only counts items ("Ready", "Transcoding"): the counts change with every
    /// item, and the hub reads them live from the library server.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl State {
    fn of(library: &MediaLibrary) -> Option<Self> {
        let status = library.status.as_ref()?;
        let ready = condition::find(&status.conditions, condition::READY)?;
        let counts = ["Ready", "Transcoding"].contains(&ready.reason.as_str());
        Some(Self {
            ready: ready.status == condition::TRUE,
            stalled: condition::is_true(&status.conditions, condition::STALLED),
            reason: ready.reason.clone(),
            message: (!counts && !ready.message.is_empty()).then(|| ready.message.clone()),
        })
    }
}

/// One PeerGroup's gateway, as the hub admits it.
#[derive(Serialize, PartialEq, Eq)]
pub struct Gateway {
    pub name: String,
    pub namespace: String,
    /// The token the gateway presents (`manofwar gateway --server <hub>`).
    pub token: String,
    /// The libraries it shares: those of its namespace whose `spec.sharing.peerGroup` names
    /// it, sorted. The hub lets its token read these only.
    pub libraries: Vec<String>,
    /// Its HTTP's in-cluster URL (the `<group>-gateway-http` Service), where the hub reads
    /// friends' libraries for its users, with `http_token`; both absent until that token's
    /// Secret exists.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_token: Option<String>,
}

/// Tokens by (namespace, Secret name).
type Tokens = HashMap<(String, String), String>;

/// The directory: every library, and with the hub's URL every peer group, that has its token
/// Secret and is not being deleted, each list sorted by namespace and name.
pub fn directory(
    libraries: &[Arc<MediaLibrary>],
    groups: &[Arc<PeerGroup>],
    token_secrets: &[Arc<Secret>],
    settings: &Settings,
) -> Directory {
    let tokens: Tokens = token_secrets
        .iter()
        .filter_map(|secret| {
            let key = (secret.namespace()?, secret.name_any());
            Some((key, token::read(secret)?))
        })
        .collect();
    let gateways = if settings.hub_url().is_some() {
        gateways(groups, libraries, &tokens)
    } else {
        Vec::new()
    };
    Directory {
        libraries: library_entries(libraries, &tokens, settings),
        gateways,
    }
}

fn library_entries(
    libraries: &[Arc<MediaLibrary>],
    tokens: &Tokens,
    settings: &Settings,
) -> Vec<Entry> {
    let mut entries: Vec<Entry> = libraries
        .iter()
        .filter(|lib| lib.metadata.deletion_timestamp.is_none())
        .filter_map(|lib| {
            let name = names::name(lib);
            let namespace = lib.namespace()?;
            let token = tokens.get(&(namespace.clone(), names::token_secret(&name)))?;
            Some(Entry {
                url: settings.library_url(&name, &namespace),
                token: token.clone(),
                state: State::of(lib),
                name,
                namespace,
            })
        })
        .collect();
    entries.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    entries
}

fn gateways(
    groups: &[Arc<PeerGroup>],
    libraries: &[Arc<MediaLibrary>],
    tokens: &Tokens,
) -> Vec<Gateway> {
    let mut gateways: Vec<Gateway> = groups
        .iter()
        .filter(|group| group.metadata.deletion_timestamp.is_none())
        .filter_map(|group| {
            let namespace = group.namespace()?;
            let secret = gateway::hub_token_secret_name(group);
            let token = tokens.get(&(namespace.clone(), secret))?;
            let name = gateway::name(group);
            let mut shared: Vec<String> = libraries
                .iter()
                .filter(|lib| lib.namespace().as_ref() == Some(&namespace))
                .filter(|lib| {
                    let sharing = lib.spec.sharing.as_ref();
                    sharing.is_some_and(|s| s.peer_group == name)
                })
                .map(|lib| names::name(lib))
                .collect();
            shared.sort();
            let http_token = tokens
                .get(&(namespace.clone(), gateway::http_token_secret_name(group)))
                .cloned();
            Some(Gateway {
                url: http_token
                    .is_some()
                    .then(|| gateway::http_url(group, &namespace)),
                http_token,
                name,
                namespace,
                token: token.clone(),
                libraries: shared,
            })
        })
        .collect();
    gateways.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    gateways
}

/// The directory Secret.
pub fn secret(hub: &Hub, directory: &Directory) -> Result<Secret, Error> {
    let json = serde_json::to_vec(directory).map_err(|e| Error::Serialize("hub directory", e))?;
    let labels = BTreeMap::from([
        ("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into()),
        ("app.kubernetes.io/component".into(), Hub::COMPONENT.into()),
    ]);
    Ok(Secret {
        metadata: ObjectMeta {
            name: Some(hub.directory.clone()),
            namespace: Some(hub.namespace.clone()),
            labels: Some(labels),
            ..ObjectMeta::default()
        },
        type_: Some("Opaque".into()),
        data: Some(BTreeMap::from([(KEY.into(), ByteString(json))])),
        ..Secret::default()
    })
}

/// Keep the directory Secret up to date until shutdown; nothing outside hub mode. Runs with
/// the controllers, so only the leader writes.
pub async fn keep(ctx: Arc<Context>, shutdown: &Shutdown) {
    let Some(hub) = ctx.settings.hub.clone() else {
        return;
    };
    // The libraries' worker tokens and the gateways' hub tokens (with their identities).
    let selector = format!(
        "{MANAGED_BY},app.kubernetes.io/component in ({},{})",
        config::COMPONENT,
        gateway::COMPONENT
    );
    let tokens = cache::spawn_with(
        Api::<Secret>::all(ctx.client.clone()),
        watcher::Config::default().labels(&selector),
        shutdown.wait(),
    );
    let groups = cache::spawn(Api::<PeerGroup>::all(ctx.client.clone()), shutdown.wait());
    let span =
        tracing::info_span!("hub_directory", secret = %hub.directory, namespace = %hub.namespace);
    tokio::select! {
        () = write_changes(&ctx, &hub, &groups, &tokens).instrument(span) => {}
        () = shutdown.wait() => {}
    }
}

async fn write_changes(
    ctx: &Context,
    hub: &Hub,
    groups: &Store<PeerGroup>,
    tokens: &Store<Secret>,
) {
    // An empty cache would write an empty directory: wait for all to be filled.
    if ctx.libraries.wait_until_ready().await.is_err()
        || groups.wait_until_ready().await.is_err()
        || tokens.wait_until_ready().await.is_err()
    {
        return;
    }
    tracing::info!("keeping the hub's library directory");
    let mut written: Option<Directory> = None;
    let mut tick = tokio::time::interval(PERIOD);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let current = directory(
            &ctx.libraries.state(),
            &groups.state(),
            &tokens.state(),
            &ctx.settings,
        );
        if written.as_ref() == Some(&current) {
            continue;
        }
        let applied = match secret(hub, &current) {
            Ok(secret) => apply(&ctx.client, &secret).await.map(drop),
            Err(error) => Err(error),
        };
        match applied {
            Ok(()) => {
                tracing::info!(
                    libraries = current.libraries.len(),
                    gateways = current.gateways.len(),
                    "wrote the hub's library directory"
                );
                written = Some(current);
            }
            Err(error) => {
                tracing::warn!(error = %error_chain(&error), "cannot write the hub's library directory; retrying");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn library(name: &str, namespace: &str) -> MediaLibrary {
        let mut lib = testing::library();
        lib.metadata.name = Some(name.into());
        lib.metadata.namespace = Some(namespace.into());
        lib
    }

    /// The token Secret the reconcile creates for `library`.
    fn token_secret(library_name: &str, namespace: &str, token: &str) -> Arc<Secret> {
        Arc::new(config::token_secret(
            &library(library_name, namespace),
            token,
        ))
    }

    fn group(name: &str, namespace: &str) -> PeerGroup {
        let mut group = testing::peer_group("{}");
        group.metadata.name = Some(name.into());
        group.metadata.namespace = Some(namespace.into());
        group
    }

    /// The hub token Secret the reconcile creates for `group`.
    fn hub_token_secret(group_name: &str, namespace: &str, token: &str) -> Arc<Secret> {
        Arc::new(gateway::hub_token_secret(
            &group(group_name, namespace),
            token,
        ))
    }

    /// The HTTP token Secret the reconcile creates for `group`.
    fn http_token_secret(group_name: &str, namespace: &str, token: &str) -> Arc<Secret> {
        Arc::new(gateway::http_token_secret(
            &group(group_name, namespace),
            token,
        ))
    }

    #[test]
    fn the_directory_lists_libraries_with_tokens_sorted() {
        let libraries = [
            library("movies", "media"),
            library("home-videos", "family"),
            library("starting", "media"),
        ]
        .map(Arc::new);
        let tokens = [
            token_secret("movies", "media", "t-movies"),
            token_secret("home-videos", "family", "t-home"),
            // Same name, other namespace: not this library's.
            token_secret("starting", "family", "t-elsewhere"),
        ];
        let settings = Settings::for_hub_tests();
        let json = serde_json::to_string(&directory(&libraries, &[], &tokens, &settings)).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"libraries":["#,
                r#"{"name":"home-videos","namespace":"family","url":"http://home-videos.family.svc:8096","token":"t-home"},"#,
                r#"{"name":"movies","namespace":"media","url":"http://movies.media.svc:8096","token":"t-movies"}"#,
                r#"],"gateways":[]}"#
            )
        );
    }

    #[test]
    fn the_directory_lists_gateways_with_hub_tokens_sorted() {
        let sharing = |mut lib: MediaLibrary, group: &str| {
            lib.spec.sharing = Some(manofwar_crds::Sharing {
                peer_group: group.into(),
            });
            lib
        };
        let libraries = [
            sharing(library("movies", "media"), "friends"),
            library("home-videos", "family"),
            // Names a group of another namespace's name: not shared by `friends` of media.
            sharing(library("cartoons", "family"), "friends"),
        ]
        .map(Arc::new);
        let mut leaving = group("old-friends", "media");
        leaving.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let groups = [
            group("friends", "media"),
            group("cousins", "family"),
            group("starting", "media"),
            leaving,
        ]
        .map(Arc::new);
        let tokens = [
            token_secret("movies", "media", "t-movies"),
            token_secret("home-videos", "family", "t-home"),
            hub_token_secret("friends", "media", "g-friends"),
            hub_token_secret("cousins", "family", "g-cousins"),
            hub_token_secret("old-friends", "media", "g-old"),
            http_token_secret("friends", "media", "h-friends"),
            // Same name, other namespace: not this group's.
            hub_token_secret("starting", "family", "g-elsewhere"),
        ];
        let settings = Settings::for_hub_tests();
        let json =
            serde_json::to_string(&directory(&libraries, &groups, &tokens, &settings)).unwrap();
        assert_eq!(
            json,
            concat!(
                r#"{"libraries":["#,
                r#"{"name":"home-videos","namespace":"family","url":"http://home-videos.family.svc:8096","token":"t-home"},"#,
                r#"{"name":"movies","namespace":"media","url":"http://movies.media.svc:8096","token":"t-movies"}"#,
                r#"],"gateways":["#,
                r#"{"name":"cousins","namespace":"family","token":"g-cousins","libraries":[]},"#,
                r#"{"name":"friends","namespace":"media","token":"g-friends","libraries":["movies"],"#,
                r#""url":"http://friends-gateway-http.media.svc:8097","http_token":"h-friends"}"#,
                r#"]}"#
            )
        );
        // Without the hub's URL no gateway reads from the hub: none is admitted.
        let mut no_url = settings;
        no_url.hub.as_mut().unwrap().url = None;
        let dir = directory(&libraries, &groups, &tokens, &no_url);
        assert_eq!(dir.libraries.len(), 2);
        assert!(dir.gateways.is_empty());
    }

    #[test]
    fn each_library_carries_its_ready_condition_without_item_counts() {
        let make = |type_: &str, status: &str, reason: &str, message: &str| condition::Condition {
            type_: type_.into(),
            status: status.into(),
            reason: reason.into(),
            message: message.into(),
            last_transition_time: Time(Timestamp::UNIX_EPOCH),
            observed_generation: None,
        };
        let with_ready = |name: &str, status: &str, reason: &str, message: &str| {
            let stalled = if reason.starts_with("Profile") {
                "True"
            } else {
                "False"
            };
            let mut lib = library(name, "media");
            lib.status = Some(manofwar_crds::MediaLibraryStatus {
                conditions: vec![
                    make(condition::READY, status, reason, message),
                    make(condition::STALLED, stalled, reason, message),
                ],
                ..Default::default()
            });
            Arc::new(lib)
        };
        let libraries = [
            with_ready(
                "broken",
                "False",
                "ProfileNotFound",
                "TranscodeProfile \"x\" not found",
            ),
            with_ready(
                "busy",
                "False",
                "Transcoding",
                "2 of 3 items waiting or being transcoded",
            ),
            with_ready(
                "fine",
                "True",
                "Ready",
                "library server up; 3 items ready, 0 failed",
            ),
            Arc::new(library("new", "media")),
        ];
        let tokens = ["broken", "busy", "fine", "new"].map(|n| token_secret(n, "media", "t"));
        let dir = directory(&libraries, &[], &tokens, &Settings::for_hub_tests());
        let states: Vec<String> = dir
            .libraries
            .iter()
            .map(|e| serde_json::to_string(&e.state).unwrap())
            .collect();
        assert_eq!(
            states,
            [
                concat!(
                    r#"{"ready":false,"stalled":true,"reason":"ProfileNotFound","#,
                    r#""message":"TranscodeProfile \"x\" not found"}"#
                ),
                r#"{"ready":false,"stalled":false,"reason":"Transcoding"}"#,
                r#"{"ready":true,"stalled":false,"reason":"Ready"}"#,
                "null",
            ]
        );
    }

    #[test]
    fn libraries_being_deleted_leave_the_directory() {
        let mut going = library("movies", "media");
        going.metadata.deletion_timestamp = Some(Time(Timestamp::UNIX_EPOCH));
        let tokens = [token_secret("movies", "media", "t")];
        let dir = directory(&[Arc::new(going)], &[], &tokens, &Settings::for_hub_tests());
        assert!(dir.libraries.is_empty());
    }

    #[test]
    fn the_secret_is_labelled_for_the_hub() {
        let settings = Settings::for_hub_tests();
        let hub = settings.hub.as_ref().unwrap();
        let empty = Directory {
            libraries: Vec::new(),
            gateways: Vec::new(),
        };
        let s = serde_json::to_value(secret(hub, &empty).unwrap()).unwrap();
        assert_eq!(s["metadata"]["name"], "manofwar-hub-libraries");
        assert_eq!(s["metadata"]["namespace"], "manofwar-system");
        assert_eq!(
            s["metadata"]["labels"],
            serde_json::json!({
                "app.kubernetes.io/managed-by": "manofwar-operator",
                "app.kubernetes.io/component": "hub",
            })
        );
        assert!(s["metadata"].get("ownerReferences").is_none());
        // base64 of {"libraries":[],"gateways":[]}
        assert_eq!(
            s["data"]["libraries.json"],
            "eyJsaWJyYXJpZXMiOltdLCJnYXRld2F5cyI6W119"
        );
    }
}
