//! The core's time type: a point in time as the [`Duration`] since an origin its driver chose.
//!
//! The core never reads a clock (see `clippy.toml`); it only compares and offsets the instants
//! its driver passes in. Each driver picks an origin once and reads its own clock: the native
//! driver a process-wide `std::time::Instant`, the browser drivers `performance.now()`. Instants
//! from different origins must not be mixed, which a driver owning one client never does.
//!
//! Arithmetic saturates instead of panicking (a panic in wasm kills every client of the page):
//! an instant never goes below the origin nor past `Duration::MAX`.

use core::ops::{Add, AddAssign, Sub, SubAssign};
use core::time::Duration;

/// A point in time: the [`Duration`] since the driver's origin.
///
/// Each driver picks the origin once and reads its own clock: the native driver the time since
/// a process-wide `std::time::Instant`, the browser drivers `performance.now()` (milliseconds,
/// [`Instant::from_millis_f64`]). Arithmetic saturates rather than panics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Instant(Duration);

impl Instant {
    /// The origin itself.
    pub const ZERO: Instant = Instant(Duration::ZERO);

    /// The instant `since_origin` after the origin.
    pub const fn from_duration(since_origin: Duration) -> Instant {
        Instant(since_origin)
    }

    /// The time since the origin.
    pub const fn as_duration(self) -> Duration {
        self.0
    }

    /// The instant `ms` milliseconds after the origin (`performance.now()`'s unit). Negative
    /// and NaN read as the origin; larger than `u64::MAX` milliseconds (about 584 million years)
    /// reads as `u64::MAX` milliseconds.
    pub fn from_millis_f64(ms: f64) -> Instant {
        // NaN is not greater than zero either. The casts saturate.
        if ms.is_nan() || ms <= 0.0 {
            return Instant::ZERO;
        }
        let whole = ms as u64;
        // Past u64::MAX milliseconds the cast saturated and the fraction means nothing.
        let frac = ms - whole as f64;
        let nanos = if frac < 1.0 { (frac * 1e6) as u64 } else { 0 };
        Instant(Duration::from_millis(whole).saturating_add(Duration::from_nanos(nanos)))
    }

    /// The time since the origin in milliseconds.
    pub fn as_millis_f64(self) -> f64 {
        self.0.as_secs() as f64 * 1e3 + self.0.subsec_nanos() as f64 / 1e6
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later (as std's `Instant` does).
    pub fn duration_since(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }

    /// The time from `earlier` to `self`, zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Instant) -> Duration {
        self.0.saturating_sub(earlier.0)
    }

    /// The time from `earlier` to `self`, `None` if `earlier` is later.
    pub fn checked_duration_since(self, earlier: Instant) -> Option<Duration> {
        self.0.checked_sub(earlier.0)
    }

    /// `self + d`, `None` past the largest `Duration`.
    pub fn checked_add(self, d: Duration) -> Option<Instant> {
        self.0.checked_add(d).map(Instant)
    }

    /// `self - d`, `None` before the origin.
    pub fn checked_sub(self, d: Duration) -> Option<Instant> {
        self.0.checked_sub(d).map(Instant)
    }
}

impl Add<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the largest `Duration`.
    fn add(self, d: Duration) -> Instant {
        Instant(self.0.saturating_add(d))
    }
}

impl AddAssign<Duration> for Instant {
    fn add_assign(&mut self, d: Duration) {
        *self = *self + d;
    }
}

impl Sub<Duration> for Instant {
    type Output = Instant;
    /// Saturates at the origin.
    fn sub(self, d: Duration) -> Instant {
        Instant(self.0.saturating_sub(d))
    }
}

impl SubAssign<Duration> for Instant {
    fn sub_assign(&mut self, d: Duration) {
        *self = *self - d;
    }
}

impl Sub<Instant> for Instant {
    type Output = Duration;
    /// Saturates at zero.
    fn sub(self, earlier: Instant) -> Duration {
        self.saturating_duration_since(earlier)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        let t = Instant::from_duration(Duration::from_secs(5));
        assert_eq!(t + Duration::from_secs(2), Instant::from_duration(Duration::from_secs(7)));
        assert_eq!(t - Duration::from_secs(9), Instant::ZERO);
        assert_eq!(t - (t + Duration::from_secs(1)), Duration::ZERO);
        assert_eq!((t + Duration::from_secs(1)) - t, Duration::from_secs(1));
        assert_eq!(t + Duration::MAX, Instant::from_duration(Duration::MAX));
        assert_eq!(t.checked_add(Duration::MAX), None);
        assert_eq!(t.checked_sub(Duration::from_secs(6)), None);
        assert_eq!(t.checked_duration_since(t + Duration::from_nanos(1)), None);
        assert_eq!(t.duration_since(Instant::ZERO), Duration::from_secs(5));
    }

    #[test]
    fn milliseconds_round_trip() {
        for ms in [0.0, 0.001, 1.5, 999.999, 1234.5678, 86_400_000.25, 1e15] {
            let t = Instant::from_millis_f64(ms);
            assert!((t.as_millis_f64() - ms).abs() <= ms * 1e-12 + 1e-6, "{ms}");
        }
        assert_eq!(Instant::from_millis_f64(1500.0).as_duration(), Duration::from_millis(1500));
        assert_eq!(Instant::from_millis_f64(-5.0), Instant::ZERO);
        assert_eq!(Instant::from_millis_f64(f64::NAN), Instant::ZERO);
        let inf = Instant::from_millis_f64(f64::INFINITY);
        assert_eq!(inf.as_duration(), Duration::from_millis(u64::MAX));
    }
}
