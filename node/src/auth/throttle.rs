//! The login throttle: token buckets per client address (every attempt) and per account
//! (failures only). A throttled attempt is answered 429 before any password is hashed, and an
//! account is never locked: its bucket refills on its own.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Attempts an address may make at once, and how fast they come back.
const PER_ADDRESS: Bucket = Bucket::new(10.0, 1.0 / 3.0);
/// Failures an account may see at once, and how fast they come back.
const PER_ACCOUNT: Bucket = Bucket::new(5.0, 1.0 / 30.0);
/// Beyond this many tracked keys, full (idle) buckets are forgotten.
const MAX_KEYS: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Bucket {
    capacity: f64,
    per_second: f64,
}

impl Bucket {
    const fn new(capacity: f64, per_second: f64) -> Self {
        Self {
            capacity,
            per_second,
        }
    }
}

/// Too many attempts: try again after this long.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Throttled(pub Duration);

#[derive(Default)]
pub struct Throttle {
    levels: Mutex<HashMap<Key, (f64, Instant)>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Address(IpAddr),
    Account(String),
}

impl Throttle {
    /// Take one attempt from the address's bucket; refuse when it or the account's is empty.
    pub fn check(&self, address: IpAddr, account: &str) -> Result<(), Throttled> {
        self.check_at(address, account, Instant::now())
    }

    fn check_at(&self, address: IpAddr, account: &str, now: Instant) -> Result<(), Throttled> {
        let mut levels = self.levels.lock().unwrap_or_else(|p| p.into_inner());
        if levels.len() > MAX_KEYS {
            levels
                .retain(|k, (level, at)| refill(bucket(k), *level, *at, now) < bucket(k).capacity);
        }
        let account_key = Key::Account(account.to_lowercase());
        let account_level = current(&levels, &account_key, now);
        if account_level < 1.0 {
            return Err(wait(PER_ACCOUNT, account_level));
        }
        let address_key = Key::Address(address);
        let address_level = current(&levels, &address_key, now);
        if address_level < 1.0 {
            return Err(wait(PER_ADDRESS, address_level));
        }
        levels.insert(address_key, (address_level - 1.0, now));
        Ok(())
    }

    pub fn failed(&self, _address: IpAddr, account: &str) {
        let now = Instant::now();
        let mut levels = self.levels.lock().unwrap_or_else(|p| p.into_inner());
        let key = Key::Account(account.to_lowercase());
        let level = current(&levels, &key, now);
        levels.insert(key, ((level - 1.0).max(0.0), now));
    }

    pub fn succeeded(&self, account: &str) {
        let mut levels = self.levels.lock().unwrap_or_else(|p| p.into_inner());
        levels.remove(&Key::Account(account.to_lowercase()));
    }
}

fn bucket(key: &Key) -> Bucket {
    match key {
        Key::Address(_) => PER_ADDRESS,
        Key::Account(_) => PER_ACCOUNT,
    }
}

fn current(levels: &HashMap<Key, (f64, Instant)>, key: &Key, now: Instant) -> f64 {
    match levels.get(key) {
        Some(&(level, at)) => refill(bucket(key), level, at, now),
        None => bucket(key).capacity,
    }
}

fn refill(bucket: Bucket, level: f64, at: Instant, now: Instant) -> f64 {
    let elapsed = now.saturating_duration_since(at).as_secs_f64();
    (level + elapsed * bucket.per_second).min(bucket.capacity)
}

fn wait(bucket: Bucket, level: f64) -> Throttled {
    Throttled(Duration::from_secs_f64(
        ((1.0 - level) / bucket.per_second).max(1.0),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 1));
    const OTHER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(198, 18, 0, 2));

    #[test]
    fn an_address_gets_ten_attempts_then_waits_and_gets_more() {
        let throttle = Throttle::default();
        let t0 = Instant::now();
        for n in 0..10 {
            assert_eq!(throttle.check_at(HOME, &format!("u{n}"), t0), Ok(()));
        }
        let Err(Throttled(wait)) = throttle.check_at(HOME, "u", t0) else {
            panic!("the 11th attempt is throttled");
        };
        assert!(wait >= Duration::from_secs(1), "{wait:?}");
        assert_eq!(
            throttle.check_at(OTHER, "u", t0),
            Ok(()),
            "other addresses go on"
        );
        assert_eq!(
            throttle.check_at(HOME, "u", t0 + Duration::from_secs(3)),
            Ok(())
        );
    }

    #[test]
    fn failures_throttle_the_account_from_every_address_and_success_resets_it() {
        let throttle = Throttle::default();
        for _ in 0..5 {
            throttle.failed(HOME, "Alice");
        }
        assert!(
            throttle.check(OTHER, "alice").is_err(),
            "the account is throttled"
        );
        assert_eq!(
            throttle.check(OTHER, "bob"),
            Ok(()),
            "other accounts are not"
        );
        throttle.succeeded("alice");
        assert_eq!(throttle.check(OTHER, "alice"), Ok(()));
    }
}
