//! Fixtures for the unit tests: resources as the API server would hand them over.

use kube::Resource;
use manofwar_crds::{MediaLibrary, PeerGroup, TranscodeProfile};

pub const LIBRARY_UID: &str = "0b1e6d2a-library";
pub const PROFILE_UID: &str = "5c7f0e11-profile";
pub const GROUP_UID: &str = "9a3d4c55-group";

/// `obj` as stored: namespace `media`, the given uid, generation 1.
fn stored<K: Resource>(mut obj: K, uid: &str) -> K {
    let meta = obj.meta_mut();
    meta.namespace = Some("media".into());
    meta.uid = Some(uid.into());
    meta.generation = Some(1);
    obj
}

fn spec<T: serde::de::DeserializeOwned>(yaml: &str) -> T {
    serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"))
}

/// `movies`: NFS originals, the `standard` profile, nothing else.
pub fn library() -> MediaLibrary {
    library_with("")
}

/// `movies` with extra spec lines.
pub fn library_with(extra: &str) -> MediaLibrary {
    let yaml = format!(
        "media: {{nfs: {{server: nas.lan, path: /export/movies}}}}\nprofiles: [standard]\n{extra}"
    );
    stored(MediaLibrary::new("movies", spec(&yaml)), LIBRARY_UID)
}

/// A profile named `name` with the given spec (YAML, `{}` for the defaults).
pub fn profile(name: &str, yaml: &str) -> TranscodeProfile {
    stored(TranscodeProfile::new(name, spec(yaml)), PROFILE_UID)
}

/// `friends` with the given spec (YAML, `{}` for the defaults).
pub fn peer_group(yaml: &str) -> PeerGroup {
    stored(PeerGroup::new("friends", spec(yaml)), GROUP_UID)
}
