//! Text subtitles → segmented WebVTT: embedded SubRip/ASS/mov_text/WebVTT streams decoded by
//! libavcodec, and sidecar `.srt`/`.vtt` files next to the video (any text encoding).

use super::Error;
use super::boundaries::Boundaries;
use crate::hls::{self, Live, SegmentInfo, SubtitleRendition};
use ffmpeg_next as ff;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Codecs we can turn into WebVTT; image subtitles (PGS, VobSub) cannot be.
pub fn is_text(codec: ff::codec::Id) -> bool {
    use ff::codec::Id;
    matches!(
        codec,
        Id::SUBRIP | Id::SRT | Id::ASS | Id::SSA | Id::MOV_TEXT | Id::WEBVTT | Id::TEXT
    )
}

#[derive(Debug, Clone, PartialEq)]
pub struct Cue {
    pub start: f64,
    pub end: f64,
    pub text: String,
}

/// An embedded subtitle stream being collected.
pub struct Chain {
    pub index: usize,
    time_base: ff::Rational,
    decoder: ff::decoder::Subtitle,
    pub cues: Vec<Cue>,
    pub rendition: SubtitleRendition,
}

impl Chain {
    pub fn new(stream: &ff::format::stream::Stream, name: String) -> Result<Self, Error> {
        let ctx = ff::codec::Context::from_parameters(stream.parameters())
            .map_err(Error::codec("subtitle decoder"))?;
        let decoder = ctx
            .decoder()
            .subtitle()
            .map_err(Error::codec("subtitle decoder"))?;
        let meta = stream.metadata();
        let disposition = stream.disposition();
        Ok(Self {
            index: stream.index(),
            time_base: stream.time_base(),
            decoder,
            cues: Vec::new(),
            rendition: SubtitleRendition {
                name,
                language: meta
                    .get("language")
                    .filter(|l| *l != "und")
                    .map(str::to_owned),
                title: meta.get("title").map(str::to_owned),
                file: None,
                default: disposition.contains(ff::format::stream::Disposition::DEFAULT),
                forced: disposition.contains(ff::format::stream::Disposition::FORCED),
            },
        })
    }

    /// Decode one packet into cues; undecodable packets are skipped.
    pub fn push(&mut self, packet: &ff::Packet) {
        let mut sub = ff::codec::subtitle::Subtitle::new();
        if !matches!(self.decoder.decode(packet, &mut sub), Ok(true)) {
            return;
        }
        let tb = f64::from(self.time_base);
        let Some(pts) = packet.pts().or(packet.dts()) else {
            return;
        };
        let start = pts as f64 * tb + f64::from(sub.start()) / 1000.0;
        let end = if packet.duration() > 0 {
            (pts + packet.duration()) as f64 * tb
        } else {
            pts as f64 * tb + f64::from(sub.end()) / 1000.0
        };
        let text: Vec<String> = sub
            .rects()
            .filter_map(|r| match r {
                ff::codec::subtitle::Rect::Ass(a) => Some(ass_text(a.get())),
                ff::codec::subtitle::Rect::Text(t) => Some(t.get().to_owned()),
                _ => None,
            })
            .filter(|t| !t.trim().is_empty())
            .collect();
        if !text.is_empty() && end > start {
            self.cues.push(Cue {
                start,
                end,
                text: text.join("\n"),
            });
        }
    }
}

/// The text of an ASS `Dialogue` event, without override tags.
fn ass_text(event: &str) -> String {
    let body = event.strip_prefix("Dialogue:").unwrap_or(event);
    // ReadOrder, Layer, Style, Name, MarginL, MarginR, MarginV, Effect, Text
    let text = body.splitn(9, ',').nth(8).unwrap_or(body);
    let mut out = String::new();
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '{' => in_tag = true,
            '}' => in_tag = false,
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out.replace("\\N", "\n")
        .replace("\\n", "\n")
        .replace("\\h", " ")
        .trim()
        .to_owned()
}

/// Sidecar subtitle files for `video`: `Name.srt`, `Name.en.srt`, `Name.fr.forced.vtt`, …
pub fn sidecars(video: &Path) -> Vec<(PathBuf, Option<String>)> {
    let (Some(dir), Some(stem)) = (video.parent(), video.file_stem()) else {
        return Vec::new();
    };
    let stem = stem.to_string_lossy().into_owned();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<(PathBuf, Option<String>)> = entries
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter_map(|p| {
            let name = p.file_name()?.to_string_lossy().into_owned();
            let ext = p.extension()?.to_string_lossy().to_ascii_lowercase();
            if ext != "srt" && ext != "vtt" {
                return None;
            }
            let middle = name
                .strip_prefix(&stem)?
                .strip_suffix(&format!(".{}", p.extension()?.to_string_lossy()))?;
            let tags: Vec<&str> = middle.split('.').filter(|t| !t.is_empty()).collect();
            if !middle.is_empty() && !middle.starts_with('.') {
                return None;
            }
            let language = tags
                .iter()
                .find(|t| (2..=3).contains(&t.len()) && t.chars().all(|c| c.is_ascii_alphabetic()))
                .map(|t| t.to_ascii_lowercase());
            Some((p, language))
        })
        .collect();
    found.sort();
    found
}

/// Text of a subtitle file: UTF-8 (with or without BOM), UTF-16 with BOM, else Windows-1252.
pub fn decode_text(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(&[0xef, 0xbb, 0xbf]) {
        return String::from_utf8_lossy(rest).into_owned();
    }
    if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        let le = bytes[0] == 0xff;
        let units: Vec<u16> = bytes[2..]
            .chunks_exact(2)
            .map(|c| {
                if le {
                    u16::from_le_bytes([c[0], c[1]])
                } else {
                    u16::from_be_bytes([c[0], c[1]])
                }
            })
            .collect();
        return String::from_utf16_lossy(&units);
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => s.to_owned(),
        Err(_) => bytes.iter().map(|&b| windows_1252(b)).collect(),
    }
}

fn windows_1252(b: u8) -> char {
    const HIGH: [char; 32] = [
        '€', '\u{81}', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\u{8d}', 'Ž',
        '\u{8f}', '\u{90}', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\u{9d}',
        'ž', 'Ÿ',
    ];
    match b {
        0x80..=0x9f => HIGH[usize::from(b - 0x80)],
        _ => char::from(b),
    }
}

/// Cues of a SubRip or WebVTT file.
pub fn parse_cues(text: &str) -> Vec<Cue> {
    let mut cues = Vec::new();
    let mut lines = text.lines().map(|l| l.trim_end_matches('\r')).peekable();
    while let Some(line) = lines.next() {
        let Some((a, b)) = line.split_once("-->") else {
            continue;
        };
        let (Some(start), Some(end)) = (
            timestamp(a),
            timestamp(b.split_whitespace().next().unwrap_or("")),
        ) else {
            continue;
        };
        let mut text = Vec::new();
        while let Some(l) = lines.peek() {
            if l.trim().is_empty() {
                break;
            }
            text.push(lines.next().unwrap_or_default().to_owned());
        }
        if !text.is_empty() && end > start {
            cues.push(Cue {
                start,
                end,
                text: strip_tags(&text.join("\n")),
            });
        }
    }
    cues
}

/// `01:02:03,456`, `01:02:03.456` or `02:03.456` in seconds.
fn timestamp(s: &str) -> Option<f64> {
    let s = s.trim().replace(',', ".");
    let parts: Vec<&str> = s.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (
            h.parse::<f64>().ok()?,
            m.parse::<f64>().ok()?,
            s.parse::<f64>().ok()?,
        ),
        [m, s] => (0.0, m.parse::<f64>().ok()?, s.parse::<f64>().ok()?),
        _ => return None,
    };
    Some(h * 3600.0 + m * 60.0 + sec)
}

/// Drop SubRip's `<font …>` and the like; keep `<i>`, `<b>`, `<u>` which WebVTT understands.
fn strip_tags(text: &str) -> String {
    let mut out = String::new();
    let mut rest = text;
    while let Some(open) = rest.find('<') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('>') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let tag = &rest[open..open + close + 1];
        let name = tag
            .trim_start_matches("</")
            .trim_start_matches('<')
            .trim_end_matches('>');
        if matches!(name, "i" | "b" | "u") {
            out.push_str(tag);
        }
        rest = &rest[open + close + 1..];
    }
    out.push_str(rest);
    out
}

fn escape(text: &str) -> String {
    // Keep the <i>/<b>/<u> tags strip_tags left; escape everything else.
    let escaped = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    ["i", "b", "u"].iter().fold(escaped, |s, t| {
        s.replace(&format!("&lt;{t}&gt;"), &format!("<{t}>"))
            .replace(&format!("&lt;/{t}&gt;"), &format!("</{t}>"))
    })
}

pub fn vtt_time(t: f64) -> String {
    let ms = (t.max(0.0) * 1000.0).round() as u64;
    format!(
        "{:02}:{:02}:{:02}.{:03}",
        ms / 3_600_000,
        ms / 60_000 % 60,
        ms / 1000 % 60,
        ms % 1000
    )
}

/// Write the cues as WebVTT segments on the package's segment timeline.
pub fn write(
    live: &Live,
    rendition: SubtitleRendition,
    cues: &[Cue],
    boundaries: &Boundaries,
    end: f64,
) -> Result<(), Error> {
    let dir = live.dir().join(&rendition.name);
    std::fs::create_dir_all(&dir)?;
    let name = rendition.name.clone();
    live.register(hls::Kind::Subtitle(rendition));
    let mut starts = boundaries.seconds();
    starts.push(end.max(starts.last().copied().unwrap_or(0.0) + 0.001));
    for (i, w) in starts.windows(2).enumerate() {
        let (from, to) = (w[0], w[1]);
        // Cue times are media times; the map says local 0 is media time 0.
        let mut text = String::from("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:0,LOCAL:00:00:00.000\n\n");
        for cue in cues.iter().filter(|c| c.end > from && c.start < to) {
            let _ = write!(
                text,
                "{} --> {}\n{}\n\n",
                vtt_time(cue.start),
                vtt_time(cue.end),
                escape(&cue.text)
            );
        }
        hls::write_atomic(&dir.join(hls::subtitle_segment_name(i)), text.as_bytes())?;
        live.add_segment(
            &name,
            SegmentInfo {
                start: from,
                duration: to - from,
                size: text.len() as u64,
                iframe_size: None,
            },
        )?;
    }
    live.end_track(&name)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srt_in_windows_1252_becomes_utf8_cues() {
        let srt = b"1\r\n00:00:01,000 --> 00:00:02,500\r\n<font color=\"red\">Caf\xe9</font> <i>cr\xe8me</i>\r\n\r\n2\r\n00:00:03,000 --> 00:00:04,000\r\nA & B\r\n";
        let cues = parse_cues(&decode_text(srt));
        assert_eq!(cues.len(), 2);
        assert_eq!((cues[0].start, cues[0].end), (1.0, 2.5));
        assert_eq!(cues[0].text, "Café <i>crème</i>");
        assert_eq!(escape(&cues[1].text), "A &amp; B");
    }

    #[test]
    fn vtt_and_short_timestamps() {
        let vtt = "WEBVTT\n\n00:01.000 --> 00:02.000 line:0\nHello\nthere\n";
        let cues = parse_cues(vtt);
        assert_eq!(
            cues,
            [Cue {
                start: 1.0,
                end: 2.0,
                text: "Hello\nthere".into()
            }]
        );
        assert_eq!(vtt_time(3725.5), "01:02:05.500");
    }

    #[test]
    fn ass_events_lose_their_override_tags() {
        assert_eq!(
            ass_text("0,0,Default,,0,0,0,,{\\i1}Hi{\\i0}\\Nthere, you"),
            "Hi\nthere, you"
        );
    }

    #[test]
    fn utf16_with_bom() {
        let mut bytes = vec![0xff, 0xfe];
        bytes.extend("Hé".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(decode_text(&bytes), "Hé");
    }

    #[test]
    fn sidecars_with_language_tags() {
        let dir = tempfile::tempdir().unwrap();
        for f in [
            "Film (2019).mkv",
            "Film (2019).en.srt",
            "Film (2019).fr.forced.vtt",
            "Film (2019).srt",
            "Other.en.srt",
        ] {
            std::fs::write(dir.path().join(f), "").unwrap();
        }
        let found = sidecars(&dir.path().join("Film (2019).mkv"));
        let langs: Vec<Option<&str>> = found.iter().map(|(_, l)| l.as_deref()).collect();
        assert_eq!(langs, [Some("en"), Some("fr"), None]);
    }
}
