//! Segment boundaries, decided once per package: every video rung is forced to an IDR and
//! every rendition is cut at the first frame or packet at or after each boundary, so all
//! renditions share the same segment timeline.

use ffmpeg_next::Rational;

/// Boundary times as exact rationals (seconds = num / den); the first is the start.
#[derive(Debug, Clone, PartialEq)]
pub struct Boundaries {
    times: Vec<(i128, i128)>,
}

fn exact(pts: i64, tb: Rational) -> (i128, i128) {
    (
        i128::from(pts) * i128::from(tb.numerator()),
        i128::from(tb.denominator()).max(1),
    )
}

fn seconds((num, den): (i128, i128)) -> f64 {
    num as f64 / den as f64
}

impl Boundaries {
    /// Every `segment` seconds from `start_pts` to `duration_s` after it.
    pub fn marks(start_pts: i64, tb: Rational, segment: u32, duration_s: f64) -> Self {
        let (num, den) = exact(start_pts, tb);
        let count = (duration_s / f64::from(segment.max(1))).ceil().max(1.0) as i128;
        let times = (0..count)
            .map(|k| (num + k * i128::from(segment.max(1)) * den, den))
            .collect();
        Self { times }
    }

    /// The source keyframe nearest each `segment`-second mark, so a remuxed source rung can
    /// be cut there; sparse keyframes give longer segments.
    pub fn nearest_keyframes(keys: &[i64], tb: Rational, segment: u32, duration_s: f64) -> Self {
        let mut keys = keys.to_vec();
        keys.sort_unstable();
        keys.dedup();
        let Some(&first) = keys.first() else {
            return Self::marks(0, tb, segment, duration_s);
        };
        let t = |pts: i64| pts as f64 * f64::from(tb);
        let start = t(first);
        let mut chosen = vec![first];
        let mut k = 1;
        loop {
            let mark = start + f64::from(segment) * k as f64;
            if mark >= start + duration_s - 0.5 {
                break;
            }
            let last = *chosen.last().expect("starts with the first keyframe");
            let nearest = keys
                .iter()
                .copied()
                .filter(|&p| p > last)
                .min_by(|a, b| (t(*a) - mark).abs().total_cmp(&(t(*b) - mark).abs()));
            match nearest {
                Some(p) if t(p) < start + duration_s - 0.5 => {
                    chosen.push(p);
                    // On to the next mark this keyframe has not passed.
                    k = (k + 1).max(((t(p) - start) / f64::from(segment)).floor() as i64 + 1);
                }
                _ => break,
            }
        }
        Self {
            times: chosen.into_iter().map(|p| exact(p, tb)).collect(),
        }
    }

    /// True when a timestamp is at or past boundary `index` (false past the last one).
    pub fn reached(&self, index: usize, pts: i64, tb: Rational) -> bool {
        let Some(&(bn, bd)) = self.times.get(index) else {
            return false;
        };
        let (pn, pd) = exact(pts, tb);
        pn * bd >= bn * pd
    }

    /// Boundary times in seconds.
    pub fn seconds(&self) -> Vec<f64> {
        self.times.iter().copied().map(seconds).collect()
    }

    pub fn len(&self) -> usize {
        self.times.len()
    }

    pub fn is_empty(&self) -> bool {
        self.times.is_empty()
    }

    /// Longest segment, counting the tail up to `end_s`: the playlists' target duration.
    pub fn longest(&self, end_s: f64) -> f64 {
        let mut starts: Vec<f64> = self.times.iter().copied().map(seconds).collect();
        starts.push(end_s.max(starts.last().copied().unwrap_or(0.0)));
        starts.windows(2).map(|w| w[1] - w[0]).fold(0.0, f64::max)
    }
}

/// Decides which decoded frames become IDRs: the first frame at or after each boundary.
#[derive(Default)]
pub struct Forcer {
    next: usize,
}

impl Forcer {
    pub fn is_boundary(&mut self, b: &Boundaries, pts: i64, tb: Rational) -> bool {
        let first = self.next == 0;
        let mut hit = false;
        while b.reached(self.next, pts, tb) {
            self.next += 1;
            hit = true;
        }
        if first {
            self.next = self.next.max(1);
        }
        hit || first
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forced(b: &Boundaries, pts: impl Iterator<Item = i64>, tb: Rational) -> Vec<i64> {
        let mut f = Forcer::default();
        pts.filter(|p| f.is_boundary(b, *p, tb)).collect()
    }

    #[test]
    fn marks_force_the_first_frame_after_each_boundary() {
        // 30 fps in a 1/15360 time base starting at 1000, 2 s segments.
        let tb = Rational::new(1, 15360);
        let b = Boundaries::marks(1000, tb, 2, 6.6);
        assert_eq!(b.len(), 4);
        let keys = forced(&b, (0..200).map(|i| 1000 + i * 512), tb);
        assert_eq!(
            keys,
            [1000, 1000 + 60 * 512, 1000 + 120 * 512, 1000 + 180 * 512]
        );
    }

    #[test]
    fn ntsc_rate_takes_the_frame_just_after_the_mark() {
        let tb = Rational::new(1, 30000);
        let b = Boundaries::marks(0, tb, 6, 13.0);
        let keys: Vec<i64> = forced(&b, (0..400).map(|i| i * 1001), tb);
        assert_eq!(keys, [0, 180 * 1001, 360 * 1001]);
    }

    #[test]
    fn nearest_keyframe_to_each_mark() {
        let tb = Rational::new(1, 1000);
        // Keyframes every 2.5 s: nearest to 6 s is 5 s; to 12 s it is 12.5 s.
        let keys: Vec<i64> = (0..8).map(|i| i * 2500).collect();
        let b = Boundaries::nearest_keyframes(&keys, tb, 6, 20.0);
        let times: Vec<f64> = b.times.iter().copied().map(seconds).collect();
        assert_eq!(times, [0.0, 5.0, 12.5, 17.5]);
        assert!((b.longest(20.0) - 7.5).abs() < 1e-9);
    }

    #[test]
    fn sparse_keyframes_make_long_segments() {
        let tb = Rational::new(1, 1000);
        let b = Boundaries::nearest_keyframes(&[0, 20_000], tb, 6, 30.0);
        let times: Vec<f64> = b.times.iter().copied().map(seconds).collect();
        assert_eq!(times, [0.0, 20.0]);
        assert!((b.longest(30.0) - 20.0).abs() < 1e-9);
    }

    #[test]
    fn reached_compares_across_time_bases() {
        let b = Boundaries::marks(0, Rational::new(1, 90000), 6, 12.0);
        assert!(!b.reached(1, 287_999, Rational::new(1, 48000)));
        assert!(b.reached(1, 288_000, Rational::new(1, 48000)));
        assert!(!b.reached(5, i64::MAX / 1_000_000, Rational::new(1, 1)));
    }
}
