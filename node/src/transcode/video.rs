//! Video decoding and the per-rung scale → encode → mux threads.

use super::Error;
use super::ladder;
use super::mux::{self, Hls};
use crate::{ffi, hls};
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use std::path::Path;
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

/// One rung's encoder thread.
pub struct Rung {
    tx: SyncSender<Arc<ff::frame::Video>>,
    thread: JoinHandle<Result<hls::Rendition, Error>>,
}

impl Rung {
    pub fn spawn(
        rung: ladder::Rung,
        out_dir: &Path,
        tb: ff::Rational,
        frame_rate: ff::Rational,
        profile: &TranscodeProfileSpec,
    ) -> Result<Self, Error> {
        let codec = ff::encoder::find_by_name("libx264").ok_or(Error::MissingEncoder("libx264"))?;
        let encoder = open_encoder(codec, &rung, tb, frame_rate, &profile.preset)?;
        let muxer = Hls::create(
            &out_dir.join(&rung.name),
            profile.segment_seconds,
            ff::codec::Parameters::from(&encoder),
            codec,
            tb,
        )?;
        let rendition = hls::Rendition {
            name: rung.name.clone(),
            width: rung.width,
            height: rung.height,
            frame_rate: (frame_rate.numerator() > 0 && frame_rate.denominator() > 0)
                .then(|| f64::from(frame_rate)),
            codecs: hls::avc1_codecs(&ffi::extradata(&encoder)),
        };
        let (tx, rx) = mpsc::sync_channel(RUNG_QUEUE);
        let thread = std::thread::Builder::new()
            .name(format!("rung-{}", rung.name))
            .spawn(move || encode_loop(rx, rung, encoder, muxer).map(|()| rendition))?;
        Ok(Self { tx, thread })
    }

    /// Hand a decoded frame to this rung; fails if the rung's thread has stopped.
    pub fn send(&self, frame: Arc<ff::frame::Video>) -> Result<(), Error> {
        self.tx.send(frame).map_err(|_| Error::WorkerPanicked)
    }

    /// Flush the encoder, close the muxer and return what was written.
    pub fn finish(self) -> Result<hls::Rendition, Error> {
        drop(self.tx);
        self.thread.join().map_err(|_| Error::WorkerPanicked)?
    }
}

fn open_encoder(
    codec: ff::Codec,
    rung: &ladder::Rung,
    tb: ff::Rational,
    frame_rate: ff::Rational,
    preset: &str,
) -> Result<ff::encoder::Video, Error> {
    let mut enc = ff::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(Error::codec("H.264 encoder"))?;
    enc.set_width(rung.width);
    enc.set_height(rung.height);
    enc.set_format(ff::format::Pixel::YUV420P);
    enc.set_time_base(tb);
    if frame_rate.numerator() > 0 && frame_rate.denominator() > 0 {
        enc.set_frame_rate(Some(frame_rate));
    }
    enc.set_aspect_ratio(ff::Rational::new(1, 1));
    let kbps = rung.bitrate_kbps as usize;
    enc.set_bit_rate(kbps * 1000);
    enc.set_max_bit_rate(kbps * 1500);
    enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
    let mut opts = ff::Dictionary::new();
    opts.set("preset", preset);
    opts.set("bufsize", &(kbps * 2000).to_string());
    // Keyframes only where we force them: at segment boundaries.
    opts.set("x264-params", "scenecut=0:open-gop=0:keyint=infinite");
    opts.set("forced-idr", "1");
    enc.open_with(opts).map_err(Error::codec("H.264 encoder"))
}

fn encode_loop(
    rx: Receiver<Arc<ff::frame::Video>>,
    rung: ladder::Rung,
    mut encoder: ff::encoder::Video,
    mut muxer: Hls,
) -> Result<(), Error> {
    let mut scaler: Option<ff::software::scaling::Context> = None;
    let mut scaled = ff::frame::Video::empty();
    for frame in rx {
        let input: &ff::frame::Video = if frame.format() == ff::format::Pixel::YUV420P
            && frame.width() == rung.width
            && frame.height() == rung.height
        {
            &frame
        } else {
            let sws = scaler_for(&mut scaler, &frame, &rung)?;
            sws.run(&frame, &mut scaled)
                .map_err(Error::codec("scaler"))?;
            scaled.set_pts(frame.pts());
            scaled.set_kind(frame.kind());
            &scaled
        };
        encoder
            .send_frame(input)
            .map_err(Error::codec("H.264 encoder"))?;
        mux::drain(&mut encoder, &mut muxer)?;
    }
    encoder.send_eof().map_err(Error::codec("H.264 encoder"))?;
    mux::drain(&mut encoder, &mut muxer)?;
    muxer.finish()
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
