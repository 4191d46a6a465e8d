//! Children by server-side apply, with one field manager, labels and a controller owner
//! reference on each.

use super::Error;
use k8s_openapi::NamespaceResourceScope;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use kube::{Client, Resource};
use serde::Serialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeMap;
use std::fmt::Debug;

/// The one field manager of everything the operator writes.
pub const FIELD_MANAGER: &str = "manofwar-operator";

/// `app.kubernetes.io/managed-by` value on every child; the watches select on it.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by=manofwar-operator";

/// Labels of a child of `instance` playing `component`; `extra` adds the owner's kind label.
pub fn labels(instance: &str, component: &str, extra: (&str, &str)) -> BTreeMap<String, String> {
    let mut labels = selector(instance, component);
    labels.insert("app.kubernetes.io/managed-by".into(), FIELD_MANAGER.into());
    labels.insert(extra.0.into(), extra.1.into());
    labels
}

/// The labels a child's pods are selected by.
pub fn selector(instance: &str, component: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".into(), "manofwar".into()),
        ("app.kubernetes.io/instance".into(), instance.into()),
        ("app.kubernetes.io/component".into(), component.into()),
    ])
}

/// Metadata of a child named `name` owned (as its controller) by `owner`.
pub fn child_meta<K: Resource<DynamicType = ()>>(
    owner: &K,
    name: String,
    labels: BTreeMap<String, String>,
) -> ObjectMeta {
    ObjectMeta {
        name: Some(name),
        namespace: owner.meta().namespace.clone(),
        labels: Some(labels),
        owner_references: owner.controller_owner_ref(&()).map(|r| vec![r]),
        ..ObjectMeta::default()
    }
}

/// Whether `obj` is controlled by the owner with `uid`.
pub fn is_controlled_by(meta: &ObjectMeta, uid: &str) -> bool {
    meta.owner_references
        .iter()
        .flatten()
        .any(|r: &OwnerReference| r.uid == uid && r.controller == Some(true))
}

/// Server-side apply `obj` (with force: the operator owns these fields) and return what the
/// API server stored.
pub async fn apply<K>(client: &Client, obj: &K) -> Result<K, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + Serialize
        + DeserializeOwned
        + Clone
        + Debug,
{
    let meta = obj.meta();
    let name = meta.name.as_deref().ok_or(Error::MissingField("name"))?;
    let namespace = meta
        .namespace
        .as_deref()
        .ok_or(Error::MissingField("namespace"))?;
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let params = PatchParams::apply(FIELD_MANAGER).force();
    Ok(api.patch(name, &params, &Patch::Apply(obj)).await?)
}

/// Server-side apply `status` to the status subresource of `obj`.
pub async fn apply_status<K, S>(client: &Client, obj: &K, status: &S) -> Result<(), Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + Debug,
    S: Serialize,
{
    let meta = obj.meta();
    let name = meta.name.as_deref().ok_or(Error::MissingField("name"))?;
    let namespace = meta
        .namespace
        .as_deref()
        .ok_or(Error::MissingField("namespace"))?;
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    let patch = serde_json::json!({
        "apiVersion": K::api_version(&()),
        "kind": K::kind(&()),
        "status": status,
    });
    let params = PatchParams::apply(FIELD_MANAGER).force();
    api.patch_status(name, &params, &Patch::Apply(patch))
        .await?;
    Ok(())
}

/// Delete `name` in the background if it exists and is controlled by `owner_uid`. Returns
/// whether a delete was sent.
pub async fn delete_owned<K>(
    client: &Client,
    namespace: &str,
    name: &str,
    owner_uid: &str,
) -> Result<bool, Error>
where
    K: Resource<Scope = NamespaceResourceScope, DynamicType = ()>
        + DeserializeOwned
        + Clone
        + Debug,
{
    let api: Api<K> = Api::namespaced(client.clone(), namespace);
    match api.get_opt(name).await? {
        Some(obj) if is_controlled_by(obj.meta(), owner_uid) => {
            match api.delete(name, &DeleteParams::background()).await {
                Ok(_) => Ok(true),
                Err(kube::Error::Api(s)) if s.is_not_found() => Ok(false),
                Err(e) => Err(e.into()),
            }
        }
        _ => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn child_meta_has_a_controller_owner_reference() {
        let lib = testing::library();
        let meta = child_meta(&lib, "movies".into(), labels("movies", "x", ("k", "v")));
        assert_eq!(meta.namespace.as_deref(), Some("media"));
        let owner = &meta.owner_references.as_ref().unwrap()[0];
        assert_eq!(owner.kind, "MediaLibrary");
        assert_eq!(owner.api_version, "manofwar.io/v1alpha1");
        assert_eq!(owner.controller, Some(true));
        assert!(is_controlled_by(&meta, testing::LIBRARY_UID));
        assert!(!is_controlled_by(&meta, "another"));
        let labels = meta.labels.unwrap();
        assert_eq!(labels["app.kubernetes.io/managed-by"], "manofwar-operator");
        assert_eq!(
            format!(
                "app.kubernetes.io/managed-by={}",
                labels["app.kubernetes.io/managed-by"]
            ),
            MANAGED_BY
        );
        assert_eq!(labels["k"], "v");
    }
}
