//! An audio chain: decode → resample to 48 kHz float → AAC-LC frames → its own rendition.
//! Every source audio stream gets a stereo chain; 5.1 and wider sources get a 5.1 one too.

use super::Error;
use super::boundaries::Boundaries;
use super::segment::{Cut, Segmenter};
use crate::ffi;
use crate::hls::{AudioRendition, Kind, Live};
use ff::Rescale;
use ff::format::Sample;
use ff::format::sample::Type::Planar;
use ffmpeg_next as ff;
use std::sync::Arc;

const RATE: i32 = 48_000;

pub struct Chain {
    time_base: ff::Rational,
    decoder: ff::decoder::Audio,
    resampler: Option<ff::software::resampling::Context>,
    layout: ff::ChannelLayout,
    encoder: ff::encoder::Audio,
    out: Segmenter,
    frame_size: usize,
    /// Resampled samples not yet encoded, one buffer per channel.
    pending: Vec<Vec<f32>>,
    next_pts: Option<i64>,
    /// Encoder priming samples: timestamps start this far in, so none is negative (a negative
    /// first decode time does not fit an fMP4 `tfdt`).
    padding: i64,
}

impl Chain {
    /// A chain for `stream` with `channels` (2 or 6) output channels.
    pub fn new(
        stream: &ff::format::stream::Stream,
        live: &Arc<Live>,
        name: &str,
        channels: u32,
        bitrate_kbps: u32,
        boundaries: &Arc<Boundaries>,
    ) -> Result<Self, Error> {
        let ctx = ff::codec::Context::from_parameters(stream.parameters())
            .map_err(Error::codec("audio decoder"))?;
        let decoder = ctx
            .decoder()
            .audio()
            .map_err(Error::codec("audio decoder"))?;
        // 5.1 with back surrounds: AAC channel configuration 6, which browsers decode (the
        // side-surround layout needs a program config element that Chrome refuses).
        let layout = if channels > 2 {
            ff::ChannelLayout::_5POINT1_BACK
        } else {
            ff::ChannelLayout::STEREO
        };
        let codec = ff::encoder::find(ff::codec::Id::AAC).ok_or(Error::MissingEncoder("aac"))?;
        let mut enc = ff::codec::Context::new_with_codec(codec)
            .encoder()
            .audio()
            .map_err(Error::codec("AAC encoder"))?;
        enc.set_rate(RATE);
        enc.set_format(Sample::F32(Planar));
        enc.set_channel_layout(layout);
        enc.set_bit_rate(bitrate_kbps as usize * 1000);
        enc.set_time_base(ff::Rational::new(1, RATE));
        enc.set_flags(ff::codec::Flags::GLOBAL_HEADER);
        let encoder = enc.open().map_err(Error::codec("AAC encoder"))?;
        let frame_size = ffi::audio_frame_size(&encoder).max(1);
        let padding = ffi::initial_padding(&encoder);
        let meta = stream.metadata();
        live.register(Kind::Audio(AudioRendition {
            name: name.to_owned(),
            language: meta
                .get("language")
                .filter(|l| *l != "und")
                .map(str::to_owned),
            title: meta.get("title").map(str::to_owned),
            channels: layout.channels() as u32,
            codecs: "mp4a.40.2".to_owned(),
            default: stream
                .disposition()
                .contains(ff::format::stream::Disposition::DEFAULT)
                && channels <= 2,
        }));
        let out = Segmenter::create(
            Arc::clone(live),
            name,
            ff::codec::Parameters::from(&encoder),
            ff::Rational::new(1, RATE),
            Cut::Any,
            Arc::clone(boundaries),
            None,
        )?;
        Ok(Self {
            time_base: stream.time_base(),
            decoder,
            resampler: None,
            layout,
            encoder,
            out,
            frame_size,
            pending: vec![Vec::new(); layout.channels() as usize],
            next_pts: None,
            padding,
        })
    }

    /// Decode one packet and encode whatever full AAC frames it completes. Undecodable audio
    /// packets are skipped: a glitch in the sound must not fail the whole item.
    pub fn push(&mut self, packet: &ff::Packet) -> Result<(), Error> {
        if self.decoder.send_packet(packet).is_err() {
            return Ok(());
        }
        self.receive()
    }

    pub fn finish(mut self) -> Result<(), Error> {
        let _ = self.decoder.send_eof();
        self.receive()?;
        if let Some(resampler) = self.resampler.as_mut() {
            let mut out = ff::frame::Audio::new(Sample::F32(Planar), 8192, self.layout);
            if resampler.flush(&mut out).is_ok() {
                append(&mut self.pending, &out);
            }
        }
        self.encode_pending(true)?;
        self.encoder
            .send_eof()
            .map_err(Error::codec("AAC encoder"))?;
        self.drain()?;
        let end = self.next_pts.unwrap_or(0) as f64 / f64::from(RATE);
        self.out.finish(end)
    }

    fn receive(&mut self) -> Result<(), Error> {
        let mut frame = ff::frame::Audio::empty();
        while self.decoder.receive_frame(&mut frame).is_ok() {
            if self.next_pts.is_none() {
                let pts = frame.timestamp().unwrap_or(0);
                let start = pts.rescale(self.time_base, ff::Rational::new(1, RATE));
                self.next_pts = Some(start.max(0) + self.padding);
            }
            let resampler = resampler_for(&mut self.resampler, &frame, self.layout)?;
            // Room for every converted sample, so nothing piles up inside the resampler.
            let room = frame.samples() * RATE as usize / frame.rate().max(1) as usize + 256;
            let mut out = ff::frame::Audio::new(Sample::F32(Planar), room, self.layout);
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
            let mut frame = ff::frame::Audio::new(Sample::F32(Planar), n, self.layout);
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
            self.drain()?;
        }
        Ok(())
    }

    fn drain(&mut self) -> Result<(), Error> {
        let mut packet = ff::Packet::empty();
        while self.encoder.receive_packet(&mut packet).is_ok() {
            self.out
                .write(std::mem::replace(&mut packet, ff::Packet::empty()))?;
        }
        Ok(())
    }
}

fn append(pending: &mut [Vec<f32>], frame: &ff::frame::Audio) {
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
    layout: ff::ChannelLayout,
) -> Result<&'a mut ff::software::resampling::Context, Error> {
    let input = if frame.channel_layout().is_empty() {
        ff::ChannelLayout::default(i32::from(frame.channels()))
    } else {
        frame.channel_layout()
    };
    let fits = slot.as_ref().is_some_and(|r| {
        let i = r.input();
        i.format == frame.format() && i.rate == frame.rate() && i.channel_layout == input
    });
    if !fits {
        *slot = Some(
            ff::software::resampling::Context::get(
                frame.format(),
                input,
                frame.rate(),
                Sample::F32(Planar),
                layout,
                RATE as u32,
            )
            .map_err(Error::codec("audio resampler"))?,
        );
    }
    Ok(slot.as_mut().expect("resampler was just set"))
}
