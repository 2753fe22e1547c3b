//! The rustls side of verification: the `ServerCertVerifier` every rustls connection uses, one
//! per configuration (rustls resumes a session only with the verifier that verified it).
//!
//! Never: decides anything itself: chains go to [`verify_server_chain`], pinned keys to
//! `verify::pinned`; this module records the outcome for the connection that asked.

use alloc::format;
use alloc::string::ToString;
use alloc::sync::Arc;
use alloc::vec::Vec;
use core::fmt;

use pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};

use crate::error::{TimeError, TrustError};
use crate::time::{TimePolicy, TimeSource, ValidityTime};
use crate::verify::{Anchors, Check, Explanation, VerifiedPeer, explain, pinned, verify_server_chain_with};

/// A verification outcome recorded for the connection that asked for it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Verified(VerifiedPeer),
    Trust(TrustError),
    Time(TimeError),
}

/// A chain a server presented, under the name it was asked for.
type KeptChain = (ServerName<'static>, Vec<CertificateDer<'static>>);

/// Outcomes kept at most: one per handshake in flight through the same configuration.
const OUTCOMES: usize = 8;

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
/// that verified it. The outcome of each verification is recorded under the server name, and the
/// connection takes it back by that name and checks it names the certificate it received.
pub(crate) struct ServerVerifier {
    trust: Trust,
    clock: Arc<dyn TimeSource>,
    policy: TimePolicy,
    outcomes: spin::Mutex<Vec<(ServerName<'static>, Outcome)>>,
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
        Self { trust, clock, policy, outcomes: spin::Mutex::new(Vec::new()), chains, algorithms }
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
            if chains.len() >= OUTCOMES {
                chains.remove(0);
            }
            let chain =
                core::iter::once(end_entity).chain(intermediates).map(|c| c.clone().into_owned()).collect();
            chains.push((name.to_owned(), chain));
        }
    }

    /// What the last verification for `name` concluded, taken out.
    pub(crate) fn take_outcome(&self, name: &ServerName<'_>) -> Option<Outcome> {
        let mut outcomes = self.outcomes.lock();
        let i = outcomes.iter().rposition(|(n, _)| n == name)?;
        Some(outcomes.remove(i).1)
    }

    fn record(&self, name: &ServerName<'_>, outcome: Outcome) {
        let mut outcomes = self.outcomes.lock();
        if outcomes.len() >= OUTCOMES {
            outcomes.remove(0);
        }
        outcomes.push((name.to_owned(), outcome));
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
            Trust::Chain(anchors) => {
                let time = match self.policy.decide(self.clock.now()) {
                    Ok(time) => time,
                    Err(e) => {
                        self.record(server_name, Outcome::Time(e));
                        return Err(rustls::Error::InvalidCertificate(
                            CertificateError::ApplicationVerificationFailure,
                        ));
                    }
                };
                verify_server_chain_with(
                    self.algorithms.all,
                    anchors,
                    end_entity,
                    intermediates,
                    server_name,
                    time,
                )
            }
            // A pinned key is the identity: no dates are consulted, so no clock is needed.
            Trust::KeyPins { pins, raw } => pinned::verify(pins, end_entity, *raw, server_name),
        };
        match verdict {
            Ok(peer) => {
                self.record(server_name, Outcome::Verified(peer));
                Ok(ServerCertVerified::assertion())
            }
            Err(e) => {
                // The rustls error only selects the alert sent to the broker; the detailed
                // error is what the application sees.
                let alert_reason = match &e {
                    TrustError::Expired { .. } => CertificateError::Expired,
                    TrustError::NotYetValid { .. } => CertificateError::NotValidYet,
                    TrustError::UnknownIssuer { .. } => CertificateError::UnknownIssuer,
                    TrustError::NameMismatch { .. } => CertificateError::NotValidForName,
                    TrustError::BadSignature => CertificateError::BadSignature,
                    _ => CertificateError::ApplicationVerificationFailure,
                };
                self.record(server_name, Outcome::Trust(e));
                Err(rustls::Error::InvalidCertificate(alert_reason))
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
