//! The library server's children: its Deployment (`manofwar serve`), Service, optional Ingress,
//! the PVC for the catalog and HLS output and, in hub mode, the NetworkPolicy that lets only the
//! hub, the operator and the library's own workers in.

use super::{jobs, names};
use crate::pod;
use crate::reconcile::apply::{child_meta, labels, selector};
use crate::settings::{Hub, Settings};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec, DeploymentStrategy};
use k8s_openapi::api::core::v1::{
    Container, ContainerPort, PersistentVolumeClaim, PersistentVolumeClaimSpec, PodSpec,
    PodTemplateSpec, Probe, Service, ServicePort, ServiceSpec, VolumeMount,
    VolumeResourceRequirements,
};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, NetworkPolicy, NetworkPolicyIngressRule,
    NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec, ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manofwar_crds::{MediaLibrary, Storage};
use std::collections::BTreeMap;

/// Port of `manofwar serve` (HTTP: web app, API, HLS, internal work queue).
pub const PORT: i32 = 8096;
/// Component label of the library server.
pub const COMPONENT: &str = "library-server";

fn child_labels(name: &str) -> BTreeMap<String, String> {
    labels(name, COMPONENT, (names::LIBRARY_LABEL, name))
}

/// The library server: one replica (SQLite has one writer), recreated rather than rolled.
pub fn deployment(lib: &MediaLibrary, settings: &Settings) -> Deployment {
    let name = names::name(lib);
    let pod_labels = child_labels(&name);
    Deployment {
        metadata: child_meta(lib, name.clone(), pod_labels.clone()),
        spec: Some(DeploymentSpec {
            replicas: Some(1),
            revision_history_limit: Some(3),
            selector: LabelSelector {
                match_labels: Some(selector(&name, COMPONENT)),
                ..LabelSelector::default()
            },
            strategy: Some(DeploymentStrategy {
                type_: Some("Recreate".into()),
                ..DeploymentStrategy::default()
            }),
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(pod_labels),
                    ..ObjectMeta::default()
                }),
                spec: Some(server_pod(lib, &name, settings)),
            },
            ..DeploymentSpec::default()
        }),
        status: None,
    }
}

fn server_pod(lib: &MediaLibrary, name: &str, settings: &Settings) -> PodSpec {
    let server = &lib.spec.server;
    let volumes = vec![
        pod::media_volume(&lib.spec.media),
        pod::claim_volume("data", &names::data_claim(lib)),
        pod::empty_dir("tmp"),
        pod::config_map_volume("profiles", &names::profiles_config_map(name), &[]),
    ];
    PodSpec {
        containers: vec![server_container(lib, name, settings)],
        volumes: Some(volumes),
        node_selector: pod::non_empty_map(&server.node_selector),
        tolerations: pod::non_empty_vec(&server.tolerations),
        ..pod::base_spec()
    }
}

fn server_container(lib: &MediaLibrary, name: &str, settings: &Settings) -> Container {
    let args = [
        "serve",
        "--media",
        pod::MEDIA_DIR,
        "--data",
        pod::DATA_DIR,
        "--listen",
        &format!("0.0.0.0:{PORT}"),
        "--scan-interval",
        &lib.spec.scan_interval_seconds.to_string(),
        "--profiles",
        pod::PROFILE_DIR,
    ];
    let mut args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    if settings.hub.is_some() {
        // Every route but /healthz and /metrics asks for the token: the hub's, the workers'.
        args.push("--private".into());
    }
    let mounts = vec![
        VolumeMount {
            name: "media".into(),
            mount_path: pod::MEDIA_DIR.into(),
            read_only: Some(true),
            sub_path: lib.spec.media.sub_path.clone(),
            ..VolumeMount::default()
        },
        pod::mount("data", pod::DATA_DIR, false),
        pod::mount("tmp", "/tmp", false),
        pod::mount("profiles", pod::PROFILE_DIR, true),
    ];
    Container {
        name: "server".into(),
        args: Some(args),
        env: Some(pod::env(settings, Some(&names::token_secret(name)))),
        ports: Some(vec![ContainerPort {
            name: Some("http".into()),
            container_port: PORT,
            protocol: Some("TCP".into()),
            ..ContainerPort::default()
        }]),
        readiness_probe: Some(pod::http_probe(10, 3)),
        liveness_probe: Some(Probe {
            initial_delay_seconds: Some(10),
            ..pod::http_probe(20, 3)
        }),
        resources: lib.spec.server.resources.clone(),
        volume_mounts: Some(mounts),
        ..pod::container(settings)
    }
}

/// The Service the workers, the Ingress and in-cluster players reach the server through.
pub fn service(lib: &MediaLibrary) -> Service {
    let name = names::name(lib);
    Service {
        metadata: child_meta(lib, name.clone(), child_labels(&name)),
        spec: Some(ServiceSpec {
            selector: Some(selector(&name, COMPONENT)),
            ports: Some(vec![ServicePort {
                name: Some("http".into()),
                port: PORT,
                target_port: Some(IntOrString::String("http".into())),
                protocol: Some("TCP".into()),
                ..ServicePort::default()
            }]),
            ..ServiceSpec::default()
        }),
        status: None,
    }
}

/// The Ingress, when the spec asks for one.
pub fn ingress(lib: &MediaLibrary) -> Option<Ingress> {
    let spec = lib.spec.ingress.as_ref()?;
    let name = names::name(lib);
    let mut metadata = child_meta(lib, name.clone(), child_labels(&name));
    metadata.annotations = pod::non_empty_map(&spec.annotations);
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: name.clone(),
            port: Some(ServiceBackendPort {
                name: Some("http".into()),
                number: None,
            }),
        }),
        resource: None,
    };
    let rule = IngressRule {
        host: Some(spec.host.clone()),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some("/".into()),
                path_type: "Prefix".into(),
                backend,
            }],
        }),
    };
    let tls = spec.tls_secret_name.as_ref().map(|secret| {
        vec![IngressTLS {
            hosts: Some(vec![spec.host.clone()]),
            secret_name: Some(secret.clone()),
        }]
    });
    Some(Ingress {
        metadata,
        spec: Some(IngressSpec {
            ingress_class_name: spec.class_name.clone(),
            rules: Some(vec![rule]),
            tls,
            default_backend: None,
        }),
        status: None,
    })
}

/// Hub mode: the server's pods take connections only from the hub and the operator (in the
/// operator's namespace) and from this library's transcoder pods.
pub fn network_policy(lib: &MediaLibrary, settings: &Settings) -> Option<NetworkPolicy> {
    let hub = settings.hub.as_ref()?;
    let name = names::name(lib);
    let operator_namespace = match_labels(BTreeMap::from([(
        "kubernetes.io/metadata.name".into(),
        hub.namespace.clone(),
    )]));
    let in_operator_namespace = |component: &str| NetworkPolicyPeer {
        namespace_selector: Some(operator_namespace.clone()),
        pod_selector: Some(match_labels(BTreeMap::from([(
            "app.kubernetes.io/component".into(),
            component.into(),
        )]))),
        ip_block: None,
    };
    let workers = NetworkPolicyPeer {
        pod_selector: Some(match_labels(selector(&name, jobs::COMPONENT))),
        ..NetworkPolicyPeer::default()
    };
    let rule = NetworkPolicyIngressRule {
        from: Some(vec![
            in_operator_namespace(Hub::COMPONENT),
            in_operator_namespace(Hub::OPERATOR_COMPONENT),
            workers,
        ]),
        ports: Some(vec![NetworkPolicyPort {
            port: Some(IntOrString::Int(PORT)),
            protocol: Some("TCP".into()),
            end_port: None,
        }]),
    };
    Some(NetworkPolicy {
        metadata: child_meta(lib, name.clone(), child_labels(&name)),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(match_labels(selector(&name, COMPONENT))),
            policy_types: Some(vec!["Ingress".into()]),
            ingress: Some(vec![rule]),
            egress: None,
        }),
    })
}

fn match_labels(labels: BTreeMap<String, String>) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

/// The PVC for the catalog and HLS output, unless the spec names an existing claim.
pub fn data_claim(lib: &MediaLibrary) -> Option<PersistentVolumeClaim> {
    let storage = &lib.spec.storage;
    if storage.existing_claim.is_some() {
        return None;
    }
    let name = names::name(lib);
    let size = storage
        .size
        .clone()
        .unwrap_or_else(|| Quantity(Storage::DEFAULT_SIZE.into()));
    Some(PersistentVolumeClaim {
        metadata: child_meta(lib, names::data_claim(lib), child_labels(&name)),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            storage_class_name: storage.storage_class_name.clone(),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([("storage".into(), size)])),
                limits: None,
            }),
            ..PersistentVolumeClaimSpec::default()
        }),
        status: None,
    })
}

/// Where people watch: the Ingress URL, or the Service's in-cluster URL.
pub fn url(lib: &MediaLibrary, settings: &Settings) -> String {
    match &lib.spec.ingress {
        Some(ingress) if ingress.tls_secret_name.is_some() => format!("https://{}/", ingress.host),
        Some(ingress) => format!("http://{}/", ingress.host),
        None => {
            let ns = lib.metadata.namespace.as_deref().unwrap_or("default");
            format!("{}/", settings.library_url(&names::name(lib), ns))
        }
    }
}

#[cfg(test)]
#[path = "server_tests.rs"]
mod tests;
