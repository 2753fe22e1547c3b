//! Wall-clock time from the goldfish RTC at `0x10_1000`.
//!
//! Owns: [`GoldfishRtc`].
//!
//! Never: invents a time: a reading of zero (an RTC nobody set) is `None`, so the TLS
//! configuration's time policy decides, as it would on a device that lost its battery.
//!
//! The device counts nanoseconds since 1970 in a 64-bit register read as two halves: reading
//! `TIME_LOW` latches the high half into `TIME_HIGH`, so low is read first (Android emulator's
//! goldfish RTC specification; QEMU `hw/rtc/goldfish_rtc.c`). QEMU seeds it from the host's
//! clock (`-rtc base=utc`, the default) and it runs on the host's clock whatever `-icount` says.

use anchormq::UnixTime;
use anchormq::time::TimeSource;

const BASE: usize = 0x0010_1000;
const TIME_LOW: usize = BASE;
const TIME_HIGH: usize = BASE + 4;

/// The goldfish RTC as anchormq's [`TimeSource`]. Zero-sized: use it as `&'static`.
#[derive(Debug, Clone, Copy, Default)]
pub struct GoldfishRtc;

impl GoldfishRtc {
    /// Nanoseconds since 1970 as the RTC counts them.
    pub fn nanos(&self) -> u64 {
        // SAFETY: the two registers are the RTC's, 32-bit MMIO, always mapped on the virt
        // board; reading them changes nothing but the latch described above.
        #[allow(unsafe_code)]
        let (low, high) = unsafe {
            let low = core::ptr::read_volatile(TIME_LOW as *const u32);
            (low, core::ptr::read_volatile(TIME_HIGH as *const u32))
        };
        u64::from(high) << 32 | u64::from(low)
    }
}

impl TimeSource for GoldfishRtc {
    fn now(&self) -> Option<UnixTime> {
        match self.nanos() {
            0 => None,
            nanos => Some(UnixTime::since_unix_epoch(core::time::Duration::from_nanos(nanos))),
        }
    }
}
