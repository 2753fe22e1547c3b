//! What embedded-tls asks its crypto provider for: randomness and a verifier, both anchormq's.
//!
//! Owns: [`Provider`] (always hands out a [`Verifier`], so embedded-tls's "no verifier, accept
//! anything" path is unreachable), [`Verifier`] (the server's chain through `verify_cached`, the
//! configuration's chain cache in front of [`crate::verify::verify_server_chain`], then its
//! CertificateVerify signature with [`crate::crypto::tls13_algorithm`]), [`engine_alert`] (the
//! table's [`Alert`] as embedded-tls's `AlertDescription`) and [`EntropyRng`] ([`Entropy`] as a
//! `CryptoRngCore`).
//!
//! The outcome: embedded-tls's error carries only the alert, so the verifier keeps its
//! [`Refusal`] (or its proof) in itself, and the one connection that owns this verifier reads it
//! when `open` returns. The verifier is built per handshake and owned by it: no other connection
//! can see it. A chain the cache answered for costs one signature check (the CertificateVerify)
//! instead of three on a two-certificate chain.
//!
//! Never: uses embedded-tls's own certificate checks, accepts a certificate under the PSK
//! profile, or reports a server as verified unless both its chain and its signature over the
//! handshake were checked. Built with `embedded-tls-psk` alone, it has no certificate profile
//! and refuses every Certificate and CertificateVerify unparsed: no certificate parsing or path
//! validation is linked.
//!
//! Implements: RFC 8446 §4.4.2 (Certificate), §4.4.3 (CertificateVerify: the signed content is
//! 64 spaces, the context string, a zero byte and the transcript hash up to Certificate).

use alloc::vec::Vec;

#[cfg(feature = "embedded-tls")]
use embedded_tls::CertificateEntryRef;
use embedded_tls::alert::{AlertDescription, AlertLevel};
use embedded_tls::{
    Aes128GcmSha256, CertificateRef, CertificateVerifyRef, CryptoProvider, TlsCipherSuite,
    TlsError as EngineError, TlsVerifier,
};
use p256::elliptic_curve::rand_core::{CryptoRng, CryptoRngCore, RngCore};
#[cfg(feature = "embedded-tls")]
use pki_types::{CertificateDer, ServerName};
#[cfg(feature = "embedded-tls")]
use sha2::Digest;
use zeroize::Zeroizing;

#[cfg(feature = "embedded-tls")]
use super::client::ClientCertificate;
use super::wire::Gate;
use crate::crypto::{Entropy, EntropyError};
use crate::error::TlsError;
#[cfg(feature = "embedded-tls")]
use crate::error::TrustError;
#[cfg(feature = "embedded-tls")]
use crate::time::{TimePolicy, TimeSource};
use crate::verify::{Alert, Fault, Refusal, VerifiedPeer};
#[cfg(feature = "embedded-tls")]
use crate::verify::{Anchors, ChainCache, verify_cached};

/// The one cipher suite this engine offers (TLS_AES_128_GCM_SHA256, RFC 8446 §9.1).
pub(super) type Suite = Aes128GcmSha256;

/// What the verifier checks against.
pub(super) enum Expect<'c> {
    /// A certificate chain to these anchors, valid for this name at the policy's time.
    #[cfg(feature = "embedded-tls")]
    Certificates {
        anchors: &'c Anchors,
        name: ServerName<'static>,
        clock: &'c dyn TimeSource,
        policy: TimePolicy,
        /// The configuration's verified chains.
        cache: &'c ChainCache,
    },
    /// No certificate at all: the pre-shared key authenticates the server.
    Psk,
    /// Keeps the lifetime when the certificate profile is not built; never constructed.
    #[cfg(not(feature = "embedded-tls"))]
    #[allow(dead_code)]
    Never(core::marker::PhantomData<&'c ()>),
}

/// anchormq's verifier in embedded-tls's shape.
pub(super) struct Verifier<'c> {
    // A PSK-only build refuses every certificate without looking.
    #[cfg_attr(not(feature = "embedded-tls"), allow(dead_code))]
    expect: Expect<'c>,
    /// The verified chain's proof, its leaf (for the signature) and the transcript hash up to
    /// and including the Certificate message.
    peer: Option<VerifiedPeer>,
    #[cfg(feature = "embedded-tls")]
    leaf: Option<Vec<u8>>,
    #[cfg(feature = "embedded-tls")]
    transcript: Option<[u8; 32]>,
    /// The chain cache answered for the chain.
    #[cfg(feature = "embedded-tls")]
    cached: bool,
    signed: bool,
    pub(super) refusal: Option<Refusal>,
}

/// The crypto provider handed to embedded-tls.
pub(super) struct Provider<'c> {
    rng: EntropyRng,
    pub(super) verifier: Verifier<'c>,
    /// This client's certificate, under a certificate profile that has one.
    #[cfg(feature = "embedded-tls")]
    client: Option<&'c ClientCertificate>,
    #[cfg_attr(not(feature = "embedded-tls"), allow(dead_code))]
    gate: Gate,
    /// Why this client could not sign its CertificateVerify, if it could not.
    sign_failure: Option<TlsError>,
    /// The broker asked for a client certificate (embedded-tls asks for one only then).
    pub(super) certificate_requested: bool,
}

/// [`Entropy`] as the `CryptoRngCore` embedded-tls draws its ClientHello random and ephemeral
/// P-256 key from.
///
/// `RngCore::fill_bytes` cannot fail, so a 32-byte seed is drawn (fallibly) before the handshake:
/// if the entropy source fails later, output comes from HMAC-SHA256(seed, counter) instead, which
/// is still unpredictable. Never panics, never returns constant bytes (the P-256 key generation
/// would loop forever on them).
pub(super) struct EntropyRng {
    entropy: &'static dyn Entropy,
    seed: Zeroizing<[u8; 32]>,
    counter: u64,
}

impl<'c> Verifier<'c> {
    pub(super) fn new(expect: Expect<'c>) -> Self {
        Self {
            expect,
            peer: None,
            #[cfg(feature = "embedded-tls")]
            leaf: None,
            #[cfg(feature = "embedded-tls")]
            transcript: None,
            #[cfg(feature = "embedded-tls")]
            cached: false,
            signed: false,
            refusal: None,
        }
    }

    /// The proof, if the chain and the handshake signature were both verified.
    pub(super) fn proof(&self) -> Option<&VerifiedPeer> {
        self.peer.as_ref().filter(|_| self.signed)
    }

    /// Whether the chain cache answered for the verified chain.
    pub(super) fn chain_cache_hit(&self) -> bool {
        #[cfg(feature = "embedded-tls")]
        return self.cached && self.proof().is_some();
        #[cfg(not(feature = "embedded-tls"))]
        false
    }

    /// Keeps the refusal for the connection and aborts with the table's alert for it.
    fn refuse(&mut self, refusal: Refusal) -> EngineError {
        let alert = engine_alert(refusal.alert());
        self.refusal = Some(refusal);
        EngineError::AbortHandshake(AlertLevel::Fatal, alert)
    }
}

/// The table's alert as embedded-tls names it.
pub(crate) fn engine_alert(alert: Alert) -> AlertDescription {
    match alert {
        Alert::UnexpectedMessage => AlertDescription::UnexpectedMessage,
        Alert::BadCertificate => AlertDescription::BadCertificate,
        Alert::UnsupportedCertificate => AlertDescription::UnsupportedCertificate,
        Alert::CertificateRevoked => AlertDescription::CertificateRevoked,
        Alert::CertificateExpired => AlertDescription::CertificateExpired,
        Alert::IllegalParameter => AlertDescription::IllegalParameter,
        Alert::UnknownCa => AlertDescription::UnknownCa,
        Alert::AccessDenied => AlertDescription::AccessDenied,
        Alert::DecodeError => AlertDescription::DecodeError,
        Alert::DecryptError => AlertDescription::DecryptError,
    }
}

impl TlsVerifier<Suite> for Verifier<'_> {
    fn set_hostname_verification(&mut self, _hostname: &str) -> Result<(), EngineError> {
        // The name checked is the one anchormq parsed before the handshake (`Expect`), never the
        // string embedded-tls hands back; for IP addresses it sends no SNI at all.
        Ok(())
    }

    fn verify_certificate(
        &mut self,
        transcript: &<Suite as TlsCipherSuite>::Hash,
        cert: CertificateRef<'_>,
    ) -> Result<(), EngineError> {
        #[cfg(feature = "embedded-tls")]
        if let Expect::Certificates { anchors, name, clock, policy, cache } = &self.expect {
            let (anchors, name, clock, policy, cache) = (*anchors, name.clone(), *clock, *policy, *cache);
            return self.check_chain(
                transcript,
                &cert,
                Against { anchors, name: &name, clock, policy, cache },
            );
        }
        let _ = (transcript, cert);
        Err(self.refuse(Refusal::Fault(Fault::Unexpected(
            "the broker sent a certificate in a pre-shared-key handshake",
        ))))
    }

    fn verify_signature(&mut self, verify: CertificateVerifyRef<'_>) -> Result<(), EngineError> {
        #[cfg(feature = "embedded-tls")]
        {
            self.check_signature(&verify)
        }
        // A PSK-only build never verifies a Certificate, so no CertificateVerify can follow one.
        #[cfg(not(feature = "embedded-tls"))]
        {
            let _ = verify;
            Err(self.refuse(Refusal::Fault(Fault::Unexpected(
                "the broker sent CertificateVerify without a verified Certificate",
            ))))
        }
    }
}

/// What a chain is checked against (the certificate profile's [`Expect`], borrowed).
#[cfg(feature = "embedded-tls")]
struct Against<'a> {
    anchors: &'a Anchors,
    name: &'a ServerName<'static>,
    clock: &'a dyn TimeSource,
    policy: TimePolicy,
    cache: &'a ChainCache,
}

#[cfg(feature = "embedded-tls")]
impl Verifier<'_> {
    /// The broker's chain, through the chain cache and `verify_server_chain` at the policy's time.
    fn check_chain(
        &mut self,
        transcript: &<Suite as TlsCipherSuite>::Hash,
        cert: &CertificateRef<'_>,
        against: Against<'_>,
    ) -> Result<(), EngineError> {
        if self.leaf.is_some() {
            return Err(
                self.refuse(Refusal::Fault(Fault::Unexpected("the broker sent a second Certificate")))
            );
        }
        let mut chain = Vec::with_capacity(cert.entries.len());
        for entry in &cert.entries {
            match entry {
                CertificateEntryRef::X509(der) => chain.push(CertificateDer::from(*der)),
                CertificateEntryRef::RawPublicKey(_) => {
                    return Err(self.refuse(Refusal::Fault(Fault::RawKeyNotNegotiated)));
                }
            }
        }
        let Some((leaf, intermediates)) = chain.split_first() else {
            return Err(self.refuse(Refusal::Fault(Fault::EmptyChain)));
        };
        let time = match against.policy.decide(against.clock.now()) {
            Ok(time) => time,
            Err(e) => return Err(self.refuse(Refusal::Time(e))),
        };
        let algorithms = crate::crypto::ALGORITHMS;
        match verify_cached(
            against.cache,
            algorithms,
            against.anchors,
            leaf,
            intermediates,
            against.name,
            time,
        ) {
            Ok((peer, cached)) => {
                self.peer = Some(peer);
                self.cached = cached;
                self.leaf = Some(leaf.to_vec());
                self.transcript = Some(transcript.clone().finalize().into());
                Ok(())
            }
            Err(e) => Err(self.refuse(Refusal::Trust(e))),
        }
    }

    /// The server's CertificateVerify over the transcript, with the verified leaf's key.
    fn check_signature(&mut self, verify: &CertificateVerifyRef<'_>) -> Result<(), EngineError> {
        let (Some(leaf), Some(hash), Some(_)) = (&self.leaf, &self.transcript, &self.peer) else {
            return Err(self.refuse(Refusal::Fault(Fault::Unexpected(
                "the broker sent CertificateVerify without a verified Certificate",
            ))));
        };
        // RFC 8446 §4.4.3: PKCS#1 v1.5 and SHA-1 never sign a TLS 1.3 handshake, and the ECDSA
        // schemes bind the curve: `tls13_algorithm` knows exactly the schemes TLS 1.3 allows.
        let alg = crate::crypto::tls13_algorithm(verify.signature_scheme.as_u16());
        let Some(alg) = alg else {
            return Err(self.refuse(Refusal::Fault(Fault::SchemeNotAllowed)));
        };
        let mut message = Vec::with_capacity(130);
        message.extend_from_slice(&[0x20; 64]);
        message.extend_from_slice(b"TLS 1.3, server CertificateVerify\x00");
        message.extend_from_slice(hash);
        let der = CertificateDer::from(leaf.as_slice());
        let checked = webpki::EndEntityCert::try_from(&der)
            .map_err(|_| ())
            .and_then(|ee| ee.verify_signature(alg, &message, verify.signature).map_err(|_| ()));
        match checked {
            Ok(()) => {
                self.signed = true;
                Ok(())
            }
            Err(()) => Err(self.refuse(Refusal::Trust(TrustError::BadSignature))),
        }
    }
}

impl<'c> Provider<'c> {
    pub(super) fn new(
        rng: EntropyRng,
        verifier: Verifier<'c>,
        #[cfg(feature = "embedded-tls")] client: Option<&'c ClientCertificate>,
        #[cfg(not(feature = "embedded-tls"))] _client: Option<core::convert::Infallible>,
        gate: Gate,
    ) -> Self {
        Self {
            rng,
            verifier,
            #[cfg(feature = "embedded-tls")]
            client,
            gate,
            sign_failure: None,
            certificate_requested: false,
        }
    }

    /// Why the handshake was refused on this side: the verifier's verdict, or the signer's.
    pub(super) fn refusal<T>(&mut self) -> Option<crate::Error<T>> {
        match self.verifier.refusal.take() {
            Some(refusal) => Some(refusal.into()),
            None => self.sign_failure.take().map(crate::Error::Tls),
        }
    }
}

impl CryptoProvider for Provider<'_> {
    type CipherSuite = Suite;
    type Signature = Vec<u8>;

    fn rng(&mut self) -> impl CryptoRngCore {
        &mut self.rng
    }

    fn verifier(&mut self) -> Result<&mut impl TlsVerifier<Suite>, EngineError> {
        // Always ours, for every profile: embedded-tls skips verification when this fails.
        Ok(&mut self.verifier)
    }

    // Without a client certificate the defaults apply: an empty Certificate when the broker
    // asks (it decides whether to go on), and no signer.
    #[cfg(feature = "embedded-tls")]
    fn client_cert(&mut self) -> Option<embedded_tls::Certificate<impl AsRef<[u8]>>> {
        self.certificate_requested = true;
        self.client.map(|client| embedded_tls::Certificate::X509(client.der()))
    }

    #[cfg(feature = "embedded-tls")]
    fn signer(
        &mut self,
    ) -> Result<(impl signature::SignerMut<Vec<u8>>, embedded_tls::SignatureScheme), EngineError> {
        // embedded-tls asks only after sending the certificate `client_cert` gave.
        let client = self.client.ok_or(EngineError::InvalidPrivateKey)?;
        Ok((client.signing(&self.gate, &mut self.sign_failure), client.engine_scheme()))
    }
}

impl EntropyRng {
    /// Draws the fallback seed.
    ///
    /// # Errors
    /// [`EntropyError`] when the source cannot produce the seed: nothing has been sent yet.
    pub(super) fn new(entropy: &'static dyn Entropy) -> Result<Self, EntropyError> {
        let mut seed = Zeroizing::new([0u8; 32]);
        entropy.fill(seed.as_mut())?;
        Ok(Self { entropy, seed, counter: 0 })
    }

    fn fallback(&mut self, dest: &mut [u8]) {
        use hmac::{Mac, SimpleHmac};
        for chunk in dest.chunks_mut(32) {
            self.counter = self.counter.wrapping_add(1);
            let Ok(mut mac) = SimpleHmac::<sha2::Sha256>::new_from_slice(self.seed.as_ref()) else {
                return;
            };
            mac.update(&self.counter.to_be_bytes());
            let block = mac.finalize().into_bytes();
            let n = chunk.len().min(block.len());
            if let (Some(d), Some(s)) = (chunk.get_mut(..n), block.get(..n)) {
                d.copy_from_slice(s);
            }
        }
    }
}

impl RngCore for EntropyRng {
    fn next_u32(&mut self) -> u32 {
        p256::elliptic_curve::rand_core::impls::next_u32_via_fill(self)
    }

    fn next_u64(&mut self) -> u64 {
        p256::elliptic_curve::rand_core::impls::next_u64_via_fill(self)
    }

    fn fill_bytes(&mut self, dest: &mut [u8]) {
        if self.entropy.fill(dest).is_err() {
            self.fallback(dest);
        }
    }

    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), p256::elliptic_curve::rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for EntropyRng {}

#[cfg(test)]
mod tests;
