//! `TranscodeProfile`: how a library's originals become an adaptive-bitrate HLS ladder.

use k8s_openapi::api::core::v1::{ResourceRequirements, Toleration};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use crate::condition::Condition;

/// How originals are transcoded: segment length, the rendition ladder, encoder settings, and
/// the transcoder worker pods (a Job per MediaLibrary and profile while items are pending).
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[kube(
    group = "manofwar.io",
    version = "v1alpha1",
    kind = "TranscodeProfile",
    doc = "How a library's originals become an adaptive-bitrate HLS ladder: segment length, \
           renditions, encoder settings and the transcoder worker pods. A MediaLibrary names \
           the profiles it uses.",
    namespaced,
    shortname = "tp",
    category = "manofwar",
    status = "TranscodeProfileStatus",
    printcolumn = r#"{"name":"Ready","type":"string","jsonPath":".status.conditions[?(@.type==\"Ready\")].status"}"#,
    printcolumn = r#"{"name":"Segment","type":"integer","jsonPath":".spec.segmentSeconds","description":"Segment length in seconds"}"#,
    printcolumn = r#"{"name":"Hardware","type":"string","jsonPath":".spec.hardware"}"#,
    printcolumn = r#"{"name":"Workers","type":"integer","jsonPath":".spec.workers.parallelism","description":"Transcoder pods per library"}"#,
    printcolumn = r#"{"name":"Libraries","type":"string","jsonPath":".status.libraries","priority":1}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct TranscodeProfileSpec {
    /// Target segment length in seconds (1-30); every segment starts with an IDR frame.
    #[serde(default = "default_segment_seconds")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 30").message("segmentSeconds must be 1..30"))]
    pub segment_seconds: u32,
    /// The video ladder, highest first (1-16 rungs with unique names). Rungs taller than the
    /// source are skipped (no upscaling).
    #[serde(default = "default_renditions")]
    #[schemars(length(max = 16))]
    #[x_kube(
        validation = Rule::new("size(self) >= 1").message("renditions must list at least one rendition"),
        validation = Rule::new("self.all(r, self.exists_one(o, o.name == r.name))").message("rendition names must be unique")
    )]
    pub renditions: Vec<Rendition>,
    /// libx264 preset (ultrafast … veryslow).
    #[serde(default = "default_preset")]
    #[schemars(length(max = 32))]
    pub preset: String,
    /// Stereo AAC-LC bitrate in kbit/s (32-512).
    #[serde(default = "default_audio_bitrate")]
    #[x_kube(validation = Rule::new("self >= 32 && self <= 512").message("audioBitrateKbps must be 32..512"))]
    pub audio_bitrate_kbps: u32,
    /// Hardware encoder to use when the device exists; software otherwise.
    #[serde(default)]
    pub hardware: Hardware,
    /// Add a "source" rung on top that remuxes browser-safe H.264 sources without re-encoding.
    #[serde(default = "default_true")]
    pub source_rung: bool,
    /// The transcoder worker pods: how many run at once and where.
    #[serde(default)]
    pub workers: Workers,
}

/// The transcoder Job's pods. Workers claim items from the library server over HTTP, so they
/// need no shared volume and can run on any node, a GPU node included.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Workers {
    /// Worker pods running at once per library (the Job's parallelism, 1-64).
    #[serde(default = "default_parallelism")]
    #[x_kube(validation = Rule::new("self >= 1 && self <= 64").message("workers.parallelism must be 1..64"))]
    pub parallelism: u32,
    /// CPU / memory (and device, e.g. `nvidia.com/gpu`) requests and limits of each worker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    /// Node labels a worker pod must match, e.g. to land on the node with the GPU.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the worker pods, e.g. for tainted GPU nodes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tolerations: Vec<Toleration>,
}

impl Default for Workers {
    fn default() -> Self {
        Self {
            parallelism: default_parallelism(),
            resources: None,
            node_selector: BTreeMap::new(),
            tolerations: Vec::new(),
        }
    }
}

/// What the operator last saw of a TranscodeProfile.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct TranscodeProfileStatus {
    /// The `metadata.generation` this status describes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready`, `Reconciling` and `Stalled`, keyed by type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[x_kube(merge_strategy = ListMerge::Map(vec!["type".into()]))]
    pub conditions: Vec<Condition>,
    /// Names of the MediaLibraries in this namespace that use this profile.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub libraries: Vec<String>,
}

/// One rung of the ladder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rendition {
    /// Name used in paths and the player's quality menu, e.g. `720p`: 1-32 of `[A-Za-z0-9_-]`,
    /// not `audio`.
    #[schemars(length(max = 32))]
    #[x_kube(
        validation = Rule::new("self.matches('^[A-Za-z0-9_-]{1,32}$')").message("rendition name must be 1-32 of [A-Za-z0-9_-]"),
        validation = Rule::new("self != 'audio'").message("rendition name 'audio' is reserved")
    )]
    pub name: String,
    /// Output height in pixels (144-4320); the width follows the source's display aspect ratio.
    #[x_kube(validation = Rule::new("self >= 144 && self <= 4320").message("rendition height must be 144..4320"))]
    pub height: u32,
    /// Average video bitrate in kbit/s (100-100000); the peak is capped at 1.5× this.
    #[x_kube(validation = Rule::new("self >= 100 && self <= 100000").message("rendition videoBitrateKbps must be 100..100000"))]
    pub video_bitrate_kbps: u32,
    /// Video codec of this rung; clients pick among rungs by their CODECS attribute.
    #[serde(default)]
    pub codec: Codec,
}

/// Video codec of a rendition.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Codec {
    /// H.264 (libx264), playable everywhere.
    #[default]
    H264,
    /// HEVC (libx265), tagged `hvc1`.
    Hevc,
    /// AV1 (libsvtav1).
    Av1,
}

/// Hardware encoder selection.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Hardware {
    /// Software encoders (libx264, libx265, libsvtav1).
    #[default]
    None,
    /// VA-API (Intel / AMD GPUs); the worker pod needs `/dev/dri`.
    Vaapi,
    /// NVENC (NVIDIA GPUs); request `nvidia.com/gpu` in `workers.resources`.
    Nvenc,
}

fn default_segment_seconds() -> u32 {
    6
}

fn default_parallelism() -> u32 {
    1
}

fn default_true() -> bool {
    true
}

fn default_preset() -> String {
    "veryfast".into()
}

fn default_audio_bitrate() -> u32 {
    128
}

fn default_renditions() -> Vec<Rendition> {
    [
        ("1080p", 1080, 6000),
        ("720p", 720, 3000),
        ("540p", 540, 2000),
        ("360p", 360, 730),
    ]
    .into_iter()
    .map(|(name, height, kbps)| Rendition {
        name: name.into(),
        height,
        video_bitrate_kbps: kbps,
        codec: Codec::H264,
    })
    .collect()
}

impl Default for TranscodeProfileSpec {
    /// The default ladder: 1080p 6000k, 720p 3000k, 540p 2000k, 360p 730k, veryfast, 6 s.
    fn default() -> Self {
        Self {
            segment_seconds: default_segment_seconds(),
            renditions: default_renditions(),
            preset: default_preset(),
            audio_bitrate_kbps: default_audio_bitrate(),
            hardware: Hardware::None,
            source_rung: true,
            workers: Workers::default(),
        }
    }
}

/// The most rungs a ladder may have (the CRD's `maxItems`).
pub const MAX_RENDITIONS: usize = 16;

impl TranscodeProfileSpec {
    /// The checks the API server's CEL rules make, for profiles read from files.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=30).contains(&self.segment_seconds) {
            return Err(format!(
                "segmentSeconds must be 1..30, got {}",
                self.segment_seconds
            ));
        }
        if self.renditions.is_empty() {
            return Err("renditions must list at least one rendition".into());
        }
        if self.renditions.len() > MAX_RENDITIONS {
            return Err(format!(
                "renditions must list at most {MAX_RENDITIONS} renditions, got {}",
                self.renditions.len()
            ));
        }
        for (i, r) in self.renditions.iter().enumerate() {
            let ok_name = !r.name.is_empty()
                && r.name.len() <= 32
                && r.name
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
            if !ok_name {
                return Err(format!(
                    "renditions[{i}].name {:?} must be 1-32 of [A-Za-z0-9_-]",
                    r.name
                ));
            }
            if r.name == "audio" || self.renditions[..i].iter().any(|o| o.name == r.name) {
                return Err(format!(
                    "renditions[{i}].name {:?} is used twice or reserved",
                    r.name
                ));
            }
            if !(144..=4320).contains(&r.height) {
                return Err(format!(
                    "renditions[{i}].height must be 144..4320, got {}",
                    r.height
                ));
            }
            if !(100..=100_000).contains(&r.video_bitrate_kbps) {
                return Err(format!(
                    "renditions[{i}].videoBitrateKbps must be 100..100000, got {}",
                    r.video_bitrate_kbps
                ));
            }
        }
        if !(32..=512).contains(&self.audio_bitrate_kbps) {
            return Err(format!(
                "audioBitrateKbps must be 32..512, got {}",
                self.audio_bitrate_kbps
            ));
        }
        if !(1..=64).contains(&self.workers.parallelism) {
            return Err(format!(
                "workers.parallelism must be 1..64, got {}",
                self.workers.parallelism
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::{assert_refused, errors_of};

    #[test]
    fn empty_yaml_is_the_default_ladder() {
        let spec: TranscodeProfileSpec = serde_yaml::from_str("{}").unwrap();
        assert_eq!(spec, TranscodeProfileSpec::default());
        let heights: Vec<u32> = spec.renditions.iter().map(|r| r.height).collect();
        assert_eq!(heights, [1080, 720, 540, 360]);
    }

    #[test]
    fn camel_case_fields_parse() {
        let yaml = "segmentSeconds: 4\npreset: ultrafast\nrenditions:\n- {name: low, height: 240, videoBitrateKbps: 400}\n";
        let spec: TranscodeProfileSpec = serde_yaml::from_str(yaml).unwrap();
        assert_eq!(spec.segment_seconds, 4);
        assert_eq!(spec.renditions[0].video_bitrate_kbps, 400);
        assert_eq!(spec.hardware, Hardware::None);
    }

    #[test]
    fn validation_names_the_bad_field() {
        assert!(TranscodeProfileSpec::default().validate().is_ok());
        let mut spec = TranscodeProfileSpec::default();
        spec.renditions[1].name = "1080p".into();
        assert!(spec.validate().unwrap_err().contains("renditions[1].name"));
        let mut spec = TranscodeProfileSpec::default();
        spec.renditions[0].height = 100_000;
        assert!(spec.validate().unwrap_err().contains("height"));
        let spec = TranscodeProfileSpec {
            renditions: vec![],
            ..TranscodeProfileSpec::default()
        };
        assert!(spec.validate().unwrap_err().contains("at least one"));
    }

    /// A change to an otherwise valid spec.
    type Edit = fn(&mut TranscodeProfileSpec);

    fn profile(spec: TranscodeProfileSpec) -> TranscodeProfile {
        TranscodeProfile::new("standard", spec)
    }

    #[test]
    fn the_default_profile_passes_the_cel_rules() {
        assert_eq!(
            errors_of(&profile(TranscodeProfileSpec::default())),
            Vec::<String>::new()
        );
    }

    #[test]
    fn cel_rules_name_the_bad_field() {
        let cases: [(&str, Edit); 11] = [
            ("segmentSeconds", |s| s.segment_seconds = 0),
            ("segmentSeconds", |s| s.segment_seconds = 31),
            ("at least one", |s| s.renditions.clear()),
            ("unique", |s| s.renditions[2].name = "720p".into()),
            ("rendition name must be", |s| {
                s.renditions[0].name = String::new()
            }),
            ("rendition name must be", |s| {
                s.renditions[0].name = "7 20".into()
            }),
            ("reserved", |s| s.renditions[0].name = "audio".into()),
            ("height", |s| s.renditions[0].height = 100),
            ("videoBitrateKbps", |s| {
                s.renditions[1].video_bitrate_kbps = 100_001
            }),
            ("audioBitrateKbps", |s| s.audio_bitrate_kbps = 16),
            ("parallelism", |s| s.workers.parallelism = 0),
        ];
        for (needle, break_it) in cases {
            let mut spec = TranscodeProfileSpec::default();
            break_it(&mut spec);
            assert_refused(&errors_of(&profile(spec.clone())), needle);
            assert!(
                spec.validate().is_err(),
                "validate() accepts what CEL refuses: {needle}"
            );
        }
    }

    #[test]
    fn cel_and_validate_agree_on_the_edges() {
        let edges: [Edit; 6] = [
            |s| s.segment_seconds = 30,
            |s| s.renditions.truncate(1),
            |s| s.renditions[0].height = 4320,
            |s| s.renditions[0].video_bitrate_kbps = 100,
            |s| s.renditions[0].name = "a".repeat(32),
            |s| s.audio_bitrate_kbps = 512,
        ];
        for edge in edges {
            let mut spec = TranscodeProfileSpec::default();
            edge(&mut spec);
            assert_eq!(errors_of(&profile(spec.clone())), Vec::<String>::new());
            assert_eq!(spec.validate(), Ok(()));
        }
    }

    #[test]
    fn too_many_renditions_are_refused_by_validate() {
        let mut spec = TranscodeProfileSpec::default();
        let rung = spec.renditions[3].clone();
        spec.renditions = (0..=MAX_RENDITIONS)
            .map(|i| Rendition {
                name: format!("r{i}"),
                ..rung.clone()
            })
            .collect();
        assert!(spec.validate().unwrap_err().contains("at most"));
    }

    #[test]
    fn workers_default_to_one_pod_anywhere() {
        let spec: TranscodeProfileSpec =
            serde_yaml::from_str("workers: {nodeSelector: {gpu: 'true'}}").unwrap();
        assert_eq!(spec.workers.parallelism, 1);
        assert_eq!(spec.workers.node_selector["gpu"], "true");
        let json = serde_json::to_value(TranscodeProfileSpec::default()).unwrap();
        assert_eq!(json["workers"], serde_json::json!({"parallelism": 1}));
    }

    #[test]
    fn unknown_hardware_is_refused() {
        let err = serde_yaml::from_str::<TranscodeProfileSpec>("hardware: cuda").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
