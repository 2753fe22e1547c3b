//! Configuration of a secure connection, built once and used for every connection.
//!
//! The ALPN list is the one setting that differs between brokers a device may reach with the same
//! trust (AWS IoT Core on port 443 needs `x-amzn-mqtt-ca`; a broker on 8883 needs nothing), so it
//! is kept beside the rustls `ClientConfig`, not inside it, and handed to rustls per connection:
//! [`TlsConfig::with_alpn`] derives a configuration for another broker that shares the verifier,
//! the anchors and the session cache, at the cost of one reference count.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::{ResolvesClientCert, Resumption, Tls12Resumption};
use rustls::crypto::CryptoProvider;
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{CipherSuite, ClientConfig, SignatureScheme, SupportedCipherSuite};

use super::resumption::SessionCache;
use super::verifier::{ServerVerifier, Trust};
use crate::crypto::{Entropy, Signer};
use crate::error::ConfigError;
use crate::time::{NoClock, TimePolicy, TimeSource, TimelessAcknowledged};
use crate::tls::Alpn;
use crate::verify::{Anchors, Explanation};

/// The protocol versions offered: TLS 1.3, and TLS 1.2 with the `tls12` feature.
const VERSIONS: &[&rustls::SupportedProtocolVersion] = &[
    &rustls::version::TLS13,
    #[cfg(feature = "tls12")]
    &rustls::version::TLS12,
];
const TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

/// How every connection made with it is secured. Cheap to share; build it once.
#[derive(Clone)]
pub struct TlsConfig {
    base: Arc<ClientConfig>,
    verifier: Arc<ServerVerifier>,
    trust: Trust,
    policy: TimePolicy,
    sessions: Option<Arc<SessionCache>>,
    /// The protocols each connection offers by ALPN: per connection in rustls, so a derived
    /// configuration ([`TlsConfig::with_alpn`]) shares everything else.
    alpn: Option<Arc<Alpn>>,
}

/// Builds a [`TlsConfig`]. Nothing is weakened unless [`TlsConfigBuilder::dangerous`] is called.
pub struct TlsConfigBuilder {
    entropy: &'static dyn Entropy,
    anchors: Option<Anchors>,
    key_pins: Option<(Vec<[u8; 32]>, bool)>,
    clock: Arc<dyn TimeSource>,
    policy: TimePolicy,
    sessions: Option<Arc<SessionCache>>,
    client: Option<Identity>,
    max_fragment: Option<usize>,
    keep_chains: bool,
    provider: Option<Arc<CryptoProvider>>,
    alpn: Option<Alpn>,
}

/// How this client proves who it is.
enum Identity {
    /// A certificate chain (own certificate first).
    Chain(Vec<CertificateDer<'static>>, Arc<dyn Signer>),
    /// An RFC 7250 raw public key (SubjectPublicKeyInfo DER).
    RawKey(Vec<u8>, Arc<dyn Signer>),
}

/// Steps that weaken security. Each says so first in its documentation.
pub struct DangerousConfig {
    builder: TlsConfigBuilder,
}

impl TlsConfig {
    /// Starts a configuration whose randomness comes from `entropy` (the port's RNG).
    pub fn builder(entropy: &'static dyn Entropy) -> TlsConfigBuilder {
        TlsConfigBuilder {
            entropy,
            anchors: None,
            key_pins: None,
            clock: Arc::new(NoClock),
            policy: TimePolicy::RequireTime,
            sessions: Some(Arc::new(SessionCache::new(4))),
            client: None,
            max_fragment: None,
            keep_chains: false,
            provider: None,
            alpn: None,
        }
    }

    /// The time policy in force.
    pub fn time_policy(&self) -> TimePolicy {
        self.policy
    }

    /// The session cache used for resumption, if any.
    pub fn session_cache(&self) -> Option<&Arc<SessionCache>> {
        self.sessions.as_ref()
    }

    /// Every check on the chain `server_name` presented last, when the configuration keeps
    /// presented chains ([`TlsConfigBuilder::keep_presented_chains`]).
    pub fn explain_last(&self, server_name: &str) -> Option<Explanation> {
        let name = ServerName::try_from(server_name).ok()?;
        self.verifier.explain_last(&name)
    }

    /// The same configuration (the same verifier, anchors, clock and session cache) offering
    /// `alpn` instead: for a second broker that needs other ALPN protocols, or none where this
    /// one offers some. Costs one reference count, not a rebuild.
    ///
    /// # Panics
    /// Never.
    #[must_use]
    pub fn with_alpn(&self, alpn: Option<Alpn>) -> TlsConfig {
        TlsConfig { alpn: alpn.map(Arc::new), ..self.clone() }
    }

    /// The protocols each connection offers by ALPN, if any.
    pub fn alpn(&self) -> Option<&Alpn> {
        self.alpn.as_deref()
    }

    /// The ALPN list, shared with the streams that offer it.
    pub(crate) fn alpn_shared(&self) -> Option<Arc<Alpn>> {
        self.alpn.clone()
    }

    /// The rustls configuration and the verifier it uses.
    pub(crate) fn engine(&self) -> (Arc<ClientConfig>, &ServerVerifier) {
        (self.base.clone(), &self.verifier)
    }
}

impl TlsConfigBuilder {
    /// The trust anchors a server chain must end at. Required: there is no implicit default.
    pub fn anchors(mut self, anchors: Anchors) -> Self {
        self.anchors = Some(anchors);
        self
    }

    /// The clock (the default has no time at all).
    pub fn time_source(mut self, clock: Arc<dyn TimeSource>) -> Self {
        self.clock = clock;
        self
    }

    /// What verification does with the clock's answer (default [`TimePolicy::RequireTime`]).
    pub fn time_policy(mut self, policy: TimePolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Share a session cache (for example across configurations); the default is a private cache
    /// for four servers.
    pub fn session_cache(mut self, cache: Arc<SessionCache>) -> Self {
        self.sessions = Some(cache);
        self
    }

    /// Never resume: every connection makes a full handshake.
    pub fn no_resumption(mut self) -> Self {
        self.sessions = None;
        self
    }

    /// Trust the server by its public key alone, presented in a certificate: one of these
    /// SHA-256 SPKI digests (RFC 7469 format). For self-signed or private-CA brokers; names,
    /// issuers and dates are not consulted, since the key is the identity. Replaces anchors.
    pub fn pinned_server_key(mut self, spki_sha256: impl IntoIterator<Item = [u8; 32]>) -> Self {
        self.key_pins = Some((spki_sha256.into_iter().collect(), false));
        self
    }

    /// Use RFC 7250 raw public keys: the server presents a bare key, which must have one of these
    /// SHA-256 SPKI digests. TLS 1.3 only. Replaces anchors.
    pub fn raw_public_keys(mut self, server_spki_sha256: impl IntoIterator<Item = [u8; 32]>) -> Self {
        self.key_pins = Some((server_spki_sha256.into_iter().collect(), true));
        self
    }

    /// Authenticate this client with a certificate chain whose private key is behind `signer`.
    pub fn client_identity(mut self, chain: Vec<CertificateDer<'static>>, signer: Arc<dyn Signer>) -> Self {
        self.client = Some(Identity::Chain(chain, signer));
        self
    }

    /// Authenticate this client with an RFC 7250 raw public key (its SubjectPublicKeyInfo DER),
    /// the private key behind `signer`.
    pub fn client_raw_public_key(mut self, spki_der: Vec<u8>, signer: Arc<dyn Signer>) -> Self {
        self.client = Some(Identity::RawKey(spki_der, signer));
        self
    }

    /// Limit the size of records this client sends (rustls cannot ask the server to do the same).
    pub fn max_fragment_size(mut self, size: usize) -> Self {
        self.max_fragment = Some(size);
        self
    }

    /// Keep the certificate chain each server presents (the last eight servers), so that
    /// [`TlsConfig::explain_last`] can show every check after a refusal. Costs the chain's size
    /// in heap; meant for diagnostics.
    pub fn keep_presented_chains(mut self) -> Self {
        self.keep_chains = true;
        self
    }

    /// Use a host's rustls crypto provider (ring's or aws-lc-rs's, whose P-256 is several times
    /// faster than the RustCrypto code a device links) for key exchange, record protection and
    /// every signature check: the server's chain and its CertificateVerify. Every other check is
    /// anchormq's, as always. Only its TLS 1.3 suites and its TLS 1.2 suites with ECDHE and an
    /// AEAD are used; a provider with none is refused at [`TlsConfigBuilder::build`]. The
    /// provider's own random source is used for the handshake. Without this, anchormq's provider
    /// (the no_std default) runs.
    pub fn crypto_provider(mut self, provider: Arc<CryptoProvider>) -> Self {
        self.provider = Some(provider);
        self
    }

    /// Offer these application protocols by ALPN on every connection (see [`Alpn`] for what is
    /// checked; [`TlsConfig::with_alpn`] changes them per broker). The protocol the broker
    /// selected is in [`crate::tls::ConnectionInfo::alpn`].
    pub fn alpn(mut self, alpn: Alpn) -> Self {
        self.alpn = Some(alpn);
        self
    }

    /// Steps that weaken security.
    pub fn dangerous(self) -> DangerousConfig {
        DangerousConfig { builder: self }
    }

    /// Checks the configuration and builds it.
    ///
    /// # Errors
    /// [`ConfigError::NoTrustAnchors`] without anchors; [`ConfigError::ClientIdentity`] for an
    /// empty client chain; [`ConfigError::Engine`] when rustls refuses the parameters.
    pub fn build(self) -> Result<TlsConfig, ConfigError> {
        let trust = match (self.anchors, self.key_pins) {
            (Some(anchors), None) => Trust::Chain(anchors),
            (None, Some((pins, _))) if pins.is_empty() => return Err(ConfigError::NoTrustAnchors),
            (None, Some((pins, raw))) => Trust::KeyPins { pins: pins.into(), raw },
            (None, None) => return Err(ConfigError::NoTrustAnchors),
            (Some(_), Some(_)) => return Err(ConfigError::ConflictingTrust),
        };
        let raw_server = matches!(trust, Trust::KeyPins { raw: true, .. });
        let provider = match self.provider {
            Some(host) => Arc::new(forward_secret_only(&host)?),
            None => Arc::new(crate::crypto::provider(self.entropy)),
        };
        let clock = Arc::new(PolicyClock {
            clock: self.clock.clone(),
            policy: self.policy,
            dates_unused: matches!(trust, Trust::KeyPins { .. }),
        });
        // Raw public keys exist in TLS 1.3 only (rustls negotiates them nowhere else).
        let versions = if raw_server { TLS13_ONLY } else { VERSIONS };
        let verifier = Arc::new(ServerVerifier::new(
            trust.clone(),
            self.clock.clone(),
            self.policy,
            self.keep_chains,
            provider.signature_verification_algorithms,
        ));
        let wants_client = ClientConfig::builder_with_details(provider, clock)
            .with_protocol_versions(versions)
            .map_err(|_| ConfigError::Engine {
                reason: "the provider lacks suites for the protocol versions",
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut config = match self.client {
            None => wants_client.with_no_client_auth(),
            Some(Identity::Chain(chain, _)) if chain.is_empty() => {
                return Err(ConfigError::ClientIdentity { reason: "the certificate chain is empty" });
            }
            Some(Identity::Chain(chain, signer)) => {
                let key = CertifiedKey::new(chain, crate::crypto::signing_key(signer));
                wants_client.with_client_cert_resolver(Arc::new(ClientIdentity(Arc::new(key))))
            }
            Some(Identity::RawKey(spki, signer)) => {
                if !raw_server {
                    return Err(ConfigError::ClientIdentity {
                        reason: "a raw public key identity needs raw_public_keys() for the server too",
                    });
                }
                let key = CertifiedKey::new(
                    alloc::vec![CertificateDer::from(spki)],
                    crate::crypto::signing_key(signer),
                );
                wants_client.with_client_cert_resolver(Arc::new(
                    rustls::client::AlwaysResolvesClientRawPublicKeys::new(Arc::new(key)),
                ))
            }
        };
        config.resumption = match &self.sessions {
            Some(cache) => {
                Resumption::store(cache.clone()).tls12_resumption(Tls12Resumption::SessionIdOrTickets)
            }
            None => Resumption::disabled(),
        };
        config.max_fragment_size = self.max_fragment;
        Ok(TlsConfig {
            base: Arc::new(config),
            verifier,
            trust,
            policy: self.policy,
            sessions: self.sessions,
            alpn: self.alpn.map(Arc::new),
        })
    }
}

/// `host` with only the suites anchormq allows: TLS 1.3's, and TLS 1.2's with ECDHE and an AEAD.
fn forward_secret_only(host: &CryptoProvider) -> Result<CryptoProvider, ConfigError> {
    const TLS12_ALLOWED: [CipherSuite; 6] = [
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,
        CipherSuite::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,
        CipherSuite::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256,
    ];
    let mut provider = host.clone();
    provider.cipher_suites.retain(|suite| match suite {
        SupportedCipherSuite::Tls13(_) => true,
        #[allow(unreachable_patterns)] // Without the `tls12` feature there is no other variant.
        other => TLS12_ALLOWED.contains(&other.suite()),
    });
    if provider.cipher_suites.is_empty() {
        return Err(ConfigError::Engine { reason: "the crypto provider offers no suite anchormq allows" });
    }
    Ok(provider)
}

impl DangerousConfig {
    /// **Dangerous: certificates are accepted whatever their validity dates.** Every other check
    /// (chain, name, usage, signatures) still runs. An expired or revoked-by-expiry certificate,
    /// or a key compromised long ago, will be accepted. Use only where the device can never learn
    /// the time and a floor is not possible; see the manual's "time" chapter.
    pub fn skip_validity_windows(mut self) -> TlsConfigBuilder {
        self.builder.policy = TimePolicy::timeless(TimelessAcknowledged::new());
        self.builder
    }
}

/// Gives rustls the policy's time, so ticket ages and verification agree.
struct PolicyClock {
    clock: Arc<dyn TimeSource>,
    policy: TimePolicy,
    /// Pinned keys consult no dates; rustls still wants a clock for ticket ages.
    dates_unused: bool,
}

impl fmt::Debug for PolicyClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyClock").field("policy", &self.policy).finish()
    }
}

impl TimeProvider for PolicyClock {
    fn current_time(&self) -> Option<UnixTime> {
        let now = self.clock.now();
        match self.policy.engine_time(now) {
            None if self.dates_unused => {
                Some(now.unwrap_or(UnixTime::since_unix_epoch(core::time::Duration::ZERO)))
            }
            time => time,
        }
    }
}

/// A client identity that always offers the same chain and signer.
#[derive(Debug)]
struct ClientIdentity(Arc<CertifiedKey>);

impl ResolvesClientCert for ClientIdentity {
    fn resolve(&self, _hints: &[&[u8]], schemes: &[SignatureScheme]) -> Option<Arc<CertifiedKey>> {
        self.0.key.choose_scheme(schemes).map(|_| self.0.clone())
    }

    fn has_certs(&self) -> bool {
        true
    }
}

impl fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfig")
            .field("trust", &self.trust)
            .field("policy", &self.policy)
            .field("resumption", &self.sessions.is_some())
            .field("alpn", &self.alpn)
            .finish()
    }
}

impl fmt::Debug for TlsConfigBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsConfigBuilder").field("policy", &self.policy).finish()
    }
}

impl fmt::Debug for DangerousConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DangerousConfig")
    }
}
