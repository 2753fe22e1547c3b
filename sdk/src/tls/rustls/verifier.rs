//! The rustls side of verification: the `ServerCertVerifier` every rustls connection uses, one
//! per configuration (rustls resumes a session only with the verifier that verified it).
//!
//! Never: decides anything itself: chains go to [`verify_cached`] (the configuration's
//! [`ChainCache`], so a reconnect to the same chain skips its signature checks), pinned keys to
//! `verify::pinned`; picks an alert (the table is [`Refusal::alert`]; [`certificate_error`] only
//! names the `CertificateError` rustls sends that alert for).
//!
//! # How the outcome reaches the connection
//! rustls's `verify_server_cert` returns only `ServerCertVerified`, a zero-sized assertion, or a
//! `rustls::Error` that selects the alert. Neither carries anchormq's proof or refusal: the one
//! payload-carrying error, `CertificateError::Other(OtherError)`, holds nothing without rustls's
//! `std` feature (the sdk is `no_std`; its field is `#[cfg(feature = "std")]`), and rustls
//! answers it with `certificate_unknown` whatever the refusal was, which would undo the one
//! alert table. Nor does rustls tell the verifier which connection is asking.
//!
//! So the outcome is handed back inside the one call that produced it: while a connection's
//! handshake processes records (`process_tls_records`, synchronous, no await inside) it holds
//! this verifier's turn ([`ServerVerifier::turn`]); the verifier leaves its outcome in the slot
//! and the connection takes it before releasing the turn. Only the connection whose records
//! carried the chain can see the outcome: nothing is keyed by server name, nothing is read later.
//! Handshakes through one configuration on different threads take turns for the length of one
//! record-processing call (on a single-threaded executor, the device's, never).
//!
//! The success side, the [`VerifiedPeer`], travels the same way, with whether the chain cache
//! answered: rustls has no slot for either in `ServerCertVerified`. The connection still checks
//! that the proof names the certificate rustls finally reports.

use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::time::{TimePolicy, TimeSource, ValidityTime};
use crate::verify::{
    Alert, Anchors, ChainCache, Check, Explanation, Refusal, VerifiedPeer, explain, pinned, verify_cached,
};

/// What one verification concluded, for the connection that asked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    /// The chain passed; `cached` when the chain cache answered for it.
    Verified {
        peer: VerifiedPeer,
        cached: bool,
    },
    Refused(Refusal),
}

/// A chain a server presented, under the name it was asked for.
type KeptChain = (ServerName<'static>, Vec<CertificateDer<'static>>);

/// Chains kept at most for diagnostics.
const KEPT_CHAINS: usize = 8;

/// What a server is trusted by.
#[derive(Clone, Debug)]
pub(crate) enum Trust {
    /// A certificate chain ending at one of these anchors.
    Chain(Anchors),
    /// Its public key alone: one of these SHA-256 SPKI digests; `raw` for RFC 7250 raw public
    /// keys instead of a certificate.
    KeyPins { pins: Arc<[[u8; 32]]>, raw: bool },
}

/// The rustls verifier, one per configuration: rustls resumes a session only with the verifier
/// that verified it. Its outcome goes to the connection holding the turn (see the module docs).
pub(crate) struct ServerVerifier {
    trust: Trust,
    clock: Arc<dyn TimeSource>,
    policy: TimePolicy,
    /// Held by a connection for each record-processing call of its handshake.
    turn: spin::Mutex<()>,
    /// The outcome of the verification that ran during the current turn.
    slot: spin::Mutex<Option<Outcome>>,
    /// The configuration's verified chains, for its reconnects.
    cache: ChainCache,
    /// The chains servers presented, kept only when diagnostics ask for them.
    chains: Option<spin::Mutex<Vec<KeptChain>>>,
    /// What checks certificate and handshake signatures: the provider's.
    algorithms: WebPkiSupportedAlgorithms,
}

impl ServerVerifier {
    pub(crate) fn new(
        trust: Trust,
        clock: Arc<dyn TimeSource>,
        policy: TimePolicy,
        keep_chains: bool,
        algorithms: WebPkiSupportedAlgorithms,
    ) -> Self {
        let chains = keep_chains.then(|| spin::Mutex::new(Vec::new()));
        Self {
            trust,
            clock,
            policy,
            turn: spin::Mutex::new(()),
            slot: spin::Mutex::new(None),
            cache: ChainCache::new(),
            chains,
            algorithms,
        }
    }

    /// Runs `process` (one `process_tls_records` call) holding this verifier's turn, and returns
    /// what it returned with the outcome of any verification it ran.
    pub(crate) fn turn<R>(&self, process: impl FnOnce() -> R) -> (R, Option<Outcome>) {
        let _turn = self.turn.lock();
        // Whatever a call outside a turn left is not this connection's.
        drop(self.slot.lock().take());
        let result = process();
        let outcome = self.slot.lock().take();
        (result, outcome)
    }

    fn raw_keys(&self) -> bool {
        matches!(self.trust, Trust::KeyPins { raw: true, .. })
    }

    /// The chain `name` presented last, when chains are kept.
    pub(crate) fn presented_chain(&self, name: &ServerName<'_>) -> Option<Vec<CertificateDer<'static>>> {
        let chains = self.chains.as_ref()?.lock();
        chains.iter().rev().find(|(n, _)| n == name).map(|(_, c)| c.clone())
    }

    /// Explains the chain `name` presented last, at the time the policy gives now.
    pub(crate) fn explain_last(&self, name: &ServerName<'_>) -> Option<Explanation> {
        let chain = self.presented_chain(name)?;
        let decision = self.policy.decide(self.clock.now());
        let time = decision.clone().unwrap_or(ValidityTime::Skip);
        let Trust::Chain(anchors) = &self.trust else { return None };
        let mut report = explain(anchors, &chain, name, time);
        report.checks.insert(
            0,
            Check {
                name: "time policy",
                outcome: match decision {
                    Ok(ValidityTime::At { time, basis }) => {
                        Ok(format!("{} ({basis})", crate::time::fmt_unix(time)))
                    }
                    Ok(ValidityTime::Skip) => Ok("timeless: validity dates are not checked".into()),
                    Err(e) => Err(e.to_string()),
                },
            },
        );
        Some(report)
    }

    fn keep_chain(
        &self,
        name: &ServerName<'_>,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
    ) {
        if let Some(chains) = &self.chains {
            let mut chains = chains.lock();
            if chains.len() >= KEPT_CHAINS {
                chains.remove(0);
            }
            let chain =
                core::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
            chains.push((name.to_owned(), chain));
        }
    }

    fn hand_back(&self, outcome: Outcome) {
        *self.slot.lock() = Some(outcome);
    }
}

impl fmt::Debug for ServerVerifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerVerifier").field("trust", &self.trust).field("policy", &self.policy).finish()
    }
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        self.keep_chain(server_name, end_entity, intermediates);
        let verdict = match &self.trust {
            Trust::Chain(anchors) => match self.policy.decide(self.clock.now()) {
                Ok(time) => verify_cached(
                    &self.cache,
                    self.algorithms.all,
                    anchors,
                    end_entity,
                    intermediates,
                    server_name,
                    time,
                )
                .map_err(Refusal::Trust),
                Err(e) => Err(Refusal::Time(e)),
            },
            // A pinned key is the identity: no dates are consulted, so no clock is needed.
            Trust::KeyPins { pins, raw } => pinned::verify(pins, end_entity, *raw, server_name)
                .map(|p| (p, false))
                .map_err(Refusal::Trust),
        };
        match verdict {
            Ok((peer, cached)) => {
                self.hand_back(Outcome::Verified { peer, cached });
                Ok(ServerCertVerified::assertion())
            }
            Err(refusal) => {
                // The rustls error only selects the alert sent to the broker; the refusal is
                // what the application sees.
                let alert = certificate_error(refusal.alert());
                self.hand_back(Outcome::Refused(refusal));
                Err(rustls::Error::InvalidCertificate(
                    alert.unwrap_or(CertificateError::ApplicationVerificationFailure),
                ))
            }
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        if self.raw_keys() {
            let spki = pki_types::SubjectPublicKeyInfoDer::from(cert.as_ref());
            return rustls::crypto::verify_tls13_signature_with_raw_key(
                message,
                &spki,
                dss,
                &self.algorithms,
            );
        }
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn requires_raw_public_keys(&self) -> bool {
        self.raw_keys()
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// The `CertificateError` for which rustls sends `alert` (its `From<CertificateError> for
/// AlertDescription`). `None` for the protocol alerts, which a rustls verifier never needs:
/// rustls refuses out-of-order or malformed handshake messages itself, before any verifier runs.
pub(crate) fn certificate_error(alert: Alert) -> Option<CertificateError> {
    Some(match alert {
        Alert::BadCertificate => CertificateError::BadEncoding,
        Alert::UnsupportedCertificate => CertificateError::InvalidPurpose,
        Alert::CertificateRevoked => CertificateError::Revoked,
        Alert::CertificateExpired => CertificateError::Expired,
        Alert::UnknownCa => CertificateError::UnknownIssuer,
        Alert::AccessDenied => CertificateError::ApplicationVerificationFailure,
        Alert::DecryptError => CertificateError::BadSignature,
        Alert::UnexpectedMessage | Alert::IllegalParameter | Alert::DecodeError => return None,
    })
}
