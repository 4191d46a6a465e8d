//! Pieces of the pods the operator creates: the data-plane container, its environment, volumes
//! and the restricted security context every role runs with.

use crate::settings::Settings;
use k8s_openapi::api::core::v1::{
    Capabilities, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    HTTPGetAction, HostPathVolumeSource, KeyToPath, NFSVolumeSource,
    PersistentVolumeClaimVolumeSource, PodSecurityContext, PodSpec, Probe, SeccompProfile,
    SecretKeySelector, SecretVolumeSource, SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use manofwar_crds::MediaSource;
use std::collections::BTreeMap;

/// Where the originals are mounted (read-only).
pub const MEDIA_DIR: &str = "/media";
/// Where the catalog and HLS output live.
pub const DATA_DIR: &str = "/data";
/// Where the library's TranscodeProfiles are mounted (its ConfigMap, a `NAME.yaml` each).
pub const PROFILE_DIR: &str = "/etc/manofwar/profiles";
/// The data-plane binary in the image.
pub const BINARY: &str = "manofwar";
/// The non-root user and group of the image.
const USER: i64 = 65532;
/// Key of the worker token in its Secret.
pub const TOKEN_KEY: &str = "token";

/// A pod that runs as the image's non-root user, with no API access and no service links.
pub fn base_spec() -> PodSpec {
    PodSpec {
        automount_service_account_token: Some(false),
        enable_service_links: Some(false),
        security_context: Some(PodSecurityContext {
            run_as_non_root: Some(true),
            run_as_user: Some(USER),
            run_as_group: Some(USER),
            fs_group: Some(USER),
            seccomp_profile: Some(SeccompProfile {
                type_: "RuntimeDefault".into(),
                localhost_profile: None,
            }),
            ..PodSecurityContext::default()
        }),
        ..PodSpec::default()
    }
}

/// The data-plane container: image, `manofwar` as the command, a read-only root file system.
pub fn container(settings: &Settings) -> Container {
    Container {
        image: Some(settings.image.clone()),
        image_pull_policy: Some(settings.pull_policy.as_str().into()),
        command: Some(vec![BINARY.into()]),
        security_context: Some(SecurityContext {
            allow_privilege_escalation: Some(false),
            read_only_root_filesystem: Some(true),
            capabilities: Some(Capabilities {
                drop: Some(vec!["ALL".into()]),
                add: None,
            }),
            ..SecurityContext::default()
        }),
        ..Container::default()
    }
}

/// The environment: log format, and the worker token from its Secret when given.
pub fn env(settings: &Settings, token_secret: Option<&str>) -> Vec<EnvVar> {
    let mut env = vec![EnvVar {
        name: "MANOFWAR_LOG_JSON".into(),
        value: Some(settings.json_logs.to_string()),
        value_from: None,
    }];
    if let Some(secret) = token_secret {
        env.push(secret_env("MANOFWAR_TOKEN", secret));
    }
    env
}

/// The variable `name` holding the token of the token Secret `secret`.
pub fn secret_env(name: &str, secret: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.into(),
                key: TOKEN_KEY.into(),
                optional: Some(false),
            }),
            ..EnvVarSource::default()
        }),
    }
}

/// `GET /healthz` on the container's port named `http`.
pub fn http_probe(period: i32, failures: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".into()),
            port: IntOrString::String("http".into()),
            ..HTTPGetAction::default()
        }),
        period_seconds: Some(period),
        failure_threshold: Some(failures),
        ..Probe::default()
    }
}

/// The volume with the originals, read-only.
pub fn media_volume(media: &MediaSource) -> Volume {
    let mut volume = Volume {
        name: "media".into(),
        ..Volume::default()
    };
    if let Some(pvc) = &media.pvc {
        volume.persistent_volume_claim = Some(PersistentVolumeClaimVolumeSource {
            claim_name: pvc.claim_name.clone(),
            read_only: Some(true),
        });
    } else if let Some(nfs) = &media.nfs {
        volume.nfs = Some(NFSVolumeSource {
            server: nfs.server.clone(),
            path: nfs.path.clone(),
            read_only: Some(true),
        });
    } else if let Some(host) = &media.host_path {
        volume.host_path = Some(HostPathVolumeSource {
            path: host.path.clone(),
            type_: Some("Directory".into()),
        });
    }
    volume
}

/// A volume from a PVC, writable.
pub fn claim_volume(name: &str, claim: &str) -> Volume {
    Volume {
        name: name.into(),
        persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
            claim_name: claim.into(),
            read_only: None,
        }),
        ..Volume::default()
    }
}

/// A scratch volume.
pub fn empty_dir(name: &str) -> Volume {
    Volume {
        name: name.into(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Volume::default()
    }
}

/// A volume with some keys of a ConfigMap as files (every key when `keys` is empty; the
/// kubelet then also updates the files when keys come and go).
pub fn config_map_volume(name: &str, config_map: &str, keys: &[String]) -> Volume {
    Volume {
        name: name.into(),
        config_map: Some(ConfigMapVolumeSource {
            name: config_map.into(),
            items: (!keys.is_empty()).then(|| keys.iter().map(|k| key_to_path(k)).collect()),
            ..ConfigMapVolumeSource::default()
        }),
        ..Volume::default()
    }
}

/// A volume with some keys of a Secret as files readable by the pod's group (fsGroup) only.
pub fn secret_volume(name: &str, secret: &str, keys: &[String]) -> Volume {
    Volume {
        name: name.into(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(secret.into()),
            items: Some(keys.iter().map(|k| key_to_path(k)).collect()),
            default_mode: Some(0o440),
            ..SecretVolumeSource::default()
        }),
        ..Volume::default()
    }
}

fn key_to_path(key: &str) -> KeyToPath {
    KeyToPath {
        key: key.into(),
        path: key.into(),
        mode: None,
    }
}

/// A mount of volume `name` at `path`.
pub fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.into(),
        mount_path: path.into(),
        read_only: read_only.then_some(true),
        ..VolumeMount::default()
    }
}

/// `None` for an empty map, so server-side apply does not claim an empty field.
pub fn non_empty_map(map: &BTreeMap<String, String>) -> Option<BTreeMap<String, String>> {
    (!map.is_empty()).then(|| map.clone())
}

/// `None` for an empty list.
pub fn non_empty_vec<T: Clone>(list: &[T]) -> Option<Vec<T>> {
    (!list.is_empty()).then(|| list.to_vec())
}
