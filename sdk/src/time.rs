//! Time for certificate validity: where it comes from and what to do when there is none.
//!
//! Owns: [`TimeSource`] (the port's clock, which may honestly say "unknown"), [`TimePolicy`]
//! (what verification does with that answer) and [`TimeError`], the refusal it gives (part of
//! [`crate::Error`], re-exported from [`crate::error`]). The security trade-offs of each policy are in
//! [`crate::manual`].
//!
//! Never: reads a clock itself, or skips a validity check silently. The only way to skip validity
//! windows is [`TimePolicy::timeless`], whose argument is a token that only the explicit
//! `dangerous()` step of a configuration hands out.

use core::fmt;

pub use pki_types::UnixTime;

/// The time policy forbids the connection.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TimeError {
    /// `TimePolicy::RequireTime` and the time source has no trusted time.
    NoTrustedTime,
}

impl fmt::Display for TimeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoTrustedTime => f.write_str(
                "no trusted time is available and the time policy is RequireTime, so certificate validity cannot be checked: provide a TimeSource (for example SNTP) or choose TimePolicy::FloorAt with the firmware build time",
            ),
        }
    }
}

/// A clock the port provides: wall-clock time, when the device has a trusted one.
///
/// Returning `None` is normal on a device that has not synchronised yet (no RTC, no SNTP answer).
pub trait TimeSource: Send + Sync {
    /// The current time, or `None` when no trusted time is known.
    fn now(&self) -> Option<UnixTime>;
}

/// A time source that never knows the time: what a device without an RTC has before SNTP.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoClock;

impl TimeSource for NoClock {
    fn now(&self) -> Option<UnixTime> {
        None
    }
}

/// A time source fixed at one instant (tests, and devices that set a time once from a trusted
/// message).
#[derive(Debug, Clone, Copy)]
pub struct FixedTime(pub UnixTime);

impl TimeSource for FixedTime {
    fn now(&self) -> Option<UnixTime> {
        Some(self.0)
    }
}

/// What certificate verification does with the time source's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TimePolicy {
    /// The default: check validity windows against the source's time and refuse to connect with
    /// [`TimeError::NoTrustedTime`] when it has none.
    #[default]
    RequireTime,
    /// Use `max(source, floor)`, or the floor alone when the source has no time. The floor is
    /// typically the firmware build time: a certificate that expired before the firmware was
    /// built is still refused, while a device without a clock can still connect.
    FloorAt(UnixTime),
    /// Skip validity windows entirely and keep every other check. Reached only through
    /// [`TimePolicy::timeless`], which takes a token from the explicit `dangerous()` step.
    Timeless(TimelessAcknowledged),
}

/// Proof that the caller chose to skip validity windows on purpose; only
/// `tls::DangerousConfig::timeless` builds it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct TimelessAcknowledged(());

impl TimelessAcknowledged {
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) const fn new() -> Self {
        Self(())
    }
}

impl fmt::Debug for TimelessAcknowledged {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TimelessAcknowledged")
    }
}

/// Where the time used for a validity check came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TimeBasis {
    /// The time source's own time.
    Source,
    /// The policy's floor, because the source had none or was earlier.
    Floor {
        /// Whether the source had any time at all.
        source_known: bool,
    },
    /// The timeless policy: validity windows were not checked against any clock.
    Timeless,
}

/// The outcome of applying a policy to a source: the instant to check validity windows at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValidityTime {
    /// Check validity at `time`.
    At {
        /// The instant.
        time: UnixTime,
        /// Where it came from.
        basis: TimeBasis,
    },
    /// Do not check validity windows (timeless policy).
    Skip,
}

impl TimePolicy {
    /// The timeless policy. The token comes only from a configuration's `dangerous()` step.
    pub const fn timeless(token: TimelessAcknowledged) -> Self {
        Self::Timeless(token)
    }

    /// **Dangerous: certificates are accepted whatever their validity dates.** The same policy
    /// `TlsConfigBuilder::dangerous().skip_validity_windows()` sets, for code that describes
    /// security with a [`crate::tls::SecurityProfile`]. See the manual's "Time" chapter.
    pub const fn dangerous_timeless() -> Self {
        Self::Timeless(TimelessAcknowledged::new())
    }

    /// Apply the policy to what the source says.
    ///
    /// # Errors
    /// [`TimeError::NoTrustedTime`] under `RequireTime` when `source` is `None`.
    pub fn decide(&self, source: Option<UnixTime>) -> Result<ValidityTime, TimeError> {
        match (*self, source) {
            (Self::RequireTime, Some(time)) => Ok(ValidityTime::At { time, basis: TimeBasis::Source }),
            (Self::RequireTime, None) => Err(TimeError::NoTrustedTime),
            (Self::FloorAt(floor), Some(time)) if time.as_secs() >= floor.as_secs() => {
                Ok(ValidityTime::At { time, basis: TimeBasis::Source })
            }
            (Self::FloorAt(floor), known) => Ok(ValidityTime::At {
                time: floor,
                basis: TimeBasis::Floor { source_known: known.is_some() },
            }),
            (Self::Timeless(_), _) => Ok(ValidityTime::Skip),
        }
    }

    /// The time rustls itself should use for bookkeeping (ticket ages), or `None` when the policy
    /// allows no time at all.
    #[cfg_attr(not(feature = "rustls"), allow(dead_code))]
    pub(crate) fn engine_time(&self, source: Option<UnixTime>) -> Option<UnixTime> {
        match self.decide(source) {
            Ok(ValidityTime::At { time, .. }) => Some(time),
            // Ticket ages only need a consistent clock; the epoch is consistent.
            Ok(ValidityTime::Skip) => {
                Some(source.unwrap_or(UnixTime::since_unix_epoch(core::time::Duration::ZERO)))
            }
            Err(_) => None,
        }
    }
}

impl fmt::Display for TimeBasis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Source => f.write_str("from the device's time source"),
            Self::Floor { source_known: false } => {
                f.write_str("the policy's floor, because no trusted time is available")
            }
            Self::Floor { source_known: true } => {
                f.write_str("the policy's floor, because the device's clock was earlier")
            }
            Self::Timeless => f.write_str("timeless policy"),
        }
    }
}

/// Formats a Unix time as an RFC 3339 UTC timestamp (`2027-01-01T00:00:00Z`).
pub fn fmt_unix(t: UnixTime) -> impl fmt::Display {
    Rfc3339(t.as_secs())
}

struct Rfc3339(u64);

impl fmt::Display for Rfc3339 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let days = self.0 / 86_400;
        let secs = self.0 % 86_400;
        let (y, m, d) = civil_from_days(days);
        write!(f, "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z", secs / 3600, (secs % 3600) / 60, secs % 60)
    }
}

/// Converts days since 1970-01-01 to a proleptic Gregorian (year, month, day).
///
/// Works in 400-year eras of 146 097 days; every operation is on values bounded by the era.
#[allow(clippy::arithmetic_side_effects)] // bounded: days < u64::MAX / 86_400, eras and offsets small
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    // Shift the epoch to 0000-03-01 so leap days fall at the end of a year.
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::string::ToString;
    use core::time::Duration;

    fn t(secs: u64) -> UnixTime {
        UnixTime::since_unix_epoch(Duration::from_secs(secs))
    }

    #[test]
    fn require_time_refuses_unknown_time() {
        assert_eq!(TimePolicy::RequireTime.decide(None), Err(TimeError::NoTrustedTime));
        assert_eq!(
            TimePolicy::RequireTime.decide(Some(t(5))),
            Ok(ValidityTime::At { time: t(5), basis: TimeBasis::Source })
        );
        assert_eq!(TimePolicy::default(), TimePolicy::RequireTime);
    }

    #[test]
    fn floor_takes_the_later_time_and_says_which() {
        let p = TimePolicy::FloorAt(t(1000));
        assert_eq!(
            p.decide(None),
            Ok(ValidityTime::At { time: t(1000), basis: TimeBasis::Floor { source_known: false } })
        );
        assert_eq!(
            p.decide(Some(t(10))),
            Ok(ValidityTime::At { time: t(1000), basis: TimeBasis::Floor { source_known: true } })
        );
        assert_eq!(p.decide(Some(t(2000))), Ok(ValidityTime::At { time: t(2000), basis: TimeBasis::Source }));
    }

    #[test]
    fn timeless_skips_and_gives_the_engine_a_consistent_clock() {
        let p = TimePolicy::timeless(TimelessAcknowledged::new());
        assert_eq!(p.decide(None), Ok(ValidityTime::Skip));
        assert_eq!(p.engine_time(None), Some(t(0)));
        assert_eq!(TimePolicy::RequireTime.engine_time(None), None);
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(fmt_unix(t(0)).to_string(), "1970-01-01T00:00:00Z");
        assert_eq!(fmt_unix(t(1_798_761_600)).to_string(), "2027-01-01T00:00:00Z");
        assert_eq!(fmt_unix(t(951_782_400)).to_string(), "2000-02-29T00:00:00Z");
        assert_eq!(fmt_unix(t(4_102_444_799)).to_string(), "2099-12-31T23:59:59Z");
    }
}
