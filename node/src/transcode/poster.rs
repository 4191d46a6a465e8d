//! The item's poster: one JPEG frame from about 10% into the video.

use super::Error;
use ffmpeg_next as ff;
use std::path::PathBuf;

const MAX_WIDTH: u32 = 640;

/// Keeps the first frame at or after `at_s` (or the first frame at all, for short clips).
pub struct Picker {
    at_s: f64,
    path: PathBuf,
    frame: Option<ff::frame::Video>,
    hit: bool,
}

impl Picker {
    pub fn new(at_s: f64, path: PathBuf) -> Self {
        Self {
            at_s,
            path,
            frame: None,
            hit: false,
        }
    }

    pub fn offer(&mut self, frame: &ff::frame::Video, seconds: f64) {
        if self.hit {
            return;
        }
        if self.frame.is_none() || seconds >= self.at_s {
            self.frame = Some(frame.clone());
            self.hit = seconds >= self.at_s;
        }
    }

    pub fn finish(self) -> Result<(), Error> {
        let Some(frame) = self.frame else {
            return Ok(());
        };
        let (width, height) = fit(&frame, MAX_WIDTH);
        let jpeg = encode_jpeg(&frame, width, height)?;
        std::fs::write(&self.path, jpeg)?;
        Ok(())
    }
}

/// Even width ≤ `max_width` and the height that keeps the frame's aspect ratio.
pub fn fit(frame: &ff::frame::Video, max_width: u32) -> (u32, u32) {
    let width = (frame.width().min(max_width) & !1).max(2);
    let height =
        (u64::from(frame.height()) * u64::from(width) / u64::from(frame.width().max(1))) as u32;
    (width, (height & !1).max(2))
}

/// Scale any frame to `width`×`height` and encode it as a JPEG.
pub fn encode_jpeg(frame: &ff::frame::Video, width: u32, height: u32) -> Result<Vec<u8>, Error> {
    let pixel = ff::format::Pixel::YUVJ420P;
    let mut scaler = ff::software::scaling::Context::get(
        frame.format(),
        frame.width(),
        frame.height(),
        pixel,
        width,
        height,
        ff::software::scaling::Flags::BICUBIC,
    )
    .map_err(Error::codec("poster scaler"))?;
    let mut scaled = ff::frame::Video::empty();
    scaler
        .run(frame, &mut scaled)
        .map_err(Error::codec("poster scaler"))?;
    scaled.set_pts(Some(0));
    let codec = ff::encoder::find(ff::codec::Id::MJPEG).ok_or(Error::MissingEncoder("mjpeg"))?;
    let mut enc = ff::codec::Context::new_with_codec(codec)
        .encoder()
        .video()
        .map_err(Error::codec("JPEG encoder"))?;
    enc.set_width(width);
    enc.set_height(height);
    enc.set_format(pixel);
    enc.set_time_base(ff::Rational::new(1, 25));
    let mut opts = ff::Dictionary::new();
    opts.set("qscale", "3");
    let mut enc = enc.open_with(opts).map_err(Error::codec("JPEG encoder"))?;
    enc.send_frame(&scaled)
        .map_err(Error::codec("JPEG encoder"))?;
    enc.send_eof().map_err(Error::codec("JPEG encoder"))?;
    let mut packet = ff::Packet::empty();
    enc.receive_packet(&mut packet)
        .map_err(Error::codec("JPEG encoder"))?;
    Ok(packet.data().unwrap_or_default().to_vec())
}
