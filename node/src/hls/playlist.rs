//! Playlist text: media, I-frame and master playlists.

use super::{AudioRendition, IFRAMES, PLAYLIST, Rendition, SegmentInfo, SubtitleRendition};
use std::fmt::Write as _;

/// One `#EXTINF` entry read back from a media playlist.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub duration: f64,
    pub uri: String,
}

impl super::HasDuration for Segment {
    fn duration(&self) -> f64 {
        self.duration
    }
}

pub fn parse_segments(text: &str) -> Vec<Segment> {
    let mut segments = Vec::new();
    let mut duration = None;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("#EXTINF:") {
            duration = rest.split(',').next().and_then(|d| d.parse().ok());
        } else if !line.is_empty()
            && !line.starts_with('#')
            && let Some(duration) = duration.take()
        {
            segments.push(Segment {
                duration,
                uri: line.to_owned(),
            });
        }
    }
    segments
}

fn header(target: u32, ended: bool) -> String {
    let kind = if ended { "VOD" } else { "EVENT" };
    format!(
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:{target}\n#EXT-X-MEDIA-SEQUENCE:0\n\
         #EXT-X-PLAYLIST-TYPE:{kind}\n#EXT-X-INDEPENDENT-SEGMENTS\n"
    )
}

/// A media playlist; `map` is the fMP4 init segment (none for WebVTT).
pub fn media(
    segments: &[SegmentInfo],
    target: u32,
    ended: bool,
    map: Option<&str>,
    name: fn(usize) -> String,
) -> String {
    let mut p = header(target, ended);
    if let Some(map) = map {
        let _ = writeln!(p, "#EXT-X-MAP:URI=\"{map}\"");
    }
    for (i, s) in segments.iter().enumerate() {
        let _ = writeln!(p, "#EXTINF:{:.6},\n{}", s.duration, name(i));
    }
    if ended {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    p
}

/// The I-frame playlist: the IDR fragment at the head of each segment, by byte range.
pub fn iframes(segments: &[SegmentInfo], target: u32, ended: bool) -> String {
    let mut p = header(target, ended);
    p.push_str("#EXT-X-I-FRAMES-ONLY\n#EXT-X-MAP:URI=\"init.mp4\"\n");
    for (i, s) in segments.iter().enumerate() {
        if let Some(len) = s.iframe_size {
            let _ = writeln!(
                p,
                "#EXTINF:{:.6},\n#EXT-X-BYTERANGE:{len}@0\n{}",
                s.duration,
                super::segment_name(i)
            );
        }
    }
    if ended {
        p.push_str("#EXT-X-ENDLIST\n");
    }
    p
}

pub struct Groups<'a> {
    pub audio: Option<&'a str>,
    pub subtitles: Option<&'a str>,
}

/// A media playlist with `?v={version}` on every URI it names (segments, `EXT-X-MAP`).
pub fn stamp(text: &str, version: &str) -> String {
    let mut out = String::with_capacity(text.len() + 64);
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("#EXT-X-MAP:URI=\"")
            && let Some((uri, after)) = rest.split_once('"')
        {
            let _ = write!(out, "#EXT-X-MAP:URI=\"{uri}?v={version}\"{after}");
        } else if !line.is_empty() && !line.starts_with('#') {
            let _ = write!(out, "{line}?v={version}");
        } else {
            out.push_str(line);
        }
        out.push('\n');
    }
    out
}

/// The lines every master playlist starts with.
pub const MASTER_HEADER: &str = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n";

/// Builds a master playlist.
pub struct Master(String);

fn quoted(s: &str) -> String {
    s.replace(['"', '\n', '\r'], "'")
}

impl Master {
    pub fn new() -> Self {
        Self(String::from(MASTER_HEADER))
    }

    fn media(
        &mut self,
        kind: &str,
        group: &str,
        name: &str,
        language: Option<&str>,
        default: bool,
    ) {
        let yes = |b: bool| if b { "YES" } else { "NO" };
        let _ = write!(
            self.0,
            "#EXT-X-MEDIA:TYPE={kind},GROUP-ID=\"{group}\",NAME=\"{}\"",
            quoted(name)
        );
        if let Some(lang) = language {
            let _ = write!(self.0, ",LANGUAGE=\"{}\"", quoted(lang));
        }
        let _ = write!(self.0, ",DEFAULT={},AUTOSELECT=YES", yes(default));
    }

    pub fn audio(&mut self, group: &str, a: &AudioRendition, default: bool) {
        let name = display_name(
            a.title.as_deref(),
            a.language.as_deref(),
            &label("Audio", &a.name),
        );
        let name = if a.channels > 2 {
            format!("{name} ({}.1)", a.channels - 1)
        } else {
            name
        };
        self.media("AUDIO", group, &name, a.language.as_deref(), default);
        let _ = writeln!(
            self.0,
            ",CHANNELS=\"{}\",URI=\"{}/{PLAYLIST}\"",
            a.channels, a.name
        );
    }

    pub fn subtitle(&mut self, group: &str, s: &SubtitleRendition, default: bool) {
        let name = display_name(
            s.title.as_deref(),
            s.language.as_deref(),
            &label("Subtitles", &s.name),
        );
        self.media("SUBTITLES", group, &name, s.language.as_deref(), default);
        if s.forced {
            self.0.push_str(",FORCED=YES");
        }
        let _ = writeln!(self.0, ",URI=\"{}/{PLAYLIST}\"", s.name);
    }

    pub fn variant(
        &mut self,
        r: &Rendition,
        peak: u64,
        average: u64,
        audio: Option<&str>,
        groups: &Groups,
    ) {
        let codecs = match audio {
            Some(a) => format!("{},{a}", r.codecs),
            None => r.codecs.clone(),
        };
        let _ = write!(
            self.0,
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{codecs}\",RESOLUTION={}x{}",
            r.width, r.height
        );
        if let Some(fps) = r.frame_rate {
            let _ = write!(self.0, ",FRAME-RATE={fps:.3}");
        }
        if let Some(g) = groups.audio {
            let _ = write!(self.0, ",AUDIO=\"{g}\"");
        }
        if let Some(g) = groups.subtitles {
            let _ = write!(self.0, ",SUBTITLES=\"{g}\"");
        }
        let _ = writeln!(self.0, "\n{}/{PLAYLIST}", r.name);
    }

    pub fn iframe_variant(&mut self, r: &Rendition, peak: u64) {
        let _ = writeln!(
            self.0,
            "#EXT-X-I-FRAME-STREAM-INF:BANDWIDTH={peak},CODECS=\"{}\",RESOLUTION={}x{},URI=\"{}/{IFRAMES}\"",
            r.codecs, r.width, r.height, r.name
        );
    }

    pub fn audio_only(&mut self, name: &str, peak: u64, average: u64, codecs: &str) {
        let _ = writeln!(
            self.0,
            "#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average},CODECS=\"{codecs}\"\n{name}/{PLAYLIST}"
        );
    }

    pub fn finish(self) -> String {
        self.0
    }
}

/// "English", "Director's commentary", or the rendition's folder name.
fn display_name(title: Option<&str>, language: Option<&str>, fallback: &str) -> String {
    if let Some(t) = title.filter(|t| !t.is_empty()) {
        return t.to_owned();
    }
    match language {
        Some(l) => language_name(l).map_or_else(|| l.to_owned(), str::to_owned),
        None => fallback.to_owned(),
    }
}

/// "Audio", "Audio 2", … from a rendition folder name such as `audio1`.
fn label(kind: &str, name: &str) -> String {
    let digits: String = name
        .chars()
        .skip_while(|c| !c.is_ascii_digit())
        .take_while(char::is_ascii_digit)
        .collect();
    match digits.parse::<usize>() {
        Ok(n) if n > 0 => format!("{kind} {}", n + 1),
        _ => kind.to_owned(),
    }
}

fn language_name(code: &str) -> Option<&'static str> {
    Some(match code {
        "en" | "eng" => "English",
        "fr" | "fra" | "fre" => "Français",
        "de" | "deu" | "ger" => "Deutsch",
        "es" | "spa" => "Español",
        "it" | "ita" => "Italiano",
        "ja" | "jpn" => "日本語",
        "nl" | "nld" | "dut" => "Nederlands",
        "pt" | "por" => "Português",
        _ => return None,
    })
}
