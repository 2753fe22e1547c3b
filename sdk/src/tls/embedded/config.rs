//! The embedded-tls engine's configuration: which profile (certificates or an external PSK),
//! and the fragment length that sizes the buffers. The certificate profile needs the
//! `embedded-tls` feature; `embedded-tls-psk` alone builds the PSK profile only.
//!
//! Owns: [`EmbeddedConfig`], its builder, [`Psk`] (the key handle) and [`MaxFragmentLength`].
//!
//! Never: prints or copies a PSK key outside the handle (it is zeroised on drop), or accepts a
//! PSK that is empty or shorter than 128 bits.
//!
//! Implements: RFC 8446 §4.2.11 (PSK identity), RFC 6066 §4 (max_fragment_length values).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

use crate::crypto::Entropy;
use crate::error::ConfigError;
#[cfg(feature = "embedded-tls")]
use crate::time::{NoClock, TimePolicy, TimeSource};
#[cfg(feature = "embedded-tls")]
use crate::verify::{Anchors, ChainCache};

/// The largest plaintext fragment the server may send (RFC 6066 §4): a smaller one lets a device
/// receive through a smaller buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MaxFragmentLength {
    /// 512 bytes.
    Bytes512,
    /// 1 024 bytes.
    Bytes1024,
    /// 2 048 bytes.
    Bytes2048,
    /// 4 096 bytes.
    Bytes4096,
}

/// An external pre-shared key and its identity (RFC 8446 §4.2.11). Zeroised on drop; `Debug`
/// shows the identity (it crosses the wire in clear text) and never the key.
pub struct Psk {
    identity: Zeroizing<Vec<u8>>,
    key: Zeroizing<Vec<u8>>,
}

/// How [`super::handshake`] secures a connection. Build it once.
pub struct EmbeddedConfig {
    pub(super) entropy: &'static dyn Entropy,
    pub(super) profile: Profile,
    pub(super) fragment: Option<MaxFragmentLength>,
}

/// Builds an [`EmbeddedConfig`].
#[derive(Debug)]
pub struct EmbeddedConfigBuilder {
    config: EmbeddedConfig,
}

pub(super) enum Profile {
    #[cfg(feature = "embedded-tls")]
    Certificates {
        anchors: Anchors,
        clock: &'static dyn TimeSource,
        policy: TimePolicy,
        /// The chains verified through this configuration, so its reconnects skip their
        /// signature checks (`verify::cache`).
        cache: ChainCache,
    },
    Psk(Psk),
}

impl MaxFragmentLength {
    /// The fragment length in bytes.
    pub const fn bytes(self) -> usize {
        match self {
            Self::Bytes512 => 512,
            Self::Bytes1024 => 1_024,
            Self::Bytes2048 => 2_048,
            Self::Bytes4096 => 4_096,
        }
    }

    pub(super) fn engine(self) -> embedded_tls::MaxFragmentLength {
        match self {
            Self::Bytes512 => embedded_tls::MaxFragmentLength::Bits9,
            Self::Bytes1024 => embedded_tls::MaxFragmentLength::Bits10,
            Self::Bytes2048 => embedded_tls::MaxFragmentLength::Bits11,
            Self::Bytes4096 => embedded_tls::MaxFragmentLength::Bits12,
        }
    }
}

impl Psk {
    /// The shortest key accepted: 128 bits.
    pub const MIN_KEY_LEN: usize = 16;

    /// A pre-shared key for `identity`.
    ///
    /// # Errors
    /// [`ConfigError::ClientIdentity`] for an empty or over-long identity, or a key shorter than
    /// [`Psk::MIN_KEY_LEN`] bytes: caught before anything is sent.
    pub fn new(identity: impl AsRef<[u8]>, key: impl AsRef<[u8]>) -> Result<Self, ConfigError> {
        let (identity, key) = (identity.as_ref(), key.as_ref());
        if identity.is_empty() {
            return Err(ConfigError::ClientIdentity { reason: "the PSK identity is empty" });
        }
        if identity.len() > 1_024 {
            return Err(ConfigError::ClientIdentity {
                reason: "the PSK identity is longer than 1 024 bytes",
            });
        }
        if key.len() < Self::MIN_KEY_LEN {
            return Err(ConfigError::ClientIdentity {
                reason: "the PSK key is shorter than 16 bytes (128 bits)",
            });
        }
        Ok(Self { identity: Zeroizing::new(identity.to_vec()), key: Zeroizing::new(key.to_vec()) })
    }

    /// The identity, as sent in the ClientHello.
    pub fn identity(&self) -> &[u8] {
        &self.identity
    }

    pub(super) fn key(&self) -> &[u8] {
        &self.key
    }
}

impl fmt::Debug for Psk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Psk")
            .field("identity", &String::from_utf8_lossy(&self.identity))
            .field("key", &"<redacted>")
            .finish()
    }
}

impl fmt::Debug for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            #[cfg(feature = "embedded-tls")]
            Self::Certificates { anchors, policy, .. } => f
                .debug_struct("Certificates")
                .field("anchors", &anchors.as_slice().len())
                .field("policy", policy)
                .finish(),
            Self::Psk(psk) => f.debug_tuple("Psk").field(psk).finish(),
        }
    }
}

impl fmt::Debug for EmbeddedConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EmbeddedConfig")
            .field("profile", &self.profile)
            .field("max_fragment_length", &self.fragment)
            .finish_non_exhaustive()
    }
}

impl EmbeddedConfig {
    /// A certificate profile: the broker's chain must end at `anchors` and name the server, at
    /// the time the policy decides (default [`TimePolicy::RequireTime`] with no clock: set
    /// [`EmbeddedConfigBuilder::time_source`]). Needs the `embedded-tls` feature.
    #[cfg(feature = "embedded-tls")]
    pub fn certificates(entropy: &'static dyn Entropy, anchors: Anchors) -> EmbeddedConfigBuilder {
        let profile = Profile::Certificates {
            anchors,
            clock: &NoClock,
            policy: TimePolicy::RequireTime,
            cache: ChainCache::new(),
        };
        EmbeddedConfigBuilder { config: Self { entropy, profile, fragment: None } }
    }

    /// A PSK profile: the broker proves it knows `psk`; no certificate is involved.
    pub fn psk(entropy: &'static dyn Entropy, psk: Psk) -> EmbeddedConfigBuilder {
        EmbeddedConfigBuilder { config: Self { entropy, profile: Profile::Psk(psk), fragment: None } }
    }

    /// The receive buffer [`super::handshake`] needs: `cancel_safe` doubles it (see the module docs).
    pub fn rx_buffer(&self, cancel_safe: bool) -> usize {
        let body = self.record_body();
        if cancel_safe { body.saturating_mul(2) } else { body }
    }

    /// The largest record body the server may send: fragment, content type, AES-GCM tag.
    pub(super) fn record_body(&self) -> usize {
        self.fragment.map_or(16_384, MaxFragmentLength::bytes).saturating_add(17)
    }

    pub(super) fn psk_identity(&self) -> Option<&[u8]> {
        match &self.profile {
            Profile::Psk(psk) => Some(psk.identity()),
            #[cfg(feature = "embedded-tls")]
            Profile::Certificates { .. } => None,
        }
    }
}

impl EmbeddedConfigBuilder {
    /// The clock for certificate validity (certificate profile; a PSK profile has no use for it).
    #[cfg(feature = "embedded-tls")]
    pub fn time_source(mut self, source: &'static dyn TimeSource) -> Self {
        if let Profile::Certificates { clock, .. } = &mut self.config.profile {
            *clock = source;
        }
        self
    }

    /// What verification does with the clock's answer (certificate profile).
    #[cfg(feature = "embedded-tls")]
    pub fn time_policy(mut self, time_policy: TimePolicy) -> Self {
        if let Profile::Certificates { policy, .. } = &mut self.config.profile {
            *policy = time_policy;
        }
        self
    }

    /// Asks the server for records of at most `length` plaintext bytes.
    pub fn max_fragment_length(mut self, length: MaxFragmentLength) -> Self {
        self.config.fragment = Some(length);
        self
    }

    /// Builds the configuration. Everything was checked when its parts were made ([`Psk::new`],
    /// [`Anchors`]); kept fallible so later checks do not change the signature.
    ///
    /// # Errors
    /// None today.
    pub fn build(self) -> Result<EmbeddedConfig, ConfigError> {
        Ok(self.config)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use super::*;
    use alloc::string::ToString;

    #[test]
    fn psk_is_checked_before_connecting_and_never_printed() {
        let e = Psk::new("", [7u8; 32]).unwrap_err();
        assert_eq!(e, ConfigError::ClientIdentity { reason: "the PSK identity is empty" });
        let e = Psk::new("device", [7u8; 15]).unwrap_err();
        assert!(e.to_string().contains("shorter than 16 bytes"), "{e}");
        let psk = Psk::new("device", [0xAB; 16]).unwrap();
        let shown = alloc::format!("{psk:?}");
        assert!(shown.contains("device") && shown.contains("redacted"), "{shown}");
        assert!(!shown.contains("171") && !shown.to_lowercase().contains("ab, "), "{shown}");
    }

    #[test]
    fn buffer_sizes_follow_the_fragment_length() {
        struct Zero;
        impl Entropy for Zero {
            fn fill(&self, dest: &mut [u8]) -> Result<(), crate::crypto::EntropyError> {
                dest.fill(1);
                Ok(())
            }
        }
        static ZERO: Zero = Zero;
        let psk = Psk::new("d", [1u8; 16]).unwrap();
        let config =
            EmbeddedConfig::psk(&ZERO, psk).max_fragment_length(MaxFragmentLength::Bytes1024).build();
        let config = config.unwrap();
        assert_eq!(config.rx_buffer(false), 1_041);
        assert_eq!(config.rx_buffer(true), 2_082);
    }
}
