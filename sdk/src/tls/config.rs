//! Configuration of a secure connection, built once and used for every connection.

use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::{ResolvesClientCert, Resumption, Tls12Resumption};
use rustls::sign::CertifiedKey;
use rustls::time_provider::TimeProvider;
use rustls::{ClientConfig, SignatureScheme};

use crate::crypto::{Entropy, Signer};
use crate::error::ConfigError;
use crate::time::{NoClock, TimePolicy, TimeSource, TimelessAcknowledged};
use crate::tls::SessionCache;
use crate::verify::{Anchors, Explanation, ServerVerifier};

/// How every connection made with it is secured. Cheap to share; build it once.
#[derive(Clone)]
pub struct TlsConfig {
    base: Arc<ClientConfig>,
    verifier: Arc<ServerVerifier>,
    anchors: Anchors,
    policy: TimePolicy,
    sessions: Option<Arc<SessionCache>>,
}

/// Builds a [`TlsConfig`]. Nothing is weakened unless [`TlsConfigBuilder::dangerous`] is called.
pub struct TlsConfigBuilder {
    entropy: &'static dyn Entropy,
    anchors: Option<Anchors>,
    clock: Arc<dyn TimeSource>,
    policy: TimePolicy,
    sessions: Option<Arc<SessionCache>>,
    client: Option<(Vec<CertificateDer<'static>>, Arc<dyn Signer>)>,
    max_fragment: Option<usize>,
    keep_chains: bool,
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
            clock: Arc::new(NoClock),
            policy: TimePolicy::RequireTime,
            sessions: Some(Arc::new(SessionCache::new(4))),
            client: None,
            max_fragment: None,
            keep_chains: false,
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

    /// Authenticate this client with a certificate chain whose private key is behind `signer`.
    pub fn client_identity(mut self, chain: Vec<CertificateDer<'static>>, signer: Arc<dyn Signer>) -> Self {
        self.client = Some((chain, signer));
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
        let anchors = self.anchors.ok_or(ConfigError::NoTrustAnchors)?;
        let provider = Arc::new(crate::crypto::provider(self.entropy));
        let clock = Arc::new(PolicyClock { clock: self.clock.clone(), policy: self.policy });
        let versions: &[&rustls::SupportedProtocolVersion] = &[
            &rustls::version::TLS13,
            #[cfg(feature = "tls12")]
            &rustls::version::TLS12,
        ];
        let verifier =
            Arc::new(ServerVerifier::new(anchors.clone(), self.clock.clone(), self.policy, self.keep_chains));
        let wants_client = ClientConfig::builder_with_details(provider, clock)
            .with_protocol_versions(versions)
            .map_err(|_| ConfigError::Engine {
                reason: "the provider lacks suites for the protocol versions",
            })?
            .dangerous()
            .with_custom_certificate_verifier(verifier.clone());
        let mut config = match self.client {
            None => wants_client.with_no_client_auth(),
            Some((chain, _)) if chain.is_empty() => {
                return Err(ConfigError::ClientIdentity { reason: "the certificate chain is empty" });
            }
            Some((chain, signer)) => {
                let key = CertifiedKey::new(chain, crate::crypto::signing_key(signer));
                wants_client.with_client_cert_resolver(Arc::new(ClientIdentity(Arc::new(key))))
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
            anchors,
            policy: self.policy,
            sessions: self.sessions,
        })
    }
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
}

impl fmt::Debug for PolicyClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PolicyClock").field("policy", &self.policy).finish()
    }
}

impl TimeProvider for PolicyClock {
    fn current_time(&self) -> Option<UnixTime> {
        self.policy.engine_time(self.clock.now())
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
            .field("anchors", &self.anchors.as_slice().len())
            .field("policy", &self.policy)
            .field("resumption", &self.sessions.is_some())
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
