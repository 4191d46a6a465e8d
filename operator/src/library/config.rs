//! The library's configuration children: the worker token Secret (generated once, then kept)
//! and the ConfigMap with its TranscodeProfiles as the YAML files the workers read.

use super::names;
use crate::crypto;
use crate::reconcile::Error;
use crate::reconcile::apply::{FIELD_MANAGER, child_meta, labels};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Client;
use kube::api::{Api, PostParams};
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
        data: Some(BTreeMap::from([(
            crate::pod::TOKEN_KEY.into(),
            ByteString(token.as_bytes().to_vec()),
        )])),
        ..Secret::default()
    }
}

/// The worker token of `lib`: read from its Secret, or generated and stored on first use. A
/// token is never replaced, so running workers keep working across reconciles and restarts.
pub async fn ensure_token(
    client: &Client,
    lib: &MediaLibrary,
    namespace: &str,
) -> Result<String, Error> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let name = names::token_secret(&names::name(lib));
    if let Some(token) = api.get_opt(&name).await?.as_ref().and_then(read_token) {
        return Ok(token);
    }
    let token = crypto::hex(&crypto::random_bytes::<32>().map_err(|_| Error::Random)?);
    let params = PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..PostParams::default()
    };
    match api.create(&params, &token_secret(lib, &token)).await {
        Ok(_) => Ok(token),
        // Created meanwhile (or present without a token: left for a human to look at).
        Err(kube::Error::Api(s)) if s.is_already_exists() => {
            let secret = api.get(&name).await?;
            read_token(&secret).ok_or(Error::MissingField("token in the worker token Secret"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The token in a token Secret, if it holds one.
pub fn read_token(secret: &Secret) -> Option<String> {
    let bytes = secret.data.as_ref()?.get(crate::pod::TOKEN_KEY)?;
    let token = String::from_utf8(bytes.0.clone()).ok()?;
    (!token.is_empty()).then_some(token)
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
        assert_eq!(read_token(&secret).as_deref(), Some("abc123"));
        assert!(crate::reconcile::apply::is_controlled_by(
            &secret.metadata,
            testing::LIBRARY_UID
        ));
        assert_eq!(read_token(&Secret::default()), None);
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
