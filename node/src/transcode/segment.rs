//! Our own fMP4 HLS segmenter: libavformat's mp4 muxer in `frag_custom` mode writing into
//! memory, cut into `init.mp4` + `seg_NNNNN.m4s` exactly at the package's segment boundaries.
//! Knowing every byte lets us publish segments as they finish (fast start), cut all renditions
//! at the same timestamps (source keyframes included), and point I-frame playlists at the
//! IDR fragment that opens each segment.

use super::Error;
use super::boundaries::Boundaries;
use crate::ffi;
use crate::hls::{self, Live, SegmentInfo};
use ffmpeg_next as ff;
use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub const INIT: &str = "init.mp4";

/// Bytes the muxer writes, shared with the segmenter.
#[derive(Clone, Default)]
struct Sink(Arc<Mutex<Vec<u8>>>);

impl Sink {
    fn take(&self) -> Vec<u8> {
        std::mem::take(&mut *self.0.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

impl Write for Sink {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .extend_from_slice(data);
        Ok(data.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// What a segment is cut on.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Cut {
    /// Video: the first keyframe at or after each boundary; the IDR gets its own fragment.
    Keyframe,
    /// Audio and the like: the first packet at or after each boundary.
    Any,
}

pub struct Segmenter {
    octx: ff::format::context::Output,
    sink: Sink,
    name: String,
    dir: PathBuf,
    cut: Cut,
    in_tb: ff::Rational,
    out_tb: ff::Rational,
    boundaries: Arc<Boundaries>,
    next: usize,
    start: Option<f64>,
    current: Vec<u8>,
    iframe: Option<u64>,
    live: Arc<Live>,
    /// The last packet, held until the next one gives its duration: the muxer cannot know
    /// the length of a fragment's last sample, and every cut ends a fragment.
    held: Option<ff::Packet>,
}

impl Segmenter {
    /// Open a segmenter writing `dir/init.mp4` now and segments as packets arrive.
    pub fn create(
        live: Arc<Live>,
        name: &str,
        params: ff::codec::Parameters,
        in_tb: ff::Rational,
        cut: Cut,
        boundaries: Arc<Boundaries>,
        codec_tag: Option<&[u8; 4]>,
    ) -> Result<Self, Error> {
        let dir = live.dir().join(name);
        std::fs::create_dir_all(&dir)?;
        let sink = Sink::default();
        let io = ff::format::context::StreamIo::from_write(sink.clone())
            .map_err(Error::codec("segmenter"))?;
        let mut octx = ff::format::output_to_stream(io, None, Some("mp4"))
            .map_err(Error::codec("segmenter"))?;
        {
            let mut ost = octx
                .add_stream(ff::encoder::find(ff::codec::Id::None))
                .map_err(Error::codec("segmenter"))?;
            ost.set_parameters(params);
            ost.set_time_base(in_tb);
            if let Some(tag) = codec_tag {
                ffi::set_codec_tag(&mut ost, u32::from_le_bytes(*tag));
            } else {
                ffi::set_codec_tag(&mut ost, 0);
            }
        }
        let mut opts = ff::Dictionary::new();
        opts.set(
            "movflags",
            "frag_custom+empty_moov+default_base_moof+negative_cts_offsets+frag_discont",
        );
        opts.set("flush_packets", "1");
        octx.write_header_with(opts)
            .map_err(Error::codec("segmenter"))?;
        let out_tb = octx.stream(0).expect("stream 0 was added").time_base();
        hls::write_atomic(&dir.join(INIT), &sink.take())?;
        Ok(Self {
            octx,
            sink,
            name: name.to_owned(),
            dir,
            cut,
            in_tb,
            out_tb,
            boundaries,
            next: 1,
            start: None,
            current: Vec::new(),
            iframe: None,
            live,
            held: None,
        })
    }

    /// Mux one packet (timestamps in the input time base), closing the current segment first
    /// when this packet starts the next one.
    pub fn write(&mut self, packet: ff::Packet) -> Result<(), Error> {
        if packet.pts().or(packet.dts()).is_none() {
            return Ok(());
        }
        if let Some(mut prev) = self.held.take() {
            let step =
                packet.dts().or(packet.pts()).unwrap_or(0) - prev.dts().or(prev.pts()).unwrap_or(0);
            if step > 0 {
                prev.set_duration(step);
            }
            self.emit(prev)?;
        }
        self.held = Some(packet);
        Ok(())
    }

    fn emit(&mut self, mut packet: ff::Packet) -> Result<(), Error> {
        let pts = packet.pts().or(packet.dts()).unwrap_or(0);
        let seconds = pts as f64 * f64::from(self.in_tb);
        let may_cut = self.cut == Cut::Any || packet.is_key();
        if may_cut && self.boundaries.reached(self.next, pts, self.in_tb) {
            while self.boundaries.reached(self.next, pts, self.in_tb) {
                self.next += 1;
            }
            if self.start.is_some() {
                self.close(seconds)?;
            }
        }
        let first = self.start.is_none();
        if first {
            self.start = Some(seconds);
        }
        packet.rescale_ts(self.in_tb, self.out_tb);
        packet.set_stream(0);
        packet.set_position(-1);
        packet
            .write(&mut self.octx)
            .map_err(Error::codec("segmenter"))?;
        if first && self.cut == Cut::Keyframe {
            ffi::flush_fragment(&mut self.octx).map_err(Error::codec("segmenter"))?;
            self.current.extend(self.sink.take());
            self.iframe = Some(self.current.len() as u64);
        }
        Ok(())
    }

    /// Write the segment in progress, ending at `end` seconds.
    fn close(&mut self, end: f64) -> Result<(), Error> {
        ffi::flush_fragment(&mut self.octx).map_err(Error::codec("segmenter"))?;
        self.current.extend(self.sink.take());
        let start = self.start.take().unwrap_or(end);
        let bytes = std::mem::take(&mut self.current);
        let info = SegmentInfo {
            start,
            duration: (end - start).max(0.0),
            size: bytes.len() as u64,
            iframe_size: self.iframe.take(),
        };
        let index = self.live.segment_count(&self.name);
        hls::write_atomic(&self.dir.join(hls::segment_name(index)), &bytes)?;
        self.live.add_segment(&self.name, info)?;
        Ok(())
    }

    /// Close the last segment at `end` seconds and finish the muxer.
    pub fn finish(mut self, end: f64) -> Result<(), Error> {
        if let Some(mut last) = self.held.take() {
            let dts = last.dts().or(last.pts()).unwrap_or(0);
            let end_ts = (end / f64::from(self.in_tb)).round() as i64;
            if end_ts > dts {
                last.set_duration(end_ts - dts);
            }
            self.emit(last)?;
        }
        if self.start.is_some() {
            let end = end.max(self.start.unwrap_or(end));
            self.close(end)?;
        }
        self.octx
            .write_trailer()
            .map_err(Error::codec("segmenter"))?;
        self.live.end_track(&self.name)?;
        Ok(())
    }
}
