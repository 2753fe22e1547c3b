//! Build-time configuration: environment variables read when the firmware is compiled.
//!
//! Nothing here is a secret in the repository: every default is harmless (an empty Wi-Fi
//! network name, an empty PSK key, a broker name that never resolves), and a firmware built with
//! the defaults says at boot what is missing and stops. Secrets given at build time (the Wi-Fi
//! password, the PSK key, the MQTT password) end up in the image, as they would in any firmware
//! without secure storage: protect the image (flash encryption) accordingly.
//!
//! Numbers are parsed while compiling: a malformed one is a build error, not a boot loop.
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `ANCHORMQ_WIFI_SSID` | (empty: the firmware stops) | Wi-Fi network |
//! | `ANCHORMQ_WIFI_PASSWORD` | (empty: an open network) | WPA2-Personal passphrase |
//! | `ANCHORMQ_BROKER_HOST` | `broker.example.invalid` | broker name or IPv4 address |
//! | `ANCHORMQ_BROKER_PORT` | `8883` | broker TLS port |
//! | `ANCHORMQ_SERVER_NAME` | the broker host | the name the broker's certificate must carry (and the SNI) |
//! | `ANCHORMQ_CLIENT_ID` | `anchormq-c3-` and the Wi-Fi MAC's last 3 bytes | MQTT client id |
//! | `ANCHORMQ_MQTT_USERNAME`, `ANCHORMQ_MQTT_PASSWORD` | (none) | MQTT credentials |
//! | `ANCHORMQ_TOPIC_PREFIX` | `devices` | topics are `<prefix>/<client id>/telemetry` and `.../status` |
//! | `ANCHORMQ_PUBLISH_SECS` | `10` | seconds between readings |
//! | `ANCHORMQ_MAX_FRAGMENT` | `1024` (PSK), `4096` (certificates) | TLS max_fragment_length: 512, 1024, 2048 or 4096 |
//! | `ANCHORMQ_NTP_SERVER` | `pool.ntp.org` | SNTP server |
//! | `ANCHORMQ_TRUST_BUNDLE` | `trust-bundles/isrg.amqb` | certificate profile: the bundle embedded (read by build.rs) |
//! | `ANCHORMQ_PSK_IDENTITY` | `esp32c3-telemetry` | PSK profile: identity |
//! | `ANCHORMQ_PSK_KEY` | (empty: the firmware stops) | PSK profile: the key, hex, at least 16 bytes |
//! | `ANCHORMQ_CLIENT_CERT` | (empty: the firmware stops) | mutual-TLS profile (`mtls`): the device's certificate, DER, the leaf alone |
//! | `ANCHORMQ_CLIENT_KEY` | (empty: the firmware stops) | mutual-TLS profile: its ECDSA P-256 key, PKCS#8 DER |
//! | `SOURCE_DATE_EPOCH` | the time build.rs ran | the build time, the floor of certificate validity checks |

use anchormq::tls::MaxFragmentLength;
#[cfg(feature = "psk")]
pub use firmware_config::HexKey;
#[cfg(feature = "psk")]
use firmware_config::hex;
use firmware_config::{number, or, port};

/// Wi-Fi network name.
pub const WIFI_SSID: &str = or(option_env!("ANCHORMQ_WIFI_SSID"), "");
/// Wi-Fi passphrase; empty for an open network.
pub const WIFI_PASSWORD: &str = or(option_env!("ANCHORMQ_WIFI_PASSWORD"), "");
/// The broker's name or address.
pub const BROKER_HOST: &str = or(option_env!("ANCHORMQ_BROKER_HOST"), "broker.example.invalid");
/// The broker's TLS port.
pub const BROKER_PORT: u16 = port(or(option_env!("ANCHORMQ_BROKER_PORT"), "8883"));
/// What the broker must prove to be: the certificate's name (certificate profile) and the SNI.
/// Configuration, never taken from the address the name resolved to.
pub const SERVER_NAME: &str = or(option_env!("ANCHORMQ_SERVER_NAME"), BROKER_HOST);
/// The MQTT client id, if configured.
pub const CLIENT_ID: Option<&str> = option_env!("ANCHORMQ_CLIENT_ID");
/// MQTT user name, if any.
pub const MQTT_USERNAME: Option<&str> = option_env!("ANCHORMQ_MQTT_USERNAME");
/// MQTT password, if any.
pub const MQTT_PASSWORD: Option<&str> = option_env!("ANCHORMQ_MQTT_PASSWORD");
/// The first topic level.
pub const TOPIC_PREFIX: &str = or(option_env!("ANCHORMQ_TOPIC_PREFIX"), "devices");
/// Seconds between two readings.
pub const PUBLISH_SECS: u64 = match number(or(option_env!("ANCHORMQ_PUBLISH_SECS"), "10")) {
    Some(secs) if secs > 0 => secs,
    _ => panic!("ANCHORMQ_PUBLISH_SECS must be a positive number of seconds"),
};
/// The SNTP server.
pub const NTP_SERVER: &str = or(option_env!("ANCHORMQ_NTP_SERVER"), "pool.ntp.org");
/// The build time (Unix seconds), from build.rs.
#[cfg(all(feature = "certificates", not(feature = "psk")))]
pub const BUILD_UNIX_SECS: u64 = match number(env!("ANCHORMQ_BUILD_UNIX_SECS")) {
    Some(secs) => secs,
    None => panic!("SOURCE_DATE_EPOCH must be Unix seconds"),
};

/// The TLS fragment length the broker is asked for. A certificate profile needs the broker's
/// whole Certificate message in one record (embedded-tls does not reassemble handshake messages),
/// and a chain to a public CA is 2 to 5 KB: hence 4 KiB there; PSK handshakes are small.
pub const MAX_FRAGMENT: MaxFragmentLength =
    fragment(or(option_env!("ANCHORMQ_MAX_FRAGMENT"), if cfg!(feature = "psk") { "1024" } else { "4096" }));

/// The trust bundle the certificate profile verifies against (chosen at build time, see build.rs).
#[cfg(all(feature = "certificates", not(feature = "psk")))]
pub static TRUST_BUNDLE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/trust.amqb"));

/// The device's certificate (mutual-TLS profile; see build.rs).
#[cfg(feature = "mtls")]
pub static CLIENT_CERT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/client.der"));
/// The device's key, PKCS#8 DER (mutual-TLS profile). In flash like any build-time secret:
/// protect the image (flash encryption), or sign with the Digital Signature peripheral through
/// a [`anchormq::crypto::Signer`] instead.
#[cfg(feature = "mtls")]
pub static CLIENT_KEY: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/client.key.der"));

/// The PSK identity.
#[cfg(feature = "psk")]
pub const PSK_IDENTITY: &str = or(option_env!("ANCHORMQ_PSK_IDENTITY"), "esp32c3-telemetry");
/// The PSK key, decoded from hex while compiling (`len` bytes of `bytes`).
#[cfg(feature = "psk")]
pub const PSK_KEY: HexKey = hex(or(option_env!("ANCHORMQ_PSK_KEY"), ""));

const fn fragment(text: &str) -> MaxFragmentLength {
    match number(text) {
        Some(512) => MaxFragmentLength::Bytes512,
        Some(1_024) => MaxFragmentLength::Bytes1024,
        Some(2_048) => MaxFragmentLength::Bytes2048,
        Some(4_096) => MaxFragmentLength::Bytes4096,
        _ => panic!("ANCHORMQ_MAX_FRAGMENT must be 512, 1024, 2048 or 4096"),
    }
}
