//! HLS packages: media playlist reading, measured bandwidths, CODECS strings and the master
//! playlist (Apple HLS authoring spec).

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const PLAYLIST: &str = "index.m3u8";
const AUDIO_GROUP: &str = "aac";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0} lists no segments")]
    Empty(PathBuf),
    #[error("renditions have different segment boundaries ({0})")]
    Misaligned(String),
}

/// A video rendition as the transcoder wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rendition {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub frame_rate: Option<f64>,
    /// e.g. `avc1.64001f`
    pub codecs: String,
}

/// The audio rendition as the transcoder wrote it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AudioRendition {
    pub name: String,
    pub language: Option<String>,
    pub title: Option<String>,
    pub channels: u32,
    pub codecs: String,
}

/// Bits per second of one media playlist's segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Bandwidth {
    pub peak: u64,
    pub average: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Variant {
    #[serde(flatten)]
    pub rendition: Rendition,
    /// Peak and average of video plus audio, as the master playlist states them.
    pub bandwidth: u64,
    pub average_bandwidth: u64,
}

/// What a published package holds; saved as `package.json` next to `master.m3u8`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Package {
    pub duration_s: f64,
    pub variants: Vec<Variant>,
    pub audio: Option<AudioRendition>,
}

/// One `#EXTINF` entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Segment {
    pub duration: f64,
    pub uri: String,
}

/// Read the segments of a media playlist.
pub fn read_playlist(path: &Path) -> Result<Vec<Segment>, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
        path: path.to_owned(),
        source,
    })?;
    Ok(parse_segments(&text))
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

/// Measure a rendition folder: peak is the highest segment bit rate among segments at least
/// half the longest one long (a short last segment would overstate it), average is total
/// bits over total time.
pub fn measure(dir: &Path) -> Result<(Bandwidth, Vec<Segment>), Error> {
    let playlist = dir.join(PLAYLIST);
    let segments = read_playlist(&playlist)?;
    let sizes = segments
        .iter()
        .map(|s| {
            let path = dir.join(&s.uri);
            std::fs::metadata(&path)
                .map(|m| m.len())
                .map_err(|source| Error::Read { path, source })
        })
        .collect::<Result<Vec<u64>, Error>>()?;
    let bandwidth = bandwidth(&segments, &sizes).ok_or(Error::Empty(playlist))?;
    Ok((bandwidth, segments))
}

pub fn bandwidth(segments: &[Segment], sizes: &[u64]) -> Option<Bandwidth> {
    let longest = segments.iter().map(|s| s.duration).fold(0.0, f64::max);
    if longest <= 0.0 {
        return None;
    }
    let rate = |size: u64, secs: f64| (size as f64 * 8.0 / secs).ceil() as u64;
    let peak = segments
        .iter()
        .zip(sizes)
        .filter(|(s, _)| s.duration >= longest / 2.0)
        .map(|(s, size)| rate(*size, s.duration))
        .max()?;
    let total: f64 = segments.iter().map(|s| s.duration).sum();
    let average = rate(sizes.iter().sum(), total);
    Some(Bandwidth {
        peak: peak.max(average),
        average,
    })
}

impl Package {
    /// Measure every rendition the transcoder wrote and check their segments line up.
    pub fn measure(
        dir: &Path,
        renditions: &[Rendition],
        audio: Option<&AudioRendition>,
        duration_s: f64,
    ) -> Result<Self, Error> {
        let audio_bw = match audio {
            Some(a) => Some(measure(&dir.join(&a.name))?.0),
            None => None,
        };
        let mut reference: Option<Vec<Segment>> = None;
        let mut variants = Vec::new();
        for r in renditions {
            let (bw, segments) = measure(&dir.join(&r.name))?;
            check_aligned(
                reference.get_or_insert_with(|| segments.clone()),
                &segments,
                &r.name,
            )?;
            let (ap, aa) = audio_bw.map_or((0, 0), |a| (a.peak, a.average));
            variants.push(Variant {
                rendition: r.clone(),
                bandwidth: bw.peak + ap,
                average_bandwidth: bw.average + aa,
            });
        }
        Ok(Self {
            duration_s,
            variants,
            audio: audio.cloned(),
        })
    }

    /// Write `master.m3u8` and `package.json` into `dir`.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        std::fs::write(dir.join("master.m3u8"), self.master_playlist())?;
        let json = serde_json::to_vec_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(dir.join("package.json"), json)
    }

    pub fn read(dir: &Path) -> std::io::Result<Self> {
        let bytes = std::fs::read(dir.join("package.json"))?;
        serde_json::from_slice(&bytes).map_err(std::io::Error::other)
    }

    pub fn master_playlist(&self) -> String {
        let mut m = String::from("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        if let Some(a) = &self.audio {
            let name = a
                .title
                .as_deref()
                .or(a.language.as_deref())
                .unwrap_or("Default");
            let _ = write!(
                m,
                "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{AUDIO_GROUP}\",NAME=\"{}\"",
                quoted(name)
            );
            if let Some(lang) = &a.language {
                let _ = write!(m, ",LANGUAGE=\"{}\"", quoted(lang));
            }
            let _ = writeln!(
                m,
                ",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"{}\",URI=\"{}/{PLAYLIST}\"",
                a.channels, a.name
            );
        }
        for v in &self.variants {
            let r = &v.rendition;
            let codecs = match &self.audio {
                Some(a) => format!("{},{}", r.codecs, a.codecs),
                None => r.codecs.clone(),
            };
            let _ = write!(
                m,
                "#EXT-X-STREAM-INF:BANDWIDTH={},AVERAGE-BANDWIDTH={},CODECS=\"{codecs}\",RESOLUTION={}x{}",
                v.bandwidth, v.average_bandwidth, r.width, r.height
            );
            if let Some(fps) = r.frame_rate {
                let _ = write!(m, ",FRAME-RATE={fps:.3}");
            }
            if self.audio.is_some() {
                let _ = write!(m, ",AUDIO=\"{AUDIO_GROUP}\"");
            }
            let _ = writeln!(m, "\n{}/{PLAYLIST}", r.name);
        }
        m
    }
}

fn quoted(s: &str) -> String {
    s.replace(['"', '\n', '\r'], "'")
}

fn check_aligned(reference: &[Segment], other: &[Segment], name: &str) -> Result<(), Error> {
    let same = reference.len() == other.len()
        && reference
            .iter()
            .zip(other)
            .all(|(a, b)| (a.duration - b.duration).abs() < 0.002);
    if same {
        Ok(())
    } else {
        Err(Error::Misaligned(format!(
            "{name} has {} segments, the first rung {}",
            other.len(),
            reference.len()
        )))
    }
}

/// RFC 6381 `avc1.PPCCLL` from H.264 extradata, in avcC or Annex B form.
pub fn avc1_codecs(extradata: &[u8]) -> String {
    let sps = if extradata.first() == Some(&1) && extradata.len() >= 4 {
        Some(&extradata[1..4])
    } else {
        annexb_sps(extradata)
    };
    match sps {
        Some(p) => format!("avc1.{:02x}{:02x}{:02x}", p[0], p[1], p[2]),
        None => "avc1.640028".to_owned(),
    }
}

/// profile_idc, constraint flags and level_idc from the first SPS NAL unit in Annex B data.
fn annexb_sps(data: &[u8]) -> Option<&[u8]> {
    let mut i = 0;
    while i + 3 < data.len() {
        if data[i..i + 3] == [0, 0, 1] {
            let nal = i + 3;
            if data[nal] & 0x1f == 7 && nal + 4 <= data.len() {
                return Some(&data[nal + 1..nal + 4]);
            }
            i = nal;
        } else {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(d: f64) -> Segment {
        Segment {
            duration: d,
            uri: "s".into(),
        }
    }

    #[test]
    fn codecs_from_annex_b_and_avcc() {
        let annexb = [
            0, 0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0, 0, 1, 0x68, 0xee,
        ];
        assert_eq!(avc1_codecs(&annexb), "avc1.64001f");
        let avcc = [1, 0x4d, 0x40, 0x28, 0xff];
        assert_eq!(avc1_codecs(&avcc), "avc1.4d4028");
    }

    #[test]
    fn parses_media_playlist() {
        let text = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:6\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:6.000000,\nseg_00000.m4s\n#EXTINF:2.5,\nseg_00001.m4s\n#EXT-X-ENDLIST\n";
        let segs = parse_segments(text);
        assert_eq!(segs.len(), 2);
        assert_eq!(
            (segs[1].duration, segs[1].uri.as_str()),
            (2.5, "seg_00001.m4s")
        );
    }

    #[test]
    fn peak_ignores_a_short_tail_segment() {
        let segs = [seg(6.0), seg(6.0), seg(0.5)];
        let bw = bandwidth(&segs, &[600_000, 750_000, 100_000]).unwrap();
        assert_eq!(bw.peak, 1_000_000);
        assert_eq!(bw.average, ((1_450_000.0 * 8.0) / 12.5_f64).ceil() as u64);
    }

    #[test]
    fn master_playlist_has_the_authoring_spec_attributes() {
        let pkg = Package {
            duration_s: 12.0,
            variants: vec![Variant {
                rendition: Rendition {
                    name: "720p".into(),
                    width: 1280,
                    height: 720,
                    frame_rate: Some(29.97),
                    codecs: "avc1.64001f".into(),
                },
                bandwidth: 3_300_000,
                average_bandwidth: 2_900_000,
            }],
            audio: Some(AudioRendition {
                name: "audio".into(),
                language: Some("eng".into()),
                title: None,
                channels: 2,
                codecs: "mp4a.40.2".into(),
            }),
        };
        let m = pkg.master_playlist();
        assert!(m.starts_with("#EXTM3U\n"));
        assert!(m.contains("#EXT-X-INDEPENDENT-SEGMENTS\n"));
        assert!(m.contains("#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"aac\",NAME=\"eng\",LANGUAGE=\"eng\",DEFAULT=YES,AUTOSELECT=YES,CHANNELS=\"2\",URI=\"audio/index.m3u8\"\n"));
        assert!(m.contains("#EXT-X-STREAM-INF:BANDWIDTH=3300000,AVERAGE-BANDWIDTH=2900000,CODECS=\"avc1.64001f,mp4a.40.2\",RESOLUTION=1280x720,FRAME-RATE=29.970,AUDIO=\"aac\"\n720p/index.m3u8\n"));
    }

    #[test]
    fn misaligned_renditions_are_an_error() {
        let a = [seg(6.0), seg(4.0)];
        let b = [seg(6.0), seg(3.0), seg(1.0)];
        assert!(check_aligned(&a, &a, "x").is_ok());
        assert!(check_aligned(&a, &b, "x").is_err());
    }
}
