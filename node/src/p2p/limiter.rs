//! Token buckets for bandwidth: per peer and global, up and down, changeable at run time.

use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A token bucket in bytes per second; 0 means unlimited. Callers wait for their bytes; the
/// bucket holds one second's worth so a burst does not exceed the rate for long.
pub struct Limiter(Mutex<Bucket>);

struct Bucket {
    rate: f64,
    /// May go negative: the debt of reservations made ahead of time.
    tokens: f64,
    at: Instant,
}

impl Limiter {
    pub fn new(kbps: Option<u32>) -> Self {
        let rate = rate_of(kbps);
        Self(Mutex::new(Bucket {
            rate,
            tokens: rate,
            at: Instant::now(),
        }))
    }

    pub fn set(&self, kbps: Option<u32>) {
        let mut bucket = self.0.lock().expect("limiter lock");
        bucket.rate = rate_of(kbps);
        bucket.tokens = bucket.tokens.min(bucket.rate);
    }

    pub fn kbps(&self) -> Option<u32> {
        let rate = self.0.lock().expect("limiter lock").rate;
        (rate > 0.0).then(|| (rate * 8.0 / 1000.0).round() as u32)
    }

    /// Reserve `bytes`; the wait before they may be sent.
    pub fn reserve(&self, bytes: usize) -> Duration {
        let mut bucket = self.0.lock().expect("limiter lock");
        if bucket.rate <= 0.0 {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let elapsed = now.duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * bucket.rate).min(bucket.rate);
        bucket.at = now;
        bucket.tokens -= bytes as f64;
        if bucket.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-bucket.tokens / bucket.rate)
        }
    }
}

fn rate_of(kbps: Option<u32>) -> f64 {
    kbps.map_or(0.0, |k| f64::from(k) * 1000.0 / 8.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_lets_a_second_through_then_makes_callers_wait() {
        let limit = Limiter::new(Some(800)); // 100 kB/s
        assert_eq!(limit.reserve(100_000), Duration::ZERO);
        let wait = limit.reserve(50_000);
        assert!(
            wait > Duration::from_millis(450) && wait <= Duration::from_millis(500),
            "{wait:?}"
        );
        assert_eq!(limit.kbps(), Some(800));
        limit.set(None);
        assert_eq!(limit.reserve(1 << 30), Duration::ZERO);
        assert_eq!(limit.kbps(), None);
    }
}
