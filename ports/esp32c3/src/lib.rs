//! anchormq on the ESP32-C3: the port a firmware built on esp-hal, esp-radio and embassy-net
//! plugs into the SDK.
//!
//! Owns: [`TrngEntropy`] (the chip's true random number generator as [`anchormq::crypto::Entropy`]),
//! [`sntp`] (the shared SNTP client `anchormq-sntp` over embassy-net UDP; its
//! [`SntpClock`] is the firmware's [`anchormq::time::TimeSource`]), [`EmbeddedDialer`] (the MQTT layer's [`anchormq::mqtt::Dial`]:
//! DNS and TCP through embassy-net, then the embedded-tls engine with anchormq's verifier) and
//! [`EmbassySleep`] ([`anchormq::mqtt::Sleep`] on embassy-time).
//!
//! Never: enables a critical-section implementation or an atomic compare-and-swap strategy
//! (esp-hal chooses both for the chip), hands out random bytes when no entropy source is running,
//! reports a time before a server answered, decides anything about trust (the SDK's verifier
//! does), or derives the TLS server name from the broker's address.
//!
//! Only [`TrngEntropy`] needs the chip. The rest also builds on the host, where the SNTP codec's
//! unit tests run, and where the `tap` suite runs [`EmbeddedDialer`] and [`EmbassySleep`] over
//! embassy-net on a Linux TAP device against Mosquitto, with the certificate profile, and
//! [`SntpClock`] against chrony
//! (`cargo test -p anchormq-esp32c3 --target x86_64-unknown-linux-gnu` in the firmware
//! workspace; the suite needs root).
//!
//! ```text
//! static CLOCK: SntpClock = SntpClock::new();
//! // a task:        sntp::run(&CLOCK, stack, &["pool.ntp.org"], &TrngEntropy, |server, result| ...).await
//! let tls = EmbeddedConfig::certificates(&TrngEntropy, anchors)
//!     .time_source(&CLOCK)
//!     .time_policy(TimePolicy::FloorAt(build_time))
//!     .max_fragment_length(MaxFragmentLength::Bytes4096)
//!     .build()?;
//! let dialer = EmbeddedDialer::new(stack, &tls, "broker.example.com", buffers);
//! let supervisor = Supervisor::new(&config, mqtt_buffers, outbox, dialer, EmbassySleep, TrngEntropy, policy)?;
//! ```
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![warn(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing, clippy::arithmetic_side_effects)]

#[cfg(target_arch = "riscv32")]
mod entropy;
mod net;
pub mod sntp;

#[cfg(target_arch = "riscv32")]
pub use entropy::TrngEntropy;
pub use net::{DialerBuffers, EmbassySleep, EmbeddedDialer, NetError, TCP_TIMEOUT, Tcp};
pub use sntp::SntpClock;
