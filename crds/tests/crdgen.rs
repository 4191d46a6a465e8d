//! The CRDs the chart ships and the CRD reference are what the types generate, and the CRDs
//! have the shape the API server and GitOps tools need.

use std::path::Path;

use manofwar_crds::crdgen;
use serde_json::Value;

#[test]
fn committed_files_match_the_types() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let stale = crdgen::stale(&root);
    assert!(
        stale.is_empty(),
        "{stale:?} differ from what the types in crds/src generate: run `{}` and commit the result",
        crdgen::REGENERATE
    );
}

#[test]
fn every_kind_is_namespaced_with_status_columns_and_short_names() {
    for crd in crdgen::crds() {
        let kind = &crd.spec.names.kind;
        assert_eq!(crd.spec.group, "manofwar.io");
        assert_eq!(crd.spec.scope, "Namespaced", "{kind}");
        assert!(
            crd.spec
                .names
                .short_names
                .as_ref()
                .is_some_and(|s| !s.is_empty()),
            "{kind}"
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1alpha1");
        assert!(version.served && version.storage);
        let status = version
            .subresources
            .as_ref()
            .and_then(|s| s.status.as_ref());
        assert!(status.is_some(), "{kind} has no status subresource");
        let columns: Vec<&str> = version
            .additional_printer_columns
            .iter()
            .flatten()
            .map(|c| c.name.as_str())
            .collect();
        assert!(
            columns.contains(&"Ready") && columns.contains(&"Age"),
            "{kind}: {columns:?}"
        );
    }
}

#[test]
fn every_status_has_observed_generation_and_conditions_keyed_by_type() {
    for crd in crdgen::crds() {
        let schema = schema(&crd);
        let status = &schema["properties"]["status"]["properties"];
        assert_eq!(status["observedGeneration"]["type"], "integer");
        let conditions = &status["conditions"];
        assert_eq!(conditions["x-kubernetes-list-type"], "map");
        assert_eq!(
            conditions["x-kubernetes-list-map-keys"],
            serde_json::json!(["type"])
        );
        let required = conditions["items"]["required"].as_array().unwrap();
        assert!(
            required.contains(&"type".into()),
            "list-map keys must be required"
        );
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crdgen::crds() {
        let mut problems = Vec::new();
        structural(&schema(&crd), "", &mut problems);
        assert!(
            problems.is_empty(),
            "{}: {problems:#?}",
            crd.spec.names.kind
        );
    }
}

#[test]
fn doc_comments_become_descriptions() {
    let crds = crdgen::crds();
    let ml = schema(&crds[0]);
    let media = &ml["properties"]["spec"]["properties"]["media"]["description"];
    assert!(
        media
            .as_str()
            .unwrap()
            .starts_with("Where the originals are.")
    );
    let reference = crdgen::reference_markdown(&crds);
    assert!(reference.contains("| `media.nfs.server` | string |"));
    assert!(reference.contains("media must set exactly one of pvc, nfs or hostPath"));
}

fn schema(crd: &manofwar_crds::crdgen::Crd) -> Value {
    let s = crd.spec.versions[0].schema.as_ref().unwrap();
    serde_json::to_value(s.open_api_v3_schema.as_ref().unwrap()).unwrap()
}

/// The rules of a structural schema that a derived schema can break: every node has a type
/// (unless it is int-or-string or preserves unknown fields), no `$ref`, no `oneOf`/`anyOf`/
/// `allOf` with types or properties inside, no `properties` next to `additionalProperties`.
fn structural(node: &Value, path: &str, problems: &mut Vec<String>) {
    let Some(map) = node.as_object() else { return };
    let typed = map.contains_key("type")
        || map.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true))
        || map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if !typed {
        problems.push(format!("{path}: no type"));
    }
    if map.contains_key("$ref") {
        problems.push(format!("{path}: $ref"));
    }
    if map.contains_key("properties") && map.contains_key("additionalProperties") {
        problems.push(format!("{path}: properties and additionalProperties"));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        for branch in map
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            if branch.get("type").is_some() || branch.get("properties").is_some() {
                problems.push(format!(
                    "{path}: {combinator} branch with a type or properties"
                ));
            }
        }
    }
    for (name, prop) in map
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        structural(prop, &format!("{path}.{name}"), problems);
    }
    if let Some(items) = map.get("items") {
        structural(items, &format!("{path}[]"), problems);
    }
    if let Some(extra) = map.get("additionalProperties").filter(|v| v.is_object()) {
        structural(extra, &format!("{path}{{}}"), problems);
    }
}
