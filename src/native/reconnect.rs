//! The reconnect policy: exponential backoff with jitter. The driver's business, not the core's.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::time::Duration;

/// When to reconnect after a connection is lost. Connections refused for reasons that do not
/// heal by themselves (bad credentials, not authorized) are never retried, whatever this says.
#[derive(Debug, Clone, PartialEq)]
pub struct Reconnect {
    /// Reconnect at all.
    pub enabled: bool,
    /// Delay before the first retry.
    pub initial: Duration,
    /// Largest delay.
    pub max: Duration,
    /// Each failed attempt multiplies the delay by this.
    pub multiplier: f64,
    /// Fraction (0..=1) of each delay that is random: the delay is uniform in
    /// `[d * (1 - jitter), d]`, so many clients cut off at once do not return at once.
    pub jitter: f64,
    /// Give up after this many failed attempts in a row (`None`: never).
    pub max_attempts: Option<u32>,
}

impl Default for Reconnect {
    fn default() -> Self {
        Reconnect {
            enabled: true,
            initial: Duration::from_millis(200),
            max: Duration::from_secs(30),
            multiplier: 2.0,
            jitter: 0.5,
            max_attempts: None,
        }
    }
}

impl Reconnect {
    /// No reconnecting: the first lost connection ends the client.
    pub fn disabled() -> Self {
        Reconnect { enabled: false, ..Reconnect::default() }
    }

    /// The delay before retry number `attempt` (0-based), with jitter drawn from `random` in
    /// `0.0..1.0`.
    pub fn delay(&self, attempt: u32, random: f64) -> Duration {
        let base = self.initial.as_secs_f64() * self.multiplier.max(1.0).powi(attempt.min(64) as i32);
        let base = base.min(self.max.as_secs_f64());
        let jitter = self.jitter.clamp(0.0, 1.0);
        Duration::from_secs_f64(base * (1.0 - jitter * random.clamp(0.0, 1.0)))
    }
}

/// A small random number generator for jitter (xorshift, seeded from std's hasher keys).
#[derive(Debug)]
pub(crate) struct Jitter(u64);

impl Jitter {
    pub fn new() -> Self {
        let mut h = RandomState::new().build_hasher();
        h.write_u64(0x9e37_79b9_7f4a_7c15);
        Jitter(h.finish() | 1)
    }

    /// Uniform in `0.0..1.0`.
    pub fn next(&mut self) -> f64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        (x >> 11) as f64 / (1u64 << 53) as f64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_exponentially_up_to_the_cap() {
        let r = Reconnect { jitter: 0.0, ..Reconnect::default() };
        let d: Vec<u128> = (0..12).map(|a| r.delay(a, 0.5).as_millis()).collect();
        assert_eq!(&d[..4], [200, 400, 800, 1600]);
        assert!(d.windows(2).all(|w| w[0] <= w[1]));
        assert_eq!(d[11], 30_000);
        assert_eq!(r.delay(u32::MAX, 0.0), r.max);
    }

    #[test]
    fn jitter_stays_within_its_fraction() {
        let r = Reconnect::default();
        let mut j = Jitter::new();
        for attempt in 0..20 {
            let full = Reconnect { jitter: 0.0, ..r.clone() }.delay(attempt, 0.0);
            let d = r.delay(attempt, j.next());
            assert!(
                d <= full && d >= full.mul_f64(1.0 - r.jitter) - Duration::from_nanos(1),
                "{d:?} {full:?}"
            );
        }
        let xs: Vec<f64> = (0..1000).map(|_| j.next()).collect();
        assert!(xs.iter().all(|x| (0.0..1.0).contains(x)));
        assert!(xs.iter().any(|x| *x < 0.1) && xs.iter().any(|x| *x > 0.9));
    }
}
