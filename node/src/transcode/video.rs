//! Video decoding and the per-rung scale → encode → segment threads.

use super::Error;
use super::boundaries::Boundaries;
use super::ladder;
use super::segment::{Cut, Segmenter};
use crate::{ffi, hls};
use ffmpeg_next as ff;
use manofwar_crds::{Codec, Hardware, TranscodeProfileSpec};
use std::sync::Arc;
use std::sync::mpsc::{self, Receiver, SyncSender};
use std::thread::JoinHandle;

/// Frames buffered per rung before the decoder waits: bounds memory at ~8 decoded frames.
const RUNG_QUEUE: usize = 8;

/// A multi-threaded decoder for the source's video stream.
pub fn decoder(stream: &ff::format::stream::Stream) -> Result<ff::decoder::Video, Error> {
    let mut ctx = ff::codec::Context::from_parameters(stream.parameters())
        .map_err(Error::codec("video decoder"))?;
    ctx.set_threading(ff::threading::Config {
        kind: ff::threading::Type::Frame,
        count: 0,
        ..Default::default()
    });
    ctx.decoder().video().map_err(Error::codec("video decoder"))
}

enum Message {
    Frame(Arc<ff::frame::Video>),
    End(f64),
}

/// One rung's encoder thread. It may feed smaller rungs its scaled frames, so that they scale
/// from a frame a fraction of the source's size (a cascade, as in a 4K → 1080p → 540p ladder).
pub struct Rung {
    tx: SyncSender<Message>,
    thread: JoinHandle<Result<(), Error>>,
}

/// The encoder a rung uses, with what the master playlist needs to know about it.
struct Opened {
    encoder: ff::encoder::Video,
    codecs: String,
    tag: Option<&'static [u8; 4]>,
}

impl Rung {
    pub fn spawn(
        rung: ladder::Rung,
        live: &Arc<Live>,
        tb: ff::Rational,
        frame_rate: ff::Rational,
        profile: &TranscodeProfileSpec,
        boundaries: &Arc<Boundaries>,
        feeds: Vec<Rung>,
    ) -> Result<Self, Error> {
        let opened = match open_encoder(&rung, tb, frame_rate, profile, live) {
            Ok(opened) => opened,
            Err(e) => return Err(abandon_all(feeds, e)),
        };
        let out = Segmenter::create(
            Arc::clone(live),
            &rung.name,
            ff::codec::Parameters::from(&opened.encoder),
            tb,
            Cut::Keyframe,
            Arc::clone(boundaries),
            opened.tag,
        );
        let out = match out {
            Ok(out) => out,
            Err(e) => return Err(abandon_all(feeds, e)),
        };
        live.register(hls::Kind::Video(hls::Rendition {
            name: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            frame_rate: valid(frame_rate).then(|| f64::from(frame_rate)),
            codecs: opened.codecs,
            source: false,
        }));
        let (tx, rx) = mpsc::sync_channel(RUNG_QUEUE);
        let encoder = opened.encoder;
        let thread = std::thread::Builder::new()
            .name(format!("rung-{}", rung.name))
            .spawn(move || encode_loop(rx, rung, encoder, out, feeds))?;
        Ok(Self { tx, thread })
    }

    /// Hand a decoded frame to this rung; fails if the rung's thread has stopped.
    pub fn send(&self, frame: Arc<ff::frame::Video>) -> Result<(), Error> {
        self.tx
            .send(Message::Frame(frame))
            .map_err(|_| Error::WorkerPanicked)
    }

    /// Flush the encoder and close the last segment at `end` seconds.
    pub fn finish(self, end: f64) -> Result<(), Error> {
        let _ = self.tx.send(Message::End(end));
        drop(self.tx);
        self.thread.join().map_err(|_| Error::WorkerPanicked)?
    }

    /// Stop without finishing (another rung failed); returns this rung's own error, if any.
    pub fn abandon(self) -> Option<Error> {
        drop(self.tx);
        self.thread.join().ok()?.err()
    }
}

/// Stop every rung; the first real error wins over "a worker stopped".
pub fn abandon_all(rungs: Vec<Rung>, error: Error) -> Error {
    let mut first = None;
    for rung in rungs {
        if let Some(e) = rung.abandon() {
            first.get_or_insert(e);
        }
    }
    match (error, first) {
        (Error::WorkerPanicked, Some(real)) => real,
        (error, _) => error,
    }
}

/// Which rungs scale from another one (`rungs` tallest first): the tallest rung shorter than
/// the source feeds its scaled frames to every rung shorter than itself. Returns that feeder
/// and the rungs it feeds, if any.
pub fn cascade(source_short_side: u32, rungs: &[ladder::Rung]) -> Option<(usize, Vec<usize>)> {
    let short = |r: &ladder::Rung| r.width.min(r.height);
    let feeder = rungs.iter().position(|r| short(r) < source_short_side)?;
    let fed: Vec<usize> = (0..rungs.len())
        .filter(|&i| short(&rungs[i]) < short(&rungs[feeder]))
        .collect();
    (!fed.is_empty()).then_some((feeder, fed))
}

use hls::Live;

fn valid(r: ff::Rational) -> bool {
    r.numerator() > 0 && r.denominator() > 0
}

fn open_encoder(
    rung: &ladder::Rung,
    tb: ff::Rational,
    frame_rate: ff::Rational,
    profile: &TranscodeProfileSpec,
    live: &Live,
) -> Result<Opened, Error> {
    if rung.codec == Codec::H264 && profile.hardware != Hardware::None {
        match open_hardware(rung, tb, frame_rate, profile.hardware) {
            Ok(opened) => return Ok(opened),
            Err(reason) => {
                let warning = format!(
                    "{:?} hardware encoding is unavailable ({reason}); {} was encoded in software",
                    profile.hardware, rung.name
                );
                tracing::warn!(rung = %rung.name, "{warning}");
                live.warn(warning);
            }
        }
    }
    let (name, options): (&'static str, Vec<(&str, String)>) = match rung.codec {
        Codec::H264 => (
            "libx264",
            vec![
                ("preset", profile.preset.clone()),
                // Keyframes only where we force them: at segment boundaries.
                (
                    "x264-params",
                    "scenecut=0:open-gop=0:keyint=infinite".into(),
                ),
                ("forced-idr", "1".into()),
            ],
        ),
        Codec::Hevc => (
            "libx265",
            vec![
                ("preset", profile.preset.clone()),
                (
                    "x265-params",
                    "scenecut=0:open-gop=0:keyint=-1:log-level=error".into(),
                ),
                ("forced-idr", "1".into()),
            ],
        ),
        Codec::Av1 => (
            "libsvtav1",
            vec![
                ("preset", svt_preset(&profile.preset).to_string()),
                ("svtav1-params", "scd=0".into()),
            ],
        ),
    };
    let codec = ff::encoder::find_by_name(name).ok_or(Error::MissingEncoder(name))?;
    // SVT-AV1 (1.4) ignores forced keyframes; a fixed GOP of one segment puts its keyframes
    // on the segment marks for constant-frame-rate sources.
    let gop = (rung.codec == Codec::Av1 && valid(frame_rate))
        .then(|| (f64::from(profile.segment_seconds) * f64::from(frame_rate)).round() as u32);
    let encoder = configure(codec, rung, tb, frame_rate, gop, &options)?;
    let extradata = ffi::extradata(&encoder);
    let (codecs, tag) = match rung.codec {
        Codec::H264 => (hls::avc1_codecs(&extradata), None),
        Codec::Hevc => (hls::hvc1_codecs(&extradata), Some(b"hvc1")),
        Codec::Av1 => (hls::av01_codecs(&extradata, rung.height), None),
    };
    Ok(Opened {
        encoder,
        codecs,
        tag,
    })
}

/// NVENC (system-memory frames) or VAAPI; an error string says why not.
fn open_hardware(
    rung: &ladder::Rung,
    tb: ff::Rational,
    frame_rate: ff::Rational,
    hardware: Hardware,
) -> Result<Opened, String> {
    let name = match hardware {
        Hardware::Nvenc => "h264_nvenc",
        Hardware::Vaapi => return Err("VAAPI upload is not implemented yet".into()),
        Hardware::None => return Err("no hardware requested".into()),
    };
    let codec = ff::encoder::find_by_name(name).ok_or(format!("{name} is not in this FFmpeg"))?;
    let options = vec![
        ("preset", "p4".to_owned()),
        ("forced-idr", "1".into()),
        ("no-scenecut", "1".into()),
        ("rc", "vbr".into()),
    ];
    let encoder =
        configure(codec, rung, tb, frame_rate, None, &options).map_err(|e| e.to_string())?;
    let codecs = hls::avc1_codecs(&ffi::extradata(&encoder));
    Ok(Opened {
        encoder,
        codecs,
        tag: None,
    })
}

fn configure(
    codec: ff::Codec,
    rung: &ladder::Rung,
    tb: ff::Rational,
    frame_rate: ff::Rational,
    gop: Option<u32>,
    options: &[(&str, String)],
) -> Result<ff::encoder::Video, Error> {
    let mut enc = ff::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(Error::codec("video encoder"))?;
    enc.set_width(rung.width);
    enc.set_height(rung.height);
    enc.set_format(ff::format::Pixel::YUV420P);
    enc.set_time_base(tb);
    if valid(frame_rate) {
        enc.set_frame_rate(Some(frame_rate));
    }
    enc.set_aspect_ratio(ff::Rational::new(1, 1));
    enc.set_gop(gop.unwrap_or(1 << 20));
    let kbps = rung.bitrate_kbps as usize;
    enc.set_bit_rate(kbps * 1000);
    enc.set_max_bit_rate(kbps * 1500);
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut opts = ff::Dictionary::new();
    opts.set("bufsize", &(kbps * 2000).to_string());
    for (k, v) in options {
        opts.set(k, v);
    }
    enc.open_with(opts).map_err(Error::codec("video encoder"))
}

/// x264-style preset names to SVT-AV1's 0 (slowest) … 13 (fastest).
fn svt_preset(preset: &str) -> u8 {
    match preset {
        "ultrafast" => 12,
        "superfast" => 11,
        "veryfast" => 10,
        "faster" => 9,
        "fast" => 8,
        "medium" => 7,
        "slow" => 5,
        _ => 4,
    }
}

fn encode_loop(
    rx: Receiver<Message>,
    rung: ladder::Rung,
    encoder: ff::encoder::Video,
    out: Segmenter,
    feeds: Vec<Rung>,
) -> Result<(), Error> {
    match encode_frames(rx, &rung, encoder, out, &feeds) {
        Ok(Some(end)) => feeds.into_iter().try_for_each(|f| f.finish(end)),
        Ok(None) => {
            // Abandoned: so are the rungs this one feeds.
            for fed in feeds {
                drop(fed.abandon());
            }
            Ok(())
        }
        Err(e) => Err(abandon_all(feeds, e)),
    }
}

/// Scale, encode and segment until the end (its time returned) or until abandoned (`None`).
fn encode_frames(
    rx: Receiver<Message>,
    rung: &ladder::Rung,
    mut encoder: ff::encoder::Video,
    mut out: Segmenter,
    feeds: &[Rung],
) -> Result<Option<f64>, Error> {
    let mut scaler: Option<ff::software::scaling::Context> = None;
    let mut scaled = ff::frame::Video::empty();
    let mut end = None;
    for message in rx {
        let frame = match message {
            Message::Frame(f) => f,
            Message::End(e) => {
                end = Some(e);
                break;
            }
        };
        let input: &ff::frame::Video = if frame.format() == ff::format::Pixel::YUV420P
            && frame.width() == rung.width
            && frame.height() == rung.height
        {
            &frame
        } else {
            let sws = scaler_for(&mut scaler, &frame, rung)?;
            sws.run(&frame, &mut scaled)
                .map_err(Error::codec("scaler"))?;
            scaled.set_pts(frame.pts());
            scaled.set_kind(frame.kind());
            &scaled
        };
        if !feeds.is_empty() {
            let shared = Arc::new(input.clone());
            for fed in feeds {
                fed.send(Arc::clone(&shared))?;
            }
        }
        encoder
            .send_frame(input)
            .map_err(Error::codec("video encoder"))?;
        drain(&mut encoder, &mut out)?;
    }
    // Dropped without an end: the transcode was abandoned.
    let Some(end) = end else {
        return Ok(None);
    };
    encoder.send_eof().map_err(Error::codec("video encoder"))?;
    drain(&mut encoder, &mut out)?;
    out.finish(end)?;
    Ok(Some(end))
}

fn drain(encoder: &mut ff::encoder::Video, out: &mut Segmenter) -> Result<(), Error> {
    let mut packet = ff::Packet::empty();
    while encoder.receive_packet(&mut packet).is_ok() {
        out.write(std::mem::replace(&mut packet, ff::Packet::empty()))?;
    }
    Ok(())
}

/// The scaler for this frame's format and size, rebuilt if the source changes mid-stream.
fn scaler_for<'a>(
    slot: &'a mut Option<ff::software::scaling::Context>,
    frame: &ff::frame::Video,
    rung: &ladder::Rung,
) -> Result<&'a mut ff::software::scaling::Context, Error> {
    let fits = slot.as_ref().is_some_and(|s| {
        let i = s.input();
        i.format == frame.format() && i.width == frame.width() && i.height == frame.height()
    });
    if !fits {
        *slot = Some(
            ff::software::scaling::Context::get(
                frame.format(),
                frame.width(),
                frame.height(),
                ff::format::Pixel::YUV420P,
                rung.width,
                rung.height,
                ff::software::scaling::Flags::BICUBIC,
            )
            .map_err(Error::codec("scaler"))?,
        );
    }
    Ok(slot.as_mut().expect("scaler was just set"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rungs(heights: &[u32]) -> Vec<ladder::Rung> {
        heights
            .iter()
            .map(|&h| ladder::Rung {
                name: format!("{h}p"),
                width: h * 16 / 9,
                height: h,
                bitrate_kbps: 1000,
                codec: Codec::H264,
            })
            .collect()
    }

    #[test]
    fn the_tallest_rung_below_the_source_feeds_the_smaller_ones() {
        let ladder = rungs(&[1080, 720, 540, 360]);
        assert_eq!(
            cascade(1080, &ladder),
            Some((1, vec![2, 3])),
            "1080p source"
        );
        assert_eq!(
            cascade(2160, &ladder),
            Some((0, vec![1, 2, 3])),
            "4K source"
        );
        assert_eq!(
            cascade(720, &rungs(&[720, 360])),
            None,
            "one rung below the source"
        );
        assert_eq!(
            cascade(1080, &rungs(&[1080])),
            None,
            "nothing below the source"
        );
    }
}
