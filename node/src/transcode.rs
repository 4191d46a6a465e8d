//! The ladder transcoder: one decode, N scaled H.264 encodes, one AAC encode, fMP4 HLS out.
//!
//! libav work is blocking; callers run [`run`] on a dedicated thread. Each video rung scales,
//! encodes and muxes on a thread of its own, fed decoded frames through a bounded channel, so
//! the rungs use both cores while the main thread demuxes and decodes.

mod audio;
pub mod boundaries;
mod filter;
pub mod ladder;
mod plan;
mod poster;
mod remux;
mod segment;
mod subtitle;
pub mod thumbnails;
mod video;

use crate::hls;
use boundaries::{Boundaries, Forcer};
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use plan::Plan;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Once};

/// The poster's file name inside a package.
pub const POSTER: &str = "poster.jpg";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open {path}: {source}")]
    Open {
        path: PathBuf,
        #[source]
        source: ff::Error,
    },
    #[error("{0} has neither a video nor an audio stream")]
    NoMedia(PathBuf),
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
    #[error("a rendition worker stopped unexpectedly")]
    WorkerPanicked,
}

impl Error {
    /// True when retrying the same file cannot succeed.
    pub fn is_permanent(&self) -> bool {
        matches!(
            self,
            Error::Open { .. } | Error::NoMedia(_) | Error::Truncated { .. } | Error::NoFrames
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

/// Where the source is read from: a local file, or a URL with extra HTTP headers (a worker
/// reading from its library server, authenticated).
#[derive(Debug, Clone, Copy)]
pub struct Source<'a> {
    pub location: &'a Path,
    pub http_headers: Option<&'a str>,
}

impl<'a> From<&'a Path> for Source<'a> {
    fn from(location: &'a Path) -> Self {
        Self {
            location,
            http_headers: None,
        }
    }
}

impl Source<'_> {
    fn open(&self) -> Result<ff::format::context::Input, Error> {
        let opened = match self.http_headers {
            Some(headers) => {
                let mut opts = ff::Dictionary::new();
                opts.set("headers", headers);
                ff::format::input_with_dictionary(&self.location, opts)
            }
            None => ff::format::input(&self.location),
        };
        opened.map_err(|source| Error::Open {
            path: self.location.to_owned(),
            source,
        })
    }

    fn is_local(&self) -> bool {
        self.http_headers.is_none()
    }
}

/// Transcode `input` into an HLS package in `out_dir` (which must exist and be empty).
/// Playlists are usable as soon as each rendition's first segment is written.
#[tracing::instrument(skip_all, fields(input = %input.location.display()))]
pub fn run(
    input: Source,
    out_dir: &Path,
    profile: &TranscodeProfileSpec,
    progress: Progress,
) -> Result<hls::Package, Error> {
    init();
    let mut ictx = input.open()?;
    let plan = Plan::new(input, &ictx, profile)?;
    let end_s = plan.start_s + plan.duration_s;
    let live = Arc::new(hls::Live::new(out_dir, plan.boundaries.longest(end_s)));
    let stop = AtomicBool::new(false);
    let (video, side) = std::thread::scope(|scope| {
        let side = std::thread::Builder::new()
            .name("side-pass".into())
            .spawn_scoped(scope, || remux::run(input, &plan, &live, profile, &stop))
            .map_err(Error::Io);
        let video = video_pass(&mut ictx, &plan, &live, profile, out_dir, progress);
        if video.is_err() {
            stop.store(true, Ordering::Relaxed);
        }
        let side = side.and_then(|h| h.join().map_err(|_| Error::WorkerPanicked)?);
        (video, side)
    });
    video?;
    side?;
    progress(1.0).map_err(Error::Cancelled)?;
    Ok(live.finish(plan.duration_s)?)
}

/// Decode the video once and feed every encoded rung; returns when all rungs are written.
fn video_pass(
    ictx: &mut ff::format::context::Input,
    plan: &Plan,
    live: &Arc<hls::Live>,
    profile: &TranscodeProfileSpec,
    out_dir: &Path,
    progress: Progress,
) -> Result<(), Error> {
    let Some(vp) = &plan.video else {
        return Ok(());
    };
    let stream = ictx
        .stream(plan.video_index)
        .expect("planned stream exists");
    let mut decoder = video::decoder(&stream)?;
    let mut filter = match filter::chain(vp.rotation, vp.interlaced) {
        Some(spec) => Some(filter::Filter::new(&decoder, vp.time_base, &spec)?),
        None => None,
    };
    let turned = matches!(vp.rotation.round() as i64, 90 | 270);
    let (w, h) = if turned {
        (decoder.height(), decoder.width())
    } else {
        (decoder.width(), decoder.height())
    };
    let mut rungs = ladder::plan(w, h, decoder.aspect_ratio(), &profile.renditions);
    if plan.source.is_some() {
        // The remuxed source is the top rung; encoding another at its size would waste work.
        rungs.retain(|r| r.width.min(r.height) < w.min(h));
    }
    // A smaller picture never gets more bits than the source has.
    if let Some(cap) = vp.bitrate_kbps.filter(|&kbps| kbps > 0) {
        for r in &mut rungs {
            r.bitrate_kbps = r.bitrate_kbps.min(cap);
        }
    }
    rungs.sort_by_key(|r| std::cmp::Reverse(r.width * r.height));
    let (feeder, fed) = video::cascade(w.min(h), &rungs).unwrap_or_default();
    let spawn = |i: usize, feeds: Vec<video::Rung>| {
        video::Rung::spawn(
            rungs[i].clone(),
            live,
            vp.time_base,
            vp.frame_rate,
            profile,
            &plan.boundaries,
            feeds,
        )
    };
    // The fed rungs first: their feeder owns them.
    let mut feeds = Vec::new();
    for &i in &fed {
        match spawn(i, Vec::new()) {
            Ok(rung) => feeds.push(rung),
            Err(e) => return Err(video::abandon_all(feeds, e)),
        }
    }
    let mut encoders = Vec::new();
    for i in (0..rungs.len()).filter(|i| !fed.contains(i)) {
        let own = if i == feeder && !fed.is_empty() {
            std::mem::take(&mut feeds)
        } else {
            Vec::new()
        };
        match spawn(i, own) {
            Ok(rung) => encoders.push(rung),
            Err(e) => {
                encoders.append(&mut feeds);
                return Err(video::abandon_all(encoders, e));
            }
        }
    }
    let mut state = VideoState {
        forcer: Forcer::default(),
        poster: poster::Picker::new(plan.start_s + plan.duration_s * 0.1, out_dir.join(POSTER)),
        sprites: thumbnails::Sprites::new(plan.start_s),
        boundaries: Arc::clone(&plan.boundaries),
        tb: vp.time_base,
        frames: 0,
        last_s: plan.start_s,
        max_gap_s: 0.0,
    };
    let result = decode_all(
        ictx,
        plan,
        &mut decoder,
        &mut filter,
        &mut state,
        &encoders,
        progress,
    );
    let end_s = match result {
        Ok(end) => end,
        Err(e) => return Err(video::abandon_all(encoders, e)),
    };
    for rung in encoders {
        rung.finish(end_s)?;
    }
    if state.frames == 0 {
        return Err(Error::NoFrames);
    }
    check_complete(
        state.last_s - plan.start_s,
        state.max_gap_s,
        plan.duration_s,
    )?;
    state.sprites.finish(out_dir, end_s)?;
    state.poster.finish()
}

struct VideoState {
    forcer: Forcer,
    poster: poster::Picker,
    sprites: thumbnails::Sprites,
    boundaries: Arc<Boundaries>,
    tb: ff::Rational,
    frames: u64,
    last_s: f64,
    /// Longest stretch between two decoded frames: a hole left by damaged data.
    max_gap_s: f64,
}

impl VideoState {
    /// Mark segment-opening frames as IDRs and hand the frame to every rung.
    fn send(&mut self, mut frame: ff::frame::Video, encoders: &[video::Rung]) -> Result<(), Error> {
        let pts = frame.timestamp().or(frame.pts()).unwrap_or(0);
        frame.set_pts(Some(pts));
        let key = self.forcer.is_boundary(&self.boundaries, pts, self.tb);
        frame.set_kind(if key {
            ff::picture::Type::I
        } else {
            ff::picture::Type::None
        });
        self.frames += 1;
        let t = pts as f64 * f64::from(self.tb);
        if self.frames > 1 {
            self.max_gap_s = self.max_gap_s.max(t - self.last_s);
        }
        self.last_s = self.last_s.max(t);
        self.poster.offer(&frame, self.last_s);
        self.sprites.offer(&frame, self.last_s)?;
        let shared = Arc::new(frame);
        for rung in encoders {
            rung.send(Arc::clone(&shared))?;
        }
        Ok(())
    }
}

/// Demux, decode and filter every video frame; returns the video's end time in seconds.
fn decode_all(
    ictx: &mut ff::format::context::Input,
    plan: &Plan,
    decoder: &mut ff::decoder::Video,
    filter: &mut Option<filter::Filter>,
    state: &mut VideoState,
    encoders: &[video::Rung],
    progress: Progress,
) -> Result<f64, Error> {
    let mut end_s = plan.start_s;
    let mut frame = ff::frame::Video::empty();
    let mut deliver = |frame: ff::frame::Video, state: &mut VideoState| -> Result<(), Error> {
        match filter.as_mut() {
            Some(f) => f
                .run(Some(&frame))?
                .into_iter()
                .try_for_each(|out| state.send(out, encoders)),
            None => state.send(frame, encoders),
        }
    };
    for (stream, packet) in ictx.packets() {
        if stream.index() != plan.video_index {
            continue;
        }
        end_s = end_s.max(remux::packet_end(&packet, stream.time_base()));
        // A damaged packet is skipped; a file too damaged to play fails the length check.
        if decoder.send_packet(&packet).is_err() {
            continue;
        }
        while decoder.receive_frame(&mut frame).is_ok() {
            deliver(
                std::mem::replace(&mut frame, ff::frame::Video::empty()),
                state,
            )?;
        }
        if plan.duration_s > 0.0 {
            let done = (state.last_s - plan.start_s) / plan.duration_s;
            progress(done.clamp(0.0, 1.0)).map_err(Error::Cancelled)?;
        }
    }
    decoder.send_eof().map_err(Error::codec("video decoder"))?;
    while decoder.receive_frame(&mut frame).is_ok() {
        deliver(
            std::mem::replace(&mut frame, ff::frame::Video::empty()),
            state,
        )?;
    }
    if let Some(f) = filter.as_mut() {
        for out in f.run(None)? {
            state.send(out, encoders)?;
        }
    }
    Ok(end_s)
}

/// A file is damaged when its decoded video covers less than 90% of its stated length, or
/// has a hole longer than 10% of it (and 2 s): damage in the middle keeps the span but
/// leaves a gap.
fn check_complete(decoded_s: f64, max_gap_s: f64, expected_s: f64) -> Result<(), Error> {
    if expected_s <= 2.0 {
        return Ok(());
    }
    let hole = max_gap_s > (expected_s * 0.1).max(2.0);
    if decoded_s < expected_s * 0.9 || hole {
        let missing = if hole { max_gap_s } else { 0.0 };
        return Err(Error::Truncated {
            decoded_s: decoded_s - missing,
            expected_s,
        });
    }
    Ok(())
}
