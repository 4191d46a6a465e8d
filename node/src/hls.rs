//! HLS packages: the renditions a transcode writes, their media, I-frame and master
//! playlists (Apple HLS authoring spec), measured bandwidths and CODECS strings.
//!
//! A package is [`Live`] while it is being written: each finished segment updates its media
//! playlist (`EVENT`) and, the first time, the master, so playback can start after the first
//! segment. [`Live::finish`] turns every playlist into `VOD` with `EXT-X-ENDLIST`.

mod codecs;
mod merge;
mod playlist;

pub use codecs::{av01_codecs, avc1_codecs, hvc1_codecs};
pub use merge::merge;
pub use playlist::{Segment, parse_segments};

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, MutexGuard};

pub const MASTER: &str = "master.m3u8";
pub const PLAYLIST: &str = "index.m3u8";
pub const IFRAMES: &str = "iframes.m3u8";
pub const MANIFEST: &str = "package.json";
const AUDIO_GROUP: &str = "aac";
const SUBTITLE_GROUP: &str = "subs";

/// A video rendition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Rendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    /// e.g. `avc1.64001f`
    pub codecs: String,
    /// True for the remuxed source rung.
    #[serde(default)]
    pub source: bool,
}

/// An audio rendition (`EXT-X-MEDIA TYPE=AUDIO`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct AudioRendition {
    pub name: String,
    pub language: Option<String>,
    pub title: Option<String>,
    pub channels: u32,
    pub codecs: String,
    #[serde(default)]
    pub default: bool,
}

/// A WebVTT subtitle rendition (`EXT-X-MEDIA TYPE=SUBTITLES`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SubtitleRendition {
    pub name: String,
    /// The sidecar file it came from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub file: Option<String>,
    pub language: Option<String>,
    pub title: Option<String>,
    #[serde(default)]
    pub default: bool,
    #[serde(default)]
    pub forced: bool,
}

/// One finished segment.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct SegmentInfo {
    pub start: f64,
    pub duration: f64,
    pub size: u64,
    /// Bytes of the fragment holding the IDR frame that opens the segment (video only).
    pub iframe_size: Option<u64>,
}

/// Bits per second of a rendition's segments.
#[derive(Debug, Clone, Copy, PartialEq, Default, Serialize, Deserialize)]
pub struct Bandwidth {
    pub peak: u64,
    pub average: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Variant {
    #[serde(flatten)]
    pub rendition: Rendition,
    /// Peak and average of video plus the largest audio rendition, as the master states them.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
    /// The profile whose package holds it (in an item's merged manifest).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
}

/// What a published package holds; saved as `package.json` next to `master.m3u8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Package {
    pub duration_s: f64,
    pub variants: Vec<Variant>,
    #[serde(default)]
    pub audio: Vec<AudioRendition>,
    #[serde(default)]
    pub subtitles: Vec<SubtitleRendition>,
    /// Things the user should know (e.g. a hardware encoder fell back to software).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// In an item's merged manifest: the profiles whose packages it lists, each in the folder
    /// of its name. The first one's poster and thumbnails stand for the item.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

impl Package {
    pub fn read(dir: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(dir.join(MANIFEST))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    Video(Rendition),
    Audio(AudioRendition),
    Subtitle(SubtitleRendition),
}

#[derive(Debug)]
struct Track {
    kind: Kind,
    segments: Vec<SegmentInfo>,
    /// All segments are written: the playlist is final even while others still grow.
    ended: bool,
}

impl Track {
    fn name(&self) -> &str {
        match &self.kind {
            Kind::Video(r) => &r.name,
            Kind::Audio(a) => &a.name,
            Kind::Subtitle(s) => &s.name,
        }
    }

    fn bandwidth(&self) -> Bandwidth {
        bandwidth(&self.segments, |s| s.size)
    }
}

#[derive(Debug, Default)]
struct State {
    tracks: Vec<Track>,
    in_master: usize,
    warnings: Vec<String>,
}

/// A package being written into `dir`.
#[derive(Debug)]
pub struct Live {
    dir: PathBuf,
    target: u32,
    state: Mutex<State>,
}

impl Live {
    /// `target` is the longest segment in seconds (EXT-X-TARGETDURATION, fixed up front).
    pub fn new(dir: &Path, longest_segment: f64) -> Self {
        Self {
            dir: dir.to_owned(),
            target: longest_segment.round().max(1.0) as u32,
            state: Mutex::new(State::default()),
        }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn state(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn register(&self, kind: Kind) {
        self.state().tracks.push(Track {
            kind,
            segments: Vec::new(),
            ended: false,
        });
    }

    pub fn warn(&self, warning: String) {
        self.state().warnings.push(warning);
    }

    pub fn segment_count(&self, name: &str) -> usize {
        let state = self.state();
        state
            .tracks
            .iter()
            .find(|t| t.name() == name)
            .map_or(0, |t| t.segments.len())
    }

    /// Record a finished segment, rewrite its playlists and, when a rendition gets its first
    /// segment, the master.
    pub fn add_segment(&self, name: &str, segment: SegmentInfo) -> std::io::Result<()> {
        let mut state = self.state();
        let Some(track) = state.tracks.iter_mut().find(|t| t.name() == name) else {
            return Ok(());
        };
        track.segments.push(segment);
        write_track(&self.dir, track, self.target, track.ended)?;
        let ready = state
            .tracks
            .iter()
            .filter(|t| !t.segments.is_empty())
            .count();
        // A video package is playable once one video rendition has a segment; until then an
        // early master would offer its audio alone.
        let video = |t: &&Track| matches!(t.kind, Kind::Video(_));
        let has_video = state.tracks.iter().any(|t| video(&t));
        let video_ready = state
            .tracks
            .iter()
            .filter(video)
            .any(|t| !t.segments.is_empty());
        if ready > state.in_master && (video_ready || !has_video) {
            state.in_master = ready;
            write_atomic(&self.dir.join(MASTER), master(&state.tracks).as_bytes())?;
        }
        Ok(())
    }

    /// A rendition is complete: its playlist becomes VOD with `EXT-X-ENDLIST` right away, so a
    /// viewer who reaches its end is not left waiting for the other renditions.
    pub fn end_track(&self, name: &str) -> std::io::Result<()> {
        let mut state = self.state();
        let Some(track) = state.tracks.iter_mut().find(|t| t.name() == name) else {
            return Ok(());
        };
        track.ended = true;
        write_track(&self.dir, track, self.target, true)
    }

    /// Turn every playlist into VOD, write the final master and `package.json`.
    pub fn finish(&self, duration_s: f64) -> std::io::Result<Package> {
        let state = self.state();
        for track in &state.tracks {
            write_track(&self.dir, track, self.target, true)?;
        }
        write_atomic(&self.dir.join(MASTER), master(&state.tracks).as_bytes())?;
        let package = package(&state, duration_s);
        let json = serde_json::to_vec_pretty(&package).map_err(std::io::Error::other)?;
        write_atomic(&self.dir.join(MANIFEST), &json)?;
        Ok(package)
    }
}

fn package(state: &State, duration_s: f64) -> Package {
    let (audio_peak, audio_avg) = audio_bandwidth(&state.tracks);
    let mut package = Package {
        duration_s,
        warnings: state.warnings.clone(),
        ..Package::default()
    };
    for track in &state.tracks {
        match &track.kind {
            Kind::Video(r) => {
                let bw = track.bandwidth();
                package.variants.push(Variant {
                    rendition: r.clone(),
                    bandwidth: bw.peak + audio_peak,
                    average_bandwidth: bw.average + audio_avg,
                    profile: None,
                });
            }
            Kind::Audio(a) => package.audio.push(a.clone()),
            Kind::Subtitle(s) => package.subtitles.push(s.clone()),
        }
    }
    package
        .variants
        .sort_by_key(|v| std::cmp::Reverse(v.bandwidth));
    package
}

/// Version a finished package's media URLs: every segment and init segment its media and
/// I-frame playlists name gets `?v={version}`. A versioned URL always means the same bytes, so
/// it can be cached for good, while a package made again (a profile edit, a retry) gets new
/// URLs and players never mix its segments with cached ones of the old package.
pub fn stamp(dir: &Path, version: &str) -> std::io::Result<()> {
    for entry in walkdir::WalkDir::new(dir) {
        let entry = entry.map_err(std::io::Error::other)?;
        let path = entry.path();
        let name = entry.file_name().to_string_lossy();
        if !name.ends_with(".m3u8") || name == MASTER {
            continue;
        }
        let text = std::fs::read_to_string(path)?;
        let stamped = playlist::stamp(&text, version);
        if stamped != text {
            write_atomic(path, stamped.as_bytes())?;
        }
    }
    Ok(())
}

/// Write `bytes` to `path` via a temporary file and a rename, so readers never see half.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::rename(&tmp, path)
}

/// A master playlist offering only the variants (and I-frame playlists) of at most
/// `max_bps`; when none is that low, the lowest one stays, so the item still plays.
pub fn cap_master(master: &str, max_bps: u64) -> String {
    // The peak BANDWIDTH attribute (not AVERAGE-BANDWIDTH).
    let bandwidth = |line: &str| -> Option<u64> {
        let at = line
            .find(":BANDWIDTH=")
            .or_else(|| line.find(",BANDWIDTH="))?;
        let rest = &line[at + ":BANDWIDTH=".len()..];
        let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
        digits.parse().ok()
    };
    let is_variant = |l: &str| l.starts_with("#EXT-X-STREAM-INF:");
    let is_iframe = |l: &str| l.starts_with("#EXT-X-I-FRAME-STREAM-INF:");
    let lowest = |pick: &dyn Fn(&str) -> bool| {
        let found = master
            .lines()
            .filter(|l| pick(l))
            .filter_map(bandwidth)
            .min();
        found.unwrap_or(0)
    };
    let (min_variant, min_iframe) = (lowest(&is_variant), lowest(&is_iframe));
    let keep = |line: &str, min: u64| bandwidth(line).is_none_or(|b| b <= max_bps.max(min));
    let mut out = String::with_capacity(master.len());
    let mut skip_uri = false;
    for line in master.lines() {
        if skip_uri && !line.starts_with('#') && !line.trim().is_empty() {
            skip_uri = false;
            continue;
        }
        if is_variant(line) && !keep(line, min_variant) {
            skip_uri = true;
            continue;
        }
        if is_iframe(line) && !keep(line, min_iframe) {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A master playlist that offers one rendition (`720p`: its folder's name), with the audio and
/// subtitle renditions it refers to and no I-frame playlists: what an offline copy stores.
/// `Err` lists the renditions the master has.
pub fn one_rendition(master: &str, rendition: &str) -> Result<String, Vec<String>> {
    // The folder that holds a variant's playlist: `720p` of `standard/720p/index.m3u8?v=…`.
    let folder = |uri: &str| -> Option<String> {
        let path = uri.split('?').next()?;
        let (dir, _) = path.rsplit_once('/')?;
        Some(dir.rsplit('/').next()?.to_owned())
    };
    let mut out = String::with_capacity(master.len());
    let mut names = Vec::new();
    let mut pending: Option<&str> = None;
    for line in master.lines() {
        if line.starts_with("#EXT-X-I-FRAME-STREAM-INF:") {
            continue;
        }
        if line.starts_with("#EXT-X-STREAM-INF:") {
            pending = Some(line);
            continue;
        }
        if let Some(variant) = pending
            && !line.starts_with('#')
            && !line.trim().is_empty()
        {
            pending = None;
            let name = folder(line).unwrap_or_default();
            if name == rendition {
                out.push_str(variant);
                out.push('\n');
                out.push_str(line);
                out.push('\n');
            }
            if !names.contains(&name) {
                names.push(name);
            }
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    if names.iter().any(|n| n == rendition) {
        Ok(out)
    } else {
        Err(names)
    }
}

pub fn segment_name(index: usize) -> String {
    format!("seg_{index:05}.m4s")
}

pub fn subtitle_segment_name(index: usize) -> String {
    format!("seg_{index:05}.vtt")
}

fn write_track(dir: &Path, track: &Track, target: u32, ended: bool) -> std::io::Result<()> {
    let folder = dir.join(track.name());
    // A frame-late boundary can make a segment a little longer than planned.
    let longest = track
        .segments
        .iter()
        .map(|s| s.duration.round() as u32)
        .max()
        .unwrap_or(0);
    let target = target.max(longest);
    let text = match track.kind {
        Kind::Subtitle(_) => {
            playlist::media(&track.segments, target, ended, None, subtitle_segment_name)
        }
        _ => playlist::media(&track.segments, target, ended, Some(INIT), segment_name),
    };
    write_atomic(&folder.join(PLAYLIST), text.as_bytes())?;
    if matches!(track.kind, Kind::Video(_)) {
        write_atomic(
            &folder.join(IFRAMES),
            playlist::iframes(&track.segments, target, ended).as_bytes(),
        )?;
    }
    Ok(())
}

const INIT: &str = "init.mp4";

/// Peak and average of the largest audio rendition (what a variant adds for its audio).
fn audio_bandwidth(tracks: &[Track]) -> (u64, u64) {
    tracks
        .iter()
        .filter(|t| matches!(t.kind, Kind::Audio(_)) && !t.segments.is_empty())
        .map(|t| t.bandwidth())
        .fold((0, 0), |(p, a), bw| (p.max(bw.peak), a.max(bw.average)))
}

/// Peak is the highest segment bit rate among segments at least half as long as the longest
/// (a short last segment would overstate it), and never below the average; average is
/// total bits over total time.
pub fn bandwidth<T>(segments: &[T], size: impl Fn(&T) -> u64) -> Bandwidth
where
    T: HasDuration,
{
    let longest = segments
        .iter()
        .map(HasDuration::duration)
        .fold(0.0, f64::max);
    if longest <= 0.0 {
        return Bandwidth::default();
    }
    let rate = |bytes: u64, secs: f64| (bytes as f64 * 8.0 / secs).ceil() as u64;
    let peak = segments
        .iter()
        .filter(|s| s.duration() >= longest / 2.0)
        .map(|s| rate(size(s), s.duration()))
        .max()
        .unwrap_or(0);
    let total: f64 = segments.iter().map(HasDuration::duration).sum();
    let average = rate(segments.iter().map(&size).sum(), total);
    Bandwidth {
        peak: peak.max(average),
        average,
    }
}

pub trait HasDuration {
    fn duration(&self) -> f64;
}

impl HasDuration for SegmentInfo {
    fn duration(&self) -> f64 {
        self.duration
    }
}

fn master(tracks: &[Track]) -> String {
    let ready: Vec<&Track> = tracks.iter().filter(|t| !t.segments.is_empty()).collect();
    let audio: Vec<&AudioRendition> = ready
        .iter()
        .filter_map(|t| match &t.kind {
            Kind::Audio(a) => Some(a),
            _ => None,
        })
        .collect();
    let subs: Vec<&SubtitleRendition> = ready
        .iter()
        .filter_map(|t| match &t.kind {
            Kind::Subtitle(s) => Some(s),
            _ => None,
        })
        .collect();
    let mut videos: Vec<&Track> = ready
        .iter()
        .copied()
        .filter(|t| matches!(t.kind, Kind::Video(_)))
        .collect();
    videos.sort_by_key(|t| std::cmp::Reverse(t.bandwidth().peak));
    let (audio_peak, audio_avg) = audio_bandwidth(tracks);
    let mut m = playlist::Master::new();
    let default_audio = audio.iter().position(|a| a.default).unwrap_or(0);
    for (i, a) in audio.iter().enumerate() {
        m.audio(AUDIO_GROUP, a, i == default_audio);
    }
    let default_sub = subs.iter().position(|s| s.default);
    for (i, s) in subs.iter().enumerate() {
        m.subtitle(SUBTITLE_GROUP, s, Some(i) == default_sub);
    }
    let audio_codecs = audio.first().map(|a| a.codecs.as_str());
    let groups = playlist::Groups {
        audio: (!audio.is_empty()).then_some(AUDIO_GROUP),
        subtitles: (!subs.is_empty()).then_some(SUBTITLE_GROUP),
    };
    for t in &videos {
        let Kind::Video(r) = &t.kind else { continue };
        let bw = t.bandwidth();
        m.variant(
            r,
            bw.peak + audio_peak,
            bw.average + audio_avg,
            audio_codecs,
            &groups,
        );
    }
    for t in &videos {
        let Kind::Video(r) = &t.kind else { continue };
        let iframes = bandwidth(&t.segments, |s| s.iframe_size.unwrap_or(0));
        m.iframe_variant(r, iframes.peak);
    }
    if videos.is_empty()
        && let Some(t) = ready.iter().find(|t| matches!(t.kind, Kind::Audio(_)))
    {
        let bw = t.bandwidth();
        m.audio_only(
            t.name(),
            bw.peak,
            bw.average,
            audio_codecs.unwrap_or("mp4a.40.2"),
        );
    }
    m.finish()
}

#[cfg(test)]
mod tests;
