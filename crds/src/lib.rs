//! manofwar's Kubernetes API types (group `manofwar.io`, version `v1alpha1`).
//!
//! API types carry no runtime: serde, schemars and kube's derive only. The data plane reads
//! the same types from YAML files, so a profile means the same thing in and out of a cluster.

pub mod transcode_profile;

pub use transcode_profile::{Codec, Hardware, Rendition, TranscodeProfile, TranscodeProfileSpec};
