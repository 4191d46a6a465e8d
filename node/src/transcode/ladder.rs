//! Which rungs of a profile's ladder a source gets, and their exact sizes.

use ffmpeg_next::Rational;
use manofwar_crds::Rendition;

/// One rung to encode.
#[derive(Debug, Clone, PartialEq)]
pub struct Rung {
    pub name: String,
    pub width: u32,
    pub height: u32,
    pub bitrate_kbps: u32,
}

/// Rungs no taller than the source (never upscale), sized to the source's display aspect ratio
/// with even dimensions. A source smaller than every rung gets one rung at its own height.
pub fn plan(width: u32, height: u32, sar: Rational, renditions: &[Rendition]) -> Vec<Rung> {
    let sar = if sar.numerator() > 0 && sar.denominator() > 0 {
        f64::from(sar)
    } else {
        1.0
    };
    let aspect = f64::from(width) * sar / f64::from(height.max(1));
    let rung = |name: &str, h: u32, kbps: u32| {
        let h = even(f64::from(h));
        Rung {
            name: name.to_owned(),
            width: even(f64::from(h) * aspect).max(2),
            height: h.max(2),
            bitrate_kbps: kbps,
        }
    };
    let mut rungs: Vec<Rung> = renditions
        .iter()
        .filter(|r| r.height <= height)
        .map(|r| rung(&r.name, r.height, r.video_bitrate_kbps))
        .collect();
    if rungs.is_empty() {
        let kbps = renditions
            .iter()
            .map(|r| r.video_bitrate_kbps)
            .min()
            .unwrap_or(730);
        rungs.push(rung(&format!("{}p", even(f64::from(height))), height, kbps));
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
    fn anamorphic_source_uses_display_aspect() {
        let spec = TranscodeProfileSpec::default();
        let rungs = plan(720, 576, Rational::new(16, 11), &spec.renditions);
        assert_eq!((rungs[0].width, rungs[0].height), (982, 540));
    }
}
