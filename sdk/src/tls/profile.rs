//! One description of a connection's security, whichever engine runs it.
//!
//! Owns: [`SecurityProfile`] (certificates, pinned server key, raw public keys, PSK),
//! [`EngineChoice`], [`Environment`], and [`SecurityProfile::build`], which turns a profile into
//! an engine configuration or refuses, before anything is sent, a combination that cannot work;
//! [`EngineConfig::with_alpn`], which gives either engine's configuration the same ALPN list (a
//! setting of the broker's endpoint, not of how it is trusted, so it is not part of the profile).
//!
//! Never: weakens a profile to fit an engine: a profile an engine cannot run is a
//! [`ConfigError::UnsupportedProfile`], not a fallback.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, UnixTime};

use crate::crypto::{Entropy, Signer};
use crate::error::ConfigError;
use crate::time::{TimePolicy, TimeSource};
use crate::tls::{Alpn, Engine, TlsConfig};
#[cfg(feature = "embedded-tls-psk")]
use crate::tls::{EmbeddedConfig, MaxFragmentLength, Psk};
use crate::verify::Anchors;

/// How the broker is trusted and how this client proves who it is.
#[non_exhaustive]
pub enum SecurityProfile {
    /// A certificate chain to these anchors (a trust bundle), and optionally this client's own
    /// certificate (mutual TLS).
    Certificates {
        /// The anchors the broker's chain must end at.
        anchors: Anchors,
        /// This client's certificate chain and the signer that holds its key.
        client: Option<(Vec<CertificateDer<'static>>, Arc<dyn Signer>)>,
    },
    /// The broker's key alone, presented in a certificate (a self-signed or private-CA broker):
    /// SHA-256 digests of acceptable SubjectPublicKeyInfos.
    PinnedServerKey {
        /// The acceptable keys.
        spki_sha256: Vec<[u8; 32]>,
    },
    /// RFC 7250 raw public keys: the broker's key must be pinned; optionally this client's own
    /// key (its SubjectPublicKeyInfo DER and signer).
    RawPublicKeys {
        /// The acceptable broker keys.
        server_spki_sha256: Vec<[u8; 32]>,
        /// This client's raw key.
        own: Option<(Vec<u8>, Arc<dyn Signer>)>,
    },
    /// A TLS 1.3 external pre-shared key with key exchange (`psk_dhe_ke`).
    #[cfg(feature = "embedded-tls-psk")]
    Psk(Psk),
}

/// Which engine runs the profile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EngineChoice {
    /// rustls: certificates, mutual TLS, pinned keys, raw public keys, resumption.
    Rustls,
    /// embedded-tls: certificates (anchormq's verifier) and PSK, with an optional
    /// max_fragment_length for small receive buffers.
    #[cfg(feature = "embedded-tls-psk")]
    EmbeddedTls {
        /// The largest record the broker may send, if limited.
        max_fragment: Option<MaxFragmentLength>,
    },
}

/// What the port provides to every profile.
#[derive(Clone, Copy)]
pub struct Environment {
    /// Randomness.
    pub entropy: &'static dyn Entropy,
    /// The clock.
    pub clock: &'static dyn TimeSource,
    /// What verification does with the clock (a timeless policy comes only from a step named
    /// dangerous).
    pub policy: TimePolicy,
    /// Keep the chains brokers present, for [`EngineConfig::explain_last`] (diagnostics; costs
    /// heap; rustls engine).
    pub keep_presented_chains: bool,
}

/// A profile built for one engine.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineConfig {
    /// For rustls.
    Rustls(TlsConfig),
    /// For embedded-tls.
    #[cfg(feature = "embedded-tls-psk")]
    Embedded(EmbeddedConfig),
}

impl EngineConfig {
    /// Every check on the chain `server_name` presented last, when the profile was built with
    /// [`Environment::keep_presented_chains`] (rustls engine only).
    pub fn explain_last(&self, server_name: &str) -> Option<crate::verify::Explanation> {
        match self {
            Self::Rustls(config) => config.explain_last(server_name),
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(_) => None,
        }
    }

    /// The same configuration offering `alpn` by ALPN (or nothing), on either engine alike.
    ///
    /// # Errors
    /// [`ConfigError::Engine`] when the engine cannot honour the list: embedded-tls cannot see
    /// the broker's selection, so it refuses an [`Alpn::required`] list (see
    /// [`crate::tls::Alpn`] for what each engine checks).
    pub fn with_alpn(self, alpn: Option<Alpn>) -> Result<Self, ConfigError> {
        match self {
            Self::Rustls(config) => Ok(Self::Rustls(config.with_alpn(alpn))),
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(config) => config.with_alpn(alpn).map(Self::Embedded),
        }
    }

    /// The engine to hand to [`crate::tls::handshake_any`].
    pub fn engine(&self) -> Engine<'_> {
        match self {
            Self::Rustls(config) => Engine::Rustls(config),
            #[cfg(feature = "embedded-tls-psk")]
            Self::Embedded(config) => Engine::Embedded(config),
        }
    }
}

impl SecurityProfile {
    /// The profile's name, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Certificates { client: None, .. } => "certificates",
            Self::Certificates { client: Some(_), .. } => "mutual TLS",
            Self::PinnedServerKey { .. } => "pinned server key",
            Self::RawPublicKeys { .. } => "raw public keys",
            #[cfg(feature = "embedded-tls-psk")]
            Self::Psk(_) => "pre-shared key",
        }
    }

    /// Builds the profile for `engine`.
    ///
    /// # Errors
    /// [`ConfigError::UnsupportedProfile`] when the engine cannot run the profile (rustls has no
    /// external PSK; embedded-tls has no pinned keys or raw public keys, and sends one client
    /// certificate without intermediates),
    /// and whatever the engine's own builder refuses.
    pub fn build(self, engine: EngineChoice, env: Environment) -> Result<EngineConfig, ConfigError> {
        match engine {
            EngineChoice::Rustls => self.build_rustls(env).map(EngineConfig::Rustls),
            #[cfg(feature = "embedded-tls-psk")]
            EngineChoice::EmbeddedTls { max_fragment } => {
                let builder = match self {
                    #[cfg(feature = "embedded-tls")]
                    Self::Certificates { anchors, client } => {
                        let builder = EmbeddedConfig::certificates(env.entropy, anchors)
                            .time_source(env.clock)
                            .time_policy(env.policy);
                        match client {
                            Some((chain, signer)) => builder.client_certificate(chain, signer),
                            None => builder,
                        }
                    }
                    Self::Psk(psk) => EmbeddedConfig::psk(env.entropy, psk),
                    #[cfg(not(feature = "embedded-tls"))]
                    Self::Certificates { .. } => {
                        return Err(ConfigError::UnsupportedProfile {
                            profile: self.name(),
                            engine: "embedded-tls",
                            reason: "this build has the PSK profile only (feature embedded-tls-psk): \
                                     certificates need the embedded-tls feature",
                        });
                    }
                    _ => {
                        return Err(ConfigError::UnsupportedProfile {
                            profile: self.name(),
                            engine: "embedded-tls",
                            reason: "that engine runs certificate (and mutual TLS) and PSK profiles",
                        });
                    }
                };
                let builder = match max_fragment {
                    Some(length) => builder.max_fragment_length(length),
                    None => builder,
                };
                builder.build().map(EngineConfig::Embedded)
            }
        }
    }

    fn build_rustls(self, env: Environment) -> Result<TlsConfig, ConfigError> {
        let mut builder = TlsConfig::builder(env.entropy)
            .time_source(Arc::new(StaticClock(env.clock)))
            .time_policy(env.policy);
        if env.keep_presented_chains {
            builder = builder.keep_presented_chains();
        }
        match self {
            Self::Certificates { anchors, client } => {
                let builder = builder.anchors(anchors);
                match client {
                    Some((chain, signer)) => builder.client_identity(chain, signer),
                    None => builder,
                }
                .build()
            }
            Self::PinnedServerKey { spki_sha256 } => builder.pinned_server_key(spki_sha256).build(),
            Self::RawPublicKeys { server_spki_sha256, own } => {
                let builder = builder.raw_public_keys(server_spki_sha256);
                match own {
                    Some((spki, signer)) => builder.client_raw_public_key(spki, signer),
                    None => builder,
                }
                .build()
            }
            #[cfg(feature = "embedded-tls-psk")]
            Self::Psk(_) => Err(ConfigError::UnsupportedProfile {
                profile: "pre-shared key",
                engine: "rustls",
                reason: "rustls has no external PSK: choose the embedded-tls engine",
            }),
        }
    }
}

/// A `&'static` clock where rustls wants an `Arc`.
struct StaticClock(&'static dyn TimeSource);

impl TimeSource for StaticClock {
    fn now(&self) -> Option<UnixTime> {
        self.0.now()
    }
}

impl fmt::Debug for SecurityProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Names only: a profile holds keys.
        f.debug_struct("SecurityProfile").field("kind", &self.name()).finish_non_exhaustive()
    }
}

impl fmt::Debug for Environment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Environment").field("policy", &self.policy).finish_non_exhaustive()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::crypto::EntropyError;
    use crate::time::NoClock;

    struct Zeros;
    impl Entropy for Zeros {
        fn fill(&self, dest: &mut [u8]) -> Result<(), EntropyError> {
            dest.fill(7);
            Ok(())
        }
    }
    static ZEROS: Zeros = Zeros;
    static CLOCK: NoClock = NoClock;

    fn env() -> Environment {
        Environment {
            entropy: &ZEROS,
            clock: &CLOCK,
            policy: TimePolicy::RequireTime,
            keep_presented_chains: false,
        }
    }

    #[test]
    fn impossible_combinations_are_refused_before_connecting() {
        let pins = || SecurityProfile::PinnedServerKey { spki_sha256: alloc::vec![[1; 32]] };
        assert!(matches!(pins().build(EngineChoice::Rustls, env()), Ok(EngineConfig::Rustls(_))));
        let empty = SecurityProfile::PinnedServerKey { spki_sha256: Vec::new() };
        assert_eq!(empty.build(EngineChoice::Rustls, env()).unwrap_err(), ConfigError::NoTrustAnchors);
        #[cfg(feature = "embedded-tls-psk")]
        {
            let embedded = EngineChoice::EmbeddedTls { max_fragment: None };
            assert!(matches!(
                pins().build(embedded, env()),
                Err(ConfigError::UnsupportedProfile { engine: "embedded-tls", .. })
            ));
            let psk = || SecurityProfile::Psk(Psk::new("device", [9u8; 32]).unwrap());
            assert!(matches!(
                psk().build(EngineChoice::Rustls, env()),
                Err(ConfigError::UnsupportedProfile { engine: "rustls", .. })
            ));
            assert!(matches!(psk().build(embedded, env()), Ok(EngineConfig::Embedded(_))));
            // ALPN configures both engines alike; only rustls can require a selection.
            let alpn = Alpn::new(["x-amzn-mqtt-ca"]).unwrap();
            let built = psk().build(embedded, env()).unwrap().with_alpn(Some(alpn.clone()));
            assert!(matches!(&built, Ok(EngineConfig::Embedded(c)) if c.alpn() == Some(&alpn)), "{built:?}");
            let built = psk().build(embedded, env()).unwrap().with_alpn(Some(alpn.clone().required()));
            assert!(matches!(built, Err(ConfigError::Engine { .. })), "{built:?}");
            let built =
                pins().build(EngineChoice::Rustls, env()).unwrap().with_alpn(Some(alpn.clone().required()));
            assert!(matches!(&built, Ok(EngineConfig::Rustls(c)) if c.alpn() == Some(&alpn.required())));
            // Certificates on embedded-tls need the certificate profile built in.
            let ca =
                rcgen::generate_simple_self_signed(alloc::vec![alloc::string::String::from("ca")]).unwrap();
            let anchors = Anchors::from_certificates([ca.cert.der()]).unwrap();
            let built = SecurityProfile::Certificates { anchors, client: None }.build(embedded, env());
            if cfg!(feature = "embedded-tls") {
                assert!(matches!(built, Ok(EngineConfig::Embedded(_))));
            } else {
                let Err(ConfigError::UnsupportedProfile { reason, .. }) = built else { panic!("{built:?}") };
                assert!(reason.contains("feature embedded-tls-psk"), "{reason}");
            }
        }
    }
}
