//! Every manofwar resource in examples/ deserialises into our types, carries no field the API
//! server would prune, and passes the CRDs' CEL rules (evaluated offline); and the examples
//! refer to each other consistently (profiles, peer groups, shared libraries).

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use kube::core::cel::Validator;
use manofwar_crds::{MediaLibrary, PeerGroup, TranscodeProfile, crdgen};
use serde::Deserialize;
use serde_json::Value;

/// Every YAML document under examples/, with the file it came from.
fn documents() -> Vec<(PathBuf, Value)> {
    documents_in("../examples")
}

/// Every YAML document under `dir` (relative to this crate), with the file it came from.
fn documents_in(dir: &str) -> Vec<(PathBuf, Value)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files = Vec::new();
    collect_yaml(&root, &mut files);
    let mut docs = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for doc in serde_yaml::Deserializer::from_str(&text) {
            let value =
                Value::deserialize(doc).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            if !value.is_null() {
                docs.push((file.clone(), value));
            }
        }
    }
    docs
}

fn collect_yaml(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            collect_yaml(&path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            out.push(path);
        }
    }
    out.sort();
}

fn ours(docs: &[(PathBuf, Value)]) -> Vec<&(PathBuf, Value)> {
    docs.iter()
        .filter(|(_, d)| {
            d["apiVersion"]
                .as_str()
                .is_some_and(|v| v.starts_with("manofwar.io/"))
        })
        .collect()
}

#[test]
fn example_resources_are_valid() {
    let docs = documents();
    let crds = crdgen::crds();
    let mut kinds = BTreeSet::new();
    for (file, doc) in ours(&docs) {
        let kind = doc["kind"].as_str().unwrap_or_default();
        let at = format!("{} ({kind} {})", file.display(), doc["metadata"]["name"]);
        match kind {
            "MediaLibrary" => drop(typed::<MediaLibrary>(doc, &at)),
            "PeerGroup" => drop(typed::<PeerGroup>(doc, &at)),
            "TranscodeProfile" => {
                let profile = typed::<TranscodeProfile>(doc, &at);
                profile
                    .spec
                    .validate()
                    .unwrap_or_else(|e| panic!("{at}: {e}"));
            }
            other => panic!("{at}: unknown kind {other}"),
        }
        let schema = schema_of(&crds, kind);
        let mut unknown = Vec::new();
        unknown_fields(&schema, doc, "", &mut unknown);
        assert!(
            unknown.is_empty(),
            "{at}: fields the API server would drop: {unknown:?}"
        );
        if let Err(errors) = Validator::new().validate(&schema, doc, None) {
            panic!("{at}: refused by CEL rules: {errors}");
        }
        kinds.insert(kind.to_owned());
    }
    assert_eq!(kinds.len(), 3, "examples cover every kind: {kinds:?}");
}

#[test]
fn examples_refer_to_resources_that_exist() {
    let docs = documents();
    let ours = ours(&docs);
    let names = |kind: &str| -> BTreeSet<String> {
        ours.iter()
            .filter(|(_, d)| d["kind"] == kind)
            .map(|(_, d)| d["metadata"]["name"].as_str().unwrap().to_owned())
            .collect()
    };
    let (profiles, groups, libraries) = (
        names("TranscodeProfile"),
        names("PeerGroup"),
        names("MediaLibrary"),
    );
    for name in ["standard", "mobile", "hevc-4k"] {
        assert!(profiles.contains(name), "examples/profiles has {name}");
    }
    for (_, doc) in ours.iter().filter(|(_, d)| d["kind"] == "MediaLibrary") {
        let library: MediaLibrary = serde_json::from_value(doc.clone()).unwrap();
        for profile in &library.spec.profiles {
            assert!(
                profiles.contains(profile),
                "profile {profile} is not in examples/"
            );
        }
        if let Some(sharing) = &library.spec.sharing {
            assert!(
                groups.contains(&sharing.peer_group),
                "{}",
                sharing.peer_group
            );
        }
    }
    for (_, doc) in ours.iter().filter(|(_, d)| d["kind"] == "PeerGroup") {
        let group: PeerGroup = serde_json::from_value(doc.clone()).unwrap();
        for library in group.spec.peers.iter().flat_map(|p| &p.libraries) {
            assert!(library == "*" || libraries.contains(library), "{library}");
        }
    }
}

/// The resources that e2e/k8s-static/check.sh feeds to the API server's own validation code,
/// expecting each to be refused, are refused offline too: by serde (unknown enum values) or by
/// the CEL rules as kube evaluates them. Keeps the two evaluators in agreement.
#[test]
fn invalid_resources_are_refused_offline() {
    let docs = documents_in("../e2e/k8s-static/invalid");
    assert!(
        docs.len() >= 30,
        "e2e/k8s-static/invalid has {} documents",
        docs.len()
    );
    let crds = crdgen::crds();
    for (file, doc) in &docs {
        let kind = doc["kind"].as_str().unwrap();
        let at = format!("{} ({kind} {})", file.display(), doc["metadata"]["name"]);
        let parses = match kind {
            "MediaLibrary" => serde_json::from_value::<MediaLibrary>(doc.clone()).is_ok(),
            "PeerGroup" => serde_json::from_value::<PeerGroup>(doc.clone()).is_ok(),
            "TranscodeProfile" => serde_json::from_value::<TranscodeProfile>(doc.clone()).is_ok(),
            other => panic!("{at}: unknown kind {other}"),
        };
        if !parses {
            continue;
        }
        let schema = schema_of(&crds, kind);
        assert!(
            Validator::new().validate(&schema, doc, None).is_err(),
            "{at}: accepted offline, but the API server refuses it"
        );
    }
}

/// The OpenAPI schema of `kind`'s CRD, as JSON.
fn schema_of(crds: &[crdgen::Crd], kind: &str) -> Value {
    let crd = crds.iter().find(|c| c.spec.names.kind == kind).unwrap();
    let schema = crd.spec.versions[0].schema.as_ref().unwrap();
    serde_json::to_value(schema.open_api_v3_schema.as_ref().unwrap()).unwrap()
}

fn typed<K: serde::de::DeserializeOwned>(doc: &Value, at: &str) -> K {
    serde_json::from_value(doc.clone()).unwrap_or_else(|e| panic!("{at}: {e}"))
}

/// Paths of fields the schema does not know: the API server would prune them silently (or
/// refuse them with `kubectl apply --validate=strict`).
fn unknown_fields(schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    if schema["x-kubernetes-preserve-unknown-fields"] == Value::Bool(true) {
        return;
    }
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let at = format!("{path}.{key}");
                if path.is_empty() && ["apiVersion", "kind", "metadata"].contains(&key.as_str()) {
                    continue;
                }
                if let Some(prop) = schema["properties"].get(key) {
                    unknown_fields(prop, child, &at, out);
                } else if schema["additionalProperties"].is_object() {
                    unknown_fields(&schema["additionalProperties"], child, &at, out);
                } else {
                    out.push(at);
                }
            }
        }
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unknown_fields(&schema["items"], item, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[test]
fn unknown_fields_are_found() {
    let schema = schema_of(&crdgen::crds(), "TranscodeProfile");
    let doc = serde_json::json!({"kind": "TranscodeProfile", "spec": {"segmentSecond": 4,
        "renditions": [{"name": "a", "height": 360, "videoBitrateKbps": 500, "bitrate": 1}]}});
    let mut unknown = Vec::new();
    unknown_fields(&schema, &doc, "", &mut unknown);
    assert_eq!(
        unknown,
        [".spec.renditions[0].bitrate", ".spec.segmentSecond"]
    );
}
