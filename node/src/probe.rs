//! In-process probing with libavformat: container, duration and every stream.

use crate::ffi;
use ff::media::Type;
use ffmpeg_next as ff;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path} as media (is it a video file?): {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: ff::Error,
    },
    #[error("{0} has no audio or video streams")]
    NoStreams(PathBuf),
}

/// What the prober found in one file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaInfo {
    pub container: String,
    pub duration_s: Option<f64>,
    pub bit_rate: Option<i64>,
    pub streams: Vec<Stream>,
}

/// One stream of a file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Stream {
    pub index: usize,
    /// video, audio, subtitle, data or attachment
    pub kind: String,
    pub codec: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub level: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pixel_format: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub width: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub height: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub frame_rate: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bit_rate: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub channels: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sample_rate: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub language: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub default: bool,
}

impl MediaInfo {
    pub fn video(&self) -> Option<&Stream> {
        self.streams.iter().find(|s| s.kind == "video")
    }
}

/// Probe one file. Fails for anything libavformat cannot open or that has no audio/video.
pub fn probe(path: &Path) -> Result<MediaInfo, Error> {
    crate::transcode::init();
    let input = ff::format::input(path).map_err(|source| Error::Open {
        path: path.to_owned(),
        source,
    })?;
    let streams: Vec<Stream> = input.streams().map(stream_info).collect();
    if !streams
        .iter()
        .any(|s| s.kind == "video" || s.kind == "audio")
    {
        return Err(Error::NoStreams(path.to_owned()));
    }
    let duration = input.duration();
    Ok(MediaInfo {
        container: input.format().name().to_owned(),
        duration_s: (duration > 0).then(|| duration as f64 / f64::from(ff::ffi::AV_TIME_BASE)),
        bit_rate: (input.bit_rate() > 0).then_some(input.bit_rate()),
        streams,
    })
}

fn stream_info(stream: ff::format::stream::Stream) -> Stream {
    let par = stream.parameters();
    let kind = match par.medium() {
        Type::Video => "video",
        Type::Audio => "audio",
        Type::Subtitle => "subtitle",
        Type::Attachment => "attachment",
        _ => "data",
    };
    let (profile, level) = ffi::profile_and_level(&par);
    let meta = stream.metadata();
    let mut info = Stream {
        index: stream.index(),
        kind: kind.to_owned(),
        codec: par.id().name().to_owned(),
        profile,
        level,
        pixel_format: None,
        width: None,
        height: None,
        frame_rate: None,
        bit_rate: ffi::bit_rate(&par),
        channels: None,
        sample_rate: None,
        language: meta
            .get("language")
            .filter(|l| *l != "und")
            .map(str::to_owned),
        title: meta.get("title").map(str::to_owned),
        default: stream
            .disposition()
            .contains(ff::format::stream::Disposition::DEFAULT),
    };
    match kind {
        "video" => {
            let (pix, w, h) = ffi::video_format(&par);
            let rate = stream.avg_frame_rate();
            info.pixel_format = pix;
            info.width = Some(w);
            info.height = Some(h);
            info.frame_rate =
                (rate.denominator() > 0 && rate.numerator() > 0).then(|| f64::from(rate));
        }
        "audio" => {
            info.channels = Some(ffi::channels(&par));
            info.sample_rate = Some(ffi::sample_rate(&par));
        }
        _ => {}
    }
    info
}
