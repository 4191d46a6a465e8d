//! `TranscodeProfile`: how a library's originals become an adaptive-bitrate HLS ladder.

use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// How originals are transcoded: segment length, the rendition ladder, encoder settings.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[kube(
    group = "manofwar.io",
    version = "v1alpha1",
    kind = "TranscodeProfile",
    namespaced,
    shortname = "tp"
)]
#[serde(rename_all = "camelCase")]
pub struct TranscodeProfileSpec {
    /// Target segment length in seconds; every segment starts with an IDR frame.
    #[serde(default = "default_segment_seconds")]
    pub segment_seconds: u32,
    /// The video ladder, highest first. Rungs taller than the source are skipped (no upscaling).
    #[serde(default = "default_renditions")]
    pub renditions: Vec<Rendition>,
    /// libx264 preset (ultrafast … veryslow).
    #[serde(default = "default_preset")]
    pub preset: String,
    /// Stereo AAC-LC bitrate in kbit/s.
    #[serde(default = "default_audio_bitrate")]
    pub audio_bitrate_kbps: u32,
    /// Hardware encoder to use when the device exists; software otherwise.
    #[serde(default)]
    pub hardware: Hardware,
    /// Add a "source" rung on top that remuxes browser-safe H.264 sources without re-encoding.
    #[serde(default = "default_true")]
    pub source_rung: bool,
}

/// One rung of the ladder.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Rendition {
    /// Name used in paths and the player's quality menu, e.g. `720p`.
    pub name: String,
    /// Output height in pixels; the width follows the source's display aspect ratio.
    pub height: u32,
    /// Average video bitrate in kbit/s; the peak is capped at 1.5× this.
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
    #[default]
    None,
    Vaapi,
    Nvenc,
}

fn default_segment_seconds() -> u32 {
    6
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
        }
    }
}

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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn unknown_hardware_is_refused() {
        let err = serde_yaml::from_str::<TranscodeProfileSpec>("hardware: cuda").unwrap_err();
        assert!(err.to_string().contains("unknown variant"), "{err}");
    }
}
