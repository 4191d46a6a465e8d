//! Which rungs of a profile's ladder a source gets, and their exact sizes.

use ffmpeg_next::Rational;
use manofwar_crds::{Codec, Rendition};

/// One rung to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
    pub codec: Codec,
}

/// Rungs no bigger than the source (never upscale), sized to the source's display aspect
/// ratio with even dimensions. A rung's height is the short side, so portrait video gets the
/// same ladder turned sideways. A source smaller than every rung gets one rung of its own size.
pub fn plan(width: u32, height: u32, sar: Rational, renditions: &[Rendition]) -> Vec<Rung> {
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
        f64::from(sar)
    } else {
        1.0
    };
    let display_w = f64::from(width) * sar;
    let display_h = f64::from(height.max(1));
    let portrait = display_h > display_w;
    let short = display_w.min(display_h);
    let rung = |name: &str, side: f64, kbps: u32, codec: Codec| {
        let (w, h) = if portrait {
            (side, side * display_h / display_w)
        } else {
            (side * display_w / display_h, side)
        };
        Rung {
            name: name.to_owned(),
            width: even(w).max(2),
            height: even(h).max(2),
            bitrate_kbps: kbps,
            codec,
        }
    };
    let mut rungs: Vec<Rung> = renditions
        .iter()
        .filter(|r| f64::from(r.height) <= short.round())
        .map(|r| rung(&r.name, f64::from(r.height), r.video_bitrate_kbps, r.codec))
        .collect();
    if rungs.is_empty() {
        let lowest = renditions.iter().min_by_key(|r| r.video_bitrate_kbps);
        let kbps = lowest.map_or(730, |r| r.video_bitrate_kbps);
        let codec = lowest.map_or(Codec::H264, |r| r.codec);
        let name = format!("{}p", even(short));
        rungs.push(rung(&name, short, kbps, codec));
    }
    rungs
}

fn even(x: f64) -> u32 {
    ((x / 2.0).round() as u32) * 2
}

#[cfg(test)]
mod tests {
    use super::*;
    use manofwar_crds::TranscodeProfileSpec;

    fn heights(w: u32, h: u32) -> Vec<(u32, u32)> {
        let spec = TranscodeProfileSpec::default();
        plan(w, h, Rational::new(1, 1), &spec.renditions)
            .into_iter()
            .map(|r| (r.width, r.height))
            .collect()
    }

    #[test]
    fn full_hd_gets_the_whole_ladder() {
        assert_eq!(
            heights(1920, 1080),
            [(1920, 1080), (1280, 720), (960, 540), (640, 360)]
        );
    }

    #[test]
    fn never_upscales() {
        assert_eq!(heights(1280, 720), [(1280, 720), (960, 540), (640, 360)]);
    }

    #[test]
    fn tiny_source_gets_its_own_height_and_even_sizes() {
        assert_eq!(heights(176, 144), [(176, 144)]);
        assert_eq!(heights(1279, 719), [(960, 540), (640, 360)]);
    }

    #[test]
    fn portrait_video_gets_the_ladder_sideways() {
        assert_eq!(
            heights(1080, 1920),
            [(1080, 1920), (720, 1280), (540, 960), (360, 640)]
        );
    }

    #[test]
    fn anamorphic_source_uses_display_aspect() {
        let spec = TranscodeProfileSpec::default();
        let rungs = plan(720, 576, Rational::new(16, 11), &spec.renditions);
        assert_eq!((rungs[0].width, rungs[0].height), (982, 540));
    }
}
