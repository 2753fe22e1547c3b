//! This client's certificate on the embedded-tls engine (mutual TLS): the certificate and
//! [`Signer`] embedded-tls asks its crypto provider for, and the signing step made safe.
//!
//! Owns: [`ClientCertificate`] (checked when the configuration is built: one certificate, a
//! signature scheme the engine can carry) and [`Signing`], the `signature::SignerMut`
//! embedded-tls calls.
//!
//! Never: panics or sends a CertificateVerify that was not signed. embedded-tls 0.19 calls the
//! infallible `SignerMut::sign`; when the [`Signer`] fails (a secure element that errors),
//! [`Signing`] records the failure, returns an empty signature and closes the gate (`wire::Gate`), so the
//! transport adapter refuses the record before a byte of it leaves and the handshake ends with
//! [`TlsError::ClientKeyFailed`].
//!
//! Implements: RFC 8446 §4.4.2 (client Certificate), §4.4.3 (client CertificateVerify).
//!
//! # Limits of embedded-tls's client certificates
//! * **One certificate**: the leaf alone is sent, never intermediates. The broker must know the
//!   issuing CA itself (Mosquitto: put the intermediate in `cafile`). A chain of more than one
//!   certificate is refused when the configuration is built, not silently cut.
//! * **Signatures of at most 104 bytes**, as anchormq builds embedded-tls (without its `rsa`
//!   feature): ECDSA P-256 (and P-384 with `sig-p384`) and Ed25519 keys; RSA client keys need
//!   the rustls engine.
//! * The server's `signature_algorithms` in its CertificateRequest are not exposed: the scheme
//!   is the signer's first one the engine can carry, and a broker that does not accept it
//!   refuses the handshake with an alert.

use alloc::boxed::Box;
use alloc::vec::Vec;
use core::fmt;

use embedded_tls::SignatureScheme as EngineScheme;
use pki_types::CertificateDer;

use super::wire::Gate;
use crate::crypto::{SignError, SignatureScheme, Signer};
use crate::error::{ConfigError, TlsError};

/// The longest signature embedded-tls carries in a CertificateVerify, as anchormq builds it.
pub(super) const MAX_SIGNATURE: usize = 104;

/// This client's certificate and the handle to its key, for the certificate profile.
pub(super) struct ClientCertificate {
    cert: Vec<u8>,
    signer: Box<dyn Signer>,
    scheme: SignatureScheme,
}

/// The `SignerMut` embedded-tls signs its CertificateVerify with.
pub(super) struct Signing<'a> {
    client: &'a ClientCertificate,
    gate: &'a Gate,
    failure: &'a mut Option<TlsError>,
}

impl ClientCertificate {
    /// Checks `chain` and `signer` against what embedded-tls can send.
    ///
    /// # Errors
    /// [`ConfigError::ClientIdentity`] for an empty chain, a chain with intermediates, or a
    /// signer with no scheme the engine can carry.
    pub(super) fn new(
        chain: Vec<CertificateDer<'static>>,
        signer: Box<dyn Signer>,
    ) -> Result<Self, ConfigError> {
        let mut chain = chain.into_iter();
        let (Some(leaf), None) = (chain.next(), chain.next()) else {
            return Err(ConfigError::ClientIdentity {
                reason: "embedded-tls sends exactly one client certificate: give the leaf alone, and give the \
                         broker its issuing CA (for Mosquitto, in cafile)",
            });
        };
        let Some(scheme) = signer.schemes().iter().copied().find(|s| engine_scheme(*s).is_some()) else {
            return Err(ConfigError::ClientIdentity {
                reason: "the signer offers no scheme embedded-tls can send (ECDSA P-256, P-384 with sig-p384, \
                         Ed25519; RSA signatures do not fit its 104-byte CertificateVerify): use the rustls engine",
            });
        };
        Ok(Self { cert: leaf.to_vec(), signer, scheme })
    }

    /// The certificate's DER.
    pub(super) fn der(&self) -> &[u8] {
        &self.cert
    }

    /// The scheme it signs with, in embedded-tls's terms.
    pub(super) fn engine_scheme(&self) -> EngineScheme {
        // INVARIANT: `new` chose a scheme `engine_scheme` maps.
        engine_scheme(self.scheme).unwrap_or(EngineScheme::EcdsaSecp256r1Sha256)
    }

    /// The signer embedded-tls calls, recording a failure in `failure`.
    pub(super) fn signing<'a>(&'a self, gate: &'a Gate, failure: &'a mut Option<TlsError>) -> Signing<'a> {
        Signing { client: self, gate, failure }
    }
}

/// The schemes embedded-tls can carry (their signatures fit [`MAX_SIGNATURE`]).
fn engine_scheme(scheme: SignatureScheme) -> Option<EngineScheme> {
    match scheme {
        SignatureScheme::EcdsaP256Sha256 => Some(EngineScheme::EcdsaSecp256r1Sha256),
        #[cfg(feature = "sig-p384")]
        SignatureScheme::EcdsaP384Sha384 => Some(EngineScheme::EcdsaSecp384r1Sha384),
        SignatureScheme::Ed25519 => Some(EngineScheme::Ed25519),
        _ => None,
    }
}

impl Signing<'_> {
    fn attempt(&self, message: &[u8]) -> Result<Vec<u8>, SignError> {
        let signature = self.client.signer.sign(self.client.scheme, message)?;
        if signature.len() > MAX_SIGNATURE {
            return Err(SignError::TooLong { len: signature.len(), limit: MAX_SIGNATURE });
        }
        Ok(signature)
    }
}

impl signature::SignerMut<Vec<u8>> for Signing<'_> {
    fn try_sign(&mut self, message: &[u8]) -> Result<Vec<u8>, signature::Error> {
        self.attempt(message).map_err(|_| signature::Error::new())
    }

    /// Never panics (the trait's default would): a failure closes the gate, so the empty
    /// signature returned is never sent.
    fn sign(&mut self, message: &[u8]) -> Vec<u8> {
        match self.attempt(message) {
            Ok(signature) => signature,
            Err(error) => {
                *self.failure = Some(TlsError::ClientKeyFailed { scheme: self.client.scheme, error });
                self.gate.close();
                Vec::new()
            }
        }
    }
}

impl fmt::Debug for ClientCertificate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCertificate")
            .field("der_len", &self.cert.len())
            .field("scheme", &self.scheme)
            .field("signer", &self.signer)
            .finish()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]
mod tests {
    use signature::SignerMut as _;

    use super::*;

    #[derive(Debug)]
    struct Fixed(&'static [SignatureScheme], Result<usize, SignError>);

    impl Signer for Fixed {
        fn schemes(&self) -> &[SignatureScheme] {
            self.0
        }

        fn sign(&self, _scheme: SignatureScheme, _message: &[u8]) -> Result<Vec<u8>, SignError> {
            self.1.map(|len| alloc::vec![0x30; len])
        }
    }

    fn leaf() -> CertificateDer<'static> {
        CertificateDer::from(alloc::vec![0x30, 0x03, 1, 2, 3])
    }

    #[test]
    fn only_one_certificate_and_a_scheme_the_engine_carries() {
        let p256: &'static [SignatureScheme] = &[SignatureScheme::EcdsaP256Sha256];
        let e =
            ClientCertificate::new(alloc::vec![leaf(), leaf()], Box::new(Fixed(p256, Ok(70)))).unwrap_err();
        assert!(alloc::format!("{e}").contains("exactly one client certificate"), "{e}");
        let e = ClientCertificate::new(Vec::new(), Box::new(Fixed(p256, Ok(70)))).unwrap_err();
        assert!(alloc::format!("{e}").contains("exactly one"), "{e}");
        let rsa: &'static [SignatureScheme] = &[SignatureScheme::RsaPssSha256];
        let e = ClientCertificate::new(alloc::vec![leaf()], Box::new(Fixed(rsa, Ok(256)))).unwrap_err();
        assert!(alloc::format!("{e}").contains("rustls engine"), "{e}");
        let both: &'static [SignatureScheme] =
            &[SignatureScheme::RsaPssSha256, SignatureScheme::EcdsaP256Sha256];
        let client = ClientCertificate::new(alloc::vec![leaf()], Box::new(Fixed(both, Ok(70)))).unwrap();
        assert_eq!(client.engine_scheme(), EngineScheme::EcdsaSecp256r1Sha256);
        assert_eq!(client.der(), leaf().as_ref());
    }

    #[test]
    fn a_failing_signer_closes_the_gate_instead_of_panicking() {
        let p256: &'static [SignatureScheme] = &[SignatureScheme::EcdsaP256Sha256];
        for (result, expected) in [
            (Err(SignError::Failed), SignError::Failed),
            (Ok(200), SignError::TooLong { len: 200, limit: MAX_SIGNATURE }),
        ] {
            let client = ClientCertificate::new(alloc::vec![leaf()], Box::new(Fixed(p256, result))).unwrap();
            let (gate, mut failure) = (Gate::default(), None);
            let signature = client.signing(&gate, &mut failure).sign(b"transcript");
            assert!(signature.is_empty());
            assert!(gate.closed());
            assert_eq!(
                failure,
                Some(TlsError::ClientKeyFailed { scheme: SignatureScheme::EcdsaP256Sha256, error: expected })
            );
        }
        let client = ClientCertificate::new(alloc::vec![leaf()], Box::new(Fixed(p256, Ok(71)))).unwrap();
        let (gate, mut failure) = (Gate::default(), None);
        assert_eq!(client.signing(&gate, &mut failure).sign(b"transcript").len(), 71);
        assert!(!gate.closed() && failure.is_none());
    }
}
