//! Server certificate verification: the one place that decides whether a peer is the server the
//! application asked for.
//!
//! Owns: chain building to the configured anchors (rustls-webpki), the name check against DNS and
//! IP subject alternative names, EKU serverAuth, validity at the time the [`TimePolicy`](crate::time::TimePolicy) decides,
//! and [`VerifiedPeer`], the proof value only this module can build; the refusal type and the
//! one alert table both engines send from (`refusal`); the verified-chain cache a configuration
//! keeps for its reconnects (`cache`, consulted by `chain::verify_cached`: a hit skips the
//! chain's signature checks and re-applies the time, the deny-list and the pins). Each engine
//! adapts it at its own boundary (`tls::rustls::verifier`, `tls::embedded::verifier`), passing
//! only what differs; this module names neither engine.
//!
//! Never: weakens a check because a feature is on; falls back to the subject common name (CN).
//! The CN is free text with no defined matching rules (RFC 6125 §6.4.4 deprecates it, and the
//! CA/Browser Forum requires SANs); accepting it reopens name-confusion attacks, so a certificate
//! without a matching SAN is refused however its CN reads.
//!
//! Implements: RFC 5280 §6 path validation (through webpki), RFC 6125 §6 name matching,
//! RFC 8446 §4.4.2.2 server certificate selection.

use alloc::string::{String, ToString};
use core::fmt;

use pki_types::UnixTime;

mod anchors;
mod bridge;
// A PSK-only build verifies no chain, so it keeps none.
#[cfg_attr(not(any(feature = "rustls", feature = "embedded-tls")), allow(dead_code))]
mod cache;
mod chain;
mod explain;
mod name;
#[cfg(feature = "rustls")]
pub(crate) mod pinned;
mod refusal;
mod rules;
pub(crate) mod x509;

pub use anchors::Anchors;
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
pub(crate) use cache::ChainCache;
#[cfg(any(feature = "rustls", feature = "embedded-tls"))]
pub(crate) use chain::verify_cached;
pub use chain::{verify_server_chain, verify_server_chain_with};
pub use explain::{CertificateFacts, Check, Explanation, explain};
#[cfg(feature = "embedded-tls-psk")]
pub(crate) use refusal::Fault;
#[cfg(all(test, feature = "rustls", feature = "embedded-tls-psk"))]
pub(crate) use refusal::tests::every_refusal;
pub(crate) use refusal::{Alert, Refusal};

use crate::error::TrustError;
use crate::time::ValidityTime;

/// Shared, immutable storage: `Arc` where the target has atomic pointers, `Rc` where it has
/// not (the ESP32-C3 has no compare-and-swap, so no `Arc`).
#[cfg(target_has_atomic = "ptr")]
pub(crate) type Shared<T> = alloc::sync::Arc<T>;
#[cfg(not(target_has_atomic = "ptr"))]
pub(crate) type Shared<T> = alloc::rc::Rc<T>;

/// Proof that a server's chain was verified: built only by this module after every check passed.
#[derive(Clone, PartialEq, Eq)]
pub struct VerifiedPeer {
    server_name: String,
    leaf_sha256: [u8; 32],
    leaf_subject: String,
    anchor_subject: String,
    /// The server certificate's validity; `None` for a raw public key.
    window: Option<(UnixTime, UnixTime)>,
    checked_at: ValidityTime,
}

impl VerifiedPeer {
    /// The server name the chain was verified for.
    pub fn server_name(&self) -> &str {
        &self.server_name
    }
    /// SHA-256 of the server certificate's DER: what a pin or a log line can name.
    pub fn leaf_sha256(&self) -> &[u8; 32] {
        &self.leaf_sha256
    }
    /// Subject of the server's certificate.
    pub fn leaf_subject(&self) -> &str {
        &self.leaf_subject
    }
    /// Subject of the trust anchor the chain ended at.
    pub fn anchor_subject(&self) -> &str {
        &self.anchor_subject
    }
    /// Validity window of the server's certificate.
    pub fn validity(&self) -> Option<(UnixTime, UnixTime)> {
        self.window
    }
    /// The time validity was checked at, or `Skip` under the timeless policy.
    pub fn checked_at(&self) -> ValidityTime {
        self.checked_at
    }
}

impl fmt::Debug for VerifiedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifiedPeer")
            .field("server_name", &self.server_name)
            .field("leaf_subject", &self.leaf_subject)
            .field("anchor_subject", &self.anchor_subject)
            .field("checked_at", &self.checked_at)
            .finish()
    }
}

impl fmt::Display for VerifiedPeer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (", self.server_name)?;
        if let Some((not_before, not_after)) = self.window {
            write!(
                f,
                "certificate \"{}\", valid {} to {}, ",
                self.leaf_subject,
                crate::time::fmt_unix(not_before),
                crate::time::fmt_unix(not_after)
            )?;
        } else {
            write!(f, "{}, ", self.leaf_subject)?;
        }
        write!(f, "anchored at \"{}\"", self.anchor_subject)?;
        match self.checked_at {
            ValidityTime::At { time, basis } => {
                write!(f, ", checked at {} {basis})", crate::time::fmt_unix(time))
            }
            ValidityTime::Skip if self.window.is_none() => f.write_str(")"),
            ValidityTime::Skip => f.write_str(", validity not checked: timeless policy)"),
        }
    }
}

fn invalid(reason: &str) -> TrustError {
    TrustError::Invalid { reason: reason.to_string() }
}

#[cfg(test)]
mod tests;
