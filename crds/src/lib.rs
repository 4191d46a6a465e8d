//! manofwar's Kubernetes API types (group `manofwar.io`, version `v1alpha1`).
//!
//! API types carry no runtime: serde, schemars and kube's derive only. The data plane reads
//! the same types from YAML files, so a profile means the same thing in and out of a cluster.
//! One Kind per module; [`crdgen`] renders the CRDs the Helm chart ships and the reference docs.

pub mod condition;
pub mod crdgen;
pub mod media_library;
pub mod peer_group;
pub mod pod;
pub mod transcode_profile;

pub use media_library::{
    HostPathSource, Ingress, ItemCounts, MediaLibrary, MediaLibrarySpec, MediaLibraryStatus,
    MediaSource, NfsSource, PvcSource, Sharing, Storage,
};
pub use peer_group::{
    Bandwidth, PeerGroup, PeerGroupSpec, PeerGroupStatus, PeerService, ServiceType, TrustedPeer,
};
pub use pod::PodSettings;
pub use transcode_profile::{
    Codec, Hardware, Rendition, TranscodeProfile, TranscodeProfileSpec, TranscodeProfileStatus,
    Workers,
};

/// The API group of every kind here.
pub const GROUP: &str = "manofwar.io";
/// The API version of every kind here.
pub const VERSION: &str = "v1alpha1";

/// Offline CEL evaluation for the unit tests: what the API server would say about an object.
#[cfg(test)]
mod testing {
    use kube::CustomResourceExt;
    use serde::{Serialize, de::DeserializeOwned};

    /// Parse `yaml` as a `K` (panicking when serde refuses it) and return the messages of the
    /// CEL rules it breaks, evaluated offline with kube's `cel` feature.
    pub fn cel_errors<K: CustomResourceExt + Serialize + DeserializeOwned>(
        yaml: &str,
    ) -> Vec<String> {
        let obj: K = serde_yaml::from_str(yaml).unwrap_or_else(|e| panic!("{e}\n{yaml}"));
        errors_of(&obj)
    }

    /// The messages of the CEL rules `obj` breaks.
    pub fn errors_of<K: CustomResourceExt + Serialize>(obj: &K) -> Vec<String> {
        match kube::core::cel::validate_cel(obj) {
            Ok(()) => Vec::new(),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    /// Assert that exactly one error is reported and that it contains `needle`.
    #[track_caller]
    pub fn assert_refused(errors: &[String], needle: &str) {
        assert!(
            errors.len() == 1 && errors[0].contains(needle),
            "expected one error containing {needle:?}, got {errors:#?}"
        );
    }
}
