//! Test tooling for anchormq: a throw-away PKI ([`pki`]) and a Mosquitto
//! broker serving it on one loopback listener per scenario ([`broker`]), and
//! what the integration suites share: their runner and fixture ([`harness`]),
//! anchormq's side of a test ([`client`]), a TAP link in a private network
//! namespace ([`netns`]), a real NTP server on it ([`ntp`]), QEMU's RISC-V virt board running firmware ([`qemu`]), misbehaving
//! proxies and a plain forwarder ([`proxy`]), TLS servers ([`hostile`], and
//! [`alpn`], which negotiates ALPN as told) and MQTT brokers ([`scripted`]), hand-built MQTT
//! packets ([`mqtt_probe`]), heap measurement ([`heap`]), polls and CPU time ([`cost`]), temp dirs ([`temp`])
//! and the command-line tools the testbed's own tests use ([`tools`]).
//!
//! Linux only (reads `/proc`); needs `openssl` (RSA key generation) and
//! `mosquitto` at run time.

pub mod alpn;
pub mod broker;
pub mod client;
pub mod cost;
pub mod gnutls;
pub mod harness;
pub mod heap;
pub mod hostile;
pub mod mqtt_probe;
pub mod netns;
pub mod ntp;
pub mod odd;
pub mod pki;
pub mod proxy;
pub mod qemu;
pub mod scripted;
pub mod temp;
pub mod tools;

pub use broker::{Broker, BrokerError, Listener};
pub use pki::{CertFiles, Pki, PkiError};

use std::path::PathBuf;

/// Finds an executable by name on `PATH`, then in the `sbin` directories
/// (Debian installs `mosquitto` in `/usr/sbin`, which is not on a normal
/// user's `PATH`).
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/local/sbin", "/usr/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &std::path::Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

/// The real user id of this process (from `/proc/self/status`, falling back
/// to `id -u`), or `None` if neither works.
pub fn current_uid() -> Option<u32> {
    if let Ok(status) = std::fs::read_to_string("/proc/self/status") {
        let uid = status
            .lines()
            .find_map(|line| line.strip_prefix("Uid:"))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|uid| uid.parse().ok());
        if uid.is_some() {
            return uid;
        }
    }
    let out = std::process::Command::new("id").arg("-u").output().ok()?;
    String::from_utf8_lossy(&out.stdout).trim().parse().ok()
}

/// Whether this process runs as root.
pub fn is_root() -> bool {
    current_uid() == Some(0)
}
