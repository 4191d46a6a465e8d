//! The audio chain: decode → resample to 48 kHz stereo float → 1024-sample frames → AAC-LC.

use super::Error;
use super::mux::{self, Hls};
use crate::{ffi, hls};
use ff::Rescale;
use ff::format::Sample;
use ff::format::sample::Type::Planar;
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use std::path::Path;

const RATE: i32 = 48_000;

pub struct Chain {
    index: usize,
    time_base: ff::Rational,
    decoder: ff::decoder::Audio,
    resampler: Option<ff::software::resampling::Context>,
    encoder: ff::encoder::Audio,
    muxer: Hls,
    frame_size: usize,
    /// Resampled samples not yet encoded, per channel (left, right).
    pending: [Vec<f32>; 2],
    next_pts: Option<i64>,
    rendition: hls::AudioRendition,
}

impl Chain {
    pub fn new(
        stream: &ff::format::stream::Stream,
        dir: &Path,
        profile: &TranscodeProfileSpec,
    ) -> Result<Self, Error> {
        let ctx = ff::codec::Context::from_parameters(stream.parameters())
            .map_err(Error::codec("audio decoder"))?;
        let decoder = ctx
            .decoder()
            .audio()
            .map_err(Error::codec("audio decoder"))?;
        let codec = ff::encoder::find(ff::codec::Id::AAC).ok_or(Error::MissingEncoder("aac"))?;
        let mut enc = ff::codec::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(Error::codec("AAC encoder"))?;
        enc.set_rate(RATE);
        enc.set_format(Sample::F32(Planar));
        enc.set_channel_layout(ff::ChannelLayout::STEREO);
        enc.set_bit_rate(profile.audio_bitrate_kbps as usize * 1000);
        enc.set_time_base(ff::Rational::new(1, RATE));
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        let encoder = enc.open().map_err(Error::codec("AAC encoder"))?;
        let frame_size = ffi::audio_frame_size(&encoder).max(1);
        let muxer = Hls::create(
            dir,
            profile.segment_seconds,
            ff::codec::Parameters::from(&encoder),
            codec,
            ff::Rational::new(1, RATE),
        )?;
        let meta = stream.metadata();
        let rendition = hls::AudioRendition {
            name: dir_name(dir),
            language: meta
                .get("language")
                .filter(|l| *l != "und")
                .map(str::to_owned),
            title: meta.get("title").map(str::to_owned),
            channels: 2,
            codecs: "mp4a.40.2".to_owned(),
        };
        Ok(Self {
            index: stream.index(),
            time_base: stream.time_base(),
            decoder,
            resampler: None,
            encoder,
            muxer,
            frame_size,
            pending: [Vec::new(), Vec::new()],
            next_pts: None,
            rendition,
        })
    }

    pub fn stream_index(&self) -> usize {
        self.index
    }

    /// Decode one packet and encode whatever full AAC frames it completes. Undecodable audio
    /// packets are skipped: a glitch in the sound must not fail the whole item.
    pub fn push(&mut self, packet: &ff::Packet) -> Result<(), Error> {
        if self.decoder.send_packet(packet).is_err() {
            return Ok(());
        }
        self.receive()
    }

    pub fn finish(mut self) -> Result<hls::AudioRendition, Error> {
        let _ = self.decoder.send_eof();
        self.receive()?;
        if let Some(resampler) = self.resampler.as_mut() {
            let mut out =
                ff::frame::Audio::new(Sample::F32(Planar), 8192, ff::ChannelLayout::STEREO);
            if resampler.flush(&mut out).is_ok() {
                append(&mut self.pending, &out);
            }
        }
        self.encode_pending(true)?;
        self.encoder
            .send_eof()
            .map_err(Error::codec("AAC encoder"))?;
        mux::drain(&mut self.encoder, &mut self.muxer)?;
        self.muxer.finish()?;
        Ok(self.rendition)
    }

    fn receive(&mut self) -> Result<(), Error> {
        let mut frame = ff::frame::Audio::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            if self.next_pts.is_none() {
                let pts = frame.timestamp().unwrap_or(0);
                self.next_pts = Some(pts.rescale(self.time_base, ff::Rational::new(1, RATE)));
            }
            let resampler = resampler_for(&mut self.resampler, &frame)?;
            // Room for every converted sample, so nothing piles up inside the resampler.
            let room = frame.samples() * RATE as usize / frame.rate().max(1) as usize + 256;
            let mut out =
                ff::frame::Audio::new(Sample::F32(Planar), room, ff::ChannelLayout::STEREO);
            resampler
                .run(&frame, &mut out)
                .map_err(Error::codec("audio resampler"))?;
            append(&mut self.pending, &out);
            self.encode_pending(false)?;
        }
        Ok(())
    }

    /// Encode full frames from `pending`; with `last`, the short remainder too.
    fn encode_pending(&mut self, last: bool) -> Result<(), Error> {
        while self.pending[0].len() >= self.frame_size || (last && !self.pending[0].is_empty()) {
            let n = self.pending[0].len().min(self.frame_size);
            let mut frame =
                ff::frame::Audio::new(Sample::F32(Planar), n, ff::ChannelLayout::STEREO);
            frame.set_rate(RATE as u32);
            for (ch, buf) in self.pending.iter_mut().enumerate() {
                frame.plane_mut::<f32>(ch)[..n].copy_from_slice(&buf[..n]);
                buf.drain(..n);
            }
            let pts = self.next_pts.unwrap_or(0);
            frame.set_pts(Some(pts));
            self.next_pts = Some(pts + n as i64);
            self.encoder
                .send_frame(&frame)
                .map_err(Error::codec("AAC encoder"))?;
            mux::drain(&mut self.encoder, &mut self.muxer)?;
        }
        Ok(())
    }
}

fn dir_name(dir: &Path) -> String {
    dir.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

fn append(pending: &mut [Vec<f32>; 2], frame: &ff::frame::Audio) {
    let n = frame.samples();
    if n == 0 {
        return;
    }
    for (ch, buf) in pending.iter_mut().enumerate() {
        buf.extend_from_slice(&frame.plane::<f32>(ch)[..n]);
    }
}

fn resampler_for<'a>(
    slot: &'a mut Option<ff::software::resampling::Context>,
    frame: &ff::frame::Audio,
) -> Result<&'a mut ff::software::resampling::Context, Error> {
    let layout = if frame.channel_layout().is_empty() {
        ff::ChannelLayout::default(i32::from(frame.channels()))
    } else {
        frame.channel_layout()
    };
    let fits = slot.as_ref().is_some_and(|r| {
        let i = r.input();
        i.format == frame.format() && i.rate == frame.rate() && i.channel_layout == layout
    });
    if !fits {
        *slot = Some(
            ff::software::resampling::Context::get(
                frame.format(),
                layout,
                frame.rate(),
                Sample::F32(Planar),
                ff::ChannelLayout::STEREO,
                RATE as u32,
            )
            .map_err(Error::codec("audio resampler"))?,
        );
    }
    Ok(slot.as_mut().expect("resampler was just set"))
}
