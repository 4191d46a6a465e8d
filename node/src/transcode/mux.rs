//! One fMP4 HLS muxer per rendition, written with libavformat's `hls` muxer.

use super::Error;
use ffmpeg_next as ff;
use std::path::Path;

/// Media playlist name inside each rendition folder.
pub const PLAYLIST: &str = "index.m3u8";
pub const INIT: &str = "init.mp4";

/// An open HLS output with one stream.
pub struct Hls {
    octx: ff::format::context::Output,
    enc_tb: ff::Rational,
    stream_tb: ff::Rational,
}

impl Hls {
    /// Create `dir` and an fMP4 HLS muxer writing `dir/index.m3u8`, `init.mp4`, `seg_NNNNN.m4s`.
    pub fn create(
        dir: &Path,
        segment_seconds: u32,
        params: ff::codec::Parameters,
        codec: ff::Codec,
        enc_tb: ff::Rational,
    ) -> Result<Self, Error> {
        std::fs::create_dir_all(dir)?;
        let playlist = dir.join(PLAYLIST);
        let mut octx =
            ff::format::output_as(&playlist, "hls").map_err(Error::codec("HLS muxer"))?;
        {
            let mut ost = octx.add_stream(codec).map_err(Error::codec("HLS muxer"))?;
            ost.set_parameters(params);
            ost.set_time_base(enc_tb);
        }
        let mut opts = ff::Dictionary::new();
        opts.set("hls_time", &segment_seconds.to_string());
        opts.set("hls_playlist_type", "vod");
        opts.set("hls_segment_type", "fmp4");
        opts.set("hls_fmp4_init_filename", INIT);
        opts.set(
            "hls_segment_filename",
            &dir.join("seg_%05d.m4s").to_string_lossy(),
        );
        opts.set("hls_flags", "independent_segments");
        octx.write_header_with(opts)
            .map_err(Error::codec("HLS muxer"))?;
        let stream_tb = octx.stream(0).expect("stream 0 was added").time_base();
        Ok(Self {
            octx,
            enc_tb,
            stream_tb,
        })
    }

    pub fn write(&mut self, packet: &mut ff::Packet) -> Result<(), Error> {
        packet.set_stream(0);
        packet.rescale_ts(self.enc_tb, self.stream_tb);
        packet
            .write_interleaved(&mut self.octx)
            .map_err(Error::codec("HLS muxer"))
    }

    pub fn finish(mut self) -> Result<(), Error> {
        self.octx.write_trailer().map_err(Error::codec("HLS muxer"))
    }
}

/// Drain every packet the encoder has ready into the muxer.
pub fn drain(encoder: &mut ff::encoder::Encoder, out: &mut Hls) -> Result<(), Error> {
    let mut packet = ff::Packet::empty();
    while encoder.receive_packet(&mut packet).is_ok() {
        out.write(&mut packet)?;
    }
    Ok(())
}
