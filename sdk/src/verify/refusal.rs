//! Why verification refused a server, and the one alert table: which RFC 8446 alert the client
//! sends for each refusal, whichever engine runs the handshake.
//!
//! Owns: [`Refusal`] (a [`TrustError`], a [`TimeError`], or a [`Fault`] in the order of the
//! server's messages), [`Alert`] (the alerts a refusal can send) and [`Refusal::alert`], the
//! table. Each engine only translates an [`Alert`] into its own type
//! (`tls::rustls::verifier::certificate_error`, `tls::embedded::verifier::engine_alert`), the way
//! rustls keeps one table beside its error type.
//!
//! Never: names an engine; picks an alert anywhere but [`Refusal::alert`]; turns a refusal into
//! anything the application could mistake for success.
//!
//! Implements: RFC 8446 §6.2 (error alerts), §4.4.2.4 (an empty Certificate is `decode_error`),
//! §4.4.3 (a CertificateVerify that does not verify is `decrypt_error`).

use alloc::string::String;
use core::fmt;

use crate::error::{Error, TimeError, TlsError, TrustError};

/// Why verification refused the server: what the application is told, and what selects the
/// alert the broker is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// The chain or key failed a check.
    Trust(TrustError),
    /// The time policy forbids checking validity on this clock.
    Time(TimeError),
    /// The server's messages broke the handshake's order or shape.
    Fault(Fault),
}

/// A server message that breaks the handshake before any certificate check could run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// A message that has no place here: a certificate in a pre-shared-key handshake, a second
    /// Certificate, a CertificateVerify without a verified Certificate.
    Unexpected(&'static str),
    /// A Certificate message with no certificate (RFC 8446 §4.4.2.4).
    EmptyChain,
    /// A raw public key where an X.509 certificate was negotiated.
    RawKeyNotNegotiated,
    /// A CertificateVerify signed with a scheme TLS 1.3 does not allow or the client did not offer.
    SchemeNotAllowed,
}

/// The alerts a refusal sends (RFC 8446 §6.2), by their registered names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alert {
    /// `unexpected_message` (10).
    UnexpectedMessage,
    /// `bad_certificate` (42).
    BadCertificate,
    /// `unsupported_certificate` (43).
    UnsupportedCertificate,
    /// `certificate_revoked` (44).
    CertificateRevoked,
    /// `certificate_expired` (45).
    CertificateExpired,
    /// `illegal_parameter` (47).
    IllegalParameter,
    /// `unknown_ca` (48).
    UnknownCa,
    /// `access_denied` (49).
    AccessDenied,
    /// `decode_error` (50).
    DecodeError,
    /// `decrypt_error` (51).
    DecryptError,
}

impl Refusal {
    /// The alert the client sends for this refusal: the one table both engines use.
    ///
    /// Local policy that declines a certificate which is otherwise fine (pins, the time policy)
    /// is `access_denied`; the deny-list is local revocation, so `certificate_revoked`.
    pub fn alert(&self) -> Alert {
        match self {
            Self::Trust(e) => trust_alert(e),
            // The certificate may be fine; the client's policy declines to proceed without time.
            Self::Time(TimeError::NoTrustedTime) => Alert::AccessDenied,
            Self::Fault(Fault::Unexpected(_)) => Alert::UnexpectedMessage,
            Self::Fault(Fault::EmptyChain) => Alert::DecodeError,
            Self::Fault(Fault::RawKeyNotNegotiated) => Alert::UnsupportedCertificate,
            Self::Fault(Fault::SchemeNotAllowed) => Alert::IllegalParameter,
        }
    }
}

/// Each trust refusal's alert: exhaustive, so a new [`TrustError`] needs an entry here.
fn trust_alert(e: &TrustError) -> Alert {
    match e {
        TrustError::NameMismatch { .. }
        | TrustError::CaUsedAsLeaf { .. }
        | TrustError::Structure { .. }
        | TrustError::Invalid { .. } => Alert::BadCertificate,
        TrustError::UnknownIssuer { .. } => Alert::UnknownCa,
        TrustError::Expired { .. } | TrustError::NotYetValid { .. } | TrustError::NoCommonValidity => {
            Alert::CertificateExpired
        }
        TrustError::Revoked { .. } | TrustError::Denied { .. } => Alert::CertificateRevoked,
        TrustError::NotForServerAuth { .. }
        | TrustError::KeyUsage { .. }
        | TrustError::WeakRsaKey { .. }
        | TrustError::UnsupportedCurve { .. }
        | TrustError::UnsupportedKey { .. }
        | TrustError::Sha1Signature { .. }
        | TrustError::UnsupportedAlgorithm => Alert::UnsupportedCertificate,
        TrustError::PinMismatch { .. } | TrustError::KeyNotPinned { .. } => Alert::AccessDenied,
        TrustError::BadSignature => Alert::DecryptError,
    }
}

impl Alert {
    /// The alert's code on the wire (RFC 8446 §6).
    pub const fn code(self) -> u8 {
        match self {
            Self::UnexpectedMessage => 10,
            Self::BadCertificate => 42,
            Self::UnsupportedCertificate => 43,
            Self::CertificateRevoked => 44,
            Self::CertificateExpired => 45,
            Self::IllegalParameter => 47,
            Self::UnknownCa => 48,
            Self::AccessDenied => 49,
            Self::DecodeError => 50,
            Self::DecryptError => 51,
        }
    }
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unexpected(what) => f.write_str(what),
            Self::EmptyChain => f.write_str("the broker sent an empty certificate chain"),
            Self::RawKeyNotNegotiated => f.write_str("the broker sent a raw public key, which was not negotiated"),
            Self::SchemeNotAllowed => f.write_str(
                "the broker signed its CertificateVerify with a scheme TLS 1.3 does not allow or anchormq does not accept",
            ),
        }
    }
}

impl<T> From<Refusal> for Error<T> {
    /// What the application sees: the detailed error, as it was before the engine saw an alert.
    fn from(refusal: Refusal) -> Self {
        match refusal {
            Refusal::Trust(e) => Error::Trust(e),
            Refusal::Time(e) => Error::Time(e),
            // An empty chain and an unusable signature scheme are the chain's fault: they keep
            // the trust errors they always had.
            Refusal::Fault(Fault::EmptyChain) => Error::Trust(TrustError::Invalid {
                reason: String::from("the broker sent an empty certificate chain"),
            }),
            Refusal::Fault(Fault::SchemeNotAllowed) => Error::Trust(TrustError::UnsupportedAlgorithm),
            Refusal::Fault(fault) => {
                Error::Tls(TlsError::Protocol { reason: alloc::string::ToString::to_string(&fault) })
            }
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use alloc::vec;
    use alloc::vec::Vec;

    use super::*;
    use crate::time::TimeBasis;

    /// One refusal of every kind the table distinguishes.
    pub(crate) fn every_refusal() -> Vec<Refusal> {
        let t = pki_types::UnixTime::since_unix_epoch(core::time::Duration::from_secs(1));
        let s = || String::from("CN=x");
        let trust = vec![
            TrustError::NameMismatch { expected: s(), presented: vec![] },
            TrustError::UnknownIssuer { issuer: s(), subject: s() },
            TrustError::Expired { subject: None, not_after: t, time: t, basis: TimeBasis::Source },
            TrustError::NotYetValid { subject: None, not_before: t, time: t, basis: TimeBasis::Source },
            TrustError::Revoked { subject: s() },
            TrustError::NoCommonValidity,
            TrustError::NotForServerAuth { presented: vec![] },
            TrustError::CaUsedAsLeaf { subject: s() },
            TrustError::Denied { entry: s(), subject: s() },
            TrustError::PinMismatch { pins: vec![], path: vec![] },
            TrustError::KeyNotPinned { presented: s(), pins: vec![] },
            TrustError::BadSignature,
            TrustError::KeyUsage { subject: s(), problem: "p" },
            TrustError::WeakRsaKey { subject: s(), bits: 1024 },
            TrustError::UnsupportedCurve { subject: s(), curve: s() },
            TrustError::UnsupportedKey { subject: s(), algorithm: s() },
            TrustError::Sha1Signature { subject: s() },
            TrustError::Structure { subject: s(), rule: "r" },
            TrustError::UnsupportedAlgorithm,
            TrustError::Invalid { reason: s() },
        ];
        let mut all: Vec<Refusal> = trust.into_iter().map(Refusal::Trust).collect();
        all.push(Refusal::Time(TimeError::NoTrustedTime));
        all.extend(
            [Fault::Unexpected("u"), Fault::EmptyChain, Fault::RawKeyNotNegotiated, Fault::SchemeNotAllowed]
                .map(Refusal::Fault),
        );
        all
    }

    #[test]
    fn every_refusal_reaches_the_application_as_its_own_kind() {
        for refusal in every_refusal() {
            let error: Error<()> = refusal.clone().into();
            let kept = match (&refusal, &error) {
                (Refusal::Trust(t), Error::Trust(e)) => t == e,
                (Refusal::Time(t), Error::Time(e)) => t == e,
                (Refusal::Fault(Fault::EmptyChain | Fault::SchemeNotAllowed), Error::Trust(_)) => true,
                (Refusal::Fault(_), Error::Tls(TlsError::Protocol { .. })) => true,
                _ => false,
            };
            assert!(kept, "{refusal:?} became {error:?}");
        }
    }

    #[test]
    fn revocation_and_expiry_have_their_own_alerts() {
        let revoked = Refusal::Trust(TrustError::Revoked { subject: String::from("CN=x") });
        assert_eq!(revoked.alert(), Alert::CertificateRevoked);
        assert_eq!(revoked.alert().code(), 44);
        assert_eq!(Refusal::Time(TimeError::NoTrustedTime).alert().code(), 49);
        assert_eq!(Refusal::Fault(Fault::EmptyChain).alert(), Alert::DecodeError);
    }

    #[test]
    fn the_application_sees_the_detailed_error() {
        let expired = TrustError::Expired {
            subject: None,
            not_after: pki_types::UnixTime::since_unix_epoch(core::time::Duration::from_secs(5)),
            time: pki_types::UnixTime::since_unix_epoch(core::time::Duration::from_secs(9)),
            basis: TimeBasis::Source,
        };
        let e: Error<()> = Refusal::Trust(expired.clone()).into();
        assert_eq!(e, Error::Trust(expired));
        let e: Error<()> = Refusal::Fault(Fault::EmptyChain).into();
        assert!(matches!(e, Error::Trust(TrustError::Invalid { .. })), "{e:?}");
        let e: Error<()> = Refusal::Fault(Fault::Unexpected("a second Certificate")).into();
        assert_eq!(e, Error::Tls(TlsError::Protocol { reason: String::from("a second Certificate") }));
    }
}
