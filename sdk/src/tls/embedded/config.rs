//! The embedded-tls engine's configuration: which profile (certificates or an external PSK),
//! the fragment length that sizes the buffers, and the ALPN protocols offered. The certificate profile needs the
//! `embedded-tls` feature; `embedded-tls-psk` alone builds the PSK profile only.
//!
//! Owns: [`EmbeddedConfig`], its builder, [`Psk`] (the key handle) and [`MaxFragmentLength`].
//!
//! Never: prints or copies a PSK key outside the handle (it is zeroised on drop), accepts a
//! PSK that is empty or shorter than 128 bits, or accepts an ALPN list that must be selected
//! ([`Alpn::required`]): this engine cannot see the broker's selection.
//!
//! Implements: RFC 8446 §4.2.11 (PSK identity), RFC 6066 §4 (max_fragment_length values).

use alloc::string::String;
use alloc::vec::Vec;
use core::fmt;

use zeroize::Zeroizing;

#[cfg(feature = "embedded-tls")]
use super::client::ClientCertificate;
use crate::crypto::Entropy;
#[cfg(feature = "embedded-tls")]
use crate::crypto::Signer;
use crate::error::ConfigError;
#[cfg(feature = "embedded-tls")]
use crate::time::{NoClock, TimePolicy, TimeSource};
use crate::tls::Alpn;
#[cfg(feature = "embedded-tls")]
use crate::verify::{Anchors, ChainCache};
#[cfg(feature = "embedded-tls")]
use pki_types::CertificateDer;

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
    pub(super) alpn: Option<Alpn>,
}

/// Builds an [`EmbeddedConfig`].
#[derive(Debug)]
pub struct EmbeddedConfigBuilder {
    config: EmbeddedConfig,
    /// A client certificate asked for, checked in [`EmbeddedConfigBuilder::build`].
    #[cfg(feature = "embedded-tls")]
    client: Option<ClientAsked>,
}

#[cfg(feature = "embedded-tls")]
#[derive(Debug)]
struct ClientAsked(Vec<CertificateDer<'static>>, alloc::boxed::Box<dyn Signer>);

pub(super) enum Profile {
    #[cfg(feature = "embedded-tls")]
    Certificates {
        anchors: Anchors,
        clock: &'static dyn TimeSource,
        policy: TimePolicy,
        /// This client's certificate (mutual TLS), if any.
        client: Option<ClientCertificate>,
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
            Self::Certificates { anchors, policy, client, .. } => f
                .debug_struct("Certificates")
                .field("anchors", &anchors.as_slice().len())
                .field("policy", policy)
                .field("client", client)
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
            .field("alpn", &self.alpn)
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
            client: None,
        };
        EmbeddedConfigBuilder { config: Self { entropy, profile, fragment: None, alpn: None }, client: None }
    }

    /// A PSK profile: the broker proves it knows `psk`; no certificate is involved.
    pub fn psk(entropy: &'static dyn Entropy, psk: Psk) -> EmbeddedConfigBuilder {
        EmbeddedConfigBuilder {
            config: Self { entropy, profile: Profile::Psk(psk), fragment: None, alpn: None },
            #[cfg(feature = "embedded-tls")]
            client: None,
        }
    }

    /// The same configuration offering `alpn` instead (or no ALPN at all), as
    /// [`EmbeddedConfigBuilder::alpn`] sets it.
    ///
    /// # Errors
    /// [`ConfigError::Engine`] for an [`Alpn::required`] list, as [`EmbeddedConfigBuilder::build`].
    pub fn with_alpn(mut self, alpn: Option<Alpn>) -> Result<Self, ConfigError> {
        self.alpn = alpn;
        self.checked()
    }

    /// The protocols offered by ALPN, if any.
    pub fn alpn(&self) -> Option<&Alpn> {
        self.alpn.as_ref()
    }

    /// Refuses what this engine cannot honour.
    fn checked(self) -> Result<Self, ConfigError> {
        if self.alpn.as_ref().is_some_and(Alpn::is_required) {
            return Err(ConfigError::Engine {
                reason: "embedded-tls cannot see which ALPN protocol the broker selects, so it cannot require \
                         one: offer the list without Alpn::required(), or use the rustls engine",
            });
        }
        Ok(self)
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

    /// The transmit buffer [`super::handshake`] needs: [`crate::tls::MIN_TX_BUFFER`], or, with a
    /// client certificate, twice its Certificate record (the buffer is halved, see the module
    /// docs): the certificate, its framing and the 128 bytes embedded-tls reserves per record.
    pub fn tx_buffer(&self) -> usize {
        match &self.profile {
            #[cfg(feature = "embedded-tls")]
            Profile::Certificates { client: Some(client), .. } => {
                crate::tls::MIN_TX_BUFFER.max(client.der().len().saturating_add(128 + 32).saturating_mul(2))
            }
            _ => crate::tls::MIN_TX_BUFFER,
        }
    }

    /// Whether a client certificate is configured (certificate profile).
    pub(super) fn has_client_certificate(&self) -> bool {
        match &self.profile {
            #[cfg(feature = "embedded-tls")]
            Profile::Certificates { client, .. } => client.is_some(),
            Profile::Psk(_) => false,
        }
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

    /// Presents this client's certificate when the broker asks for one (mutual TLS, certificate
    /// profile): `chain` must be the leaf alone (embedded-tls sends no intermediates: the broker
    /// must know the issuing CA), and `signer` must offer ECDSA P-256 (P-384 with `sig-p384`) or
    /// Ed25519. A hardware key implements [`Signer`]; a key in RAM is a
    /// [`crate::crypto::SoftwareSigner`]. Pass `&'static` signers on devices, `Arc`s on hosts.
    /// See the `client` module docs in [`crate::tls::embedded`] for what embedded-tls does and
    /// does not check.
    #[cfg(feature = "embedded-tls")]
    pub fn client_certificate(
        mut self,
        chain: Vec<CertificateDer<'static>>,
        signer: impl Signer + 'static,
    ) -> Self {
        self.client = Some(ClientAsked(chain, alloc::boxed::Box::new(signer)));
        self
    }

    /// Asks the server for records of at most `length` plaintext bytes.
    pub fn max_fragment_length(mut self, length: MaxFragmentLength) -> Self {
        self.config.fragment = Some(length);
        self
    }

    /// Offer these application protocols by ALPN (RFC 7301). embedded-tls sends them and does
    /// not report or check the broker's selection: see the module docs' "Limits and risks".
    /// A broker that answers `no_application_protocol` is refused with
    /// [`crate::TlsError::NoCommonApplicationProtocol`], as on rustls.
    pub fn alpn(mut self, alpn: Alpn) -> Self {
        self.config.alpn = Some(alpn);
        self
    }

    /// Builds the configuration. The parts were checked when they were made ([`Psk::new`],
    /// [`Anchors`], [`Alpn::new`]); what is left is what this engine cannot do.
    ///
    /// # Errors
    /// [`ConfigError::Engine`] for an [`Alpn::required`] list: embedded-tls does not expose the
    /// broker's selection, so a requirement could not be enforced. [`ConfigError::ClientIdentity`]
    /// for a client certificate embedded-tls cannot present (a chain with intermediates, an RSA
    /// signer) or one given to a PSK profile.
    pub fn build(self) -> Result<EmbeddedConfig, ConfigError> {
        #[cfg_attr(not(feature = "embedded-tls"), allow(unused_mut))]
        let mut config = self.config;
        #[cfg(feature = "embedded-tls")]
        if let Some(ClientAsked(chain, signer)) = self.client {
            let Profile::Certificates { client, .. } = &mut config.profile else {
                return Err(ConfigError::ClientIdentity {
                    reason: "a client certificate needs the certificate profile; a PSK profile authenticates with the key",
                });
            };
            *client = Some(ClientCertificate::new(chain, signer)?);
        }
        config.checked()
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

    #[test]
    fn alpn_is_offered_but_cannot_be_required() {
        struct One;
        impl Entropy for One {
            fn fill(&self, dest: &mut [u8]) -> Result<(), crate::crypto::EntropyError> {
                dest.fill(1);
                Ok(())
            }
        }
        static ONE: One = One;
        let psk = || Psk::new("d", [1u8; 16]).unwrap();
        let alpn = Alpn::new(["x-amzn-mqtt-ca"]).unwrap();
        let config = EmbeddedConfig::psk(&ONE, psk()).alpn(alpn.clone()).build().unwrap();
        assert_eq!(config.alpn(), Some(&alpn));
        let e = EmbeddedConfig::psk(&ONE, psk()).alpn(alpn.clone().required()).build().unwrap_err();
        assert!(matches!(e, ConfigError::Engine { .. }), "{e:?}");
        assert!(e.to_string().contains("cannot see which ALPN protocol the broker selects"), "{e}");
        let config = config.with_alpn(None).unwrap();
        assert_eq!(config.alpn(), None);
        assert!(config.with_alpn(Some(alpn.required())).is_err());
    }
}
