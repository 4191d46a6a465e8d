//! Per-object exponential backoff: kube-runtime retries a failed reconcile after whatever delay
//! the error policy returns, so the failure count per object (by UID) is kept here.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Failure counts by object UID, and the delays they map to: `base · 2^(failures-1)`, capped.
#[derive(Debug)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: Mutex<HashMap<String, u32>>,
}

impl Default for Backoff {
    /// 5 s after the first failure, doubling up to 5 minutes.
    fn default() -> Self {
        Self::new(Duration::from_secs(5), Duration::from_secs(300))
    }
}

impl Backoff {
    pub fn new(base: Duration, max: Duration) -> Self {
        Self {
            base,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// Record one more failure of `uid` and return how long to wait before retrying.
    pub fn next_delay(&self, uid: &str) -> Duration {
        let mut failures = self.lock();
        let count = failures.entry(uid.to_owned()).or_insert(0);
        *count = count.saturating_add(1);
        let factor = 2u32.saturating_pow(count.saturating_sub(1).min(31));
        self.base.saturating_mul(factor).min(self.max)
    }

    /// `uid` reconciled: its next failure starts from the base delay again.
    pub fn reset(&self, uid: &str) {
        self.lock().remove(uid);
    }

    /// Objects with failures on record.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, u32>> {
        // A panic while holding this lock leaves a valid map behind.
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_per_object_up_to_the_cap_and_resets() {
        let backoff = Backoff::new(Duration::from_secs(5), Duration::from_secs(60));
        let delays: Vec<u64> = (0..6).map(|_| backoff.next_delay("a").as_secs()).collect();
        assert_eq!(delays, [5, 10, 20, 40, 60, 60]);
        assert_eq!(backoff.next_delay("b").as_secs(), 5, "per object");
        backoff.reset("a");
        assert_eq!(backoff.next_delay("a").as_secs(), 5);
        backoff.reset("a");
        backoff.reset("b");
        assert_eq!(backoff.tracked(), 0);
    }

    #[test]
    fn many_failures_do_not_overflow() {
        let backoff = Backoff::default();
        for _ in 0..100 {
            backoff.next_delay("x");
        }
        assert_eq!(backoff.next_delay("x"), Duration::from_secs(300));
    }
}
