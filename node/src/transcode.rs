//! The ladder transcoder: one decode, N scaled H.264 encodes, one AAC encode, fMP4 HLS out.
//!
//! libav work is blocking; callers run [`run`] on a dedicated thread. Each video rung scales,
//! encodes and muxes on a thread of its own, fed decoded frames through a bounded channel, so
//! the rungs use both cores while the main thread demuxes and decodes.

mod audio;
pub mod ladder;
mod mux;
mod poster;
mod video;

use crate::hls;
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

/// File names inside a package.
pub const MASTER: &str = "master.m3u8";
pub const POSTER: &str = "poster.jpg";
pub const MANIFEST: &str = "package.json";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: ff::Error,
    },
    #[error("{0} has no video stream (audio-only files are not supported yet)")]
    NoVideo(PathBuf),
    #[error("the {what} failed: {source}")]
    Codec {
        what: &'static str,
        #[source]
        source: ff::Error,
    },
    #[error("encoder {0} is not available in this FFmpeg build")]
    MissingEncoder(&'static str),
    #[error("the file is truncated or damaged: decoded {decoded_s:.1} s of {expected_s:.1} s")]
    Truncated { decoded_s: f64, expected_s: f64 },
    #[error("the source decoded to no video frames; the file is damaged")]
    NoFrames,
    #[error("cancelled: {0}")]
    Cancelled(String),
    #[error("writing the HLS package failed: {0}")]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Hls(#[from] hls::Error),
    #[error("a rendition worker stopped unexpectedly")]
    WorkerPanicked,
}

impl Error {
    /// True when retrying the same file cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Open { .. } | Error::NoVideo(_) | Error::Truncated { .. } | Error::NoFrames
        )
    }

    pub(crate) fn codec(what: &'static str) -> impl FnOnce(ff::Error) -> Self {
        move |source| Error::Codec { what, source }
    }
}

/// Progress reports: return `Err(reason)` to stop the transcode.
pub type Progress<'a> = &'a mut dyn FnMut(f64) -> Result<(), String>;

/// Initialise libav once per process.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        ff::init().expect("libav initialises");
        crate::ffi::quiet_logs();
    });
}

/// Transcode `input` into an HLS package in `out_dir` (which must exist and be empty).
#[tracing::instrument(skip_all, fields(input = %input.display()))]
pub fn run(
    input: &Path,
    out_dir: &Path,
    profile: &TranscodeProfileSpec,
    progress: Progress,
) -> Result<hls::Package, Error> {
    init();
    let mut ictx = ff::format::input(input).map_err(|source| Error::Open {
        path: input.to_owned(),
        source,
    })?;
    let vstream = ictx
        .streams()
        .best(ff::media::Type::Video)
        .ok_or_else(|| Error::NoVideo(input.to_owned()))?;
    let video_index = vstream.index();
    let tb = vstream.time_base();
    let frame_rate = vstream.avg_frame_rate();
    let mut decoder = video::decoder(&vstream)?;
    let expected_s = expected_duration(&ictx, &vstream);
    let rungs = ladder::plan(
        decoder.width(),
        decoder.height(),
        decoder.aspect_ratio(),
        &profile.renditions,
    );
    let mut audio = match ictx.streams().best(ff::media::Type::Audio) {
        Some(s) => Some(audio::Chain::new(&s, &out_dir.join("audio"), profile)?),
        None => None,
    };
    let audio_index = audio.as_ref().map(audio::Chain::stream_index);

    let encoders: Vec<video::Rung> = rungs
        .iter()
        .map(|r| video::Rung::spawn(r.clone(), out_dir, tb, frame_rate, profile))
        .collect::<Result<_, _>>()?;
    let mut keys = KeyframeClock::new(tb, profile.segment_seconds);
    let mut poster = poster::Picker::new(expected_s * 0.1, out_dir.join(POSTER));
    let mut frame = ff::frame::Video::empty();
    let mut decoded_s = 0.0;
    let mut send = |mut frame: ff::frame::Video, decoded_s: &mut f64| -> Result<(), Error> {
        let pts = frame.timestamp().or(frame.pts()).unwrap_or(0);
        frame.set_pts(Some(pts));
        frame.set_kind(if keys.is_boundary(pts) {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        *decoded_s = keys.seconds_since_start(pts);
        poster.offer(&frame, *decoded_s);
        let shared = Arc::new(frame);
        for rung in &encoders {
            rung.send(Arc::clone(&shared))?;
        }
        Ok(())
    };

    for (stream, packet) in ictx.packets() {
        if stream.index() == video_index {
            // A damaged packet is skipped; a file too damaged to play fails the length check.
            if decoder.send_packet(&packet).is_err() {
                continue;
            }
            while decoder.receive_frame(&mut frame).is_ok() {
                send(
                    std::mem::replace(&mut frame, ff::frame::Video::empty()),
                    &mut decoded_s,
                )?;
            }
            if expected_s > 0.0 {
                progress((decoded_s / expected_s).min(1.0)).map_err(Error::Cancelled)?;
            }
        } else if Some(stream.index()) == audio_index
            && let Some(a) = audio.as_mut()
        {
            a.push(&packet)?;
        }
    }
    decoder.send_eof().map_err(Error::codec("video decoder"))?;
    while decoder.receive_frame(&mut frame).is_ok() {
        send(
            std::mem::replace(&mut frame, ff::frame::Video::empty()),
            &mut decoded_s,
        )?;
    }
    let outputs = encoders
        .into_iter()
        .map(video::Rung::finish)
        .collect::<Result<Vec<_>, _>>()?;
    let audio_out = audio.map(audio::Chain::finish).transpose()?;
    if keys.frames == 0 {
        return Err(Error::NoFrames);
    }
    let decoded_s = decoded_s + keys.frame_seconds();
    check_complete(decoded_s, keys.frames, expected_s, frame_rate)?;
    poster.finish()?;
    progress(1.0).map_err(Error::Cancelled)?;
    let package = hls::Package::measure(out_dir, &outputs, audio_out.as_ref(), decoded_s)?;
    package.write(out_dir)?;
    Ok(package)
}

/// A file whose decoded video covers less than 90% of its stated length (by time span, or by
/// frame count where the frame rate is known: damage in the middle keeps the span) is damaged.
fn check_complete(
    decoded_s: f64,
    frames: u64,
    expected_s: f64,
    frame_rate: ff::Rational,
) -> Result<(), Error> {
    if expected_s <= 2.0 {
        return Ok(());
    }
    let mut covered_s = decoded_s;
    if frame_rate.numerator() > 0 && frame_rate.denominator() > 0 {
        covered_s = covered_s.min(frames as f64 / f64::from(frame_rate));
    }
    if covered_s < expected_s * 0.9 {
        return Err(Error::Truncated {
            decoded_s: covered_s,
            expected_s,
        });
    }
    Ok(())
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

/// Decides which frames start a segment: the first frame at or after each multiple of the
/// segment length (exact rational arithmetic, the same rule the HLS muxer cuts by).
struct KeyframeClock {
    tb: ff::Rational,
    segment: i64,
    first: Option<i64>,
    next_boundary: i64,
    frames: u64,
    last_step: i64,
}

impl KeyframeClock {
    fn new(tb: ff::Rational, segment_seconds: u32) -> Self {
        Self {
            tb,
            segment: i64::from(segment_seconds.max(1)),
            first: None,
            next_boundary: 0,
            frames: 0,
            last_step: 0,
        }
    }

    fn is_boundary(&mut self, pts: i64) -> bool {
        self.frames += 1;
        let first = *self.first.get_or_insert(pts);
        let rel = i128::from(pts - first);
        // rel * num / den >= next_boundary  <=>  rel * num >= next_boundary * den
        let (num, den) = (
            i128::from(self.tb.numerator()),
            i128::from(self.tb.denominator()),
        );
        let key = rel * num >= i128::from(self.next_boundary) * den;
        if key {
            while rel * num >= i128::from(self.next_boundary) * den {
                self.next_boundary += self.segment;
            }
        }
        key
    }

    fn seconds_since_start(&mut self, pts: i64) -> f64 {
        let rel = pts - self.first.unwrap_or(pts);
        let secs = rel as f64 * f64::from(self.tb);
        self.last_step = rel;
        secs
    }

    /// Length of one frame, estimated from the average step so far.
    fn frame_seconds(&self) -> f64 {
        if self.frames < 2 {
            return 0.0;
        }
        self.last_step as f64 * f64::from(self.tb) / (self.frames - 1) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyframes_fall_on_segment_boundaries() {
        // 30 fps in a 1/15360 time base, 2 s segments.
        let mut clock = KeyframeClock::new(ff::Rational::new(1, 15360), 2);
        let keys: Vec<usize> = (0..200)
            .filter(|i| clock.is_boundary(1000 + *i as i64 * 512))
            .map(|i| i as usize)
            .collect();
        assert_eq!(keys, [0, 60, 120, 180]);
    }

    #[test]
    fn keyframes_with_ntsc_rate_take_first_frame_after_boundary() {
        // 29.97 fps: frame n at n*1001/30000 s; 6 s boundary is between frames 179 and 180.
        let mut clock = KeyframeClock::new(ff::Rational::new(1, 30000), 6);
        let keys: Vec<i64> = (0..400).filter(|i| clock.is_boundary(i * 1001)).collect();
        assert_eq!(keys, [0, 180, 360]);
    }

    #[test]
    fn sparse_frames_skip_missed_boundaries() {
        let mut clock = KeyframeClock::new(ff::Rational::new(1, 1), 2);
        let keys: Vec<i64> = [0, 1, 5, 6, 7]
            .into_iter()
            .filter(|p| clock.is_boundary(*p))
            .collect();
        assert_eq!(keys, [0, 5, 6]);
    }
}
