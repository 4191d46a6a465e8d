//! Scrubbing previews: one small tile every 10 s, packed into JPEG sprite sheets with a
//! WebVTT index (`thumbs/thumbnails.vtt`, cues pointing at `sheet_N.jpg#xywh=…`).

use super::Error;
use super::poster;
use super::subtitle::vtt_time;
use ffmpeg_next as ff;
use std::fmt::Write as _;
use std::path::Path;

pub const DIR: &str = "thumbs";
pub const INDEX: &str = "thumbnails.vtt";
const EVERY_S: f64 = 10.0;
const TILE_WIDTH: u32 = 160;
const COLUMNS: usize = 10;
const PER_SHEET: usize = 100;

pub struct Sprites {
    next: f64,
    start: f64,
    size: Option<(u32, u32)>,
    scaler: Option<ff::software::scaling::Context>,
    /// Tiles as packed RGB24 rows.
    tiles: Vec<Vec<u8>>,
}

impl Sprites {
    pub fn new(start: f64) -> Self {
        Self {
            next: start,
            start,
            size: None,
            scaler: None,
            tiles: Vec::new(),
        }
    }

    /// Keep a tile of the first frame at or after each 10 s mark.
    pub fn offer(&mut self, frame: &ff::frame::Video, seconds: f64) -> Result<(), Error> {
        if seconds < self.next {
            return Ok(());
        }
        while self.next <= seconds {
            self.next += EVERY_S;
        }
        let (w, h) = *self
            .size
            .get_or_insert_with(|| poster::fit(frame, TILE_WIDTH));
        let scaler = match &mut self.scaler {
            Some(s) if s.input().format == frame.format() && s.input().width == frame.width() => s,
            slot => slot.insert(
                ff::software::scaling::Context::get(
                    frame.format(),
                    frame.width(),
                    frame.height(),
                    ff::format::Pixel::RGB24,
                    w,
                    h,
                    ff::software::scaling::Flags::BILINEAR,
                )
                .map_err(Error::codec("thumbnail scaler"))?,
            ),
        };
        let mut rgb = ff::frame::Video::empty();
        scaler
            .run(frame, &mut rgb)
            .map_err(Error::codec("thumbnail scaler"))?;
        let row = w as usize * 3;
        let mut tile = Vec::with_capacity(row * h as usize);
        for y in 0..h as usize {
            let stride = rgb.stride(0);
            tile.extend_from_slice(&rgb.data(0)[y * stride..y * stride + row]);
        }
        self.tiles.push(tile);
        Ok(())
    }

    /// Write the sprite sheets and their WebVTT index into `dir/thumbs/`.
    pub fn finish(self, dir: &Path, end: f64) -> Result<(), Error> {
        let Some((w, h)) = self.size else {
            return Ok(());
        };
        let out = dir.join(DIR);
        std::fs::create_dir_all(&out)?;
        let mut vtt = String::from("WEBVTT\n\n");
        for (sheet, tiles) in self.tiles.chunks(PER_SHEET).enumerate() {
            let name = format!("sheet_{sheet}.jpg");
            let jpeg = sheet_jpeg(tiles, w, h)?;
            std::fs::write(out.join(&name), jpeg)?;
            for (i, _) in tiles.iter().enumerate() {
                let n = sheet * PER_SHEET + i;
                let from = self.start + n as f64 * EVERY_S;
                let to = (from + EVERY_S).min(end.max(from));
                let (x, y) = ((i % COLUMNS) as u32 * w, (i / COLUMNS) as u32 * h);
                let _ = write!(
                    vtt,
                    "{} --> {}\n{name}#xywh={x},{y},{w},{h}\n\n",
                    vtt_time(from),
                    vtt_time(to)
                );
            }
        }
        std::fs::write(out.join(INDEX), vtt)?;
        Ok(())
    }
}

/// Lay the tiles out in a grid and encode the sheet.
fn sheet_jpeg(tiles: &[Vec<u8>], w: u32, h: u32) -> Result<Vec<u8>, Error> {
    let columns = tiles.len().min(COLUMNS) as u32;
    let rows = tiles.len().div_ceil(COLUMNS) as u32;
    let mut sheet = ff::frame::Video::new(ff::format::Pixel::RGB24, columns * w, rows * h);
    let stride = sheet.stride(0);
    let row = w as usize * 3;
    let data = sheet.data_mut(0);
    for (i, tile) in tiles.iter().enumerate() {
        let (cx, cy) = (i % COLUMNS, i / COLUMNS);
        for y in 0..h as usize {
            let at = (cy * h as usize + y) * stride + cx * row;
            data[at..at + row].copy_from_slice(&tile[y * row..(y + 1) * row]);
        }
    }
    poster::encode_jpeg(&sheet, columns * w, rows * h)
}
