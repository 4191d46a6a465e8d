//! What the server is doing now: who streams what (recorded as media segments are served), and
//! the process's CPU and memory. Read by the admin's live view (`GET /api/v1/admin/live`) and
//! by `/metrics`.

use serde::Serialize;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A stream with no segment fetched for this long has ended.
const IDLE: Duration = Duration::from_secs(30);
/// The bit rate is the segments' bytes over this last stretch.
const WINDOW: Duration = Duration::from_secs(30);

/// The streams in progress, by (user, item).
#[derive(Default)]
pub struct Streams(Mutex<HashMap<(String, i64), Stream>>);

struct Stream {
    rendition: String,
    started: Instant,
    bytes: u64,
    /// Segments within [`WINDOW`]: when, and how many bytes.
    recent: VecDeque<(Instant, u64)>,
}

/// A stream as the live view shows it.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Active {
    pub user: String,
    pub item: i64,
    /// The video rendition of the last segment (`source`, `720p`, …; empty while only audio
    /// was fetched).
    pub rendition: String,
    /// Bit rate over the last 30 s, kbit/s.
    pub kbps: u64,
    pub bytes: u64,
    /// Since the first segment.
    pub seconds: u64,
}

impl Streams {
    /// `user` fetched `bytes` of a media segment of `item` in `rendition`.
    pub fn record(&self, user: &str, item: i64, rendition: &str, bytes: u64) {
        let now = Instant::now();
        let mut streams = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let stream = streams
            .entry((user.to_owned(), item))
            .or_insert_with(|| Stream {
                rendition: String::new(),
                started: now,
                bytes: 0,
                recent: VecDeque::new(),
            });
        // The picture's rendition: an audio segment (`audio0`, `audio1_51`) counts its bytes
        // but does not name what is watched.
        if !rendition.starts_with("audio") && stream.rendition != rendition {
            stream.rendition = rendition.to_owned();
        }
        stream.bytes += bytes;
        stream.recent.push_back((now, bytes));
    }

    /// The streams in progress, by user then item; ended ones are forgotten.
    pub fn active(&self) -> Vec<Active> {
        let now = Instant::now();
        let mut streams = self.0.lock().unwrap_or_else(|p| p.into_inner());
        streams.retain(|_, s| {
            s.recent
                .back()
                .is_some_and(|(last, _)| now.duration_since(*last) < IDLE)
        });
        let mut active: Vec<Active> = streams
            .iter_mut()
            .map(|((user, item), s)| {
                while s
                    .recent
                    .front()
                    .is_some_and(|(t, _)| now.duration_since(*t) > WINDOW)
                {
                    s.recent.pop_front();
                }
                let recent: u64 = s.recent.iter().map(|(_, b)| b).sum();
                // Over the window, or since the start when younger (at least a second).
                let span = now
                    .duration_since(s.started)
                    .clamp(Duration::from_secs(1), WINDOW);
                Active {
                    user: user.clone(),
                    item: *item,
                    rendition: s.rendition.clone(),
                    kbps: (recent as f64 * 8.0 / 1000.0 / span.as_secs_f64()).round() as u64,
                    bytes: s.bytes,
                    seconds: now.duration_since(s.started).as_secs(),
                }
            })
            .collect();
        active.sort_by(|a, b| (&a.user, a.item).cmp(&(&b.user, b.item)));
        active
    }
}

/// CPU use and bytes served per second, between one reading and the next.
#[derive(Default)]
pub struct Rates(Mutex<Option<(Instant, f64, u64)>>);

impl Rates {
    /// (CPU %, of one core; bytes/s) since the last call (0 on the first), given the totals now.
    pub fn since_last(&self, cpu_seconds: f64, bytes: u64) -> (f64, f64) {
        let now = Instant::now();
        let mut last = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let rates = match *last {
            Some((then, cpu, served)) if now > then => {
                let dt = now.duration_since(then).as_secs_f64();
                (
                    ((cpu_seconds - cpu) / dt * 100.0).max(0.0),
                    bytes.saturating_sub(served) as f64 / dt,
                )
            }
            _ => (0.0, 0.0),
        };
        *last = Some((now, cpu_seconds, bytes));
        rates
    }
}

/// The item and rendition of a media segment's path (`/hls/{id}/{rendition}/….m4s`), the part
/// of a stream that carries its bytes; `None` for playlists, init segments and anything else.
pub fn segment_of(path: &str) -> Option<(i64, &str)> {
    let rest = path.strip_prefix("/hls/")?;
    let mut parts = rest.split('/');
    let id = parts.next()?.parse().ok()?;
    let folder: Vec<&str> = parts.collect();
    let file = folder.last()?;
    if !file.ends_with(".m4s") || folder.len() < 2 {
        return None;
    }
    // `…/{profile}/{rendition}/seg.m4s` (several profiles) or `…/{rendition}/seg.m4s`.
    Some((id, folder[folder.len() - 2]))
}

/// This process's resources.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Process {
    /// CPU time used since start (user + system), seconds.
    pub cpu_seconds: f64,
    pub rss_bytes: u64,
}

/// Read from /proc (Linux); `None` elsewhere.
pub fn process() -> Option<Process> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command (which may hold spaces) in parentheses: utime is the 14th field
    // of the line, stime the 15th, in USER_HZ ticks (100 a second in Linux's ABI).
    let after = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let rss_kib: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(Process {
        cpu_seconds: ticks / 100.0,
        rss_bytes: rss_kib * 1024,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_name_their_item_and_rendition() {
        assert_eq!(segment_of("/hls/7/720p/seg_00003.m4s"), Some((7, "720p")));
        assert_eq!(
            segment_of("/hls/7/standard/source/seg_00000.m4s"),
            Some((7, "source"))
        );
        for not in [
            "/hls/7/master.m3u8",
            "/hls/7/720p/index.m3u8",
            "/hls/7/720p/init.mp4",
            "/hls/x/720p/seg.m4s",
            "/hls/7/seg.m4s",
            "/api/v1/items",
        ] {
            assert_eq!(segment_of(not), None, "{not}");
        }
    }

    #[test]
    fn streams_add_up_per_user_and_item_and_say_the_last_rendition() {
        let streams = Streams::default();
        streams.record("ann", 1, "360p", 250_000);
        streams.record("ann", 1, "720p", 700_000);
        streams.record("ann", 1, "audio0", 50_000);
        streams.record("bob", 1, "360p", 100_000);
        let active = streams.active();
        assert_eq!(active.len(), 2);
        assert_eq!(
            (
                active[0].user.as_str(),
                active[0].rendition.as_str(),
                active[0].bytes
            ),
            ("ann", "720p", 1_000_000)
        );
        // 1 MB within the first second counts as 1 MB/s at most: 8000 kbit/s.
        assert!(active[0].kbps > 0 && active[0].kbps <= 8000, "{active:?}");
    }

    #[test]
    fn the_process_reads_its_own_cpu_and_memory() {
        let p = process().unwrap();
        assert!(p.rss_bytes > 1 << 20, "{p:?}");
        assert!(p.cpu_seconds >= 0.0);
    }
}
