//! What the `crdgen` binary writes: the CRD YAML the Helm chart ships and the CRD reference in
//! `docs/`, both from the types in this crate. A test fails when the committed files differ.

mod reference;

use std::path::{Path, PathBuf};

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::CustomResourceExt;
use serde_json::Value;

use crate::{MediaLibrary, PeerGroup, TranscodeProfile};

pub use reference::markdown as reference_markdown;

/// Folder (relative to the repository root) of the generated CRDs the chart includes.
pub const CHART_CRD_DIR: &str = "charts/manofwar/crds-generated";
/// The generated CRD reference, relative to the repository root.
pub const REFERENCE_DOC: &str = "docs/crd-reference.md";
/// How to regenerate every output.
pub const REGENERATE: &str = "cargo run -p manofwar-crds --bin crdgen";

/// The three CRDs, as the API server should receive them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    [
        MediaLibrary::crd(),
        TranscodeProfile::crd(),
        PeerGroup::crd(),
    ]
    .into_iter()
    .map(tidy)
    .collect()
}

/// One CRD as a YAML document with a "generated" header.
pub fn yaml(crd: &CustomResourceDefinition) -> String {
    let body = serde_yaml::to_string(crd).expect("a CRD serialises to YAML");
    format!("# Generated from crds/src by `{REGENERATE}`; do not edit.\n{body}")
}

/// Every generated file: its path relative to the repository root, and its contents.
pub fn outputs() -> Vec<(PathBuf, String)> {
    let crds = crds();
    let mut files: Vec<(PathBuf, String)> = crds
        .iter()
        .map(|crd| {
            let name = crd.metadata.name.as_deref().expect("CRDs are named");
            (
                Path::new(CHART_CRD_DIR).join(format!("{name}.yaml")),
                yaml(crd),
            )
        })
        .collect();
    files.push((REFERENCE_DOC.into(), reference_markdown(&crds)));
    files
}

/// The generated files under `root` whose contents differ from what the types generate.
pub fn stale(root: &Path) -> Vec<PathBuf> {
    outputs()
        .into_iter()
        .filter(|(path, want)| std::fs::read_to_string(root.join(path)).ok().as_ref() != Some(want))
        .map(|(path, _)| path)
        .collect()
}

/// Write every generated file under `root`, returning the paths written.
pub fn write(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut written = Vec::new();
    for (path, contents) in outputs() {
        let full = root.join(&path);
        if let Some(dir) = full.parent() {
            std::fs::create_dir_all(dir)?;
        }
        std::fs::write(&full, contents)?;
        written.push(path);
    }
    Ok(written)
}

/// Make descriptions read well in `kubectl explain`: doc comments' hard line breaks become
/// spaces (paragraph breaks stay), and the Quantity grammar that k8s-openapi repeats in every
/// `resources` map becomes one line.
fn tidy(crd: CustomResourceDefinition) -> CustomResourceDefinition {
    let mut value = serde_json::to_value(&crd).expect("a CRD serialises to JSON");
    tidy_descriptions(&mut value);
    serde_json::from_value(value).expect("a tidied CRD is still a CRD")
}

fn tidy_descriptions(value: &mut Value) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(text)) = map.get_mut("description") {
                *text = if text.starts_with("Quantity is a fixed-point representation") {
                    "A quantity such as `500m`, `2Gi` or `1`.".into()
                } else {
                    unwrap_lines(text)
                };
            }
            map.values_mut().for_each(tidy_descriptions);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy_descriptions),
        _ => {}
    }
}

/// Join hard-wrapped lines; keep blank-line paragraph breaks.
fn unwrap_lines(text: &str) -> String {
    text.split("\n\n")
        .map(|para| {
            para.split('\n')
                .map(str::trim)
                .collect::<Vec<_>>()
                .join(" ")
        })
        .collect::<Vec<_>>()
        .join("\n\n")
}

/// A CustomResourceDefinition, as `crds()` returns it.
pub type Crd = CustomResourceDefinition;
