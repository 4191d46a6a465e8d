//! Memory that keeps periodic reconciles cheap at scale.
//!
//! [`Applied`]: which objects had all their children applied, for which inputs, so a periodic
//! reconcile (polling a library server's counts) skips re-applying unchanged children; a new
//! spec, a changed profile or the resync period forces a full apply again.
//!
//! [`SpecChanges`]: a filter for watches of other kinds, so a status update (a profile's list
//! of libraries, a library's item counts) does not re-reconcile everything related to it.

use kube::Resource;
use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Fingerprints of fully applied objects, by UID, with a payload (e.g. the worker token).
#[derive(Debug)]
pub struct Applied {
    resync: Duration,
    entries: Mutex<HashMap<String, Entry>>,
}

#[derive(Debug)]
struct Entry {
    fingerprint: String,
    at: Instant,
    payload: String,
}

impl Default for Applied {
    /// Children are re-applied at least every 10 minutes (drift correction).
    fn default() -> Self {
        Self::new(Duration::from_secs(600))
    }
}

impl Applied {
    pub fn new(resync: Duration) -> Self {
        Self {
            resync,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The payload remembered for `uid`, if its children were applied for `fingerprint`
    /// within the resync period.
    pub fn fresh(&self, uid: &str, fingerprint: &str) -> Option<String> {
        let entries = lock(&self.entries);
        let entry = entries.get(uid)?;
        (entry.fingerprint == fingerprint && entry.at.elapsed() < self.resync)
            .then(|| entry.payload.clone())
    }

    /// `uid`'s children were all applied for `fingerprint` just now.
    pub fn remember(&self, uid: &str, fingerprint: String, payload: String) {
        let mut entries = lock(&self.entries);
        // Objects deleted since stop being refreshed: drop them once well past the resync.
        entries.retain(|_, e| e.at.elapsed() < self.resync * 3);
        let entry = Entry {
            fingerprint,
            at: Instant::now(),
            payload,
        };
        entries.insert(uid.to_owned(), entry);
    }

    /// Apply everything again next time (after a failure).
    pub fn forget(&self, uid: &str) {
        lock(&self.entries).remove(uid);
    }
}

/// Passes an object the first time it is seen and whenever its `metadata.generation` (its
/// spec) changed; status-only updates are filtered out.
#[derive(Debug, Default)]
pub struct SpecChanges {
    generations: Mutex<HashMap<String, i64>>,
}

impl SpecChanges {
    pub fn changed<K: Resource>(&self, obj: &K) -> bool {
        let meta = obj.meta();
        let (Some(uid), Some(generation)) = (meta.uid.as_ref(), meta.generation) else {
            return true;
        };
        lock(&self.generations).insert(uid.clone(), generation) != Some(generation)
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock leaves valid data behind.
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing;

    #[test]
    fn applied_is_fresh_for_the_same_fingerprint_until_the_resync() {
        let applied = Applied::new(Duration::from_secs(600));
        assert_eq!(applied.fresh("a", "g1"), None);
        applied.remember("a", "g1".into(), "token".into());
        assert_eq!(applied.fresh("a", "g1").as_deref(), Some("token"));
        assert_eq!(applied.fresh("a", "g2"), None, "new inputs: apply again");
        applied.forget("a");
        assert_eq!(applied.fresh("a", "g1"), None);
        let expired = Applied::new(Duration::ZERO);
        expired.remember("a", "g1".into(), String::new());
        assert_eq!(expired.fresh("a", "g1"), None, "resync period over");
    }

    #[test]
    fn spec_changes_ignore_status_updates() {
        let filter = SpecChanges::default();
        let mut profile = testing::profile("standard", "{}");
        assert!(filter.changed(&profile), "first sight");
        assert!(
            !filter.changed(&profile),
            "same generation: a status update"
        );
        profile.metadata.generation = Some(2);
        assert!(filter.changed(&profile));
        profile.metadata.uid = None;
        assert!(filter.changed(&profile), "unknown objects always pass");
    }
}
