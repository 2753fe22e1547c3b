//! Build-time configuration: environment variables read when the firmware is compiled.
//!
//! Defaults are harmless: a firmware built without a PSK key says so at boot and stops, and the
//! default addresses are those of the test link `cargo xtask riscv-virt` builds (the device at
//! 192.168.69.1/24, the host and its broker at 192.168.69.100). Numbers are parsed while
//! compiling: a malformed one is a build error.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ANCHORMQ_DEVICE_ADDRESS` | `192.168.69.1/24` | the device's static IPv4 address and prefix |
//! | `ANCHORMQ_BROKER_HOST` | `192.168.69.100` | the broker's IPv4 address (this image resolves no names) |
//! | `ANCHORMQ_BROKER_PORT` | `8883` | broker TLS port |
//! | `ANCHORMQ_SERVER_NAME` | `localhost` | the name the broker's certificate must carry (and the SNI) |
//! | `ANCHORMQ_NTP_SERVER` | `192.168.69.100` | the SNTP server's IPv4 address (its first round, at most 5 s, ends before the first dial); empty: no SNTP, the RTC's time only |
//! | `ANCHORMQ_CLIENT_ID` | `riscv-virt` | MQTT client id |
//! | `ANCHORMQ_TOPIC_PREFIX` | `devices` | topics are `<prefix>/<client id>/telemetry` and `.../status` |
//! | `ANCHORMQ_PUBLISH_MS` | `1000` | milliseconds between readings |
//! | `ANCHORMQ_READINGS` | `0` (forever) | readings to publish and see acknowledged, then end the QEMU run |
//! | `ANCHORMQ_MAX_FRAGMENT` | `1024` (PSK), `4096` (certificates) | TLS max_fragment_length |
//! | `ANCHORMQ_TRUST_BUNDLE` | `trust-bundles/isrg.amqb` | certificate profile: the bundle embedded (build.rs) |
//! | `ANCHORMQ_PSK_IDENTITY` | `riscv-virt-telemetry` | PSK profile: identity |
//! | `ANCHORMQ_PSK_KEY` | (empty: the firmware stops) | PSK profile: the key, hex, at least 16 bytes |
//! | `SOURCE_DATE_EPOCH` | the time build.rs ran | the build time, the floor of certificate validity checks |

#[cfg(not(feature = "rustls"))]
use anchormq::tls::MaxFragmentLength;
#[cfg(feature = "psk")]
pub use firmware_config::HexKey;
#[cfg(feature = "psk")]
use firmware_config::hex;
use firmware_config::{number, or, port};

/// The device's address and prefix, e.g. `192.168.69.1/24` (parsed at boot).
pub const DEVICE_ADDRESS: &str = or(option_env!("ANCHORMQ_DEVICE_ADDRESS"), "192.168.69.1/24");
/// The broker's IPv4 address.
pub const BROKER_HOST: &str = or(option_env!("ANCHORMQ_BROKER_HOST"), "192.168.69.100");
/// The broker's TLS port.
pub const BROKER_PORT: u16 = port(or(option_env!("ANCHORMQ_BROKER_PORT"), "8883"));
/// What the broker must prove to be. Configuration, never taken from the address.
pub const SERVER_NAME: &str = or(option_env!("ANCHORMQ_SERVER_NAME"), "localhost");
/// The SNTP server's IPv4 address (`None`: no SNTP; the certificate check uses the RTC's time).
pub const NTP_SERVER: Option<&str> = match or(option_env!("ANCHORMQ_NTP_SERVER"), "192.168.69.100") {
    server if server.is_empty() => None,
    server => Some(server),
};
/// The MQTT client id.
pub const CLIENT_ID: &str = or(option_env!("ANCHORMQ_CLIENT_ID"), "riscv-virt");
/// The first topic level.
pub const TOPIC_PREFIX: &str = or(option_env!("ANCHORMQ_TOPIC_PREFIX"), "devices");
/// Milliseconds between two readings.
pub const PUBLISH_MS: u64 = match number(or(option_env!("ANCHORMQ_PUBLISH_MS"), "1000")) {
    Some(ms) if ms > 0 => ms,
    _ => panic!("ANCHORMQ_PUBLISH_MS must be a positive number of milliseconds"),
};
/// Readings to publish before ending the run (`None`: never end).
pub const READINGS: Option<u64> = match number(or(option_env!("ANCHORMQ_READINGS"), "0")) {
    Some(0) => None,
    Some(n) => Some(n),
    None => panic!("ANCHORMQ_READINGS must be a number"),
};
/// The TLS fragment length the broker is asked for (the embedded-tls engine; rustls never asks): a certificate profile needs the broker's
/// whole Certificate message in one record (embedded-tls does not reassemble it).
#[cfg(not(feature = "rustls"))]
pub const MAX_FRAGMENT: MaxFragmentLength = match number(or(
    option_env!("ANCHORMQ_MAX_FRAGMENT"),
    if cfg!(feature = "psk") { "1024" } else { "4096" },
)) {
    Some(512) => MaxFragmentLength::Bytes512,
    Some(1_024) => MaxFragmentLength::Bytes1024,
    Some(2_048) => MaxFragmentLength::Bytes2048,
    Some(4_096) => MaxFragmentLength::Bytes4096,
    _ => panic!("ANCHORMQ_MAX_FRAGMENT must be 512, 1024, 2048 or 4096"),
};

/// The build time (Unix seconds), from build.rs.
#[cfg(not(feature = "psk"))]
pub const BUILD_UNIX_SECS: u64 = match number(env!("ANCHORMQ_BUILD_UNIX_SECS")) {
    Some(secs) => secs,
    None => panic!("SOURCE_DATE_EPOCH must be Unix seconds"),
};
/// The trust bundle the certificate profile verifies against (see build.rs).
#[cfg(not(feature = "psk"))]
pub static TRUST_BUNDLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trust.amqb"));

/// The PSK identity.
#[cfg(feature = "psk")]
pub const PSK_IDENTITY: &str = or(option_env!("ANCHORMQ_PSK_IDENTITY"), "riscv-virt-telemetry");
/// The PSK key, decoded from hex while compiling.
#[cfg(feature = "psk")]
pub const PSK_KEY: HexKey = hex(or(option_env!("ANCHORMQ_PSK_KEY"), ""));
