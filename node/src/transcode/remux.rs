//! The side pass: a second reader over the source that remuxes the source rung and encodes
//! every audio and subtitle rendition. It runs beside the video decode and at I/O speed, so
//! a browser-safe source is playable as soon as its first segment is cut.

use super::audio;
use super::boundaries::Boundaries;
use super::plan::Plan;
use super::segment::{Cut, Segmenter};
use super::subtitle;
use super::{Error, Source};
use crate::hls::{self, Live};
use ffmpeg_next as ff;
use manofwar_crds::TranscodeProfileSpec;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Name of the remuxed source rung's folder.
pub const SOURCE: &str = "source";
const MULTICHANNEL_KBPS: u32 = 384;

pub fn run(
    input: Source,
    plan: &Plan,
    live: &Arc<Live>,
    profile: &TranscodeProfileSpec,
    stop: &AtomicBool,
) -> Result<(), Error> {
    let mut ictx = input.open()?;
    let boundaries = &plan.boundaries;
    let mut source = match &plan.source {
        Some(src) => Some(open_source(&ictx, plan, src, live, boundaries)?),
        None => None,
    };
    let mut audio: Vec<(usize, audio::Chain)> = Vec::new();
    for (k, &index) in plan.audio.iter().enumerate() {
        let stream = ictx.stream(index).expect("planned stream exists");
        let name = format!("audio{k}");
        audio.push((
            index,
            audio::Chain::new(
                &stream,
                live,
                &name,
                2,
                profile.audio_bitrate_kbps,
                boundaries,
            )?,
        ));
        if crate::ffi::channels(&stream.parameters()) >= 6 {
            let name = format!("audio{k}_51");
            audio.push((
                index,
                audio::Chain::new(&stream, live, &name, 6, MULTICHANNEL_KBPS, boundaries)?,
            ));
        }
    }
    let mut subs = plan
        .subtitles
        .iter()
        .enumerate()
        .map(|(k, &index)| {
            subtitle::Chain::new(
                &ictx.stream(index).expect("planned stream exists"),
                format!("sub{k}"),
            )
        })
        .collect::<Result<Vec<_>, _>>()?;

    let source_index = plan.source.as_ref().map(|_| plan.video_index);
    let mut video_end = 0.0_f64;
    for (stream, packet) in ictx.packets() {
        if stop.load(Ordering::Relaxed) {
            return Err(Error::Cancelled("the video pass stopped".into()));
        }
        let index = stream.index();
        if Some(index) == source_index
            && let Some(seg) = source.as_mut()
        {
            video_end = video_end.max(packet_end(&packet, stream.time_base()));
            seg.write(packet)?;
        } else if let Some(sub) = subs.iter_mut().find(|s| s.index == index) {
            sub.push(&packet);
        } else {
            for (_, chain) in audio.iter_mut().filter(|(i, _)| *i == index) {
                chain.push(&packet)?;
            }
        }
    }
    if let Some(seg) = source {
        seg.finish(video_end)?;
    }
    for (_, chain) in audio {
        chain.finish()?;
    }
    let end = plan.duration_s + plan.start_s;
    let mut n = subs.len();
    for sub in subs {
        subtitle::write(live, sub.rendition, &sub.cues, boundaries, end)?;
    }
    let sidecars = if input.is_local() {
        subtitle::sidecars(input.location)
    } else {
        Vec::new()
    };
    for (path, language) in sidecars {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let cues = subtitle::parse_cues(&subtitle::decode_text(&bytes));
        let offset = plan.start_s;
        let cues: Vec<_> = cues
            .into_iter()
            .map(|c| subtitle::Cue {
                start: c.start + offset,
                end: c.end + offset,
                text: c.text,
            })
            .collect();
        let file = path.file_name().map(|f| f.to_string_lossy().into_owned());
        let rendition = hls::SubtitleRendition {
            name: format!("sub{n}"),
            // Named by its language in the player; by its file when it has none.
            title: if language.is_none() {
                file.clone()
            } else {
                None
            },
            language,
            file,
            default: false,
            forced: path.to_string_lossy().contains(".forced."),
        };
        n += 1;
        subtitle::write(live, rendition, &cues, boundaries, end)?;
    }
    Ok(())
}

/// End time (pts + duration) of a packet, in seconds.
pub fn packet_end(packet: &ff::Packet, tb: ff::Rational) -> f64 {
    let pts = packet.pts().or(packet.dts()).unwrap_or(0);
    (pts + packet.duration().max(0)) as f64 * f64::from(tb)
}

fn open_source(
    ictx: &ff::format::context::Input,
    plan: &Plan,
    src: &super::plan::SourceRung,
    live: &Arc<Live>,
    boundaries: &Arc<Boundaries>,
) -> Result<Segmenter, Error> {
    let stream = ictx
        .stream(plan.video_index)
        .expect("planned stream exists");
    let seg = Segmenter::create(
        Arc::clone(live),
        SOURCE,
        stream.parameters(),
        stream.time_base(),
        Cut::Keyframe,
        Arc::clone(boundaries),
        None,
    )?;
    live.register(hls::Kind::Video(hls::Rendition {
        name: SOURCE.to_owned(),
        width: src.width,
        height: src.height,
        frame_rate: src.frame_rate,
        codecs: src.codecs.clone(),
        source: true,
    }));
    Ok(seg)
}
