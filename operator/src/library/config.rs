//! The library's configuration children: the worker token Secret (generated once, then kept)
//! and the ConfigMap with its TranscodeProfiles as the YAML files the workers read.

use super::names;
use crate::reconcile::Error;
use crate::reconcile::apply::{child_meta, labels};
use crate::token;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use manofwar_crds::{MediaLibrary, TranscodeProfile};
use std::collections::BTreeMap;

/// Component label of the configuration children.
pub const COMPONENT: &str = "library-config";

/// The token Secret of `lib`, holding `token`.
pub fn token_secret(lib: &MediaLibrary, token: &str) -> Secret {
    let name = names::name(lib);
    Secret {
        metadata: child_meta(
            lib,
            names::token_secret(&name),
            labels(&name, COMPONENT, (names::LIBRARY_LABEL, &name)),
        ),
        type_: Some("Opaque".into()),
        data: Some(token::data(token)),
        ..Secret::default()
    }
}

/// The worker token of `lib`: read from its Secret, or generated and stored on first use.
pub async fn ensure_token(
    client: &Client,
    lib: &MediaLibrary,
    namespace: &str,
) -> Result<String, Error> {
    let name = names::token_secret(&names::name(lib));
    token::ensure(client, namespace, &name, |t| token_secret(lib, t)).await
}

/// The ConfigMap with one `<profile>.yaml` per profile: the profile's `spec`, as
/// `manofwar transcode --profile` reads it.
pub fn profiles_config_map(
    lib: &MediaLibrary,
    profiles: &[&TranscodeProfile],
) -> Result<ConfigMap, Error> {
    let name = names::name(lib);
    let mut data = BTreeMap::new();
    for profile in profiles {
        let profile_name = profile.metadata.name.clone().unwrap_or_default();
        let yaml = serde_yaml::to_string(&profile.spec).map_err(|source| Error::Yaml {
            what: format!("TranscodeProfile {profile_name}"),
            source,
        })?;
        data.insert(names::profile_file(&profile_name), yaml);
    }
    Ok(ConfigMap {
        metadata: child_meta(
            lib,
            names::profiles_config_map(&name),
            labels(&name, COMPONENT, (names::LIBRARY_LABEL, &name)),
        ),
        data: Some(data),
        ..ConfigMap::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;
    use manofwar_crds::TranscodeProfileSpec;

    #[test]
    fn the_token_secret_is_owned_and_readable() {
        let lib = testing::library();
        let secret = token_secret(&lib, "abc123");
        assert_eq!(secret.metadata.name.as_deref(), Some("movies-worker-token"));
        assert_eq!(token::read(&secret).as_deref(), Some("abc123"));
        assert!(crate::reconcile::apply::is_controlled_by(
            &secret.metadata,
            testing::LIBRARY_UID
        ));
        assert_eq!(token::read(&Secret::default()), None);
    }

    #[test]
    fn profiles_are_the_specs_as_yaml() {
        let lib = testing::library();
        let standard = testing::profile("standard", "segmentSeconds: 4\nworkers: {parallelism: 2}");
        let config_map = profiles_config_map(&lib, &[&standard]).unwrap();
        assert_eq!(config_map.metadata.name.as_deref(), Some("movies-profiles"));
        let yaml = &config_map.data.unwrap()["standard.yaml"];
        assert!(yaml.contains("segmentSeconds: 4"), "{yaml}");
        let back: TranscodeProfileSpec = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(back, standard.spec);
    }
}
