//! The firmware's wall clock: SNTP once a server answered, the goldfish RTC before.
//!
//! Owns: [`BoardTime`], the [`TimeSource`] the TLS configuration checks certificate validity
//! with (under `TimePolicy::FloorAt(build time)`, so neither clock can take the check before
//! the build).
//!
//! Never: makes up a time. Before the first SNTP answer it says what the RTC says (as the
//! firmware did before it had SNTP; `None` for an RTC nobody set); after it, the answer carried
//! forward by the monotonic clock, whatever the RTC says.

use anchormq::UnixTime;
use anchormq::time::TimeSource;
use anchormq_riscv_virt::GoldfishRtc;
use anchormq_riscv_virt::sntp::SntpClock;

/// SNTP's time once synchronised, else the RTC's.
#[derive(Debug)]
pub struct BoardTime {
    /// The clock the SNTP task sets.
    pub sntp: &'static SntpClock,
    /// The fallback until then.
    pub rtc: &'static GoldfishRtc,
}

impl TimeSource for BoardTime {
    fn now(&self) -> Option<UnixTime> {
        self.sntp.now().or_else(|| self.rtc.now())
    }
}
