//! Which profile made a package, and whether that profile has changed since.
//!
//! A library server in Kubernetes sees its library's TranscodeProfiles as a folder (`serve
//! --profiles DIR`: the operator's ConfigMap, one `NAME.yaml` spec per profile); workers send
//! the name and fingerprint of the profile they transcoded with. When a profile is edited or
//! removed, the packages it made are queued again.

use crate::cli::load_profile;
use manofwar_crds::TranscodeProfileSpec;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::Path;

/// A profile as the queue knows it: its name (which also names its package's folder) and the
/// fingerprint of its spec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Made {
    pub profile: String,
    pub fingerprint: String,
}

impl Made {
    /// `path` names the profile (its file stem, see [`folder_name`]); without a file, the
    /// built-in default ladder is `default`.
    pub fn of(path: Option<&Path>, spec: &TranscodeProfileSpec) -> Self {
        let profile = path
            .and_then(|p| p.file_stem())
            .map_or("default".into(), |s| folder_name(&s.to_string_lossy()));
        Self {
            profile,
            fingerprint: fingerprint(spec),
        }
    }
}

/// A profile name as a package folder and URL segment: lowercase letters, digits and `-`
/// (anything else becomes `-`), so it can never be `..`, hidden, or a file of the item's
/// folder such as `master.m3u8`.
pub fn folder_name(name: &str) -> String {
    let slug: String = name
        .chars()
        .map(|c| match c.to_ascii_lowercase() {
            c @ ('a'..='z' | '0'..='9') => c,
            _ => '-',
        })
        .collect();
    if slug.is_empty() {
        "default".into()
    } else {
        slug
    }
}

/// Whether `name` is a profile name as [`folder_name`] makes them.
pub fn is_folder_name(name: &str) -> bool {
    !name.is_empty() && folder_name(name) == name
}

/// A stable digest of what a profile asks for (not of its file's spelling): FNV-1a over the
/// spec's JSON, whose field order is the struct's.
pub fn fingerprint(spec: &TranscodeProfileSpec) -> String {
    let json = serde_json::to_vec(spec).unwrap_or_default();
    let hash = json.iter().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3)
    });
    format!("{hash:016x}")
}

/// Profile name → fingerprint for every `*.yaml` spec in `dir` (hidden entries, such as the
/// `..data` links of a ConfigMap volume, are skipped). A file that does not parse is an error:
/// better to requeue nothing than everything.
pub fn load_dir(dir: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let mut found = BTreeMap::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
        let Some(name) = name.filter(|n| !n.starts_with('.')) else {
            continue;
        };
        if !(name.ends_with(".yaml") || name.ends_with(".yml")) {
            continue;
        }
        let spec = load_profile(Some(&path))?;
        let made = Made::of(Some(&path), &spec);
        if found.contains_key(&made.profile) {
            anyhow::bail!(
                "two profiles in {} have the folder name {:?} ({name} is one); rename one of them",
                dir.display(),
                made.profile
            );
        }
        found.insert(made.profile, made.fingerprint);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_fingerprint_follows_the_spec_not_the_spelling() {
        let dir = tempfile::tempdir().unwrap();
        let write = |name: &str, text: &str| std::fs::write(dir.path().join(name), text).unwrap();
        let ladder = "renditions:\n  - {name: 720p, height: 720, videoBitrateKbps: 3000}\n";
        write("standard.yaml", ladder);
        write("mobile.yaml", &format!("# phones\n{ladder}"));
        write("..data", "not a profile");
        write("README.txt", "not a profile");
        let first = load_dir(dir.path()).unwrap();
        assert_eq!(first.keys().collect::<Vec<_>>(), ["mobile", "standard"]);
        assert_eq!(
            first["mobile"], first["standard"],
            "same spec, same fingerprint"
        );

        write("standard.yaml", &format!("segmentSeconds: 4\n{ladder}"));
        let second = load_dir(dir.path()).unwrap();
        assert_ne!(second["standard"], first["standard"]);
        assert_eq!(second["mobile"], first["mobile"]);

        write("HEVC 4k.v2.yaml", ladder);
        assert!(load_dir(dir.path()).unwrap().contains_key("hevc-4k-v2"));

        write("hevc.4k.v2.yaml", ladder);
        let clash = load_dir(dir.path()).unwrap_err().to_string();
        assert!(clash.contains("\"hevc-4k-v2\""), "{clash}");
        std::fs::remove_file(dir.path().join("hevc.4k.v2.yaml")).unwrap();

        write("broken.yaml", "renditions: 7");
        assert!(load_dir(dir.path()).is_err());
    }
}
