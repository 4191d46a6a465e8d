//! What a source holds and how it will be packaged: its streams, whether its video can be
//! remuxed as a source rung, and the segment boundaries every rendition shares.

use super::boundaries::Boundaries;
use super::{Error, Source, subtitle};
use crate::{ffi, hls};
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use std::sync::Arc;

/// What the source holds and how it will be packaged.
pub struct Plan {
    pub duration_s: f64,
    pub start_s: f64,
    pub video_index: usize,
    pub video: Option<VideoPlan>,
    pub source: Option<SourceRung>,
    pub audio: Vec<usize>,
    pub subtitles: Vec<usize>,
    pub boundaries: Arc<Boundaries>,
}

pub struct VideoPlan {
    pub time_base: ff::Rational,
    pub frame_rate: ff::Rational,
    pub rotation: f64,
    pub interlaced: bool,
    /// The source video's bit rate (the whole file's when the stream does not say), kbit/s.
    pub bitrate_kbps: Option<u32>,
}

/// A browser-safe source video, remuxed as the top rung.
pub struct SourceRung {
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    pub codecs: String,
}

impl Plan {
    pub fn new(
        input: Source,
        ictx: &ff::format::context::Input,
        profile: &TranscodeProfileSpec,
    ) -> Result<Self, Error> {
        let video = ictx
            .streams()
            .filter(|s| s.parameters().medium() == ff::media::Type::Video)
            .find(|s| {
                !s.disposition()
                    .contains(ff::format::stream::Disposition::ATTACHED_PIC)
            });
        let of_kind = |kind: ff::media::Type| {
            ictx.streams()
                .filter(|s| s.parameters().medium() == kind)
                .map(|s| s.index())
                .collect::<Vec<_>>()
        };
        let audio = of_kind(ff::media::Type::Audio);
        let subtitles = of_kind(ff::media::Type::Subtitle)
            .into_iter()
            .filter(|&i| {
                ictx.stream(i)
                    .is_some_and(|s| subtitle::is_text(s.parameters().id()))
            })
            .collect();
        if video.is_none() && audio.is_empty() {
            return Err(Error::NoMedia(input.location.to_owned()));
        }
        let duration_s = match &video {
            Some(v) => expected_duration(ictx, v),
            None => ictx.duration().max(0) as f64 / f64::from(ff::ffi::AV_TIME_BASE),
        };
        let Some(v) = video else {
            let tb = ff::Rational::new(1, ff::ffi::AV_TIME_BASE);
            let start = ictx
                .streams()
                .map(|s| start_time(&s))
                .fold(f64::MAX, f64::min)
                .clamp(0.0, 1e9);
            let start_pts = (start * f64::from(ff::ffi::AV_TIME_BASE)) as i64;
            return Ok(Self {
                duration_s,
                start_s: start,
                video_index: usize::MAX,
                video: None,
                source: None,
                audio,
                subtitles,
                boundaries: Arc::new(Boundaries::marks(
                    start_pts,
                    tb,
                    profile.segment_seconds,
                    duration_s,
                )),
            });
        };
        let tb = v.time_base();
        let par = v.parameters();
        let rotation = ffi::rotation(&v);
        let interlaced = ffi::interlaced(&par);
        let source = source_rung(&v, profile, rotation, interlaced);
        let start_pts = if v.start_time() == ff::ffi::AV_NOPTS_VALUE {
            0
        } else {
            v.start_time()
        };
        let boundaries = match source {
            Some(_) => Boundaries::nearest_keyframes(
                &keyframes(input, &v),
                tb,
                profile.segment_seconds,
                duration_s,
            ),
            None => Boundaries::marks(start_pts, tb, profile.segment_seconds, duration_s),
        };
        Ok(Self {
            duration_s,
            start_s: start_pts as f64 * f64::from(tb),
            video_index: v.index(),
            video: Some(VideoPlan {
                time_base: tb,
                frame_rate: v.avg_frame_rate(),
                rotation,
                interlaced,
                bitrate_kbps: ffi::bit_rate(&par)
                    .or_else(|| (ictx.bit_rate() > 0).then(|| ictx.bit_rate()))
                    .map(|bps| u32::try_from(bps / 1000).unwrap_or(u32::MAX)),
            }),
            source,
            audio,
            subtitles,
            boundaries: Arc::new(boundaries),
        })
    }
}

fn start_time(s: &ff::format::stream::Stream) -> f64 {
    if s.start_time() == ff::ffi::AV_NOPTS_VALUE {
        0.0
    } else {
        s.start_time() as f64 * f64::from(s.time_base())
    }
}

/// libavcodec's flag for Constrained Baseline on top of profile 66.
const CONSTRAINED: i32 = 1 << 9;

/// Browser-safe H.264: 8-bit 4:2:0, Baseline/Main/High, level ≤ 5.1, upright and progressive.
fn source_rung(
    v: &ff::format::stream::Stream,
    profile: &TranscodeProfileSpec,
    rotation: f64,
    interlaced: bool,
) -> Option<SourceRung> {
    let par = v.parameters();
    let (pix, width, height) = ffi::video_format(&par);
    let (_, level) = ffi::profile_and_level(&par);
    let extradata = ffi::parameters_extradata(&par);
    let profile_idc = crate::ffi::profile_idc(&par);
    // AV1 rungs can only key on fixed intervals, not on the source's keyframes.
    let av1 = profile
        .renditions
        .iter()
        .any(|r| r.codec == manofwar_crds::Codec::Av1);
    let safe = profile.source_rung
        && !av1
        && par.id() == ff::codec::Id::H264
        && matches!(pix.as_deref(), Some("yuv420p" | "yuvj420p"))
        && matches!(profile_idc & !CONSTRAINED, 66 | 77 | 100)
        && level.is_some_and(|l| l <= 51)
        && rotation == 0.0
        && !interlaced
        && !extradata.is_empty();
    let rate = v.avg_frame_rate();
    safe.then(|| SourceRung {
        width,
        height,
        frame_rate: (rate.numerator() > 0 && rate.denominator() > 0).then(|| f64::from(rate)),
        codecs: hls::avc1_codecs(&extradata),
    })
}

/// Keyframe timestamps: from the container index when it lists every sample (MP4), else by
/// reading the video packets once (no decoding).
fn keyframes(input: Source, v: &ff::format::stream::Stream) -> Vec<i64> {
    let (keys, entries) = ffi::indexed_keyframes(v);
    let frames = v.frames();
    if !keys.is_empty() && frames > 0 && entries as i64 >= frames * 9 / 10 {
        return keys;
    }
    let Ok(mut ictx) = input.open() else {
        return keys;
    };
    let index = v.index();
    ictx.packets()
        .filter(|(s, p)| s.index() == index && p.is_key())
        .filter_map(|(_, p)| p.pts().or(p.dts()))
        .collect()
}

/// Container duration, or the video stream's if the container has none.
fn expected_duration(
    ictx: &ff::format::context::Input,
    stream: &ff::format::stream::Stream,
) -> f64 {
    if ictx.duration() > 0 {
        return ictx.duration() as f64 / f64::from(ff::ffi::AV_TIME_BASE);
    }
    (stream.duration().max(0) as f64) * f64::from(stream.time_base())
}
